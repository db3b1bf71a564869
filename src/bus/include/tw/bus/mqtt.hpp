#pragma once
// One RAII wrapper around libmosquitto: connect with backoff, QoS 1, persistent sessions, TLS,
// username/password, last will. Callbacks run on the client's network thread.
//
// Acknowledgement rule: a received QoS 1 message is acknowledged (PUBACK) only after the message
// callback has returned. While connected, the network thread reads every message already waiting on
// the socket (up to kMaxBatch), hands them to the callback together, and only then writes their
// PUBACKs, so a subscriber that stores messages can commit a whole batch in one transaction.
#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tw/core/config.hpp"
#include "tw/core/raw_message.hpp"
#include "tw/core/result.hpp"

struct mosquitto;
struct mosquitto_message;

namespace tw::bus {

struct MqttOptions {
  BrokerConfig broker;
  bool clean_session = false;  // persistent session: the broker keeps QoS 1 messages while we are away
  std::string will_topic;      // empty = no last will
  std::string will_payload;
  bool will_retain = false;
  int max_inflight = 1000;
};

class MqttClient {
 public:
  using MessageFn = std::function<void(std::string_view topic, std::string_view payload)>;
  // Returns true to acknowledge the batch; false (not stored) drops the connection without acknowledging,
  // so that the broker delivers the batch again after the reconnect (persistent session).
  using BatchFn = std::function<bool(std::span<const RawMessage> batch)>;
  using MidFn = std::function<void(int mid)>;
  using StateFn = std::function<void(bool connected)>;

  static Result<std::unique_ptr<MqttClient>> create(MqttOptions opts);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Set callbacks before start().
  void on_message(MessageFn fn) { on_message_ = std::move(fn); }
  // Alternative to on_message: the messages read together, in arrival order.
  void on_messages(BatchFn fn) { on_batch_ = std::move(fn); }
  void on_published(MidFn fn) { on_published_ = std::move(fn); }  // broker acknowledged (PUBACK)
  void on_state(StateFn fn) { on_state_ = std::move(fn); }
  // Subscriptions made (again) on every connect.
  void add_subscription(std::string topic, int qos = 1);

  Status start();  // connects asynchronously; reconnects with exponential backoff forever
  void stop();     // disconnects cleanly (no last will) and joins the network thread
  // Queues a publish; returns the message id. Fails fast when not connected.
  Result<int> publish(const std::string& topic, std::string_view payload, int qos = 1, bool retain = false);
  bool connected() const { return connected_.load(); }  // and subscribed

  static constexpr size_t kMaxBatch = 512;

 private:
  explicit MqttClient(MqttOptions opts);
  void run();         // the network thread: connect, serve, reconnect with backoff until stop()
  int serve_batch();  // one round while connected: read what is waiting, deliver, then write
  bool deliver();  // false: the consumer refused the batch
  void wake();
  static void cb_connect(mosquitto*, void*, int);
  static void cb_disconnect(mosquitto*, void*, int);
  static void cb_publish(mosquitto*, void*, int);
  static void cb_subscribe(mosquitto*, void*, int, int, const int*);
  static void cb_message(mosquitto*, void*, const mosquitto_message*);

  MqttOptions opts_;
  mosquitto* mosq_ = nullptr;
  MessageFn on_message_;
  BatchFn on_batch_;
  MidFn on_published_;
  StateFn on_state_;
  std::vector<std::pair<std::string, int>> subs_;
  std::atomic<bool> connected_{false};
  int pending_subs_ = 0;  // network thread only
  std::vector<RawMessage> inbox_;  // network thread only: read, not yet delivered
  bool batching_ = false;          // network thread only: deliver after the read phase
  bool session_up_ = false;        // network thread only: CONNACK received on the present connection
  bool refused_ = false;           // network thread only: the last batch was refused (keeps the backoff growing)
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;  // eventfd: a publish or stop() wakes the network thread
  std::thread thread_;
};

}  // namespace tw::bus
