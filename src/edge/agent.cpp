#include "tw/edge/agent.hpp"

#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tw/core/time.hpp"

namespace tw::edge {

EdgeAgent::EdgeAgent(SiteConfig cfg, bus::Publisher& out, Metrics& metrics)
    : cfg_(std::move(cfg)), out_(out), metrics_(metrics) {}

EdgeAgent::~EdgeAgent() { stop(); }

void EdgeAgent::add_source(std::unique_ptr<Source> s) { sources_.push_back(std::move(s)); }

bool Inbox::push(Message m) {
  std::lock_guard lock(mu_);
  const bool room = q_.size() < capacity_;
  if (!room) q_.pop_front();
  q_.push_back(std::move(m));
  return room;
}

std::vector<Message> Inbox::take() {
  std::lock_guard lock(mu_);
  std::vector<Message> out(std::make_move_iterator(q_.begin()), std::make_move_iterator(q_.end()));
  q_.clear();
  return out;
}

Message make_status_message(const SiteConfig& cfg, bool online) {
  nlohmann::json cams = nlohmann::json::array();
  for (const auto& c : cfg.cameras)
    cams.push_back({{"id", c.id}, {"azimuth_deg", c.azimuth_deg}, {"hfov_deg", c.hfov_deg}, {"analytics", c.analytics}});
  nlohmann::json sensors = nlohmann::json::array();
  for (const auto& s : cfg.sensors) sensors.push_back({{"id", s.id}, {"kind", s.kind}});
  return make_message(cfg.id, "status", now_ms(),
                      {{"state", online ? "online" : "offline"},
                       {"name", cfg.name.empty() ? cfg.id : cfg.name},
                       {"lat", cfg.lat},
                       {"lon", cfg.lon},
                       {"height_m", cfg.height_m},
                       {"info", {{"cameras", cams}, {"sensors", sensors}}}});
}

Message EdgeAgent::heartbeat_message() const {
  auto& depth = metrics_.gauge("tw_outbox_depth", "Messages waiting in the outbox");
  return make_message(cfg_.id, "heartbeat", now_ms(),
                      {{"uptime_s", static_cast<double>(now_ms() - started_ms_) / 1000.0},
                       {"outbox_depth", depth.value()}});
}

Status EdgeAgent::deliver(const Message& m) {
  const bool ours = m.site == cfg_.id && is_downlink_kind(m.kind);
  metrics_.counter("tw_downlink_received_total", "Messages from the hub, by kind and outcome",
                   {{"kind", is_known_kind(m.kind) ? m.kind : "unknown"}, {"result", ours ? "delivered" : "rejected"}})
      .inc();
  if (!ours)
    return make_error("bad_downlink",
                      fmt::format("site {}: message {} ({} for site {}) is not a message from the hub to this site",
                                  cfg_.id, m.id, m.kind, m.site));
  for (auto& s : sources_) s->on_downlink(m);
  return {};
}

void EdgeAgent::start() {
  if (running_) return;
  running_ = true;
  started_ms_ = now_ms();
  if (auto st = out_.publish(make_status_message(cfg_, true)); !st) spdlog::error("edge {}: {}", cfg_.id, st.error().message);
  threads_.emplace_back([this](std::stop_token stop) {
    while (tw::sleep_for(stop, std::chrono::seconds(cfg_.heartbeat_s))) {
      if (auto st = out_.publish(heartbeat_message()); !st)
        spdlog::warn("edge {}: heartbeat: {}", cfg_.id, st.error().message);
    }
  });
  for (auto& s : sources_) {
    threads_.emplace_back([this, src = s.get()](std::stop_token stop) {
      src->run(stop, out_);
      ++done_;
      spdlog::info("edge {}: source {} finished", cfg_.id, src->name());
    });
  }
}

void EdgeAgent::stop() {
  if (!running_) return;
  running_ = false;
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

SyntheticSource::SyntheticSource(std::string site, bus::OutboxPublisher& out, std::int64_t count, double rate,
                                 int batch)
    : site_(std::move(site)), outbox_(out), count_(count), rate_(rate), batch_(batch) {}

void SyntheticSource::run(std::stop_token stop, bus::Publisher&) {
  std::int64_t next = 0;
  // The outbox recorded how far we got, atomically with the messages themselves.
  // (Reading it through the publisher keeps a single owner of the outbox.)
  if (auto p = outbox_.progress("synthetic:" + site_); p && *p) next = std::stoll(**p);
  auto t0 = std::chrono::steady_clock::now();
  std::int64_t start = next;
  while (next < count_ && !stop.stop_requested()) {
    std::vector<Message> batch;
    for (int i = 0; i < batch_ && next < count_; ++i, ++next)
      batch.push_back(make_message(site_, "test", now_ms(), {{"seq", next}}));
    if (auto st = outbox_.publish_batch(batch, "synthetic:" + site_, std::to_string(next)); !st) {
      spdlog::error("synthetic: {}", st.error().message);
      return;
    }
    if (rate_ > 0) {
      auto due = t0 + std::chrono::microseconds(static_cast<std::int64_t>(1e6 * static_cast<double>(next - start) / rate_));
      std::this_thread::sleep_until(due);
    }
  }
}

}  // namespace tw::edge
