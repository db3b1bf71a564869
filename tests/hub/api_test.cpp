// Hub API behaviour: bad requests, the alarm lifecycle over HTTP, tenants and keys, evidence and
// bundles, feeds, and the OpenAPI document against the real routes.
#include <algorithm>
#include <mutex>
#include <set>

#include "api_fixture.hpp"
#include "tw/hub/evidence.hpp"
#include "tw/hub/feeds.hpp"

namespace {

class Api : public twt::ApiFixture {
 protected:
  std::string admin() const { return keys.at("operator-admin"); }
  std::int64_t alarm_of(const std::string& type, const std::string& site) {
    for (auto id : alarm_ids) {
      auto a = *hub->store().alarm(id);
      if (a->type == type && (a->site == site || a->source.find(site) != std::string::npos)) return id;
    }
    ADD_FAILURE() << "no " << type << " alarm at " << site;
    return 0;
  }
};

TEST_F(Api, BadRequestsGet400WithAReason) {
  const std::string id = std::to_string(alarm_ids.at(0));
  struct Bad {
    std::string method, path, body;
  };
  const std::string big(100 * 1024, 'x');
  const std::vector<Bad> bad = {
      {"GET", "/api/v1/events?limit=100000000", ""},
      {"GET", "/api/v1/events?limit=99999999999999999999999", ""},
      {"GET", "/api/v1/events?limit=-1", ""},
      {"GET", "/api/v1/events?limit=1e3", ""},
      {"GET", "/api/v1/events?since=yesterday", ""},
      {"GET", "/api/v1/events?since=5&until=1", ""},
      {"GET", "/api/v1/events?near=1,2", ""},
      {"GET", "/api/v1/events?near=91,0,1", ""},
      {"GET", "/api/v1/events?near=nan,0,1", ""},
      {"GET", "/api/v1/events?kind=test%27%3B%20DROP%20TABLE%20events", ""},
      {"GET", "/api/v1/events?site=a%27%20OR%201%3D1", ""},
      {"GET", "/api/v1/events?bogus=1", ""},
      {"GET", "/api/v1/events?order=sideways", ""},
      {"GET", "/api/v1/events/%27%20OR%20%271%27%3D%271", ""},
      {"GET", "/api/v1/alarms?active=maybe", ""},
      {"GET", "/api/v1/alarms?limit=0", ""},
      {"GET", "/api/v1/alarms?status=open", ""},
      {"GET", "/api/v1/alarms?severity=apocalyptic", ""},
      {"GET", "/api/v1/alarms?service=weather", ""},
      {"GET", "/api/v1/alarms?site=x%3BDELETE", ""},
      {"GET", "/api/v1/alarms/abc", ""},
      {"GET", "/api/v1/alarms/-3/history", ""},
      {"GET", "/api/v1/sites/a%20b", ""},
      {"GET", "/api/v1/sites?x=1", ""},
      {"GET", "/api/v1/evidence", ""},
      {"GET", "/api/v1/evidence?lat=19&lon=-99&since=0", ""},
      {"GET", "/api/v1/evidence?lat=100&lon=-99&since=0&until=1", ""},
      {"GET", "/api/v1/evidence?lat=19&lon=-99&radius_km=100000&since=0&until=1", ""},
      {"GET", "/api/v1/evidence?lat=19&lon=-99&since=10&until=5", ""},
      {"GET", "/api/v1/evidence?lat=19&lon=-99&since=0&until=99999999999999", ""},
      {"GET", "/api/v1/evidence/bundle?lat=19%27&lon=-99&since=0&until=1", ""},
      {"GET", "/api/v1/feeds/quakes.xml?limit=20000", ""},
      {"GET", "/api/v1/stream?since=1", ""},
      {"POST", "/api/v1/alarms/" + id + "/comment", "{not json"},
      {"POST", "/api/v1/alarms/" + id + "/comment", "[1,2]"},
      {"POST", "/api/v1/alarms/" + id + "/comment", R"({"text": 5})"},
      {"POST", "/api/v1/alarms/" + id + "/comment", R"({"text": ""})"},
      {"POST", "/api/v1/alarms/" + id + "/comment", R"({"text": ")" + big + R"("})"},
      {"POST", "/api/v1/alarms/" + id + "/comment", R"({"text": ")" + std::string(20000, 'y') + R"("})"},
      {"POST", "/api/v1/alarms/" + id + "/assign", R"({})"},
      {"POST", "/api/v1/alarms/" + id + "/ack", R"({"reason": "x", "extra": 1})"},
      {"POST", "/api/v1/tenants", R"({"id": "a/b"})"},
      {"POST", "/api/v1/tenants", R"({"id": "ok", "role": "root"})"},
      {"POST", "/api/v1/tenants", R"({"id": "ok", "services": ["weather"]})"},
      {"POST", "/api/v1/tenants", R"({"id": "ok", "regions": [{"name": "r", "points": [[1,2],[3,4]]}]})"},
      {"POST", "/api/v1/tenants",
       R"({"id": "ok", "regions": [{"name": "r", "points": [[1,2],[3,400],[5,6]]}]})"},
      {"PUT", "/api/v1/sites/s1", R"({"lat": "north"})"},
      {"PUT", "/api/v1/sites/s1", R"({"lat": 19, "colour": "red"})"},
      {"PUT", "/api/v1/tenants/operator-admin", R"({"role": "viewer", "services": []})"},
  };
  for (const auto& b : bad) {
    auto r = request(b.method, b.path, admin(), b.body);
    EXPECT_EQ(r.status, 400) << b.method << " " << b.path.substr(0, 120) << " -> " << r.body.substr(0, 200);
    auto j = r.json();
    ASSERT_TRUE(j.is_object()) << b.path.substr(0, 120) << ": " << r.body.substr(0, 200);
    EXPECT_FALSE(j.value("reason", "").empty()) << b.path.substr(0, 120);
  }
  // Nothing was changed by the attempts.
  EXPECT_EQ(hub->store().count_events().value(), 4 + 24 + 1);
  EXPECT_EQ(repo->tenants()->size(), 6u);
  EXPECT_EQ((*hub->store().alarm(alarm_ids.at(0)))->assignee, "");
}

TEST_F(Api, AlarmLifecycleOverHttp) {
  const std::string quake_key = keys.at("quake-agency");
  const auto id = alarm_of("quake", "site-valley");
  const std::string base = "/api/v1/alarms/" + std::to_string(id);
  auto a = get(base, quake_key).json();
  EXPECT_EQ(a["status"], "active_unack");
  EXPECT_EQ(a["severity"], "major");  // M5.5, max MMI 6
  EXPECT_EQ(a["service"], "quake");
  // Filters.
  auto crit = get("/api/v1/alarms?severity=critical", quake_key).json();
  EXPECT_EQ(crit["alarms"].size(), 0u);
  auto unack = get("/api/v1/alarms?status=active_unack&service=quake", quake_key).json();
  EXPECT_EQ(unack["alarms"].size(), 3u);  // valley, oaxaca, puebla
  // A viewer in scope cannot change it.
  EXPECT_EQ(request("POST", base + "/ack", keys.at("insurer"), "{}").status, 403);
  EXPECT_EQ(request("POST", base + "/assign", quake_key, R"({"assignee":"duty-seismologist"})").status, 200);
  EXPECT_EQ(request("POST", base + "/comment", quake_key, R"({"text":"felt reports coming in"})").status,
            200);
  auto ack = request("POST", base + "/ack", quake_key, R"({"reason":"confirmed by 3 stations"})");
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(ack.json()["status"], "active_ack");
  EXPECT_EQ(ack.json()["assignee"], "duty-seismologist");
  auto cleared = request("POST", base + "/clear", quake_key, "");
  ASSERT_EQ(cleared.status, 200);
  EXPECT_EQ(cleared.json()["status"], "cleared_ack");
  EXPECT_FALSE(cleared.json()["cleared"].is_null());
  auto h = get(base + "/history", quake_key).json();
  std::vector<std::string> actions;
  for (const auto& e : h["history"]) actions.push_back(e["action"].get<std::string>());
  EXPECT_EQ(actions, (std::vector<std::string>{"raised", "assigned", "commented", "commented", "acknowledged",
                                               "cleared"}));
  EXPECT_EQ(h["history"][3]["text"], "acknowledged: confirmed by 3 stations");
  EXPECT_EQ(h["history"][4]["user"], "tenant:quake-agency");
  // A new version of the same quake raises a new alarm (the old one is cleared); the same version
  // again while active updates rather than duplicates.
  auto v2 = tw::make_message("site-valley", "quake", 1700000001000,
                             {{"event_id", "qa-site-valley"},
                              {"version", 2},
                              {"origin_time", "2023-11-14T22:13:20Z"},
                              {"lat", 19.4326},
                              {"lon", -99.1332},
                              {"depth_km", 12.0},
                              {"magnitude", 6.1},
                              {"alert", true},
                              {"max_mmi", 7.2}});
  ASSERT_TRUE(hub->ingest(v2));
  auto v3 = v2;
  v3.id = tw::make_message("x", "quake", 0, {}).id;
  v3.payload["version"] = 3;
  ASSERT_TRUE(hub->ingest(v3));
  auto active = get("/api/v1/alarms?active=true&service=quake", quake_key).json();
  size_t n = 0;
  for (const auto& al : active["alarms"]) {
    if (al["source"] == "qa-site-valley") {
      ++n;
      EXPECT_EQ(al["severity"], "critical");
      EXPECT_EQ(al["count"], 2);
      EXPECT_EQ(al["details"]["version"], 3);
    }
  }
  EXPECT_EQ(n, 1u);
}

TEST_F(Api, SmokeAlarmIsConfirmedOrDismissedWithALabel) {
  // Verdicts go back to the camera's site (here captured instead of published over MQTT).
  std::mutex sent_mu;
  std::vector<tw::Message> sent;
  hub->set_downlink([&](const tw::Message& m) -> tw::Status {
    std::lock_guard lock(sent_mu);
    sent.push_back(m);
    return {};
  });
  auto sent_now = [&] {
    std::lock_guard lock(sent_mu);
    return sent;
  };
  const std::string forestry = keys.at("forestry-bureau");
  const std::string base = "/api/v1/alarms/" + std::to_string(alarm_of("smoke", "site-oaxaca"));
  const std::string smoke_event = get(base, forestry).json()["details"]["event"];
  // Dismissing an unconfirmed smoke alarm needs a label from the list; an unknown label names the choices.
  auto no_label = request("POST", base + "/clear", forestry, R"({"reason":"looked like it"})");
  EXPECT_EQ(no_label.status, 400);
  EXPECT_NE(
      no_label.json()["reason"].get<std::string>().find("cloud, fog, dust, industrial_smoke, glare, other"),
      std::string::npos)
      << no_label.body;
  auto bad_label = request("POST", base + "/clear", forestry, R"({"label":"smoke-ish"})");
  EXPECT_EQ(bad_label.status, 400);
  EXPECT_NE(bad_label.body.find("label: expected one of"), std::string::npos) << bad_label.body;
  EXPECT_EQ(request("POST", base + "/ack", forestry, R"({"label":"fog"})").status,
            400);  // labels dismiss only
  EXPECT_EQ(get(base, forestry).json()["status"], "active_unack");
  auto dismissed =
      request("POST", base + "/clear", forestry, R"({"label":"fog","reason":"valley fog at dawn"})");
  ASSERT_EQ(dismissed.status, 200) << dismissed.body;
  EXPECT_EQ(dismissed.json()["status"], "cleared_unack");
  auto h = get(base + "/history", forestry).json()["history"];
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[1]["action"], "commented");
  EXPECT_EQ(h[1]["text"], "dismissed (fog): valley fog at dawn");
  EXPECT_NE(get("/metrics", "").body.find("tw_smoke_dismissed_total{label=\"fog\"} 1"), std::string::npos);
  auto verdicts = sent_now();
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].site, "site-oaxaca");
  EXPECT_EQ(verdicts[0].kind, "smoke_feedback");
  EXPECT_EQ(verdicts[0].payload,
            (nlohmann::json{{"alert", smoke_event}, {"camera", "cam1"}, {"verdict", "dismissed"}, {"label", "fog"}}));
  EXPECT_TRUE(tw::validate_payload(verdicts[0].kind, verdicts[0].payload));

  // A confirmed smoke alarm (acknowledged) is later cleared without a label, like any alarm.
  const std::string op = keys.at("operator-admin");
  const std::string other = "/api/v1/alarms/" + std::to_string(alarm_of("smoke", "site-valley"));
  ASSERT_EQ(request("POST", other + "/ack", op, R"({"reason":"confirmed: plume on two cameras"})").status,
            200);
  auto cleared = request("POST", other + "/clear", op, R"({"reason":"fire out"})");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(cleared.json()["status"], "cleared_ack");
  // Other alarm types take no label.
  const std::string quake = "/api/v1/alarms/" + std::to_string(alarm_of("quake", "site-valley"));
  EXPECT_EQ(request("POST", quake + "/clear", op, R"({"label":"cloud"})").status, 200);
  // The confirmation went to site-valley; clearing a confirmed alarm or another type sends nothing more.
  verdicts = sent_now();
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts[1].site, "site-valley");
  EXPECT_EQ(verdicts[1].payload["verdict"], "confirmed");
  EXPECT_FALSE(verdicts[1].payload.contains("label"));
  EXPECT_NE(get("/metrics", "").body.find("tw_downlink_total{kind=\"smoke_feedback\",result=\"sent\"} 2"),
            std::string::npos);
  hub->set_downlink({});
}

TEST_F(Api, ChangeAlarmPerZoneWithItsEvidence) {
  const std::string land = keys.at("land-bureau");
  const std::string base = "/api/v1/alarms/" + std::to_string(alarm_of("change:field", "site-puebla"));
  auto a = get(base, land).json();
  EXPECT_EQ(a["service"], "landuse");
  EXPECT_EQ(a["source"], "site-puebla/cam1");
  EXPECT_EQ(a["severity"], "minor");
  EXPECT_EQ(a["details"]["zone"], "field");
  EXPECT_EQ(a["details"]["area_px"], 100.0);
  ASSERT_TRUE(a["details"].contains("event"));
  // The alarm points at the change event, which carries the crops.
  auto ev = get("/api/v1/events/" + a["details"]["event"].get<std::string>(), land);
  ASSERT_EQ(ev.status, 200) << ev.body;
  EXPECT_EQ(ev.json()["kind"], "change");
}

TEST_F(Api, ViewMovedAndCameraOfflineAlarmsFollowTheCameraState) {
  const std::string op = keys.at("operator-admin");
  auto active = [&](const std::string& type) {
    auto j = get("/api/v1/alarms?active=true&site=site-valley", op).json();
    int n = 0;
    for (const auto& a : j["alarms"]) n += a["type"] == type && a["source"] == "site-valley/north/p2";
    return n;
  };
  auto status = [&](const std::string& state) {
    ASSERT_TRUE(hub->ingest(tw::make_message("site-valley", "camera_status", tw::now_ms(),
                                             {{"camera", "north"}, {"preset", "p2"}, {"state", state}})));
  };
  status("view_moved");
  EXPECT_EQ(active("view_moved"), 1);
  status("low_visibility");  // night or fog: no alarm, and the moved view is still moved
  EXPECT_EQ(active("view_moved"), 1);
  status("ok");
  EXPECT_EQ(active("view_moved"), 0);
  status("offline");
  EXPECT_EQ(active("camera_offline"), 1);
  status("online");
  EXPECT_EQ(active("camera_offline"), 0);
}

TEST_F(Api, TenantsAndKeysAreManagedByTheAdmin) {
  auto created = request(
      "POST", "/api/v1/tenants", admin(),
      R"({"id":"city-b","name":"City B","role":"operator","services":["traffic"],)"
      R"("regions":[{"name":"oax","points":[[16.5,-97.5],[16.5,-96.0],[17.5,-96.0],[17.5,-97.5]]}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string key = created.json()["api_key"];
  EXPECT_TRUE(key.starts_with("twk_"));
  EXPECT_EQ(key.size(), 68u);
  auto me = get("/api/v1/me", key).json();
  EXPECT_EQ(me["id"], "city-b");
  EXPECT_EQ(me["role"], "operator");
  auto ev = get("/api/v1/events?limit=100", key).json();
  ASSERT_EQ(ev["events"].size(), 1u);  // counts at Oaxaca only
  EXPECT_EQ(ev["events"][0]["site"], "site-oaxaca");
  EXPECT_EQ(ev["events"][0]["kind"], "counts");
  EXPECT_EQ(request("POST", "/api/v1/tenants", admin(), R"({"id":"city-b"})").status, 409);
  // The key is stored only as a hash.
  auto keys_list = get("/api/v1/tenants/city-b/keys", admin());
  ASSERT_EQ(keys_list.status, 200);
  EXPECT_EQ(keys_list.body.find(key), std::string::npos);
  const std::string key_id = keys_list.json()["keys"][0]["id"];
  // A second key, then revoke the first.
  auto k2 = request("POST", "/api/v1/tenants/city-b/keys", admin(), R"({"label":"backup"})");
  ASSERT_EQ(k2.status, 201);
  const std::string key2 = k2.json()["api_key"];
  ASSERT_EQ(request("DELETE", "/api/v1/tenants/city-b/keys/" + key_id, admin()).status, 200);
  EXPECT_EQ(get("/api/v1/me", key).status, 401);
  EXPECT_EQ(get("/api/v1/me", key2).status, 200);
  // Widen its services; narrow to nothing; delete.
  ASSERT_EQ(request("PUT", "/api/v1/tenants/city-b", admin(),
                    R"({"name":"City B","role":"viewer","services":["traffic","landuse"]})")
                .status,
            200);
  EXPECT_EQ(get("/api/v1/events?kind=change&limit=100", key2).json()["events"].size(), 4u);  // no regions now
  EXPECT_EQ(request("POST", "/api/v1/alarms/" + std::to_string(alarm_ids[0]) + "/ack", key2, "{}").status,
            403);
  ASSERT_EQ(request("DELETE", "/api/v1/tenants/city-b", admin()).status, 200);
  EXPECT_EQ(get("/api/v1/me", key2).status, 401);
  EXPECT_EQ(request("DELETE", "/api/v1/tenants/operator-admin", admin()).status, 400);
  // Admin manages sites.
  auto put = request("PUT", "/api/v1/sites/site-new", admin(),
                     R"({"name":"New tower","lat":18.0,"lon":-97.0,"height_m":1200})");
  ASSERT_EQ(put.status, 200) << put.body;
  auto site = *hub->store().site("site-new");
  ASSERT_TRUE(site);
  EXPECT_EQ(site->name, "New tower");
  EXPECT_DOUBLE_EQ(site->lat, 18.0);
  EXPECT_DOUBLE_EQ(site->height_m, 1200.0);
  EXPECT_EQ(request("PUT", "/api/v1/sites/site-new", keys.at("quake-agency"), R"({"name":"x"})").status, 403);
}

TEST_F(Api, HealthAndMetricsRevealNoTenantData) {
  auto h = get("/api/v1/health", "");
  ASSERT_EQ(h.status, 200);
  auto j = h.json();
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["store"], "sqlite");
  EXPECT_EQ(j.size(), 3u);  // status, store, time: nothing else
  auto m = get("/metrics", "");
  ASSERT_EQ(m.status, 200);
  for (const auto& it : items)
    for (const auto& mk : it.markers) EXPECT_EQ(m.body.find(mk), std::string::npos) << mk;
  for (const auto& s : twt::kSites) EXPECT_EQ(m.body.find(s.id), std::string::npos) << s.id;
  EXPECT_NE(m.body.find("tw_messages_stored_total 29"), std::string::npos) << m.body.substr(0, 500);
}

TEST_F(Api, EvidenceNearAPoint) {
  // Observed ground motion 3 km from the valley site; a smoke alert with a redacted snapshot there.
  const std::int64_t t0 = 1700000000000;
  auto gm = tw::make_message("site-valley", "ground_motion", t0 + 20000,
                             {{"station", "VAL1"},
                              {"pick_time", "2023-11-14T22:13:25Z"},
                              {"pga_cms2", 212.5},
                              {"pgv_cms", 31.25},
                              {"pd_cm", 0.8},
                              {"lat", 19.45},
                              {"lon", -99.15}});
  ASSERT_TRUE(hub->ingest(gm));
  const std::string jpeg =
      std::string("\xFF\xD8\xFF\xE0", 4) + "towerwatch-test-jpeg" + std::string("\xFF\xD9", 2);
  auto smoke = tw::make_message(
      "site-valley", "smoke", t0 + 30000,
      {{"camera", "cam2"},
       {"score", 0.8},
       {"bearing_deg", 120.0},
       {"snapshot", {{"mime", "image/jpeg"}, {"redacted", true}, {"data_b64", tw::hub::base64_encode(jpeg)}}},
       {"raw",
        {{"mime", "image/jpeg"}, {"redacted", false}, {"data_b64", tw::hub::base64_encode("unredacted")}}}});
  ASSERT_TRUE(hub->ingest(smoke));
  const std::string q = "?lat=19.44&lon=-99.14&radius_km=15&since=1699999000000&until=1700000100000";
  auto r = get("/api/v1/evidence" + q, keys.at("insurer"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto ev = r.json();
  // Quakes at valley, puebla, oaxaca and far are candidates; only the valley one is in the insurer's region.
  ASSERT_EQ(ev["quakes"].size(), 1u);
  std::set<std::string> ids;
  for (const auto& qk : ev["quakes"]) ids.insert(qk["event_id"].get<std::string>());
  EXPECT_TRUE(ids.count("qa-site-valley"));
  EXPECT_FALSE(ids.count("qa-site-far"));
  for (const auto& qk : ev["quakes"]) {
    if (qk["event_id"] != "qa-site-valley") continue;
    const auto& at = qk["at_point"];
    EXPECT_EQ(at["nearest_site"]["site"], "site-valley");
    EXPECT_DOUBLE_EQ(at["nearest_site"]["mmi"].get<double>(), 5.0);
    EXPECT_DOUBLE_EQ(at["observed_pga_cms2"].get<double>(), 212.5);
    EXPECT_DOUBLE_EQ(at["observed_pgv_cms"].get<double>(), 31.25);
    EXPECT_EQ(at["pgv_trigger_met"], true);
    EXPECT_DOUBLE_EQ(qk["magnitude"].get<double>(), 5.5);
    EXPECT_NEAR(qk["epicentral_distance_km"].get<double>(), 1.1, 0.2);
  }
  EXPECT_EQ(ev["smoke"].size(), 2u);  // the batch's smoke and the one with a snapshot
  EXPECT_EQ(ev["fires"].size(), 1u);
  EXPECT_EQ(ev["outages"].size(), 0u);
  // The bundle: evidence.json + the redacted image, never the unredacted one.
  auto b = get("/api/v1/evidence/bundle" + q, keys.at("insurer"));
  ASSERT_EQ(b.status, 200);
  auto bundle = tw::hub::bundle_from_json(b.json());
  ASSERT_TRUE(bundle) << bundle.error().message;
  ASSERT_EQ(bundle->files.size(), 2u);
  const std::string img = "images/" + smoke.id + "-0.jpg";
  ASSERT_TRUE(bundle->files.count(img));
  EXPECT_EQ(bundle->files.at(img), jpeg);
  EXPECT_EQ(bundle->files.at("evidence.json").find("unredacted"), std::string::npos);
  EXPECT_EQ(bundle->files.at("evidence.json").find(tw::hub::base64_encode("unredacted")), std::string::npos);
  EXPECT_TRUE(tw::hub::verify_bundle(*bundle));
  EXPECT_EQ(bundle->manifest["files"][1]["sha256"], tw::hub::sha256_hex(jpeg));
  // Round trip through a folder, then tampering is detected and named.
  ASSERT_TRUE(tw::hub::write_bundle_dir(*bundle, dir.file("bundle")));
  auto back = tw::hub::read_bundle_dir(dir.file("bundle"));
  ASSERT_TRUE(back);
  EXPECT_TRUE(tw::hub::verify_bundle(*back));
  auto tampered = *back;
  tampered.files[img][5] ^= 1;
  auto st = tw::hub::verify_bundle(tampered);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find(img), std::string::npos);
  auto extra = *back;
  extra.files["images/extra.jpg"] = "x";
  EXPECT_FALSE(tw::hub::verify_bundle(extra));
  auto forged = *back;
  forged.manifest["tenant"] = "someone-else";
  auto fst = tw::hub::verify_bundle(forged);
  ASSERT_FALSE(fst);
  EXPECT_NE(fst.error().message.find("manifest_sha256"), std::string::npos);
  // Site outages: the far site's outage, for the operator.
  auto far =
      get("/api/v1/evidence?lat=40.4168&lon=-3.7038&radius_km=5&since=" +
              std::to_string(tw::now_ms() - 86400000) + "&until=" + std::to_string(tw::now_ms() + 1000),
          admin());
  ASSERT_EQ(far.status, 200);
  ASSERT_EQ(far.json()["outages"].size(), 1u);
  EXPECT_EQ(far.json()["outages"][0]["site"], "site-far");
  EXPECT_TRUE(far.json()["outages"][0]["end"].is_null());
}

TEST_F(Api, FeedsCapGeoJsonQuakeMl) {
  auto atom = get("/api/v1/feeds/alerts.atom", keys.at("forestry-bureau"));
  ASSERT_EQ(atom.status, 200);
  EXPECT_TRUE(atom.body.starts_with(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
  // Forestry (Oaxaca, wildfire): the smoke and fire alarms at Oaxaca.
  size_t entries = 0;
  for (size_t p = 0; (p = atom.body.find("<entry>", p)) != std::string::npos; ++p) ++entries;
  EXPECT_EQ(entries, 2u);
  EXPECT_NE(atom.body.find("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"), std::string::npos);
  EXPECT_NE(atom.body.find("<category>Fire</category>"), std::string::npos);
  EXPECT_NE(atom.body.find("<circle>17.0732,-96.7266 10.0</circle>"), std::string::npos);
  EXPECT_NE(atom.body.find("<msgType>Alert</msgType>"), std::string::npos);

  auto sites = get("/api/v1/feeds/sites.geojson", keys.at("land-bureau"));
  ASSERT_EQ(sites.status, 200);
  auto g = sites.json();
  EXPECT_EQ(g["type"], "FeatureCollection");
  ASSERT_EQ(g["features"].size(), 2u);
  for (const auto& f : g["features"]) {
    if (f["id"] == "site-puebla") {
      EXPECT_DOUBLE_EQ(f["geometry"]["coordinates"][0].get<double>(), -98.2063);
      EXPECT_DOUBLE_EQ(f["geometry"]["coordinates"][1].get<double>(), 19.0414);
      EXPECT_FALSE(f["properties"].contains("status"));
    }
  }
  auto evs = get("/api/v1/feeds/events.geojson?kind=change", keys.at("land-bureau")).json();
  ASSERT_EQ(evs["features"].size(), 2u);
  EXPECT_EQ(evs["features"][0]["properties"]["kind"], "change");

  auto qml = get("/api/v1/feeds/quakes.xml", keys.at("quake-agency"));
  ASSERT_EQ(qml.status, 200);
  size_t events = 0;
  for (size_t p = 0; (p = qml.body.find("<event publicID=", p)) != std::string::npos; ++p) ++events;
  EXPECT_EQ(events, 3u);
  EXPECT_NE(qml.body.find("<event publicID=\"smi:towerwatch/event/qa-site-oaxaca\">"), std::string::npos);
  EXPECT_NE(qml.body.find("<depth><value>10000</value></depth>"), std::string::npos);
  EXPECT_NE(qml.body.find("<mag><value>5.5</value></mag>"), std::string::npos);
  EXPECT_NE(qml.body.find("<time><value>2023-11-14T22:13:20.000Z</value></time>"), std::string::npos);
}

TEST_F(Api, OpenApiMatchesTheRoutes) {
  auto r = get("/api/v1/openapi.json", "");
  ASSERT_EQ(r.status, 200);
  auto doc = r.json();
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::pair<std::string, std::string>> documented, served;
  for (const auto& [path, ops] : doc["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      std::transform(m.begin(), m.end(), m.begin(), ::toupper);
      documented.insert({m, path});
      // Every path parameter is declared.
      for (size_t p = path.find('{'); p != std::string::npos; p = path.find('{', p + 1)) {
        const std::string name = path.substr(p + 1, path.find('}', p) - p - 1);
        bool declared = false;
        for (const auto& prm : op["parameters"]) declared |= prm["name"] == name && prm["in"] == "path";
        EXPECT_TRUE(declared) << method << " " << path << " does not declare " << name;
      }
    }
  }
  for (const auto& rt : http->api_routes()) served.insert({rt.method, rt.path});
  EXPECT_EQ(documented, served);
  // And an undocumented path is really not served.
  EXPECT_EQ(get("/api/v1/nothing-here", admin()).status, 404);
}

}  // namespace
