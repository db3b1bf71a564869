#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "tw/core/config.hpp"

namespace {

// Template with one placeholder per key; each placeholder's default value is valid.
const char* kSiteTemplate = R"([site]
id = @site.id@
name = @site.name@
lat = @site.lat@
lon = @site.lon@
height_m = @site.height_m@
heartbeat_s = @site.heartbeat_s@

[broker]
url = @broker.url@
username = @broker.username@
password = @broker.password@
client_id = @broker.client_id@
ca_file = @broker.ca_file@
cert_file = @broker.cert_file@
key_file = @broker.key_file@
keepalive_s = @broker.keepalive_s@
reconnect_min_ms = @broker.reconnect_min_ms@
reconnect_max_ms = @broker.reconnect_max_ms@

[outbox]
path = @outbox.path@
max_inflight = @outbox.max_inflight@

[[cameras]]
id = @cameras[0].id@
url = @cameras[0].url@
azimuth_deg = @cameras[0].azimuth_deg@
tilt_deg = @cameras[0].tilt_deg@
hfov_deg = @cameras[0].hfov_deg@
analysis_fps = @cameras[0].analysis_fps@
capture_every_s = @cameras[0].capture_every_s@
analytics = @cameras[0].analytics@
classes = @cameras[0].classes@
[[cameras.lines]]
name = @cameras[0].lines[0].name@
points = @cameras[0].lines[0].points@
[[cameras.zones]]
name = @cameras[0].zones[0].name@
points = @cameras[0].zones[0].points@
[cameras.change]
persist_days = @cameras[0].change.persist_days@
refresh_days = @cameras[0].change.refresh_days@
reference_time = @cameras[0].change.reference_time@
head_model = @cameras[0].change.head_model@

[[sensors]]
id = @sensors[0].id@
kind = @sensors[0].kind@
source = @sensors[0].source@
format = @sensors[0].format@
)";

const std::map<std::string, std::string> kSiteDefaults = {
    {"site.id", "\"tower-1\""}, {"site.name", "\"Hill\""}, {"site.lat", "19.4"}, {"site.lon", "-99.1"},
    {"site.height_m", "2240"}, {"site.heartbeat_s", "5"},
    {"broker.url", "\"mqtt://127.0.0.1:1883\""}, {"broker.username", "\"u\""}, {"broker.password", "\"p\""},
    {"broker.client_id", "\"c\""}, {"broker.ca_file", "\"ca.pem\""}, {"broker.cert_file", "\"c.pem\""},
    {"broker.key_file", "\"k.pem\""}, {"broker.keepalive_s", "30"}, {"broker.reconnect_min_ms", "100"},
    {"broker.reconnect_max_ms", "5000"},
    {"outbox.path", "\"outbox.db\""}, {"outbox.max_inflight", "100"},
    {"cameras[0].id", "\"cam1\""}, {"cameras[0].url", "\"rtsp://127.0.0.1/cam\""},
    {"cameras[0].azimuth_deg", "120"}, {"cameras[0].tilt_deg", "-2"}, {"cameras[0].hfov_deg", "60"},
    {"cameras[0].analysis_fps", "5"}, {"cameras[0].capture_every_s", "3600"},
    {"cameras[0].analytics", "[\"count\", \"smoke\"]"},
    {"cameras[0].classes", "[\"person\"]"},
    {"cameras[0].lines[0].name", "\"gate\""}, {"cameras[0].lines[0].points", "[0, 0, 10, 10]"},
    {"cameras[0].zones[0].name", "\"yard\""}, {"cameras[0].zones[0].points", "[0, 0, 10, 0, 10, 10]"},
    {"cameras[0].change.persist_days", "4"}, {"cameras[0].change.refresh_days", "14"},
    {"cameras[0].change.reference_time", "\"11:30\""}, {"cameras[0].change.head_model", "\"head.onnx\""},
    {"sensors[0].id", "\"acc1\""}, {"sensors[0].kind", "\"accelerometer\""},
    {"sensors[0].source", "\"data.mseed\""}, {"sensors[0].format", "\"mseed\""},
};

// One invalid value for every key (wrong type, out of range, bad format or empty).
const std::map<std::string, std::string> kSiteInvalid = {
    {"site.id", "\"has space\""}, {"site.name", "12"}, {"site.lat", "91"}, {"site.lon", "\"west\""},
    {"site.height_m", "10000"}, {"site.heartbeat_s", "0"},
    {"broker.url", "\"http://x\""}, {"broker.username", "true"}, {"broker.password", "1"},
    {"broker.client_id", "[1]"}, {"broker.ca_file", "2"}, {"broker.cert_file", "3"}, {"broker.key_file", "4"},
    {"broker.keepalive_s", "1.5"}, {"broker.reconnect_min_ms", "1"}, {"broker.reconnect_max_ms", "50"},
    {"outbox.path", "\"\""}, {"outbox.max_inflight", "0"},
    {"cameras[0].id", "\"\""}, {"cameras[0].url", "5"}, {"cameras[0].azimuth_deg", "361"},
    {"cameras[0].tilt_deg", "-91"}, {"cameras[0].hfov_deg", "0"}, {"cameras[0].analysis_fps", "0"},
    {"cameras[0].capture_every_s", "0"},
    {"cameras[0].analytics", "[\"faces\"]"}, {"cameras[0].classes", "\"person\""},
    {"cameras[0].lines[0].name", "7"}, {"cameras[0].lines[0].points", "[0, 0, 10]"},
    {"cameras[0].zones[0].name", "false"}, {"cameras[0].zones[0].points", "[0, 0, 1, 1]"},
    {"cameras[0].change.persist_days", "0"}, {"cameras[0].change.refresh_days", "4000"},
    {"cameras[0].change.reference_time", "\"25:00\""}, {"cameras[0].change.head_model", "5"},
    {"sensors[0].id", "\"a b\""}, {"sensors[0].kind", "\"thermometer\""}, {"sensors[0].source", "1"},
    {"sensors[0].format", "\"sac\""},
};

std::string render(const char* tmpl, const std::map<std::string, std::string>& defaults, const std::string& key,
                   const std::string& value) {
  std::string out = tmpl;
  for (const auto& [k, v] : defaults) {
    std::string ph = "@" + k + "@";
    auto pos = out.find(ph);
    EXPECT_NE(pos, std::string::npos) << k;
    out.replace(pos, ph.size(), k == key ? value : v);
  }
  return out;
}

int line_of(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

const char* kHubTemplate = R"([hub]
listen = @hub.listen@
store = @hub.store@
web_root = @hub.web_root@
use_broker = @hub.use_broker@
offline_after_s = @hub.offline_after_s@
tenant_db = @hub.tenant_db@

[broker]
url = @broker.url@

[[tenants]]
id = @tenants[0].id@
name = @tenants[0].name@
role = @tenants[0].role@
services = @tenants[0].services@
api_key_hash = @tenants[0].api_key_hash@

[[tenants.regions]]
name = @tenants[0].regions[0].name@
points = @tenants[0].regions[0].points@
)";

const std::map<std::string, std::string> kHubDefaults = {
    {"hub.listen", "\"127.0.0.1:8080\""}, {"hub.store", "\"sqlite:///tmp/tw.db\""}, {"hub.web_root", "\"web\""},
    {"hub.use_broker", "true"}, {"hub.offline_after_s", "60"}, {"hub.tenant_db", "\"tenants.db\""},
    {"broker.url", "\"mqtts://broker:8883\""},
    {"tenants[0].id", "\"quake-agency\""}, {"tenants[0].name", "\"Quake agency\""},
    {"tenants[0].role", "\"operator\""}, {"tenants[0].services", "[\"quake\"]"},
    {"tenants[0].api_key_hash", "\"$argon2id$v=19$m=65536,t=2,p=1$abc$def\""},
    {"tenants[0].regions[0].name", "\"valley\""},
    {"tenants[0].regions[0].points", "[19.0, -99.5, 19.0, -98.5, 20.0, -99.0]"},
};

const std::map<std::string, std::string> kHubInvalid = {
    {"hub.listen", "\"8080\""}, {"hub.store", "\"mysql://x\""}, {"hub.web_root", "1"},
    {"hub.use_broker", "\"yes\""}, {"hub.offline_after_s", "1"}, {"hub.tenant_db", "1"},
    {"broker.url", "\"mqtt://:99999\""},
    {"tenants[0].id", "\"a/b\""}, {"tenants[0].name", "1"}, {"tenants[0].role", "\"root\""},
    {"tenants[0].services", "[\"weather\"]"}, {"tenants[0].api_key_hash", "\"md5:abc\""},
    {"tenants[0].regions[0].name", "3"}, {"tenants[0].regions[0].points", "[19.0, -99.5, 19.0, 200, 20.0, -99.0]"},
};

}  // namespace

TEST(SiteConfig, ValidFileLoadsEveryKey) {
  auto c = tw::parse_site_config(render(kSiteTemplate, kSiteDefaults, "", ""), "site.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->id, "tower-1");
  EXPECT_DOUBLE_EQ(c->lat, 19.4);
  EXPECT_EQ(c->heartbeat_s, 5);
  EXPECT_EQ(c->broker.keepalive_s, 30);
  EXPECT_EQ(c->outbox_path, "outbox.db");
  ASSERT_EQ(c->cameras.size(), 1u);
  EXPECT_EQ(c->cameras[0].analytics, (std::vector<std::string>{"count", "smoke"}));
  ASSERT_EQ(c->cameras[0].lines.size(), 1u);
  EXPECT_EQ(c->cameras[0].lines[0].points, (std::vector<double>{0, 0, 10, 10}));
  ASSERT_EQ(c->cameras[0].zones.size(), 1u);
  EXPECT_EQ(c->cameras[0].change.persist_days, 4);
  EXPECT_EQ(c->cameras[0].change.refresh_days, 14);
  EXPECT_EQ(c->cameras[0].change.reference_minute, 11 * 60 + 30);
  EXPECT_EQ(c->cameras[0].change.head_model, "head.onnx");
  ASSERT_EQ(c->sensors.size(), 1u);
  EXPECT_EQ(c->sensors[0].format, "mseed");
}

TEST(SiteConfig, EveryKeyRejectsAnInvalidValueWithFileLineAndKey) {
  ASSERT_EQ(kSiteInvalid.size(), kSiteDefaults.size());
  for (const auto& [key, bad] : kSiteInvalid) {
    std::string text = render(kSiteTemplate, kSiteDefaults, key, bad);
    auto c = tw::parse_site_config(text, "site.toml");
    ASSERT_FALSE(c) << key << " accepted " << bad;
    std::string field = key.substr(key.rfind('.') + 1);
    std::string expect = "site.toml:" + std::to_string(line_of(text, "\n" + field + " = " + bad) + 1) + ": " + key + ": ";
    EXPECT_NE(c.error().message.find(expect), std::string::npos)
        << "key " << key << ": expected '" << expect << "' in: " << c.error().message;
  }
}

TEST(SiteConfig, UnknownKeyIsNamed) {
  std::string text = render(kSiteTemplate, kSiteDefaults, "", "");
  text.insert(text.find("[broker]"), "colour = \"blue\"\n");
  auto c = tw::parse_site_config(text, "s.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("s.toml:9: site.colour: unknown key"), std::string::npos) << c.error().message;
  auto syntax = tw::parse_site_config("[site\nid=1", "bad.toml");
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error().message.find("bad.toml:1:"), std::string::npos) << syntax.error().message;
  EXPECT_FALSE(tw::parse_site_config("", "empty.toml"));  // [site] is required
}

TEST(HubConfig, ValidFileLoads) {
  auto c = tw::parse_hub_config(render(kHubTemplate, kHubDefaults, "", ""), "hub.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen, "127.0.0.1:8080");
  ASSERT_EQ(c->tenants.size(), 1u);
  EXPECT_EQ(c->tenants[0].services, std::vector<std::string>{"quake"});
  EXPECT_EQ(c->tenant_db, "tenants.db");
  ASSERT_EQ(c->tenants[0].regions.size(), 1u);
  EXPECT_EQ(c->tenants[0].regions[0].name, "valley");
  EXPECT_EQ(c->tenants[0].regions[0].points, (std::vector<double>{19.0, -99.5, 19.0, -98.5, 20.0, -99.0}));
  auto a = tw::parse_broker_url(c->broker.url);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->port, 8883);
}

TEST(HubConfig, EveryKeyRejectsAnInvalidValueWithFileLineAndKey) {
  ASSERT_EQ(kHubInvalid.size(), kHubDefaults.size());
  for (const auto& [key, bad] : kHubInvalid) {
    std::string text = render(kHubTemplate, kHubDefaults, key, bad);
    auto c = tw::parse_hub_config(text, "hub.toml");
    ASSERT_FALSE(c) << key << " accepted " << bad;
    std::string field = key.substr(key.rfind('.') + 1);
    std::string expect = "hub.toml:" + std::to_string(line_of(text, "\n" + field + " = " + bad) + 1) + ": " + key + ": ";
    EXPECT_NE(c.error().message.find(expect), std::string::npos)
        << "key " << key << ": expected '" << expect << "' in: " << c.error().message;
  }
}
