#include "tw/hub/hub.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "tw/core/time.hpp"

namespace tw::hub {

// ---------------------------------------------------------------- Broadcaster

std::shared_ptr<Broadcaster::Subscriber> Broadcaster::subscribe(
    std::function<bool(const StreamItem&)> filter) {
  auto s = std::make_shared<Subscriber>();
  s->filter = std::move(filter);
  std::lock_guard lock(mu_);
  subs_.push_back(s);
  return s;
}

void Broadcaster::unsubscribe(const std::shared_ptr<Subscriber>& s) {
  std::lock_guard lock(mu_);
  std::erase(subs_, s);
}

void Broadcaster::publish(const StreamItem& item) {
  std::vector<std::shared_ptr<Subscriber>> subs;
  {
    std::lock_guard lock(mu_);
    subs = subs_;
  }
  for (auto& s : subs) {
    if (s->filter && !s->filter(item)) continue;
    {
      std::lock_guard lock(s->mu);
      if (s->q.size() >= kMaxQueue) {
        ++s->dropped;
        continue;
      }
      s->q.push_back(item);
    }
    s->cv.notify_one();
  }
}

void Broadcaster::close_all() {
  std::lock_guard lock(mu_);
  for (auto& s : subs_) {
    {
      std::lock_guard l(s->mu);
      s->closed = true;
    }
    s->cv.notify_all();
  }
}

size_t Broadcaster::subscribers() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

// ---------------------------------------------------------------- JSON views

std::string service_of_kind(std::string_view kind) {
  if (kind == "pick" || kind == "ground_motion" || kind == "quake") return "quake";
  if (kind == "smoke" || kind == "fire") return "wildfire";
  if (kind == "counts") return "traffic";
  if (kind == "change") return "landuse";
  if (kind == "power") return "power";
  return "site";
}

std::string service_of_alarm_type(std::string_view type) {
  if (type.starts_with("quake")) return "quake";
  if (type.starts_with("smoke") || type.starts_with("fire")) return "wildfire";
  if (type.starts_with("change")) return "landuse";
  if (type == "mains_outage" || type == "low_runtime" || type == "over_temperature" ||
      type == "block_imbalance" || type == "battery_theft")
    return "power";
  return "site";
}

namespace {
nlohmann::json coord(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }
}  // namespace

nlohmann::json to_json(const store::EventRecord& e) {
  return {{"id", e.id},
          {"site", e.site},
          {"kind", e.kind},
          {"ts", e.ts_ms},
          {"time", format_iso8601_ms(e.ts_ms)},
          {"received", e.received_ms},
          {"lat", coord(e.lat)},
          {"lon", coord(e.lon)},
          {"service", service_of_kind(e.kind)},
          {"payload", e.payload}};
}

nlohmann::json to_json(const store::SiteRecord& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"lat", s.lat},
          {"lon", s.lon},
          {"height_m", s.height_m},
          {"status", s.status},
          {"last_seen", s.last_seen_ms},
          {"info", s.info}};
}

nlohmann::json to_json(const store::AlarmRecord& a) {
  auto t = [](std::int64_t ms) {
    return ms ? nlohmann::json(format_iso8601_ms(ms)) : nlohmann::json(nullptr);
  };
  return {{"id", a.id},
          {"source", a.source},
          {"type", a.type},
          {"severity", a.severity},
          {"status", a.status},
          {"service", a.service},
          {"site", a.site},
          {"lat", coord(a.lat)},
          {"lon", coord(a.lon)},
          {"start", t(a.start_ms)},
          {"updated", t(a.update_ms)},
          {"acknowledged", t(a.ack_ms)},
          {"cleared", t(a.clear_ms)},
          {"count", a.count},
          {"assignee", a.assignee},
          {"message", a.message},
          {"details", a.details}};
}

// ---------------------------------------------------------------- Hub

Hub::Hub(HubConfig cfg, std::unique_ptr<store::Store> store)
    : cfg_(std::move(cfg)),
      store_(std::move(store)),
      in_(metrics_.counter("tw_messages_in_total", "Messages received by the hub")),
      dup_(metrics_.counter("tw_duplicates_dropped_total", "Messages dropped as duplicates (same id)")),
      stored_(metrics_.counter("tw_messages_stored_total", "Messages stored")),
      store_errors_(metrics_.counter("tw_store_errors_total", "Store failures")),
      store_seconds_us_(
          metrics_.counter("tw_store_insert_microseconds_total", "Time spent in store inserts")),
      store_last_ms_(metrics_.gauge("tw_store_insert_last_ms", "Duration of the last store insert")),
      sse_clients_(metrics_.gauge("tw_stream_clients", "Connected live-stream clients")) {
  if (auto s = store_->sites(); s) {
    for (auto& site : *s) sites_[site.id] = site;
  }
}

Hub::~Hub() { stop(); }

void Hub::add_processor(std::unique_ptr<Processor> p) { processors_.push_back(std::move(p)); }

void Hub::start() {
  if (running_.exchange(true)) return;
  ticker_ = std::thread([this] { tick_loop(); });
}

void Hub::stop() {
  if (!running_.exchange(false)) return;
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  broadcaster_.close_all();
}

void Hub::tick_loop() {
  while (running_) {
    {
      std::unique_lock lock(tick_mu_);
      tick_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return !running_.load(); });
    }
    if (!running_) break;
    check_presence(tw::now_ms());
    std::lock_guard lock(ingest_mu_);
    for (auto& p : processors_) p->on_tick(tw::now_ms(), *this);
  }
}

std::int64_t Hub::now_ms() const { return tw::now_ms(); }

namespace {
constexpr std::string_view kBadInput = "bad_argument";  // the store's code for input it will never accept
}  // namespace

Result<Message> Hub::parse_counted(std::string_view topic, std::string_view payload) {
  in_.inc();
  auto m = parse_message(payload, topic);
  if (!m) {
    metrics_
        .counter("tw_messages_rejected_total", "Messages rejected, by reason", {{"reason", m.error().code}})
        .inc();
    spdlog::warn("hub: rejected message on '{}': {}: {}", topic, m.error().code, m.error().message);
  }
  return m;
}

Status Hub::ingest_raw(std::string_view topic, std::string_view payload) {
  auto m = parse_counted(topic, payload);
  if (!m) return m.error();
  std::vector<Message> one;
  one.push_back(std::move(*m));
  return ingest_batch(std::move(one));
}

bool Hub::ingest_raw_batch(std::span<const RawMessage> batch) {
  std::vector<Message> parsed;
  parsed.reserve(batch.size());
  for (const auto& r : batch) {
    if (auto m = parse_counted(r.topic, r.payload)) parsed.push_back(std::move(*m));
  }
  if (parsed.empty()) return true;
  auto st = ingest_batch(std::move(parsed));
  return st || st.error().code == kBadInput;
}

Status Hub::ingest(const Message& m) {
  in_.inc();
  if (auto st = validate_payload(m.kind, m.payload); !st) {
    metrics_
        .counter("tw_messages_rejected_total", "Messages rejected, by reason", {{"reason", st.error().code}})
        .inc();
    return st;
  }
  return ingest_batch({m});
}

Status Hub::ingest_batch(std::vector<Message> batch) {
  std::lock_guard lock(ingest_mu_);
  if (draining_) {  // a processor emitted while a batch is being processed: queued behind it
    for (auto& m : batch) pending_.push_back(std::move(m));
    return {};
  }
  draining_ = true;
  Status result = store_and_process(batch);
  while (!pending_.empty()) {
    std::vector<Message> next;
    next.swap(pending_);
    (void)store_and_process(next);
  }
  draining_ = false;
  return result;
}

store::EventRecord Hub::to_record(const Message& m, std::int64_t received_ms) {
  store::EventRecord e;
  e.id = m.id;
  e.site = m.site;
  e.kind = m.kind;
  e.ts_ms = m.ts_ms;
  e.received_ms = received_ms;
  e.payload = m.payload;
  const auto lat = m.payload.find("lat");
  const auto lon = m.payload.find("lon");
  if (lat != m.payload.end() && lon != m.payload.end() && lat->is_number() && lon->is_number()) {
    e.lat = lat->get<double>();
    e.lon = lon->get<double>();
  } else if (auto s = site(m.site)) {
    e.lat = s->lat;
    e.lon = s->lon;
  }
  return e;
}

Status Hub::store_and_process(const std::vector<Message>& batch) {
  std::vector<store::EventRecord> records;
  records.reserve(batch.size());
  const auto received = tw::now_ms();
  for (const auto& m : batch) records.push_back(to_record(m, received));
  // One transaction for the batch; if it fails, each message alone, so one bad message costs only itself.
  std::vector<bool> added;
  std::vector<bool> failed(records.size(), false);
  Status result;
  auto t0 = std::chrono::steady_clock::now();
  auto n = store_->insert_events(records, &added);
  if (!n) {
    added.assign(records.size(), false);
    if (records.size() > 1)
      spdlog::warn("hub: batch of {} failed ({}), storing one by one", records.size(), n.error().message);
    std::vector<bool> one;
    for (size_t i = 0; i < records.size(); ++i) {
      auto r = records.size() > 1
                   ? store_->insert_events(std::span<const store::EventRecord>(&records[i], 1), &one)
                   : n;
      if (!r) {
        store_errors_.inc();
        spdlog::error("hub: store insert of {} failed: {}", records[i].id, r.error().message);
        // The error returned is one worth retrying (the store failed) if any was; bad input is final.
        if (result || (result.error().code == kBadInput && r.error().code != kBadInput)) result = r.error();
        failed[i] = true;
      } else {
        added[i] = one[0];
      }
    }
  }
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  store_seconds_us_.inc(static_cast<std::uint64_t>(us));
  store_last_ms_.set(static_cast<double>(us) / 1000.0);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (failed[i]) continue;
    const auto& m = batch[i];
    note_site(m);
    if (!added[i]) {
      dup_.inc();
      continue;
    }
    stored_.inc();
    if (broadcaster_.subscribers() > 0)  // the JSON view is only built for live listeners
      broadcaster_.publish(
          {"event", to_json(records[i]), service_of_kind(m.kind), m.site, records[i].lat, records[i].lon});
    for (auto& p : processors_) p->on_message(m, *this);
  }
  return result;
}

void Hub::note_site(const Message& m) {
  bool was_offline = false;
  bool known = false;
  {
    std::lock_guard lock(sites_mu_);
    auto it = sites_.find(m.site);
    known = it != sites_.end();
    if (known) {
      was_offline = it->second.status != "online";
      it->second.last_seen_ms = std::max(it->second.last_seen_ms, tw::now_ms());
    }
  }
  if (m.kind == "status") {
    const auto& p = m.payload;
    if (p.contains("lat") && p.contains("lon")) {
      store::SiteRecord s;
      s.id = m.site;
      s.name = p.value("name", m.site);
      s.lat = p.value("lat", 0.0);
      s.lon = p.value("lon", 0.0);
      s.height_m = p.value("height_m", 0.0);
      s.info = p.value("info", nlohmann::json::object());
      s.last_seen_ms = tw::now_ms();
      {
        // The status transition itself (and its alarm) is made by set_online below.
        std::lock_guard lock(sites_mu_);
        auto it = sites_.find(s.id);
        s.status = it != sites_.end() ? it->second.status : "unknown";
      }
      if (auto st = store_->upsert_site(s); !st) spdlog::error("hub: site {}: {}", s.id, st.error().message);
      {
        std::lock_guard lock(sites_mu_);
        sites_[s.id] = s;
      }
      broadcaster_.publish({"site", to_json(s), "site", s.id, s.lat, s.lon});
      known = true;
    }
    bool online = p.value("state", "online") == "online";
    if (known) set_online(m.site, online, tw::now_ms());
    return;
  }
  if (known && was_offline) set_online(m.site, true, tw::now_ms());
}

void Hub::set_online(const std::string& id, bool online, std::int64_t ts) {
  store::SiteRecord snapshot;
  {
    std::lock_guard lock(sites_mu_);
    auto it = sites_.find(id);
    if (it == sites_.end()) return;
    const std::string want = online ? "online" : "offline";
    if (it->second.status == want) return;
    it->second.status = want;
    snapshot = it->second;
  }
  (void)store_->set_site_status(id, snapshot.status, snapshot.last_seen_ms);
  broadcaster_.publish({"site", to_json(snapshot), "site", id, snapshot.lat, snapshot.lon});
  if (online) {
    clear_alarm(id, "site_offline");
  } else {
    store::AlarmRecord a;
    a.source = id;
    a.type = "site_offline";
    a.severity = "major";
    a.service = "site";
    a.site = id;
    a.lat = snapshot.lat;
    a.lon = snapshot.lon;
    a.start_ms = ts;
    a.message =
        fmt::format("site {} is offline (last seen {})", id, format_iso8601_ms(snapshot.last_seen_ms));
    (void)raise_alarm(a);
  }
}

void Hub::check_presence(std::int64_t now) {
  std::vector<std::string> stale;
  {
    std::lock_guard lock(sites_mu_);
    for (const auto& [id, s] : sites_) {
      if (s.status == "online" &&
          now - s.last_seen_ms > static_cast<std::int64_t>(cfg_.offline_after_s) * 1000)
        stale.push_back(id);
    }
  }
  for (const auto& id : stale) set_online(id, false, now);
}

void Hub::emit(Message m) {
  in_.inc();
  std::vector<Message> one;
  one.push_back(std::move(m));
  (void)ingest_batch(std::move(one));  // queued behind the batch being processed, if any
}

void Hub::stream_alarm(const store::AlarmRecord& a) {
  broadcaster_.publish({"alarm", to_json(a), a.service, a.site, a.lat, a.lon});
}

Result<store::AlarmRecord> Hub::raise_alarm(store::AlarmRecord a) {
  if (a.start_ms == 0) a.start_ms = tw::now_ms();
  if (a.update_ms == 0) a.update_ms = a.start_ms;
  if (a.service.empty() || a.service == "site") a.service = service_of_alarm_type(a.type);
  auto r = store_->raise_alarm(a);
  if (!r) {
    store_errors_.inc();
    spdlog::error("hub: alarm {}/{}: {}", a.source, a.type, r.error().message);
    return r;
  }
  metrics_.counter("tw_alarms_raised_total", "Alarm raises, by type", {{"type", a.type}}).inc();
  stream_alarm(*r);
  return r;
}

void Hub::clear_alarm(const std::string& source, const std::string& type) {
  auto r = store_->clear_alarm(source, type, tw::now_ms(), "system");
  if (r && *r) stream_alarm(**r);
}

std::optional<store::SiteRecord> Hub::site(const std::string& id) {
  std::lock_guard lock(sites_mu_);
  auto it = sites_.find(id);
  if (it == sites_.end()) return std::nullopt;
  return it->second;
}

Result<std::optional<store::AlarmRecord>> Hub::acknowledge(std::int64_t id, const std::string& user) {
  auto r = store_->acknowledge_alarm(id, tw::now_ms(), user);
  if (r && *r) stream_alarm(**r);
  return r;
}

Result<std::optional<store::AlarmRecord>> Hub::clear(std::int64_t id, const std::string& user) {
  auto r = store_->clear_alarm_by_id(id, tw::now_ms(), user);
  if (r && *r) stream_alarm(**r);
  return r;
}

void Hub::set_downlink(Downlink d) {
  std::lock_guard lock(downlink_mu_);
  downlink_ = std::move(d);
}

void Hub::send_smoke_verdict(const store::AlarmRecord& a, bool confirmed, const std::string& label) {
  const auto alert = a.details.value("event", std::string{});
  const auto slash = a.source.find('/');  // smoke alarms are raised per "<site>/<camera>"
  if (a.type != "smoke" || a.site.empty() || alert.empty() || slash == std::string::npos) return;
  nlohmann::json p{{"alert", alert}, {"camera", a.source.substr(slash + 1)},
                   {"verdict", confirmed ? "confirmed" : "dismissed"}};
  if (!confirmed) p["label"] = label;
  const Message m = make_message(a.site, "smoke_feedback", tw::now_ms(), std::move(p));
  Downlink send;
  {
    std::lock_guard lock(downlink_mu_);
    send = downlink_;
  }
  const char* result = "sent";
  if (!send) {
    result = "unrouted";
  } else if (auto st = send(m); !st) {
    result = "failed";
    spdlog::warn("hub: {} for alarm {} to site {}: {}", m.kind, a.id, m.site, st.error().message);
  }
  metrics_.counter("tw_downlink_total", "Messages sent to sites, by kind and outcome",
                   {{"kind", m.kind}, {"result", result}})
      .inc();
}

Result<std::optional<store::AlarmRecord>> Hub::assign(std::int64_t id, const std::string& assignee,
                                                      const std::string& user) {
  auto r = store_->assign_alarm(id, assignee, tw::now_ms(), user);
  if (r && *r) stream_alarm(**r);
  return r;
}

Result<std::optional<store::AlarmRecord>> Hub::comment(std::int64_t id, const std::string& text,
                                                       const std::string& user) {
  auto a = store_->alarm(id);
  if (!a || !*a) return a;
  if (auto st = store_->comment_alarm(id, text, tw::now_ms(), user); !st) return st.error();
  return a;
}

// ---------------------------------------------------------------- alert alarms

namespace {

class AlertProcessor : public Processor {
 public:
  std::string name() const override { return "alerts"; }
  void on_message(const Message& m, HubContext& ctx) override {
    const auto& p = m.payload;
    if (m.kind == "quake") {
      if (!p.value("alert", false)) return;
      const double mag = p.value("magnitude", 0.0);
      const double mmi = p.value("max_mmi", 0.0);
      store::AlarmRecord a;
      a.source = p.value("event_id", m.id);
      a.type = "quake";
      a.service = "quake";
      a.severity = (mag >= 6.0 || mmi >= 7.0) ? "critical" : (mag >= 5.0 || mmi >= 5.0) ? "major" : "minor";
      a.lat = p.value("lat", store::kNoCoord);
      a.lon = p.value("lon", store::kNoCoord);
      a.start_ms = m.ts_ms;
      a.update_ms = m.ts_ms;
      a.message = fmt::format("M{:.1f} earthquake, depth {:.0f} km, max intensity {:.1f}", mag,
                              p.value("depth_km", 0.0), mmi);
      a.details = {{"event", m.id},
                   {"event_id", a.source},
                   {"version", p.value("version", 0)},
                   {"magnitude", mag},
                   {"max_mmi", mmi},
                   {"origin_time", p.value("origin_time", "")},
                   {"radius_km", std::clamp(std::pow(10.0, 0.5 * mag - 1.0) * 10.0, 10.0, 500.0)}};
      (void)ctx.raise_alarm(a);
    } else if (m.kind == "fire") {
      store::AlarmRecord a;
      a.source = p.value("fire_id", m.site + "/fire");
      a.type = "fire";
      a.service = "wildfire";
      a.severity = "major";
      a.site = m.site;
      a.lat = p.value("lat", store::kNoCoord);
      a.lon = p.value("lon", store::kNoCoord);
      a.start_ms = m.ts_ms;
      a.update_ms = m.ts_ms;
      a.message = fmt::format("fire located at {:.4f}, {:.4f}", a.lat, a.lon);
      a.details = {{"event", m.id}, {"payload", p}};
      (void)ctx.raise_alarm(a);
    } else if (m.kind == "smoke") {
      store::AlarmRecord a =
          camera_alarm(m, ctx, m.site + "/" + p.value("camera", ""), "smoke", "wildfire", "minor");
      a.message = fmt::format("smoke seen by {} bearing {:.0f} deg (score {:.2f})", a.source,
                              p.value("bearing_deg", 0.0), p.value("score", 0.0));
      a.details = {
          {"event", m.id}, {"bearing_deg", p.value("bearing_deg", 0.0)}, {"score", p.value("score", 0.0)}};
      (void)ctx.raise_alarm(a);
    } else if (m.kind == "change") {
      // One alarm per view and farmland zone; the redacted before/after crops stay in the event (evidence).
      const std::string zone = p.value("zone", "view");
      store::AlarmRecord a = camera_alarm(m, ctx, view_of(m), "change:" + zone, "landuse", "minor");
      a.message = fmt::format("new structure in zone {} seen by {} since {} ({:.0f} px, {:.0f}% of the zone)",
                              zone, a.source, p.value("first_seen", "?"), p.value("area_px", 0.0),
                              100.0 * p.value("area_fraction", 0.0));
      a.details = {{"event", m.id}, {"zone", zone}, {"area_px", p.value("area_px", 0.0)}};
      for (const char* k : {"area_fraction", "first_seen", "days_seen", "box", "image_width", "image_height"})
        if (p.contains(k)) a.details[k] = p[k];
      (void)ctx.raise_alarm(a);
    } else if (m.kind == "camera_status") {
      // A camera that stopped delivering, or a view that moved away from its reference (it cannot be compared
      // until someone re-aims or resets it): an alarm while the state lasts.
      const std::string state = p.value("state", "");
      const std::string view = view_of(m);
      auto raise = [&](const char* type, std::string message) {
        store::AlarmRecord a = camera_alarm(m, ctx, view, type, "site", "warning");
        a.message = std::move(message);
        a.details = {{"event", m.id}, {"reason", p.value("reason", "")}};
        (void)ctx.raise_alarm(a);
      };
      if (state == "offline") raise("camera_offline", fmt::format("camera {} delivers no frames", view));
      if (state == "online") ctx.clear_alarm(view, "camera_offline");
      if (state == "view_moved")
        raise("view_moved", fmt::format("camera view {} moved away from its reference", view));
      if (state == "ok") ctx.clear_alarm(view, "view_moved");
    }
  }

 private:
  // An alarm about what a site's camera saw, placed at the site.
  static store::AlarmRecord camera_alarm(const Message& m, HubContext& ctx, std::string source,
                                         std::string type, const char* service, const char* severity) {
    store::AlarmRecord a;
    a.source = std::move(source);
    a.type = std::move(type);
    a.service = service;
    a.severity = severity;
    a.site = m.site;
    if (auto s = ctx.site(m.site)) {
      a.lat = s->lat;
      a.lon = s->lon;
    }
    a.start_ms = m.ts_ms;
    a.update_ms = m.ts_ms;
    return a;
  }
  // site/camera[/preset] of a camera message.
  static std::string view_of(const Message& m) {
    std::string v = m.site + "/" + m.payload.value("camera", "");
    if (auto preset = m.payload.value("preset", ""); !preset.empty()) v += "/" + preset;
    return v;
  }
};

}  // namespace

std::unique_ptr<Processor> make_alert_processor() { return std::make_unique<AlertProcessor>(); }

}  // namespace tw::hub
