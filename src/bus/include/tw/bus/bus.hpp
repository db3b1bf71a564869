#pragma once
// Where producers hand their messages: an in-process bus for the embedded demo, or the durable
// outbox pumped to an MQTT broker for real sites.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "tw/bus/mqtt.hpp"
#include "tw/bus/outbox.hpp"
#include "tw/core/message.hpp"
#include "tw/core/metrics.hpp"

namespace tw::bus {

class Publisher {
 public:
  virtual ~Publisher() = default;
  virtual Status publish(const Message& m) = 0;
};

// Synchronous fan-out to subscribers in the same process. A handler's error is returned to the
// publisher (the message was not accepted).
class InProcessBus : public Publisher {
 public:
  using Handler = std::function<Status(const Message&)>;
  void subscribe(Handler h);
  Status publish(const Message& m) override;

 private:
  std::mutex mu_;
  std::vector<Handler> handlers_;
};

// Writes every message to the outbox, then a pump thread publishes at QoS 1 and deletes rows only
// when the broker acknowledges them. On reconnect or restart, everything still in the outbox is sent
// again (the hub drops duplicates by message id).
class OutboxPublisher : public Publisher {
 public:
  OutboxPublisher(Outbox& outbox, MqttClient& client, Metrics& metrics, size_t max_inflight = 1000);
  ~OutboxPublisher() override;
  OutboxPublisher(const OutboxPublisher&) = delete;
  OutboxPublisher& operator=(const OutboxPublisher&) = delete;

  Status publish(const Message& m) override;
  // Batch append with a producer progress marker in the same transaction.
  Status publish_batch(std::span<const Message> msgs, const std::string& progress_key, const std::string& value);
  Result<std::optional<std::string>> progress(const std::string& key) { return outbox_.progress(key); }
  void start();  // installs the client callbacks (call before client.start()) and starts the pump
  void stop();
  // Blocks until the outbox is empty or the timeout passes; returns true when drained.
  bool wait_drained(int timeout_ms);

 private:
  void pump();
  void wake();

  Outbox& outbox_;
  MqttClient& client_;
  size_t max_inflight_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, std::int64_t> inflight_;  // mqtt mid -> outbox seq
  std::vector<std::int64_t> acked_;
  std::int64_t last_sent_ = 0;
  bool dirty_ = true;
  bool running_ = false;
  bool drained_ = false;
  std::thread thread_;
  Counter& published_;
  Counter& acknowledged_;
  Counter& errors_;
  Gauge& depth_;
};

}  // namespace tw::bus
