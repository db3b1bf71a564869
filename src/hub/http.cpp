#include "tw/hub/http.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <regex>
#include <set>

#include "tw/core/geo.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/evidence.hpp"
#include "tw/hub/feeds.hpp"

namespace tw::hub {
namespace {

// What an operator saw instead of smoke when dismissing a smoke alarm.
constexpr std::array<std::string_view, 6> kDismissLabels{"cloud", "fog",  "dust", "industrial_smoke",
                                                         "glare", "other"};

constexpr size_t kMaxLimit = 10000;
constexpr size_t kMaxBody = 64 * 1024;      // httplib's hard limit (answered 400)
constexpr size_t kMaxJsonBody = 16 * 1024;  // per JSON request body

using Req = httplib::Request;
using Res = httplib::Response;

void send_json(Res& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

void bad_request(Res& res, const std::string& reason) {
  send_json(res, 400, {{"error", "bad_request"}, {"reason", reason}});
}
void forbidden(Res& res, const std::string& reason) {
  send_json(res, 403, {{"error", "forbidden"}, {"reason", reason}});
}
void not_found(Res& res, const std::string& reason) {
  send_json(res, 404, {{"error", "not_found"}, {"reason", reason}});
}
void store_error(Res& res, const Error& e) {
  spdlog::error("hub api: store: {}", e.message);
  send_json(res, 500, {{"error", "store"}, {"reason", "storage failure"}});
}

std::optional<double> to_double(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Accepts UTC milliseconds or ISO-8601.
std::optional<std::int64_t> parse_time(const std::string& s) {
  if (auto v = to_int(s)) return v;
  return parse_iso8601_ms(s);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    auto pos = s.find(sep, start);
    if (pos == std::string::npos) pos = s.size();
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  return out;
}

std::string clip(const std::string& s) { return s.substr(0, 64); }

std::optional<std::string> check_params(const Req& req, const std::set<std::string>& allowed) {
  for (const auto& [k, v] : req.params) {
    if (!allowed.count(k)) return "unknown parameter '" + clip(k) + "'";
    if (v.size() > 4096) return "parameter '" + clip(k) + "' is too long";
    if (req.params.count(k) > 1) return "parameter '" + clip(k) + "' given more than once";
  }
  return std::nullopt;
}

std::optional<std::string> parse_limit(const Req& req, size_t& out) {
  if (!req.has_param("limit")) return std::nullopt;
  auto l = to_int(req.get_param_value("limit"));
  if (!l || *l < 1 || *l > static_cast<std::int64_t>(kMaxLimit))
    return "limit: expected an integer in [1, " + std::to_string(kMaxLimit) + "]";
  out = static_cast<size_t>(*l);
  return std::nullopt;
}

// Parses the event query parameters; returns an error reason on bad input.
std::optional<std::string> parse_event_query(const Req& req, store::EventQuery& q) {
  if (auto e = check_params(req, {"kind", "site", "since", "until", "near", "limit", "order"})) return e;
  if (req.has_param("kind")) {
    for (auto& k : split(req.get_param_value("kind"), ',')) {
      if (!is_known_kind(k)) return "kind: unknown kind '" + clip(k) + "'";
      q.kinds.push_back(k);
    }
  }
  if (req.has_param("site")) {
    for (auto& s : split(req.get_param_value("site"), ',')) {
      if (!is_valid_id(s)) return "site: '" + clip(s) + "' is not a valid site id";
      q.sites.push_back(s);
    }
  }
  if (req.has_param("since")) {
    auto t = parse_time(req.get_param_value("since"));
    if (!t) return "since: expected UTC milliseconds or ISO-8601";
    q.since_ms = *t;
  }
  if (req.has_param("until")) {
    auto t = parse_time(req.get_param_value("until"));
    if (!t) return "until: expected UTC milliseconds or ISO-8601";
    q.until_ms = *t;
  }
  if (q.since_ms && q.until_ms && *q.until_ms < *q.since_ms) return "until is before since";
  if (req.has_param("near")) {
    auto parts = split(req.get_param_value("near"), ',');
    if (parts.size() != 3) return "near: expected LAT,LON,KM";
    auto lat = to_double(parts[0]), lon = to_double(parts[1]), km = to_double(parts[2]);
    if (!lat || !lon || !km || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180 || *km <= 0 ||
        *km > 20000)
      return "near: expected LAT in [-90,90], LON in [-180,180], KM in (0,20000]";
    q.near = store::Near{*lat, *lon, *km};
  }
  if (auto e = parse_limit(req, q.limit)) return e;
  if (req.has_param("order")) {
    const auto& o = req.get_param_value("order");
    if (o != "asc" && o != "desc") return "order: expected asc or desc";
    q.newest_first = o == "desc";
  }
  return std::nullopt;
}

std::string sse_frame(const StreamItem& item) {
  return "event: " + item.event + "\ndata: " + item.data.dump() + "\n\n";
}

// A JSON object body, or a 400 with the reason.
std::optional<nlohmann::json> json_body(const Req& req, Res& res) {
  if (req.body.size() > kMaxJsonBody) {
    bad_request(res, "request body too large (" + std::to_string(req.body.size()) + " bytes, limit " +
                         std::to_string(kMaxJsonBody) + ")");
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    bad_request(res, "body: expected a JSON object");
    return std::nullopt;
  }
  return j;
}

std::optional<std::string> string_field(const nlohmann::json& j, const char* key, Res& res, size_t max_len,
                                        bool required) {
  if (!j.contains(key)) {
    if (required) bad_request(res, std::string(key) + ": required");
    return required ? std::nullopt : std::optional<std::string>(std::string());
  }
  if (!j[key].is_string() || j[key].get<std::string>().size() > max_len) {
    bad_request(
        res, std::string(key) + ": expected a string of at most " + std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  return j[key].get<std::string>();
}

std::string path_regex(const std::string& tmpl) {
  static const std::regex param(R"(\{[a-z_]+\})");
  return std::regex_replace(tmpl, param, "([^/]+)");
}

std::vector<std::string> kinds_of_services(const Tenant& t) {
  std::vector<std::string> out;
  for (const auto& k : known_kinds()) {
    if (t.has_service(service_of_kind(k))) out.push_back(k);
  }
  return out;
}

// Site JSON as a tenant may see it: operational status only for the site/power services.
nlohmann::json site_view(const store::SiteRecord& s, const Tenant& t) {
  nlohmann::json j = to_json(s);
  if (!t.has_service("site") && !t.has_service("power")) {
    j.erase("status");
    j.erase("last_seen");
    j.erase("info");
  }
  return j;
}

// A circle around all of a tenant's regions: lets the store's spatial index pre-filter what the exact
// polygon test then checks (so a regional tenant's page of results is not starved by other regions).
std::optional<store::Near> region_circle(const Tenant& t) {
  if (t.regions.empty()) return std::nullopt;
  double lat0 = 90, lat1 = -90, lon0 = 180, lon1 = -180;
  for (const auto& r : t.regions) {
    for (const auto& p : r.polygon) {
      lat0 = std::min(lat0, p.lat), lat1 = std::max(lat1, p.lat);
      lon0 = std::min(lon0, p.lon), lon1 = std::max(lon1, p.lon);
    }
  }
  const LatLon c{(lat0 + lat1) / 2, (lon0 + lon1) / 2};
  double radius = 0;
  for (const auto& r : t.regions) {
    for (const auto& p : r.polygon) radius = std::max(radius, distance_km(c, p));
  }
  return store::Near{c.lat, c.lon, std::min(20000.0, radius + 1.0)};
}

bool alarm_visible(const store::AlarmRecord& a, const Tenant& t) { return t.allows(a.service, a.lat, a.lon); }

// A quake payload lists intensities (and picks) at sites all over the network: a tenant with regions
// sees only those of sites inside its regions.
void scrub_quake_payload(nlohmann::json& p, const Tenant& t) {
  if (t.regions.empty() || !p.is_object()) return;
  std::set<std::string> kept;
  if (p.contains("intensities") && p["intensities"].is_array()) {
    nlohmann::json keep = nlohmann::json::array();
    for (const auto& s : p["intensities"]) {
      const double lat = s.contains("lat") && s["lat"].is_number() ? s["lat"].get<double>() : NAN;
      const double lon = s.contains("lon") && s["lon"].is_number() ? s["lon"].get<double>() : NAN;
      if (!t.in_region(lat, lon)) continue;
      kept.insert(s.value("site", ""));
      keep.push_back(s);
    }
    p["intensities"] = std::move(keep);
  }
  if (p.contains("picks") && p["picks"].is_array()) {
    nlohmann::json keep = nlohmann::json::array();
    for (const auto& k : p["picks"]) {
      if (kept.count(k.value("station", ""))) keep.push_back(k);
    }
    p["picks"] = std::move(keep);
  }
}

nlohmann::json event_view(const store::EventRecord& e, const Tenant& t) {
  nlohmann::json j = to_json(e);
  if (e.kind == "quake") scrub_quake_payload(j["payload"], t);
  return j;
}
bool event_visible(const store::EventRecord& e, const Tenant& t) {
  return t.allows(service_of_kind(e.kind), e.lat, e.lon);
}

}  // namespace

Result<std::pair<std::string, int>> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return make_error("bad_listen", "'" + listen + "': expected HOST:PORT");
  auto port = to_int(std::string_view(listen).substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) return make_error("bad_listen", "'" + listen + "': bad port");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, static_cast<int>(*port));
}

HttpServer::HttpServer(Hub& hub, TenantRepo& tenants)
    : hub_(hub), repo_(tenants), auth_(tenants), srv_(std::make_unique<httplib::Server>()) {
  srv_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  srv_->set_payload_max_length(kMaxBody);
  srv_->set_tcp_nodelay(true);  // small JSON replies: no Nagle/delayed-ACK stalls on keep-alive connections
  setup();
}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::url() const { return "http://" + host_ + ":" + std::to_string(port_) + "/"; }

Status HttpServer::start(const std::string& listen) {
  auto hp = parse_listen(listen);
  if (!hp) return hp.error();
  host_ = hp->first;
  if (hp->second == 0) {
    port_ = srv_->bind_to_any_port(host_);
  } else {
    port_ = srv_->bind_to_port(host_, hp->second) ? hp->second : -1;
  }
  if (port_ < 0) return make_error("listen", "cannot listen on " + listen);
  thread_ = std::thread([this] { srv_->listen_after_bind(); });
  return {};
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  hub_.broadcaster().close_all();
  srv_->stop();
  thread_.join();
}

void HttpServer::setup() {
  auto& s = *srv_;
  using Authed = std::function<void(const Req&, Res&, const Tenant&)>;
  using Open = std::function<void(const Req&, Res&)>;

  // Resolves the caller's tenant or answers 401. The key comes from "Authorization: Bearer KEY";
  // `query_key` also accepts ?key= (the live stream only: EventSource cannot set headers).
  auto authenticate = [this](const Req& req, Res& res, bool query_key) -> std::optional<Tenant> {
    std::string key;
    const auto h = req.get_header_value("Authorization");
    if (h.rfind("Bearer ", 0) == 0)
      key = h.substr(7);
    else if (query_key && req.has_param("key"))
      key = req.get_param_value("key");
    if (key.empty()) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"towerwatch\"");
      send_json(res, 401,
                {{"error", "unauthorized"}, {"reason", "missing API key (Authorization: Bearer KEY)"}});
      return std::nullopt;
    }
    auto t = auth_.authenticate(key);
    if (!t) {
      store_error(res, t.error());
      return std::nullopt;
    }
    if (!*t) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"towerwatch\", error=\"invalid_token\"");
      send_json(res, 401, {{"error", "unauthorized"}, {"reason", "unknown or revoked API key"}});
      return std::nullopt;
    }
    return std::move(**t);
  };

  auto add = [this, &s](const std::string& method, const std::string& tmpl, httplib::Server::Handler h) {
    routes_.push_back({method, tmpl});
    const std::string re = path_regex(tmpl);
    if (method == "GET")
      s.Get(re, std::move(h));
    else if (method == "POST")
      s.Post(re, std::move(h));
    else if (method == "PUT")
      s.Put(re, std::move(h));
    else if (method == "DELETE")
      s.Delete(re, std::move(h));
  };
  auto open = [add](const std::string& method, const std::string& tmpl, Open h) {
    add(method, tmpl, std::move(h));
  };
  auto authed = [add, authenticate](const std::string& method, const std::string& tmpl, Authed h,
                                    bool query_key = false) {
    add(method, tmpl, [h = std::move(h), authenticate, query_key](const Req& req, Res& res) {
      auto t = authenticate(req, res, query_key);
      if (t) h(req, res, *t);
    });
  };
  auto admin = [authed](const std::string& method, const std::string& tmpl, Authed h) {
    authed(method, tmpl, [h = std::move(h)](const Req& req, Res& res, const Tenant& t) {
      if (!t.at_least(Role::admin)) return forbidden(res, "the admin role is required");
      h(req, res, t);
    });
  };

  s.set_exception_handler([](const Req& req, Res& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http {} {}: {}", req.method, req.path, what);
    send_json(res, 500, {{"error", "internal"}, {"reason", "internal error"}});
  });

  // ------------------------------------------------------------ open endpoints (no tenant data)
  open("GET", "/api/v1/health", [this](const Req&, Res& res) {
    auto n = hub_.store().count_events();
    send_json(res, n ? 200 : 503,
              {{"status", n ? "ok" : "degraded"},
               {"store", hub_.store().backend()},
               {"time", format_iso8601_ms(now_ms())}});
  });
  open("GET", "/api/v1/openapi.json", [](const Req&, Res& res) { send_json(res, 200, openapi_document()); });
  s.Get("/metrics", [this](const Req&, Res& res) {
    res.set_content(hub_.metrics().render_prometheus(), "text/plain; version=0.0.4");
  });

  authed("GET", "/api/v1/me", [](const Req&, Res& res, const Tenant& t) { send_json(res, 200, to_json(t)); });

  // ------------------------------------------------------------ sites
  authed("GET", "/api/v1/sites", [this](const Req& req, Res& res, const Tenant& t) {
    if (auto e = check_params(req, {})) return bad_request(res, *e);
    auto sites = hub_.store().sites();
    if (!sites) return store_error(res, sites.error());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& site : *sites) {
      if (!t.services.empty() && t.in_region(site.lat, site.lon)) arr.push_back(site_view(site, t));
    }
    send_json(res, 200, {{"sites", arr}});
  });
  authed("GET", "/api/v1/sites/{id}", [this](const Req& req, Res& res, const Tenant& t) {
    const std::string id = req.matches[1].str();
    if (!is_valid_id(id)) return bad_request(res, "site id: expected 1-64 of [A-Za-z0-9_-]");
    auto site = hub_.store().site(id);
    if (!site) return store_error(res, site.error());
    if (!*site) return not_found(res, "no such site");
    if (t.services.empty() || !t.in_region((*site)->lat, (*site)->lon))
      return forbidden(res, "site outside your regions");
    send_json(res, 200, site_view(**site, t));
  });
  admin("PUT", "/api/v1/sites/{id}", [this](const Req& req, Res& res, const Tenant&) {
    const std::string id = req.matches[1].str();
    if (!is_valid_id(id)) return bad_request(res, "site id: expected 1-64 of [A-Za-z0-9_-]");
    auto body = json_body(req, res);
    if (!body) return;
    store::SiteRecord site;
    if (auto old = hub_.store().site(id); old && *old) site = **old;
    site.id = id;
    auto name = string_field(*body, "name", res, 200, false);
    if (!name) return;
    if (!name->empty()) site.name = *name;
    for (const auto& [k, v] : body->items()) {
      if (k != "name" && k != "lat" && k != "lon" && k != "height_m" && k != "info")
        return bad_request(res, "unknown field '" + clip(k) + "'");
    }
    auto number = [&](const char* k, double& out, double lo, double hi) {
      if (!body->contains(k)) return true;
      if (!(*body)[k].is_number() || (*body)[k].get<double>() < lo || (*body)[k].get<double>() > hi) {
        bad_request(res, std::string(k) + ": expected a number in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "]");
        return false;
      }
      out = (*body)[k].get<double>();
      return true;
    };
    if (!number("lat", site.lat, -90, 90) || !number("lon", site.lon, -180, 180) ||
        !number("height_m", site.height_m, -500, 9000))
      return;
    if (body->contains("info")) {
      if (!(*body)["info"].is_object()) return bad_request(res, "info: expected an object");
      site.info = (*body)["info"];
    }
    if (site.name.empty()) site.name = id;
    if (auto st = hub_.store().upsert_site(site); !st) return store_error(res, st.error());
    send_json(res, 200, to_json(site));
  });

  // ------------------------------------------------------------ events
  // Parses an event query and checks it against the tenant's scope (400 / 403 answered here).
  auto event_query_in_scope = [this](const Req& req, Res& res, const Tenant& t, store::EventQuery& q) {
    if (auto err = parse_event_query(req, q)) {
      bad_request(res, *err);
      return false;
    }
    for (const auto& k : q.kinds) {
      if (!t.has_service(service_of_kind(k))) {
        forbidden(res, "kind '" + k + "' is outside your services");
        return false;
      }
    }
    for (const auto& id : q.sites) {
      auto site = hub_.store().site(id);
      if (!site) {
        store_error(res, site.error());
        return false;
      }
      if (*site && !t.in_region((*site)->lat, (*site)->lon)) {
        forbidden(res, "a requested site is outside your regions");
        return false;
      }
    }
    if (q.kinds.empty()) q.kinds = kinds_of_services(t);
    // With a bounded time window the store's spatial index pre-filters to the tenant's regions; without
    // one that would scan every event of the regions, so the newest events are over-fetched instead.
    if (!q.near && q.since_ms) q.near = region_circle(t);
    return true;
  };
  authed("GET", "/api/v1/events", [this, event_query_in_scope](const Req& req, Res& res, const Tenant& t) {
    store::EventQuery q;
    if (!event_query_in_scope(req, res, t, q)) return;
    nlohmann::json arr = nlohmann::json::array();
    if (!q.kinds.empty()) {
      const size_t want = q.limit;
      if (!t.regions.empty()) q.limit = std::min(kMaxLimit, want * 4);  // region filtering happens below
      auto events = hub_.store().query_events(q);
      if (!events) return store_error(res, events.error());
      for (const auto& e : *events) {
        if (arr.size() >= want) break;
        if (event_visible(e, t)) arr.push_back(event_view(e, t));
      }
    }
    send_json(res, 200, {{"events", arr}, {"count", arr.size()}});
  });
  authed("GET", "/api/v1/events/{id}", [this](const Req& req, Res& res, const Tenant& t) {
    const std::string id = req.matches[1].str();
    if (!is_valid_id(id)) return bad_request(res, "event id: expected 1-64 of [A-Za-z0-9_-]");
    auto e = hub_.store().event(id);
    if (!e) return store_error(res, e.error());
    if (!*e) return not_found(res, "no such event");
    if (!event_visible(**e, t)) return forbidden(res, "event outside your scope");
    send_json(res, 200, event_view(**e, t));
  });

  // ------------------------------------------------------------ alarms
  authed("GET", "/api/v1/alarms", [this](const Req& req, Res& res, const Tenant& t) {
    if (auto e = check_params(req, {"active", "status", "service", "site", "severity", "limit"}))
      return bad_request(res, *e);
    store::AlarmQuery q;
    if (req.has_param("active")) {
      const auto& a = req.get_param_value("active");
      if (a != "true" && a != "false") return bad_request(res, "active: expected true or false");
      q.active_only = a == "true";
    }
    std::string status, severity;
    if (req.has_param("status")) {
      status = req.get_param_value("status");
      if (status != "active_unack" && status != "active_ack" && status != "cleared_unack" &&
          status != "cleared_ack")
        return bad_request(res, "status: expected active_unack, active_ack, cleared_unack or cleared_ack");
    }
    if (req.has_param("severity")) {
      severity = req.get_param_value("severity");
      if (severity != "critical" && severity != "major" && severity != "minor" && severity != "warning")
        return bad_request(res, "severity: expected critical, major, minor or warning");
    }
    if (req.has_param("service")) {
      const auto sv = req.get_param_value("service");
      if (std::find(all_services().begin(), all_services().end(), sv) == all_services().end())
        return bad_request(res, "service: unknown service '" + clip(sv) + "'");
      if (!t.has_service(sv)) return forbidden(res, "service '" + sv + "' is outside your services");
      q.services = {sv};
    } else {
      q.services = t.services;
    }
    if (req.has_param("site")) {
      const auto id = req.get_param_value("site");
      if (!is_valid_id(id)) return bad_request(res, "site: '" + clip(id) + "' is not a valid site id");
      auto site = hub_.store().site(id);
      if (!site) return store_error(res, site.error());
      if (*site && !t.in_region((*site)->lat, (*site)->lon))
        return forbidden(res, "the site is outside your regions");
      q.site = id;
    }
    size_t want = 200;
    if (auto e = parse_limit(req, want)) return bad_request(res, *e);
    q.near = region_circle(t);
    nlohmann::json arr = nlohmann::json::array();
    if (!q.services.empty()) {
      q.limit = (t.regions.empty() && status.empty() && severity.empty()) ? want : kMaxLimit;
      auto alarms = hub_.store().alarms(q);
      if (!alarms) return store_error(res, alarms.error());
      for (const auto& a : *alarms) {
        if (arr.size() >= want) break;
        if (!status.empty() && a.status != status) continue;
        if (!severity.empty() && a.severity != severity) continue;
        if (alarm_visible(a, t)) arr.push_back(to_json(a));
      }
    }
    send_json(res, 200, {{"alarms", arr}});
  });

  // Loads the alarm of the path, checking scope (and the operator role when `change`).
  auto with_alarm = [this](const Req& req, Res& res, const Tenant& t,
                           bool change) -> std::optional<store::AlarmRecord> {
    auto id = to_int(req.matches[1].str());
    if (!id || *id < 1) {
      bad_request(res, "alarm id must be a positive integer");
      return std::nullopt;
    }
    auto a = hub_.store().alarm(*id);
    if (!a) {
      store_error(res, a.error());
      return std::nullopt;
    }
    if (!*a) {
      not_found(res, "no such alarm");
      return std::nullopt;
    }
    if (!alarm_visible(**a, t)) {
      forbidden(res, "alarm outside your scope");
      return std::nullopt;
    }
    if (change && !t.at_least(Role::operator_)) {
      forbidden(res, "the operator role is required to change alarms");
      return std::nullopt;
    }
    return **a;
  };
  auto user_of = [](const Tenant& t) { return "tenant:" + t.id; };

  authed("GET", "/api/v1/alarms/{id}", [with_alarm](const Req& req, Res& res, const Tenant& t) {
    if (auto a = with_alarm(req, res, t, false)) send_json(res, 200, to_json(*a));
  });
  authed("GET", "/api/v1/alarms/{id}/history", [this, with_alarm](const Req& req, Res& res, const Tenant& t) {
    auto a = with_alarm(req, res, t, false);
    if (!a) return;
    auto h = hub_.store().alarm_history(a->id);
    if (!h) return store_error(res, h.error());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *h)
      arr.push_back(
          {{"time", format_iso8601_ms(e.ts_ms)}, {"action", e.action}, {"user", e.user}, {"text", e.text}});
    send_json(res, 200, {{"alarm", a->id}, {"history", arr}});
  });
  // ack / clear take an optional {"reason": "..."} recorded as a comment. Smoke alarms: ack = confirm; clear
  // before anyone confirmed = dismiss, which needs {"label": one of kDismissLabels} (what the camera saw
  // instead).
  auto lifecycle = [this, with_alarm, user_of](bool ack) {
    return [this, with_alarm, user_of, ack](const Req& req, Res& res, const Tenant& t) {
      auto body = json_body(req, res);
      if (!body) return;
      for (const auto& [k, v] : body->items()) {
        if (k != "reason" && (ack || k != "label"))
          return bad_request(res, "unknown field '" + clip(k) + "'");
      }
      auto reason = string_field(*body, "reason", res, 2000, false);
      if (!reason) return;
      auto label = string_field(*body, "label", res, 40, false);
      if (!label) return;
      const std::string labels = fmt::format("{}", fmt::join(kDismissLabels, ", "));
      if (!label->empty() &&
          std::find(kDismissLabels.begin(), kDismissLabels.end(), *label) == kDismissLabels.end())
        return bad_request(res, "label: expected one of " + labels);
      auto a = with_alarm(req, res, t, true);
      if (!a) return;
      const bool dismissal = !ack && a->type == "smoke" && a->ack_ms == 0 && a->clear_ms == 0;
      if (dismissal && label->empty())
        return bad_request(res, "label: dismissing an unconfirmed smoke alarm needs one of " + labels);
      std::string text;
      if (dismissal) {
        text = "dismissed (" + *label + ")" + (reason->empty() ? "" : ": " + *reason);
        hub_.metrics()
            .counter("tw_smoke_dismissed_total", "Smoke alarms dismissed, by what was seen",
                     {{"label", *label}})
            .inc();
      } else if (!reason->empty()) {
        text = (ack ? "acknowledged: " : "cleared: ") + *reason;
      }
      if (!text.empty()) {
        if (auto c = hub_.comment(a->id, text, user_of(t)); !c) return store_error(res, c.error());
      }
      auto r = ack ? hub_.acknowledge(a->id, user_of(t)) : hub_.clear(a->id, user_of(t));
      if (!r) return store_error(res, r.error());
      if (!*r) return not_found(res, "no such alarm");
      // The first verdict on a smoke alarm goes back to the camera that raised it.
      if (a->type == "smoke" && a->ack_ms == 0 && a->clear_ms == 0) hub_.send_smoke_verdict(**r, ack, *label);
      send_json(res, 200, to_json(**r));
    };
  };
  authed("POST", "/api/v1/alarms/{id}/ack", lifecycle(true));
  authed("POST", "/api/v1/alarms/{id}/clear", lifecycle(false));
  authed("POST", "/api/v1/alarms/{id}/assign",
         [this, with_alarm, user_of](const Req& req, Res& res, const Tenant& t) {
           auto body = json_body(req, res);
           if (!body) return;
           auto who = string_field(*body, "assignee", res, 200, true);
           if (!who) return;
           auto a = with_alarm(req, res, t, true);
           if (!a) return;
           auto r = hub_.assign(a->id, *who, user_of(t));
           if (!r) return store_error(res, r.error());
           if (!*r) return not_found(res, "no such alarm");
           send_json(res, 200, to_json(**r));
         });
  authed("POST", "/api/v1/alarms/{id}/comment",
         [this, with_alarm, user_of](const Req& req, Res& res, const Tenant& t) {
           auto body = json_body(req, res);
           if (!body) return;
           auto text = string_field(*body, "text", res, 2000, true);
           if (!text) return;
           if (text->empty()) return bad_request(res, "text: must not be empty");
           auto a = with_alarm(req, res, t, true);
           if (!a) return;
           auto r = hub_.comment(a->id, *text, user_of(t));
           if (!r) return store_error(res, r.error());
           send_json(res, 200, to_json(**r));
         });

  // ------------------------------------------------------------ live stream
  authed(
      "GET", "/api/v1/stream",
      [this](const Req& req, Res& res, const Tenant& t) {
        if (auto e = check_params(req, {"key"})) return bad_request(res, *e);
        auto sub = hub_.broadcaster().subscribe(
            [t](const StreamItem& item) { return t.allows(item.service, item.lat, item.lon); });
        hub_.metrics()
            .gauge("tw_stream_clients", "Connected live-stream clients")
            .set(static_cast<double>(hub_.broadcaster().subscribers()));
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        res.set_chunked_content_provider(
            "text/event-stream",
            [sub, t, first = std::make_shared<bool>(true)](size_t, httplib::DataSink& sink) {
              if (*first) {  // tell the client at once that it is connected
                *first = false;
                static const std::string hello = "event: hello\ndata: {}\n\n";
                return sink.write(hello.data(), hello.size());
              }
              std::unique_lock lock(sub->mu);
              sub->cv.wait_for(lock, std::chrono::seconds(15),
                               [&] { return sub->closed || !sub->q.empty(); });
              if (sub->closed) return false;
              std::string out;
              if (sub->dropped > 0) {
                out += "event: dropped\ndata: {\"count\":" + std::to_string(sub->dropped) + "}\n\n";
                sub->dropped = 0;
              }
              while (!sub->q.empty()) {
                auto& item = sub->q.front();
                if (item.event == "event" && item.data.value("kind", "") == "quake" &&
                    item.data.contains("payload"))
                  scrub_quake_payload(item.data["payload"], t);
                if (item.event == "site" && !t.has_service("site") && !t.has_service("power")) {
                  item.data.erase("info");
                }
                out += sse_frame(item);
                sub->q.pop_front();
              }
              lock.unlock();
              if (out.empty()) out = ": keepalive\n\n";
              return sink.write(out.data(), out.size());
            },
            [this, sub](bool) {
              hub_.broadcaster().unsubscribe(sub);
              hub_.metrics()
                  .gauge("tw_stream_clients", "Connected live-stream clients")
                  .set(static_cast<double>(hub_.broadcaster().subscribers()));
            });
      },
      true);

  // ------------------------------------------------------------ evidence
  auto evidence_query = [](const Req& req, Res& res, const Tenant& t) -> std::optional<EvidenceQuery> {
    if (auto e = check_params(req, {"lat", "lon", "radius_km", "since", "until"})) {
      bad_request(res, *e);
      return std::nullopt;
    }
    EvidenceQuery q;
    auto need = [&](const char* k) -> std::optional<std::string> {
      if (!req.has_param(k)) {
        bad_request(res, std::string(k) + ": required");
        return std::nullopt;
      }
      return req.get_param_value(k);
    };
    auto lat_s = need("lat"), lon_s = need("lon");
    if (!lat_s || !lon_s) return std::nullopt;
    auto lat = to_double(*lat_s), lon = to_double(*lon_s);
    if (!lat || *lat < -90 || *lat > 90)
      return bad_request(res, "lat: expected a number in [-90, 90]"), std::nullopt;
    if (!lon || *lon < -180 || *lon > 180)
      return bad_request(res, "lon: expected a number in [-180, 180]"), std::nullopt;
    q.lat = *lat;
    q.lon = *lon;
    if (req.has_param("radius_km")) {
      auto r = to_double(req.get_param_value("radius_km"));
      if (!r || *r <= 0 || *r > 500)
        return bad_request(res, "radius_km: expected a number in (0, 500]"), std::nullopt;
      q.radius_km = *r;
    }
    auto since_s = need("since"), until_s = need("until");
    if (!since_s || !until_s) return std::nullopt;
    auto since = parse_time(*since_s), until = parse_time(*until_s);
    if (!since) return bad_request(res, "since: expected UTC milliseconds or ISO-8601"), std::nullopt;
    if (!until) return bad_request(res, "until: expected UTC milliseconds or ISO-8601"), std::nullopt;
    if (*until <= *since) return bad_request(res, "until must be after since"), std::nullopt;
    if (*until - *since > 400LL * 86400 * 1000)
      return bad_request(res, "window longer than 400 days"), std::nullopt;
    q.since_ms = *since;
    q.until_ms = *until;
    if (!t.has_service("quake") && !t.has_service("wildfire") && !t.has_service("site"))
      return forbidden(res, "evidence needs the quake, wildfire or site service"), std::nullopt;
    if (!t.in_region(q.lat, q.lon)) return forbidden(res, "point outside your regions"), std::nullopt;
    return q;
  };
  authed("GET", "/api/v1/evidence", [this, evidence_query](const Req& req, Res& res, const Tenant& t) {
    auto q = evidence_query(req, res, t);
    if (!q) return;
    auto ev = query_evidence(hub_.store(), t, *q);
    if (!ev) return store_error(res, ev.error());
    send_json(res, 200, *ev);
  });
  authed("GET", "/api/v1/evidence/bundle", [this, evidence_query](const Req& req, Res& res, const Tenant& t) {
    auto q = evidence_query(req, res, t);
    if (!q) return;
    auto ev = query_evidence(hub_.store(), t, *q);
    if (!ev) return store_error(res, ev.error());
    res.set_header("Content-Disposition", "attachment; filename=\"evidence-bundle.json\"");
    send_json(res, 200, bundle_to_json(make_bundle(*ev, now_ms())));
  });

  // ------------------------------------------------------------ feeds
  authed("GET", "/api/v1/feeds/alerts.atom", [this](const Req& req, Res& res, const Tenant& t) {
    if (auto e = check_params(req, {})) return bad_request(res, *e);
    store::AlarmQuery q;
    q.active_only = true;
    q.services = t.services;
    q.limit = kMaxLimit;
    std::vector<store::AlarmRecord> visible;
    if (!q.services.empty()) {
      auto alarms = hub_.store().alarms(q);
      if (!alarms) return store_error(res, alarms.error());
      for (auto& a : *alarms) {
        if (alarm_visible(a, t)) visible.push_back(std::move(a));
      }
    }
    res.set_content(cap_atom_feed(visible, "urn:towerwatch:feed:alerts:" + t.id, "towerwatch@hub", now_ms()),
                    "application/atom+xml");
  });
  authed("GET", "/api/v1/feeds/sites.geojson", [this](const Req& req, Res& res, const Tenant& t) {
    if (auto e = check_params(req, {})) return bad_request(res, *e);
    auto sites = hub_.store().sites();
    if (!sites) return store_error(res, sites.error());
    std::vector<store::SiteRecord> visible;
    for (auto& site : *sites) {
      if (!t.services.empty() && t.in_region(site.lat, site.lon)) visible.push_back(std::move(site));
    }
    res.set_content(sites_geojson(visible, t.has_service("site") || t.has_service("power")).dump(),
                    "application/geo+json");
  });
  authed("GET", "/api/v1/feeds/events.geojson",
         [this, event_query_in_scope](const Req& req, Res& res, const Tenant& t) {
           store::EventQuery q;
           if (!event_query_in_scope(req, res, t, q)) return;
           std::vector<store::EventRecord> visible;
           if (!q.kinds.empty()) {
             const size_t want = q.limit;
             if (!t.regions.empty()) q.limit = std::min(kMaxLimit, want * 4);
             auto events = hub_.store().query_events(q);
             if (!events) return store_error(res, events.error());
             for (auto& e : *events) {
               if (visible.size() >= want) break;
               if (!event_visible(e, t)) continue;
               if (e.kind == "quake") scrub_quake_payload(e.payload, t);
               visible.push_back(std::move(e));
             }
           }
           res.set_content(events_geojson(visible).dump(), "application/geo+json");
         });
  authed("GET", "/api/v1/feeds/quakes.xml", [this](const Req& req, Res& res, const Tenant& t) {
    if (auto e = check_params(req, {"since", "until", "limit"})) return bad_request(res, *e);
    if (!t.has_service("quake")) return forbidden(res, "QuakeML needs the quake service");
    store::EventQuery q;
    q.kinds = {"quake"};
    q.limit = 1000;
    if (req.has_param("since")) {
      auto v = parse_time(req.get_param_value("since"));
      if (!v) return bad_request(res, "since: expected UTC milliseconds or ISO-8601");
      q.since_ms = *v;
    }
    if (req.has_param("until")) {
      auto v = parse_time(req.get_param_value("until"));
      if (!v) return bad_request(res, "until: expected UTC milliseconds or ISO-8601");
      q.until_ms = *v;
    }
    if (auto e = parse_limit(req, q.limit)) return bad_request(res, *e);
    auto events = hub_.store().query_events(q);
    if (!events) return store_error(res, events.error());
    std::vector<store::EventRecord> visible;
    for (auto& e : *events) {
      if (event_visible(e, t)) visible.push_back(std::move(e));
    }
    res.set_content(quakeml(visible), "application/xml");
  });

  // ------------------------------------------------------------ tenants (admin)
  admin("GET", "/api/v1/tenants", [this](const Req& req, Res& res, const Tenant&) {
    if (auto e = check_params(req, {})) return bad_request(res, *e);
    auto ts = repo_.tenants();
    if (!ts) return store_error(res, ts.error());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& t : *ts) arr.push_back(to_json(t));
    send_json(res, 200, {{"tenants", arr}});
  });
  admin("POST", "/api/v1/tenants", [this](const Req& req, Res& res, const Tenant&) {
    auto body = json_body(req, res);
    if (!body) return;
    auto t = tenant_from_json(*body);
    if (!t) return bad_request(res, t.error().message);
    auto existing = repo_.tenant(t->id);
    if (!existing) return store_error(res, existing.error());
    if (*existing)
      return send_json(res, 409, {{"error", "conflict"}, {"reason", "tenant '" + t->id + "' exists"}});
    if (auto st = repo_.upsert_tenant(*t); !st) return store_error(res, st.error());
    const std::string key = generate_api_key();
    auto k = repo_.add_key(t->id, hash_api_key(key), "initial", now_ms());
    if (!k) return store_error(res, k.error());
    auth_.invalidate();
    nlohmann::json out = to_json(*t);
    out["api_key"] = key;  // shown once
    out["key_id"] = k->id;
    send_json(res, 201, out);
  });
  auto tenant_path = [](const Req& req, Res& res) -> std::optional<std::string> {
    std::string id = req.matches[1].str();
    if (!is_valid_id(id)) {
      bad_request(res, "tenant id: expected 1-64 of [A-Za-z0-9_-]");
      return std::nullopt;
    }
    return id;
  };
  admin("GET", "/api/v1/tenants/{id}", [this, tenant_path](const Req& req, Res& res, const Tenant&) {
    auto id = tenant_path(req, res);
    if (!id) return;
    auto t = repo_.tenant(*id);
    if (!t) return store_error(res, t.error());
    if (!*t) return not_found(res, "no such tenant");
    send_json(res, 200, to_json(**t));
  });
  admin("PUT", "/api/v1/tenants/{id}", [this, tenant_path](const Req& req, Res& res, const Tenant& me) {
    auto id = tenant_path(req, res);
    if (!id) return;
    auto body = json_body(req, res);
    if (!body) return;
    (*body)["id"] = *id;
    auto t = tenant_from_json(*body);
    if (!t) return bad_request(res, t.error().message);
    if (*id == me.id && t->role != Role::admin)
      return bad_request(res, "role: an admin cannot demote itself");
    auto existing = repo_.tenant(*id);
    if (!existing) return store_error(res, existing.error());
    if (!*existing) return not_found(res, "no such tenant");
    if (auto st = repo_.upsert_tenant(*t); !st) return store_error(res, st.error());
    auth_.invalidate();
    send_json(res, 200, to_json(*t));
  });
  admin("DELETE", "/api/v1/tenants/{id}", [this, tenant_path](const Req& req, Res& res, const Tenant& me) {
    auto id = tenant_path(req, res);
    if (!id) return;
    if (*id == me.id) return bad_request(res, "an admin cannot delete its own tenant");
    auto r = repo_.remove_tenant(*id);
    if (!r) return store_error(res, r.error());
    if (!*r) return not_found(res, "no such tenant");
    auth_.invalidate();
    send_json(res, 200, {{"deleted", *id}});
  });
  admin("GET", "/api/v1/tenants/{id}/keys", [this, tenant_path](const Req& req, Res& res, const Tenant&) {
    auto id = tenant_path(req, res);
    if (!id) return;
    auto ks = repo_.keys(*id);
    if (!ks) return store_error(res, ks.error());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& k : *ks)
      arr.push_back({{"id", k.id}, {"label", k.label}, {"created", format_iso8601_ms(k.created_ms)}});
    send_json(res, 200, {{"tenant", *id}, {"keys", arr}});
  });
  admin("POST", "/api/v1/tenants/{id}/keys", [this, tenant_path](const Req& req, Res& res, const Tenant&) {
    auto id = tenant_path(req, res);
    if (!id) return;
    auto body = json_body(req, res);
    if (!body) return;
    auto label = string_field(*body, "label", res, 100, false);
    if (!label) return;
    auto t = repo_.tenant(*id);
    if (!t) return store_error(res, t.error());
    if (!*t) return not_found(res, "no such tenant");
    const std::string key = generate_api_key();
    auto k = repo_.add_key(*id, hash_api_key(key), *label, now_ms());
    if (!k) return store_error(res, k.error());
    send_json(res, 201, {{"tenant", *id}, {"key_id", k->id}, {"api_key", key}, {"label", *label}});
  });
  admin("DELETE", "/api/v1/tenants/{id}/keys/{key_id}",
        [this, tenant_path](const Req& req, Res& res, const Tenant&) {
          auto id = tenant_path(req, res);
          if (!id) return;
          const std::string key_id = req.matches[2].str();
          if (!is_valid_id(key_id)) return bad_request(res, "key id: expected 1-64 of [A-Za-z0-9_-]");
          auto r = repo_.revoke_key(*id, key_id);
          if (!r) return store_error(res, r.error());
          if (!*r) return not_found(res, "no such key");
          auth_.invalidate();
          send_json(res, 200, {{"revoked", key_id}});
        });

  // ------------------------------------------------------------ static dashboard
  std::string root =
      hub_.config().web_root.empty() ? std::string(TW_DEFAULT_WEB_ROOT) : hub_.config().web_root;
  if (!s.set_mount_point("/", root)) spdlog::warn("hub: web root {} not found; dashboard disabled", root);

  s.set_error_handler([](const Req& req, Res& res) {
    if (res.status == 413) {
      res.status = 400;
      send_json(res, 400,
                {{"error", "bad_request"},
                 {"reason", "request body too large (limit " + std::to_string(kMaxBody) + " bytes)"}});
      return;
    }
    if (res.body.empty() && req.path.starts_with("/api/"))
      send_json(res, res.status,
                {{"error", res.status == 404 ? "not_found" : "error"}, {"reason", "no such route"}});
  });
}

}  // namespace tw::hub
