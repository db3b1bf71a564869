#include "tw/core/config.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "tw/core/message.hpp"
#include "tw/core/toml_reader.hpp"

namespace tw {
namespace {

Result<toml::table> parse_toml(const std::string& text, const std::string& name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return make_error("config_syntax", fmt::format("{}:{}: {}", name, e.source().begin.line, e.description()));
  }
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("config_missing", fmt::format("{}: cannot open file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Error joined(const std::vector<std::string>& errors) {
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return make_error("config_invalid", msg);
}

void read_broker(TomlReader& r, BrokerConfig& b) {
  r.string("url", b.url);
  if (auto a = parse_broker_url(b.url); !a) r.fail("url", a.error().message);
  r.string("username", b.username);
  r.string("password", b.password);
  r.string("client_id", b.client_id);
  r.string("ca_file", b.ca_file);
  r.string("cert_file", b.cert_file);
  r.string("key_file", b.key_file);
  r.integer("keepalive_s", b.keepalive_s, 5, 3600);
  r.integer("reconnect_min_ms", b.reconnect_min_ms, 10, 60000);
  r.integer("reconnect_max_ms", b.reconnect_max_ms, 10, 600000);
  if (b.reconnect_max_ms < b.reconnect_min_ms) r.fail("reconnect_max_ms", "must be >= reconnect_min_ms");
}

void read_id(TomlReader& r, std::string_view key, std::string& out) {
  r.string(key, out, true);
  if (!out.empty() && !is_valid_id(out)) r.fail(key, "must be 1-64 of [A-Za-z0-9_-]");
}

}  // namespace

Result<BrokerAddress> parse_broker_url(const std::string& url) {
  BrokerAddress a;
  std::string rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    a.tls = true;
    a.port = 8883;
  } else {
    return make_error("bad_url", fmt::format("'{}' must start with mqtt:// or mqtts://", url));
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  auto colon = rest.rfind(':');
  a.host = rest.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string p = rest.substr(colon + 1);
    int port = 0;
    for (char c : p) {
      if (c < '0' || c > '9' || port > 65535) return make_error("bad_url", fmt::format("'{}' has a bad port", url));
      port = port * 10 + (c - '0');
    }
    if (p.empty() || port < 1 || port > 65535) return make_error("bad_url", fmt::format("'{}' has a bad port", url));
    a.port = port;
  }
  if (a.host.empty()) return make_error("bad_url", fmt::format("'{}' has no host", url));
  return a;
}

namespace {

void read_camera_change(TomlReader& r, CameraChangeConfig& c) {
  r.integer("persist_days", c.persist_days, 1, 365);
  r.integer("refresh_days", c.refresh_days, 1, 3650);
  std::string hhmm;
  r.string("reference_time", hhmm);
  if (!hhmm.empty()) {
    int h = -1, m = -1;
    char tail = 0;
    if (std::sscanf(hhmm.c_str(), "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 23 || m < 0 || m > 59 ||
        hhmm.size() != 5)
      r.fail("reference_time", fmt::format("'{}' is not a UTC time HH:MM", hhmm));
    else
      c.reference_minute = h * 60 + m;
  }
  r.string("head_model", c.head_model);
}

}  // namespace

Result<SiteConfig> parse_site_config(const std::string& text, const std::string& name) {
  auto doc = parse_toml(text, name);
  if (!doc) return doc.error();
  std::vector<std::string> errors;
  SiteConfig c;
  c.file = name;
  TomlReader root(*doc, name, "", &errors);
  bool have_site = false;
  root.table("site", [&](TomlReader& r) {
    have_site = true;
    read_id(r, "id", c.id);
    r.string("name", c.name);
    r.number("lat", c.lat, -90, 90, true);
    r.number("lon", c.lon, -180, 180, true);
    r.number("height_m", c.height_m, -500, 9000);
    r.integer("heartbeat_s", c.heartbeat_s, 1, 3600);
  });
  if (!have_site) errors.push_back(fmt::format("{}:1: site: required table is missing", name));
  root.table("broker", [&](TomlReader& r) { read_broker(r, c.broker); });
  root.table("outbox", [&](TomlReader& r) {
    r.string("path", c.outbox_path, true);
    r.integer("max_inflight", c.max_inflight, 1, 65535);
  });
  root.tables("cameras", [&](TomlReader& r, size_t) {
    CameraConfig cam;
    read_id(r, "id", cam.id);
    r.string("url", cam.url, true);
    r.number("azimuth_deg", cam.azimuth_deg, 0, 360);
    r.number("tilt_deg", cam.tilt_deg, -90, 90);
    r.number("hfov_deg", cam.hfov_deg, 1, 180);
    r.number("analysis_fps", cam.analysis_fps, 0.01, 60);
    r.number("capture_every_s", cam.capture_every_s, 0.1, 30 * 86400.0);
    r.strings("analytics", cam.analytics);
    for (const auto& a : cam.analytics) {
      if (a != "count" && a != "smoke" && a != "change")
        r.fail("analytics", fmt::format("'{}' is not one of: count, smoke, change", a));
    }
    r.strings("classes", cam.classes);
    r.tables("lines", [&](TomlReader& lr, size_t) {
      LineConfig l;
      lr.string("name", l.name, true);
      lr.numbers("points", l.points, 4, 4);
      if (l.points.size() != 4) lr.fail("points", "needs exactly 4 numbers: x1,y1,x2,y2");
      cam.lines.push_back(std::move(l));
    });
    r.tables("zones", [&](TomlReader& zr, size_t) {
      ZoneConfig z;
      zr.string("name", z.name, true);
      zr.numbers("points", z.points, 6, 2);
      if (z.points.empty()) zr.fail("points", "needs a polygon of at least 3 points");
      cam.zones.push_back(std::move(z));
    });
    r.table("change", [&](TomlReader& cr) { read_camera_change(cr, cam.change); });
    c.cameras.push_back(std::move(cam));
  });
  root.tables("sensors", [&](TomlReader& r, size_t) {
    SensorConfig s;
    read_id(r, "id", s.id);
    r.string_enum("kind", s.kind, {"accelerometer", "power"});
    r.string("source", s.source, true);
    r.string_enum("format", s.format, {"mseed", "openeew", "csv"});
    c.sensors.push_back(std::move(s));
  });
  root.finish();
  if (c.broker.client_id.empty()) c.broker.client_id = "tw-edge-" + c.id;
  if (!errors.empty()) return joined(errors);
  return c;
}

Result<HubConfig> parse_hub_config(const std::string& text, const std::string& name) {
  auto doc = parse_toml(text, name);
  if (!doc) return doc.error();
  std::vector<std::string> errors;
  HubConfig c;
  c.file = name;
  TomlReader root(*doc, name, "", &errors);
  bool have_hub = false;
  root.table("hub", [&](TomlReader& r) {
    have_hub = true;
    r.string("listen", c.listen);
    if (c.listen.find(':') == std::string::npos) r.fail("listen", "expected HOST:PORT");
    r.string("store", c.store);
    if (c.store.rfind("sqlite://", 0) != 0 && c.store.rfind("postgresql://", 0) != 0)
      r.fail("store", "expected sqlite://PATH or postgresql://...");
    r.string("web_root", c.web_root);
    r.boolean("use_broker", c.use_broker);
    r.integer("offline_after_s", c.offline_after_s, 5, 86400);
    r.string("tenant_db", c.tenant_db);
  });
  if (!have_hub) errors.push_back(fmt::format("{}:1: hub: required table is missing", name));
  root.table("broker", [&](TomlReader& r) { read_broker(r, c.broker); });
  root.tables("tenants", [&](TomlReader& r, size_t) {
    TenantConfig t;
    read_id(r, "id", t.id);
    r.string("name", t.name);
    r.string_enum("role", t.role, {"viewer", "operator", "admin"});
    r.strings("services", t.services);
    for (const auto& s : t.services) {
      if (s != "quake" && s != "wildfire" && s != "traffic" && s != "landuse" && s != "power" && s != "site")
        r.fail("services", fmt::format("'{}' is not one of: quake, wildfire, traffic, landuse, power, site", s));
    }
    r.string("api_key_hash", t.api_key_hash);
    if (!t.api_key_hash.empty() && t.api_key_hash.rfind("blake2b:", 0) != 0 && t.api_key_hash.rfind("$argon2", 0) != 0)
      r.fail("api_key_hash", "expected blake2b:<hex> or a $argon2id$ string");
    r.tables("regions", [&](TomlReader& rr, size_t) {
      RegionConfig reg;
      rr.string("name", reg.name, true);
      rr.numbers("points", reg.points, 6, 2);
      if (reg.points.empty()) rr.fail("points", "needs a polygon of at least 3 lat,lon points");
      for (size_t i = 0; i + 1 < reg.points.size(); i += 2) {
        if (reg.points[i] < -90 || reg.points[i] > 90 || reg.points[i + 1] < -180 || reg.points[i + 1] > 180) {
          rr.fail("points", "latitudes must be in [-90,90] and longitudes in [-180,180]");
          break;
        }
      }
      t.regions.push_back(std::move(reg));
    });
    c.tenants.push_back(std::move(t));
  });
  root.finish();
  if (c.broker.client_id.empty()) c.broker.client_id = "tw-hub";
  if (!errors.empty()) return joined(errors);
  return c;
}

Result<SiteConfig> load_site_config(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  return parse_site_config(*text, path);
}

Result<HubConfig> load_hub_config(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  return parse_hub_config(*text, path);
}

ConfigKind detect_config_kind(const std::string& text) {
  try {
    auto t = toml::parse(text);
    if (t.contains("site")) return ConfigKind::site;
    if (t.contains("hub")) return ConfigKind::hub;
  } catch (const toml::parse_error&) {
  }
  return ConfigKind::unknown;
}

}  // namespace tw
