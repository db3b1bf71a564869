#pragma once
// A hub with the demo tenants, four sites in different regions and one event of every service at each
// site, served over HTTP on a free port; plus a small authenticated HTTP client.
#include <httplib.h>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "process.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/http.hpp"
#include "tw/hub/hub.hpp"
#include "tw/hub/tenants.hpp"

namespace twt {

struct Reply {
  int status = 0;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

struct SiteDef {
  std::string id;
  double lat, lon;
};

// valley: Valley of Mexico; oaxaca: south; puebla; far: Madrid (outside every demo region).
inline const std::vector<SiteDef> kSites = {{"site-valley", 19.4326, -99.1332},
                                            {"site-oaxaca", 17.0732, -96.7266},
                                            {"site-puebla", 19.0414, -98.2063},
                                            {"site-far", 40.4168, -3.7038}};

// What each demo tenant may see, written out by hand (independent of the code under test).
struct Visibility {
  std::set<std::string> services;
  std::set<std::string> sites;
  bool operator_role;
  bool admin;
};
inline const std::map<std::string, Visibility>& expected_visibility() {
  static const std::map<std::string, Visibility> v = {
      {"quake-agency", {{"quake"}, {"site-valley", "site-oaxaca", "site-puebla"}, true, false}},
      {"forestry-bureau", {{"wildfire"}, {"site-oaxaca"}, true, false}},
      {"traffic-authority", {{"traffic"}, {"site-valley"}, false, false}},
      {"land-bureau", {{"landuse"}, {"site-valley", "site-puebla"}, false, false}},
      {"insurer", {{"quake", "wildfire", "site"}, {"site-valley"}, false, false}},
      {"operator-admin",
       {{"quake", "wildfire", "traffic", "landuse", "power", "site"},
        {"site-valley", "site-oaxaca", "site-puebla", "site-far"},
        true,
        true}},
  };
  return v;
}

struct Item {
  std::string service;
  std::string site;
  std::vector<std::string> markers;  // strings that only this item's representations contain
};

class ApiFixture : public ::testing::Test {
 protected:
  tw::test::TempDir dir;
  std::unique_ptr<tw::hub::TenantRepo> repo;
  std::unique_ptr<tw::hub::Hub> hub;
  std::unique_ptr<tw::hub::HttpServer> http;
  std::map<std::string, std::string> keys;  // tenant id -> key
  std::vector<Item> items;                  // events and alarms with their markers
  std::map<std::string, std::vector<std::string>> event_ids;  // site -> event ids
  std::vector<std::int64_t> alarm_ids;
  int port = 0;

  void SetUp() override {
    tw::HubConfig cfg;
    cfg.store = "sqlite://" + dir.file("hub.db");
    cfg.offline_after_s = 30;
    auto store = tw::store::open_store(cfg.store);
    ASSERT_TRUE(store) << store.error().message;
    auto r = tw::hub::open_sqlite_tenant_repo(dir.file("tenants.db"));
    ASSERT_TRUE(r) << r.error().message;
    repo = std::move(*r);
    for (const auto& d : tw::hub::demo_tenants()) {
      ASSERT_TRUE(repo->upsert_tenant(d.tenant));
      ASSERT_TRUE(repo->add_key(d.tenant.id, tw::hub::hash_api_key(d.key), "demo", 1));
      keys[d.tenant.id] = d.key;
    }
    hub = std::make_unique<tw::hub::Hub>(cfg, std::move(*store));
    hub->add_processor(tw::hub::make_alert_processor());
    http = std::make_unique<tw::hub::HttpServer>(*hub, *repo);
    ASSERT_TRUE(http->start("127.0.0.1:0"));
    port = http->port();
    for (const auto& s : kSites) {
      ASSERT_TRUE(hub->ingest(tw::make_message(
          s.id, "status", tw::now_ms(), {{"state", "online"}, {"name", "name-" + s.id}, {"lat", s.lat}, {"lon", s.lon}})));
    }
    ingest_batch("a", 1700000000000);
    // An outage at the far site: a site_offline alarm only the operator may see.
    auto outage = tw::make_message("site-far", "status", tw::now_ms(), {{"state", "offline"}});
    ASSERT_TRUE(hub->ingest(outage));
    items.push_back({"site", "site-far", {outage.id, "is offline"}});
    auto alarms = hub->store().alarms({});
    ASSERT_TRUE(alarms);
    for (const auto& a : *alarms) alarm_ids.push_back(a.id);
  }

  void TearDown() override {
    if (http) http->stop();
  }

  // One event of every service at every site; quake/smoke/fire/change also raise alarms.
  void ingest_batch(const std::string& tag, std::int64_t ts) {
    for (const auto& s : kSites) {
      auto mk = [&](const std::string& svc) { return "mk" + tag + "-" + svc + "-" + s.id; };
      nlohmann::json intens = nlohmann::json::array();
      for (const auto& o : kSites)
        intens.push_back({{"site", o.id}, {"lat", o.lat}, {"lon", o.lon}, {"mmi", 5.0}, {"pga_cms2", 80.0},
                          {"pgv_cms", 6.0}, {"source", "predicted"}});
      std::vector<tw::Message> ms = {
          tw::make_message(s.id, "quake", ts,
                           {{"event_id", "q" + tag + "-" + s.id}, {"version", 1}, {"origin_time", tw::format_iso8601_ms(ts)},
                            {"lat", s.lat}, {"lon", s.lon}, {"depth_km", 10.0}, {"magnitude", 5.5}, {"alert", true},
                            {"max_mmi", 6.0}, {"intensities", intens}, {"marker", mk("quake")}}),
          tw::make_message(s.id, "smoke", ts,
                           {{"camera", "cam1"}, {"score", 0.9}, {"bearing_deg", 45.0}, {"marker", mk("wildfire")}}),
          tw::make_message(s.id, "fire", ts,
                           {{"lat", s.lat}, {"lon", s.lon}, {"fire_id", "fire" + tag + "-" + s.id}, {"marker", mk("fire")}}),
          tw::make_message(s.id, "counts", ts,
                           {{"camera", "cam1"}, {"interval_s", 60}, {"lines", nlohmann::json::array()}, {"marker", mk("traffic")}}),
          tw::make_message(s.id, "change", ts, {{"camera", "cam1"}, {"zone", "field"}, {"area_px", 100}, {"marker", mk("landuse")}}),
          tw::make_message(s.id, "power", ts, {{"mains_v", 0.0}, {"dc_bus_v", 48.0}, {"battery_a", -10.0}, {"marker", mk("power")}}),
      };
      for (const auto& m : ms) {
        ASSERT_TRUE(hub->ingest(m)) << m.kind;
        const std::string svc = tw::hub::service_of_kind(m.kind);
        std::vector<std::string> markers = {m.id, m.payload.value("marker", "")};
        if (m.kind == "quake") markers.push_back("q" + tag + "-" + s.id);
        if (m.kind == "fire") markers.push_back("fire" + tag + "-" + s.id);
        items.push_back({svc, s.id, markers});
        event_ids[s.id].push_back(m.id);
      }
    }
  }

  bool visible(const std::string& tenant, const Item& it) const {
    const auto& v = expected_visibility().at(tenant);
    return v.services.count(it.service) && v.sites.count(it.site);
  }

  // Markers `tenant` must never receive: items out of its scope, sites outside its regions.
  std::vector<std::string> forbidden(const std::string& tenant) const {
    std::vector<std::string> out;
    for (const auto& it : items) {
      if (!visible(tenant, it))
        for (const auto& m : it.markers) out.push_back(m);
    }
    for (const auto& s : kSites) {
      if (!expected_visibility().at(tenant).sites.count(s.id)) out.push_back(s.id);
    }
    return out;
  }
  std::vector<std::string> allowed(const std::string& tenant) const {
    std::vector<std::string> out;
    for (const auto& it : items) {
      if (visible(tenant, it) && !it.markers.empty()) out.push_back(it.markers[0]);
    }
    return out;
  }

  Reply request(const std::string& method, const std::string& path, const std::string& key,
                const std::string& body = "") const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(10, 0);
    httplib::Headers h;
    if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
    auto reply = [](const httplib::Result& r) -> Reply {
      if (!r) return {0, "no reply: " + httplib::to_string(r.error())};
      return {r->status, r->body};
    };
    if (method == "POST") return reply(c.Post(path.c_str(), h, body, "application/json"));
    if (method == "PUT") return reply(c.Put(path.c_str(), h, body, "application/json"));
    if (method == "DELETE") return reply(c.Delete(path.c_str(), h));
    return reply(c.Get(path.c_str(), h));
  }
  Reply get(const std::string& path, const std::string& key) const { return request("GET", path, key); }
};

}  // namespace twt
