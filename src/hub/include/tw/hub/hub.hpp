#pragma once
// The hub core: ingest (validate, dedup, store), site presence, alarms, live fan-out, and the
// domain processors (quake association, fire triangulation, power alarms...) that run on what arrives.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/config.hpp"
#include "tw/core/message.hpp"
#include "tw/core/metrics.hpp"
#include "tw/core/raw_message.hpp"
#include "tw/store/store.hpp"

namespace tw::hub {

class Hub;

// What a processor may do in response to a message.
class HubContext {
 public:
  virtual ~HubContext() = default;
  virtual void emit(Message m) = 0;  // a derived message: stored, streamed, and seen by processors
  virtual Result<store::AlarmRecord> raise_alarm(store::AlarmRecord a) = 0;
  virtual void clear_alarm(const std::string& source, const std::string& type) = 0;
  virtual std::optional<store::SiteRecord> site(const std::string& id) = 0;
  virtual std::int64_t now_ms() const = 0;
};

class Processor {
 public:
  virtual ~Processor() = default;
  virtual std::string name() const = 0;
  virtual void on_message(const Message& m, HubContext& ctx) = 0;
  virtual void on_tick(std::int64_t /*now_ms*/, HubContext& /*ctx*/) {}
};

// One live-stream item: the SSE event name, its JSON data, and what it is about (for scope filters).
struct StreamItem {
  std::string event;  // "event" | "alarm" | "site"
  nlohmann::json data;
  std::string service;  // quake, wildfire, traffic, landuse, power, site
  std::string site;
  double lat = store::kNoCoord;
  double lon = store::kNoCoord;
};

// Bounded per-subscriber queues; a subscriber that falls behind loses items and is told once how many.
class Broadcaster {
 public:
  struct Subscriber {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<StreamItem> q;
    std::uint64_t dropped = 0;
    bool closed = false;
    std::function<bool(const StreamItem&)> filter;
  };
  std::shared_ptr<Subscriber> subscribe(std::function<bool(const StreamItem&)> filter = {});
  void unsubscribe(const std::shared_ptr<Subscriber>& s);
  void publish(const StreamItem& item);
  void close_all();
  size_t subscribers() const;
  static constexpr size_t kMaxQueue = 1000;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Subscriber>> subs_;
};

// The service a message kind belongs to (tenant scopes are expressed in services).
std::string service_of_kind(std::string_view kind);
std::string service_of_alarm_type(std::string_view type);

nlohmann::json to_json(const store::EventRecord& e);
nlohmann::json to_json(const store::SiteRecord& s);
nlohmann::json to_json(const store::AlarmRecord& a);

// Raises the public-safety alarms that follow from messages: `quake` (alert=true; one alarm per quake
// event id, updated by later versions), `fire` (one per fire id) and `smoke` (one per site camera).
std::unique_ptr<Processor> make_alert_processor();

class Hub : private HubContext {
 public:
  Hub(HubConfig cfg, std::unique_ptr<store::Store> store);
  ~Hub() override;
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  void add_processor(std::unique_ptr<Processor> p);
  void start();  // presence/tick thread
  void stop();

  // Raw bytes from the broker: parse, validate, then ingest. Rejects are counted by reason and logged.
  Status ingest_raw(std::string_view topic, std::string_view payload);
  // Several raw messages, stored in one transaction (in order; rejects and duplicates are left out).
  // False when the store failed (not for bad input): the batch must not be acknowledged, so that the
  // broker delivers it again.
  bool ingest_raw_batch(std::span<const RawMessage> batch);
  // A parsed message. Returns ok for duplicates too (they are counted and dropped).
  Status ingest(const Message& m);

  store::Store& store() { return *store_; }
  Metrics& metrics() { return metrics_; }
  Broadcaster& broadcaster() { return broadcaster_; }
  const HubConfig& config() const { return cfg_; }

  // Alarm operations from the API (they also stream the change).
  Result<std::optional<store::AlarmRecord>> acknowledge(std::int64_t id, const std::string& user);
  Result<std::optional<store::AlarmRecord>> clear(std::int64_t id, const std::string& user);
  Result<std::optional<store::AlarmRecord>> assign(std::int64_t id, const std::string& assignee,
                                                   const std::string& user);
  // Adds a comment; returns the alarm (nullopt when there is no such alarm).
  Result<std::optional<store::AlarmRecord>> comment(std::int64_t id, const std::string& text, const std::string& user);

  // Messages from the hub to a site (downlink kinds): the hub runner publishes them over MQTT, the demo hands
  // them to its agents. Without one, nothing is sent (counted as unrouted).
  using Downlink = std::function<Status(const Message&)>;
  void set_downlink(Downlink d);
  // An operator's verdict on a smoke alarm, sent to its camera's site (`smoke_feedback`) so that the watcher
  // that raised it learns from it: confirmed, or dismissed with what was seen instead (label).
  void send_smoke_verdict(const store::AlarmRecord& a, bool confirmed, const std::string& label);

  // Runs one presence check now (tests call this with an explicit time).
  void check_presence(std::int64_t now_ms);

 private:
  // HubContext
  void emit(Message m) override;
  Result<store::AlarmRecord> raise_alarm(store::AlarmRecord a) override;
  void clear_alarm(const std::string& source, const std::string& type) override;
  std::optional<store::SiteRecord> site(const std::string& id) override;
  std::int64_t now_ms() const override;

  Result<Message> parse_counted(std::string_view topic, std::string_view payload);
  Status ingest_batch(std::vector<Message> batch);
  Status store_and_process(const std::vector<Message>& batch);
  store::EventRecord to_record(const Message& m, std::int64_t received_ms);
  void note_site(const Message& m);
  void set_online(const std::string& site, bool online, std::int64_t ts);
  void stream_alarm(const store::AlarmRecord& a);
  void tick_loop();

  HubConfig cfg_;
  std::unique_ptr<store::Store> store_;
  Metrics metrics_;
  Broadcaster broadcaster_;
  std::vector<std::unique_ptr<Processor>> processors_;

  std::recursive_mutex ingest_mu_;  // one ingest at a time; processors may emit while it is held
  std::vector<Message> pending_;    // derived messages waiting to be ingested
  bool draining_ = false;

  std::mutex downlink_mu_;
  Downlink downlink_;

  std::mutex sites_mu_;
  std::map<std::string, store::SiteRecord> sites_;  // cache of the store's sites

  std::atomic<bool> running_{false};
  std::thread ticker_;
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;

  Counter& in_;
  Counter& dup_;
  Counter& stored_;
  Counter& store_errors_;
  Counter& store_seconds_us_;
  Gauge& store_last_ms_;
  Gauge& sse_clients_;
};

}  // namespace tw::hub
