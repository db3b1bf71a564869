#include "tw/hub/http.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>

#include "tw/core/time.hpp"

namespace tw::hub {
namespace {

constexpr size_t kMaxLimit = 10000;
constexpr size_t kMaxBody = 64 * 1024;

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

void bad_request(httplib::Response& res, const std::string& reason) {
  send_json(res, 400, {{"error", "bad_request"}, {"reason", reason}});
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

bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Parses the event query parameters; returns an error reason on bad input.
std::optional<std::string> parse_event_query(const httplib::Request& req, store::EventQuery& q) {
  static const std::set<std::string> allowed = {"kind", "site", "since", "until", "near", "limit", "order"};
  for (const auto& [k, v] : req.params) {
    if (!allowed.count(k)) return "unknown parameter '" + k + "'";
  }
  if (req.has_param("kind")) {
    for (auto& k : split(req.get_param_value("kind"), ',')) {
      if (!is_known_kind(k)) return "kind: unknown kind '" + k.substr(0, 64) + "'";
      q.kinds.push_back(k);
    }
  }
  if (req.has_param("site")) {
    for (auto& s : split(req.get_param_value("site"), ',')) {
      if (!valid_id(s)) return "site: '" + s.substr(0, 64) + "' is not a valid site id";
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
    if (!lat || !lon || !km || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180 || *km <= 0 || *km > 20000)
      return "near: expected LAT in [-90,90], LON in [-180,180], KM in (0,20000]";
    q.near = store::Near{*lat, *lon, *km};
  }
  if (req.has_param("limit")) {
    auto l = to_int(req.get_param_value("limit"));
    if (!l || *l < 1 || *l > static_cast<std::int64_t>(kMaxLimit))
      return "limit: expected an integer in [1, " + std::to_string(kMaxLimit) + "]";
    q.limit = static_cast<size_t>(*l);
  }
  if (req.has_param("order")) {
    const auto& o = req.get_param_value("order");
    if (o != "asc" && o != "desc") return "order: expected asc or desc";
    q.newest_first = o == "desc";
  }
  return std::nullopt;
}

std::string sse_frame(const StreamItem& item) { return "event: " + item.event + "\ndata: " + item.data.dump() + "\n\n"; }

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

HttpServer::HttpServer(Hub& hub) : hub_(hub), srv_(std::make_unique<httplib::Server>()) {
  srv_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  srv_->set_payload_max_length(kMaxBody);
  routes();
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

void HttpServer::routes() {
  auto& s = *srv_;
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http {} {}: {}", req.method, req.path, what);
    send_json(res, 500, {{"error", "internal"}, {"reason", what}});
  });

  s.Get("/api/v1/health", [this](const httplib::Request&, httplib::Response& res) {
    auto n = hub_.store().count_events();
    send_json(res, n ? 200 : 503,
              {{"status", n ? "ok" : "degraded"},
               {"store", hub_.store().backend()},
               {"events", n ? *n : -1},
               {"time", format_iso8601_ms(now_ms())}});
  });

  s.Get("/api/v1/sites", [this](const httplib::Request&, httplib::Response& res) {
    auto sites = hub_.store().sites();
    if (!sites) return send_json(res, 500, {{"error", "store"}, {"reason", sites.error().message}});
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& site : *sites) arr.push_back(to_json(site));
    send_json(res, 200, {{"sites", arr}});
  });

  s.Get("/api/v1/events", [this](const httplib::Request& req, httplib::Response& res) {
    store::EventQuery q;
    if (auto err = parse_event_query(req, q)) return bad_request(res, *err);
    auto events = hub_.store().query_events(q);
    if (!events) return send_json(res, 500, {{"error", "store"}, {"reason", events.error().message}});
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *events) arr.push_back(to_json(e));
    send_json(res, 200, {{"events", arr}, {"count", arr.size()}});
  });

  s.Get("/api/v1/alarms", [this](const httplib::Request& req, httplib::Response& res) {
    store::AlarmQuery q;
    for (const auto& [k, v] : req.params) {
      if (k != "active" && k != "limit") return bad_request(res, "unknown parameter '" + k + "'");
    }
    if (req.has_param("active")) {
      const auto& a = req.get_param_value("active");
      if (a != "true" && a != "false") return bad_request(res, "active: expected true or false");
      q.active_only = a == "true";
    }
    if (req.has_param("limit")) {
      auto l = to_int(req.get_param_value("limit"));
      if (!l || *l < 1 || *l > static_cast<std::int64_t>(kMaxLimit)) return bad_request(res, "limit: out of range");
      q.limit = static_cast<size_t>(*l);
    }
    auto alarms = hub_.store().alarms(q);
    if (!alarms) return send_json(res, 500, {{"error", "store"}, {"reason", alarms.error().message}});
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& a : *alarms) arr.push_back(to_json(a));
    send_json(res, 200, {{"alarms", arr}});
  });

  auto alarm_action = [this](bool ack) {
    return [this, ack](const httplib::Request& req, httplib::Response& res) {
      auto id = to_int(req.matches[1].str());
      if (!id) return bad_request(res, "alarm id must be an integer");
      auto r = ack ? hub_.acknowledge(*id, "api") : hub_.clear(*id, "api");
      if (!r) return send_json(res, 500, {{"error", "store"}, {"reason", r.error().message}});
      if (!*r) return send_json(res, 404, {{"error", "not_found"}, {"reason", "no such alarm"}});
      send_json(res, 200, to_json(**r));
    };
  };
  s.Post(R"(/api/v1/alarms/(\d+)/ack)", alarm_action(true));
  s.Post(R"(/api/v1/alarms/(\d+)/clear)", alarm_action(false));

  s.Get("/api/v1/stream", [this](const httplib::Request&, httplib::Response& res) {
    auto sub = hub_.broadcaster().subscribe();
    hub_.metrics().gauge("tw_stream_clients", "Connected live-stream clients")
        .set(static_cast<double>(hub_.broadcaster().subscribers()));
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [sub](size_t, httplib::DataSink& sink) {
          std::unique_lock lock(sub->mu);
          sub->cv.wait_for(lock, std::chrono::seconds(15), [&] { return sub->closed || !sub->q.empty(); });
          if (sub->closed) return false;
          std::string out;
          if (sub->dropped > 0) {
            out += "event: dropped\ndata: {\"count\":" + std::to_string(sub->dropped) + "}\n\n";
            sub->dropped = 0;
          }
          while (!sub->q.empty()) {
            out += sse_frame(sub->q.front());
            sub->q.pop_front();
          }
          lock.unlock();
          if (out.empty()) out = ": keepalive\n\n";
          return sink.write(out.data(), out.size());
        },
        [this, sub](bool) {
          hub_.broadcaster().unsubscribe(sub);
          hub_.metrics().gauge("tw_stream_clients", "Connected live-stream clients")
              .set(static_cast<double>(hub_.broadcaster().subscribers()));
        });
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(hub_.metrics().render_prometheus(), "text/plain; version=0.0.4");
  });

  std::string root = hub_.config().web_root.empty() ? std::string(TW_DEFAULT_WEB_ROOT) : hub_.config().web_root;
  if (!s.set_mount_point("/", root)) spdlog::warn("hub: web root {} not found; dashboard disabled", root);

  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty() && req.path.starts_with("/api/"))
      send_json(res, res.status, {{"error", res.status == 404 ? "not_found" : "error"},
                                  {"reason", res.status == 413 ? "request body too large" : req.path}});
  });
}

}  // namespace tw::hub
