#pragma once
// The site agent: runs the site's sources (sensors, cameras, analysers) and sends what they produce
// through a Publisher (the durable outbox in production, the in-process bus in the demo). It also
// announces the site (status online, with its description) and sends heartbeats, and hands what the hub sends
// the site (downlink kinds such as smoke_feedback) to its sources.
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "tw/bus/bus.hpp"
#include "tw/core/config.hpp"
#include "tw/core/message.hpp"
#include "tw/core/metrics.hpp"
#include "tw/core/result.hpp"

namespace tw::edge {

// A producer of messages for one site: a sensor replay, a camera analyser, a simulator...
class Source {
 public:
  virtual ~Source() = default;
  virtual std::string name() const = 0;
  // Runs until the stop token is triggered or the source is exhausted.
  virtual void run(std::stop_token stop, bus::Publisher& out) = 0;
  // A message from the hub for this site. Called from another thread than run(), possibly while it runs or
  // before it starts; a source that uses it keeps it for run() to apply. Default: not for this source.
  virtual void on_downlink(const Message&) {}
};

// Messages handed from the transport's thread to a source's own thread (see Source::on_downlink): bounded, the
// oldest dropped first when full, taken all at once.
class Inbox {
 public:
  explicit Inbox(size_t capacity = 1000) : capacity_(capacity) {}
  // False when the inbox was full and dropped its oldest message to make room.
  bool push(Message m);
  std::vector<Message> take();

 private:
  std::mutex mu_;
  std::deque<Message> q_;
  size_t capacity_;
};

// The site's announcement: status online/offline with its description (the hub registers sites from it).
Message make_status_message(const SiteConfig& cfg, bool online);

class EdgeAgent {
 public:
  EdgeAgent(SiteConfig cfg, bus::Publisher& out, Metrics& metrics);
  ~EdgeAgent();
  EdgeAgent(const EdgeAgent&) = delete;
  EdgeAgent& operator=(const EdgeAgent&) = delete;

  void add_source(std::unique_ptr<Source> s);
  void start();
  void stop();
  // A message from the hub: checked (a downlink kind addressed to this site), counted, given to every source.
  Status deliver(const Message& m);
  // True once every source has returned by itself.
  bool sources_done() const { return done_.load() == static_cast<int>(sources_.size()); }

  const SiteConfig& config() const { return cfg_; }
  Metrics& metrics() { return metrics_; }
  Message heartbeat_message() const;

 private:
  SiteConfig cfg_;
  bus::Publisher& out_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::jthread> threads_;
  std::atomic<int> done_{0};
  std::int64_t started_ms_ = 0;
  bool running_ = false;
};

// Emits `count` messages of kind "test" (payload {"seq": n}) at `rate` per second, resuming after a
// restart from the progress recorded in the outbox together with the messages (none lost, none twice).
class SyntheticSource : public Source {
 public:
  SyntheticSource(std::string site, bus::OutboxPublisher& out, std::int64_t count, double rate, int batch = 50);
  std::string name() const override { return "synthetic"; }
  void run(std::stop_token stop, bus::Publisher& out) override;

 private:
  std::string site_;
  bus::OutboxPublisher& outbox_;
  std::int64_t count_;
  double rate_;
  int batch_;
};

}  // namespace tw::edge
