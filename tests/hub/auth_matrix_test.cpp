// Authorization matrix: every API route x every demo tenant (+ no key, wrong key), including the live
// stream. No response may contain a marker of an item outside the tenant's scope; missing or wrong keys
// get 401, out-of-scope requests 403, changes without the role 403.
#include <atomic>
#include <mutex>
#include <regex>
#include <thread>

#include "api_fixture.hpp"

namespace {

using twt::Reply;

struct Case {
  std::string method;
  std::string path;
  std::string body;
  // Expected status per tenant (tenant id -> status); computed by the case generator.
  std::map<std::string, int> expect;
};

class AuthMatrix : public twt::ApiFixture {
 protected:
  std::string first_event(const std::string& site, const std::string& kind_marker) {
    // event ids of a site come in the order quake, smoke, fire, counts, change, power
    static const std::vector<std::string> order = {"quake", "smoke", "fire", "counts", "change", "power"};
    auto idx = static_cast<size_t>(std::find(order.begin(), order.end(), kind_marker) - order.begin());
    return event_ids.at(site).at(idx);
  }
  static std::string service_of(const std::string& kind) { return tw::hub::service_of_kind(kind); }

  // Builds the concrete requests for one route template, with the expected status for each tenant.
  std::vector<Case> cases_for(const tw::hub::RouteInfo& r) {
    const auto& vis = twt::expected_visibility();
    std::vector<Case> out;
    auto all = [&](int status) {
      std::map<std::string, int> m;
      for (const auto& [t, v] : vis) m[t] = status;
      return m;
    };
    auto admin_only = [&](int ok) {
      std::map<std::string, int> m;
      for (const auto& [t, v] : vis) m[t] = v.admin ? ok : 403;
      return m;
    };
    const std::string& p = r.path;
    if (p == "/api/v1/health" || p == "/api/v1/openapi.json" || p == "/api/v1/me" || p == "/api/v1/sites" ||
        p == "/api/v1/alarms" || p == "/api/v1/feeds/alerts.atom" || p == "/api/v1/feeds/sites.geojson") {
      out.push_back({r.method, p, "", all(200)});
    } else if (p == "/api/v1/events" || p == "/api/v1/feeds/events.geojson") {
      out.push_back({r.method, p + "?limit=10000", "", all(200)});
      // Asking for a kind outside one's services is 403.
      std::map<std::string, int> m;
      for (const auto& [t, v] : vis) m[t] = v.services.count("traffic") ? 200 : 403;
      out.push_back({r.method, p + "?kind=counts", "", m});
      // Asking for a site outside one's regions is 403.
      for (const auto& s : twt::kSites) {
        std::map<std::string, int> ms;
        for (const auto& [t, v] : vis) ms[t] = v.sites.count(s.id) ? 200 : 403;
        out.push_back({r.method, p + "?site=" + s.id, "", ms});
      }
    } else if (p == "/api/v1/sites/{id}") {
      for (const auto& s : twt::kSites) {
        std::map<std::string, int> m;
        if (r.method == "GET") {
          for (const auto& [t, v] : vis) m[t] = v.sites.count(s.id) ? 200 : 403;
          out.push_back({r.method, "/api/v1/sites/" + s.id, "", m});
        } else {
          out.push_back({r.method, "/api/v1/sites/" + s.id, R"({"name":"renamed"})", admin_only(200)});
        }
      }
    } else if (p == "/api/v1/events/{id}") {
      for (const auto& s : twt::kSites) {
        for (const std::string kind : {"quake", "smoke", "counts", "change", "power"}) {
          std::map<std::string, int> m;
          for (const auto& [t, v] : vis) m[t] = (v.sites.count(s.id) && v.services.count(service_of(kind))) ? 200 : 403;
          out.push_back({r.method, "/api/v1/events/" + first_event(s.id, kind), "", m});
        }
      }
    } else if (p.starts_with("/api/v1/alarms/{id}")) {
      const bool change = r.method == "POST";
      std::string body = "{}";
      if (p.ends_with("/assign")) body = R"({"assignee":"crew-7"})";
      if (p.ends_with("/comment")) body = R"({"text":"looked at it"})";
      if (p.ends_with("/ack")) body = R"({"reason":"confirmed"})";
      for (auto id : alarm_ids) {
        auto a = hub->store().alarm(id);
        EXPECT_TRUE(a && *a);
        const auto& al = **a;
        std::string site = al.site;
        if (site.empty()) {  // quake alarms: located at the epicentre = the site of the test quake
          for (const auto& s : twt::kSites)
            if (std::abs(s.lat - al.lat) < 1e-9 && std::abs(s.lon - al.lon) < 1e-9) site = s.id;
        }
        std::map<std::string, int> m;
        for (const auto& [t, v] : vis) {
          const bool in = v.sites.count(site) && v.services.count(al.service);
          m[t] = !in ? 403 : (change && !v.operator_role) ? 403 : 200;
        }
        std::string path = std::regex_replace(p, std::regex(R"(\{id\})"), std::to_string(id));
        out.push_back({r.method, path, change ? body : "", m});
      }
      out.push_back({r.method, std::regex_replace(p, std::regex(R"(\{id\})"), "999999"), change ? body : "", [&] {
                       std::map<std::string, int> m;
                       for (const auto& [t, v] : vis) m[t] = 404;
                       return m;
                     }()});
    } else if (p == "/api/v1/stream") {
      // Covered by LiveStreamIsScoped (needs a streaming client); here only the 401 cases.
      out.push_back({r.method, p, "", {}});
    } else if (p == "/api/v1/evidence" || p == "/api/v1/evidence/bundle") {
      for (const auto& s : twt::kSites) {
        std::map<std::string, int> m;
        for (const auto& [t, v] : vis) {
          const bool has = v.services.count("quake") || v.services.count("wildfire") || v.services.count("site");
          m[t] = !has ? 403 : v.sites.count(s.id) ? 200 : 403;
        }
        out.push_back({r.method,
                       p + "?lat=" + std::to_string(s.lat) + "&lon=" + std::to_string(s.lon) +
                           "&radius_km=20&since=1699999000000&until=1700000100000",
                       "", m});
      }
    } else if (p == "/api/v1/feeds/quakes.xml") {
      std::map<std::string, int> m;
      for (const auto& [t, v] : vis) m[t] = v.services.count("quake") ? 200 : 403;
      out.push_back({r.method, p, "", m});
    } else if (p == "/api/v1/tenants") {
      if (r.method == "GET") out.push_back({r.method, p, "", admin_only(200)});
      else out.push_back({r.method, p, R"({"id":"new-co","name":"New","role":"viewer","services":["traffic"]})", admin_only(201)});
    } else if (p == "/api/v1/tenants/{id}") {
      if (r.method == "GET") out.push_back({r.method, "/api/v1/tenants/insurer", "", admin_only(200)});
      if (r.method == "PUT")
        out.push_back({r.method, "/api/v1/tenants/land-bureau",
                       R"({"name":"Land bureau","role":"viewer","services":["landuse"],"regions":[{"name":"puebla","points":[[18.5,-98.8],[18.5,-97.5],[19.6,-97.5],[19.6,-98.8]]},{"name":"valley","points":[[18.9,-99.9],[18.9,-98.8],[19.8,-98.8],[19.8,-99.9]]}]})",
                       admin_only(200)});
      if (r.method == "DELETE") out.push_back({r.method, "/api/v1/tenants/nobody", "", admin_only(404)});
    } else if (p == "/api/v1/tenants/{id}/keys") {
      if (r.method == "GET") out.push_back({r.method, "/api/v1/tenants/insurer/keys", "", admin_only(200)});
      else out.push_back({r.method, "/api/v1/tenants/nobody/keys", R"({"label":"x"})", admin_only(404)});
    } else if (p == "/api/v1/tenants/{id}/keys/{key_id}") {
      out.push_back({r.method, "/api/v1/tenants/insurer/keys/ffffffff", "", admin_only(404)});
    }
    return out;
  }
};

TEST_F(AuthMatrix, EveryRouteEveryTenant) {
  ASSERT_GE(alarm_ids.size(), 13u);  // quake, smoke, fire at 4 sites + 1 outage
  size_t requests = 0;
  for (const auto& route : http->api_routes()) {
    auto cases = cases_for(route);
    ASSERT_FALSE(cases.empty()) << "no matrix case for " << route.method << " " << route.path;
    const bool is_open = route.path == "/api/v1/health" || route.path == "/api/v1/openapi.json";
    for (const auto& c : cases) {
      // No key and a wrong key.
      for (const std::string bad : {"", "not-a-real-key-0000000000"}) {
        auto r = request(c.method, c.path, bad, c.body);
        ++requests;
        if (is_open) {
          EXPECT_EQ(r.status, 200) << c.method << " " << c.path;
        } else {
          EXPECT_EQ(r.status, 401) << c.method << " " << c.path << " key='" << bad << "': " << r.body;
        }
        for (const auto& s : twt::kSites) EXPECT_EQ(r.body.find(s.id), std::string::npos) << c.path << " leaks " << s.id;
      }
      if (c.expect.empty()) continue;
      for (const auto& [tenant, status] : c.expect) {
        auto r = request(c.method, c.path, keys.at(tenant), c.body);
        ++requests;
        EXPECT_EQ(r.status, status) << tenant << " " << c.method << " " << c.path << " -> " << r.body.substr(0, 300);
        if (r.status >= 400) {
          auto j = r.json();
          EXPECT_TRUE(j.is_object() && j.contains("reason")) << c.path << ": " << r.body;
        }
        for (const auto& m : forbidden(tenant))
          EXPECT_EQ(r.body.find(m), std::string::npos)
              << tenant << " " << c.method << " " << c.path << " contains out-of-scope marker " << m;
      }
    }
  }
  EXPECT_GT(requests, 500u);
}

TEST_F(AuthMatrix, ListsShowEverythingInScope) {
  // Filtering must not be over-eager: every in-scope event is listed.
  for (const auto& [tenant, v] : twt::expected_visibility()) {
    auto r = get("/api/v1/events?limit=10000", keys.at(tenant));
    ASSERT_EQ(r.status, 200);
    for (const auto& m : allowed(tenant)) EXPECT_NE(r.body.find(m), std::string::npos) << tenant << " misses " << m;
    auto sites = get("/api/v1/sites", keys.at(tenant)).json();
    std::set<std::string> ids;
    for (const auto& s : sites["sites"]) ids.insert(s["id"].get<std::string>());
    EXPECT_EQ(ids, v.sites) << tenant;
    // Only the site/power services see operational status.
    for (const auto& s : sites["sites"])
      EXPECT_EQ(s.contains("status"), v.services.count("site") > 0 || v.services.count("power") > 0) << tenant;
  }
  // The quake agency sees intensities only at sites inside its region.
  auto q = get("/api/v1/events?kind=quake&site=site-valley", keys.at("quake-agency")).json();
  ASSERT_EQ(q["events"].size(), 1u);
  EXPECT_EQ(q["events"][0]["payload"]["intensities"].size(), 3u);
  auto qa = get("/api/v1/events?kind=quake&site=site-valley", keys.at("operator-admin")).json();
  EXPECT_EQ(qa["events"][0]["payload"]["intensities"].size(), 4u);
}

TEST_F(AuthMatrix, LiveStreamIsScoped) {
  struct Stream {
    std::string tenant;
    std::unique_ptr<httplib::Client> client;
    std::mutex mu;
    std::string buf;
    std::thread th;
    int status = 0;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  for (const auto& [tenant, v] : twt::expected_visibility()) {
    auto s = std::make_unique<Stream>();
    s->tenant = tenant;
    s->client = std::make_unique<httplib::Client>("127.0.0.1", port);
    auto* sp = s.get();
    const std::string path = "/api/v1/stream?key=" + keys.at(tenant);
    s->th = std::thread([sp, path] {
      auto r = sp->client->Get(
          path.c_str(),
          [sp](const httplib::Response& res) {
            sp->status = res.status;
            return true;
          },
          [sp](const char* d, size_t n) {
            std::lock_guard lock(sp->mu);
            sp->buf.append(d, n);
            return true;
          });
      (void)r;
    });
    streams.push_back(std::move(s));
  }
  // Missing and wrong keys: 401 at once.
  EXPECT_EQ(get("/api/v1/stream", "").status, 401);
  EXPECT_EQ(get("/api/v1/stream?key=wrong-key-wrong-key-wrong", "").status, 401);
  auto contains = [](Stream& s, const std::string& m) {
    std::lock_guard lock(s.mu);
    return s.buf.find(m) != std::string::npos;
  };
  for (auto& s : streams)
    ASSERT_TRUE(tw::test::wait_until([&] { return contains(*s, "event: hello"); }, std::chrono::seconds(10))) << s->tenant;
  const size_t before = items.size();
  ingest_batch("b", 1700000050000);
  std::vector<twt::Item> fresh(items.begin() + static_cast<long>(before), items.end());
  for (auto& s : streams) {
    for (const auto& it : fresh) {
      if (!visible(s->tenant, it)) continue;
      EXPECT_TRUE(tw::test::wait_until([&] { return contains(*s, it.markers[0]); }, std::chrono::seconds(5)))
          << s->tenant << " did not receive " << it.markers[1];
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything leaking would have arrived by now
  for (auto& s : streams) {
    EXPECT_EQ(s->status, 200);
    std::lock_guard lock(s->mu);
    for (const auto& m : forbidden(s->tenant))
      EXPECT_EQ(s->buf.find(m), std::string::npos) << s->tenant << " stream contains out-of-scope marker " << m;
    // alarms of the new batch arrive on the stream too, for operators and viewers alike
    if (s->tenant == "quake-agency") {
      EXPECT_NE(s->buf.find("\"qb-site-valley\""), std::string::npos);
    }
  }
  for (auto& s : streams) s->client->stop();
  http->stop();
  for (auto& s : streams) s->th.join();
}

}  // namespace
