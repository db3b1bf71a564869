#include "tw/bus/bus.hpp"

#include <spdlog/spdlog.h>

namespace tw::bus {

void InProcessBus::subscribe(Handler h) {
  std::lock_guard lock(mu_);
  handlers_.push_back(std::move(h));
}

Status InProcessBus::publish(const Message& m) {
  std::vector<Handler> hs;
  {
    std::lock_guard lock(mu_);
    hs = handlers_;
  }
  for (auto& h : hs) {
    if (auto st = h(m); !st) return st;
  }
  return {};
}

OutboxPublisher::OutboxPublisher(Outbox& outbox, MqttClient& client, Metrics& metrics, size_t max_inflight)
    : outbox_(outbox),
      client_(client),
      max_inflight_(max_inflight),
      published_(metrics.counter("tw_outbox_published_total", "Messages published from the outbox")),
      acknowledged_(metrics.counter("tw_outbox_acknowledged_total", "Messages acknowledged by the broker")),
      errors_(metrics.counter("tw_outbox_errors_total", "Outbox storage errors")),
      depth_(metrics.gauge("tw_outbox_depth", "Messages waiting in the outbox")) {}

OutboxPublisher::~OutboxPublisher() { stop(); }

Status OutboxPublisher::publish(const Message& m) {
  auto st = outbox_.append(m);
  if (!st) {
    errors_.inc();
    return st;
  }
  wake();
  return {};
}

Status OutboxPublisher::publish_batch(std::span<const Message> msgs, const std::string& key, const std::string& value) {
  auto st = outbox_.append(msgs, key, value);
  if (!st) {
    errors_.inc();
    return st;
  }
  wake();
  return {};
}

void OutboxPublisher::wake() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
    drained_ = false;
  }
  cv_.notify_all();
}

void OutboxPublisher::start() {
  client_.on_published([this](int mid) {
    {
      std::lock_guard lock(mu_);
      auto it = inflight_.find(mid);
      if (it == inflight_.end()) return;  // from before a reconnect: that row is sent again anyway
      acked_.push_back(it->second);
      inflight_.erase(it);
    }
    cv_.notify_all();
  });
  client_.on_state([this](bool up) {
    {
      std::lock_guard lock(mu_);
      // Whatever was in flight is sent again after the reconnect.
      inflight_.clear();
      last_sent_ = 0;
      dirty_ = true;
      (void)up;
    }
    cv_.notify_all();
  });
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  thread_ = std::thread([this] { pump(); });
}

void OutboxPublisher::stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    running_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool OutboxPublisher::wait_drained(int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return drained_; });
}

void OutboxPublisher::pump() {
  std::unique_lock lock(mu_);
  while (running_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200),
                 [this] {
                   // Sending waits for a connection (on_state wakes us): no busy loop while the broker is away.
                   return !running_ || !acked_.empty() ||
                          (dirty_ && client_.connected() && inflight_.size() < max_inflight_);
                 });
    if (!running_) break;
    // 1. Delete what the broker has acknowledged.
    if (!acked_.empty()) {
      std::vector<std::int64_t> done;
      done.swap(acked_);
      lock.unlock();
      if (auto st = outbox_.remove(done); !st) {
        errors_.inc();
        spdlog::error("outbox: {}", st.error().message);
      } else {
        acknowledged_.inc(done.size());
      }
      lock.lock();
    }
    // 2. Send more while there is room in flight.
    if (client_.connected() && inflight_.size() < max_inflight_) {
      std::int64_t after = last_sent_;
      size_t room = max_inflight_ - inflight_.size();
      lock.unlock();
      auto rows = outbox_.fetch(after, room);
      lock.lock();
      if (!rows) {
        errors_.inc();
        spdlog::error("outbox: {}", rows.error().message);
        continue;
      }
      if (last_sent_ != after) continue;  // a reconnect reset the cursor meanwhile
      for (const auto& row : *rows) {
        auto mid = client_.publish(row.topic, row.payload, 1);
        if (!mid) break;  // disconnected: the state callback resets the cursor
        inflight_[*mid] = row.seq;
        last_sent_ = row.seq;
        published_.inc();
      }
      if (rows->size() < room) dirty_ = false;  // all caught up until the next append
    }
    if (inflight_.empty() && acked_.empty() && !dirty_) {
      lock.unlock();
      auto d = outbox_.depth();
      lock.lock();
      if (d) {
        depth_.set(static_cast<double>(*d));
        if (*d == 0 && !dirty_ && inflight_.empty()) {
          drained_ = true;
          cv_.notify_all();
        } else if (*d > 0 && inflight_.empty()) {
          dirty_ = true;  // rows were re-queued (e.g. after a reset)
        }
      }
    }
  }
}

}  // namespace tw::bus
