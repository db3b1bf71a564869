// End-to-end MQTT benchmark: edge outbox -> real mosquitto (QoS 1) -> hub ingest into SQLite.
// Baseline measured in the same run: bare libmosquitto QoS 1 publish -> subscribe, no outbox, no store.
// Prints one JSON object with medians over the runs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "tw/bus/bus.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/hub.hpp"

namespace {

using Clock = std::chrono::steady_clock;
std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

struct RunResult {
  double msgs_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::int64_t delivered = 0;
  std::int64_t distinct = 0;
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

class LatencyProbe : public tw::hub::Processor {
 public:
  explicit LatencyProbe(std::vector<double>* lat, std::atomic<std::int64_t>* last) : lat_(lat), last_(last) {}
  std::string name() const override { return "latency"; }
  void on_message(const tw::Message& m, tw::hub::HubContext&) override {
    if (m.kind != "test") return;
    auto t = now_ns();
    lat_->push_back(static_cast<double>(t - m.payload["t_ns"].get<std::int64_t>()) / 1e6);
    last_->store(t);
  }

 private:
  std::vector<double>* lat_;
  std::atomic<std::int64_t>* last_;
};

RunResult run_full(const std::string& url, int n, int run, double rate) {
  tw::test::TempDir dir;
  tw::HubConfig hc;
  hc.store = "sqlite://" + dir.file("hub.db");
  auto store = tw::store::open_store(hc.store);
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.error().message.c_str());
    std::exit(1);
  }
  tw::hub::Hub hub(hc, std::move(*store));
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(n));
  std::atomic<std::int64_t> last{0};
  hub.add_processor(std::make_unique<LatencyProbe>(&lat, &last));

  tw::bus::MqttOptions ho;
  ho.broker.url = url;
  ho.broker.client_id = "bench-hub-" + std::to_string(run);
  auto hc_client = tw::bus::MqttClient::create(ho);
  (*hc_client)->add_subscription("tw/v1/+/+", 1);
  (*hc_client)->on_messages([&](std::span<const tw::RawMessage> batch) { return hub.ingest_raw_batch(batch); });
  (void)(*hc_client)->start();
  tw::test::wait_until([&] { return (*hc_client)->connected(); }, std::chrono::seconds(10));

  auto outbox = tw::bus::Outbox::open(dir.file("outbox.db"));
  tw::bus::MqttOptions eo;
  eo.broker.url = url;
  eo.broker.client_id = "bench-edge-" + std::to_string(run);
  eo.clean_session = true;
  auto edge_client = tw::bus::MqttClient::create(eo);
  tw::Metrics metrics;
  tw::bus::OutboxPublisher pub(**outbox, **edge_client, metrics, 1000);
  pub.start();
  (void)(*edge_client)->start();
  tw::test::wait_until([&] { return (*edge_client)->connected(); }, std::chrono::seconds(10));

  const auto t0 = now_ns();
  constexpr int kBatch = 100;
  for (int i = 0; i < n; i += kBatch) {
    std::vector<tw::Message> batch;
    for (int k = i; k < std::min(n, i + kBatch); ++k)
      batch.push_back(tw::make_message("bench", "test", tw::now_ms(), {{"seq", k}, {"t_ns", now_ns()}}));
    (void)pub.publish_batch(batch, "bench", std::to_string(i + kBatch));
    if (rate > 0) {
      auto due = t0 + static_cast<std::int64_t>(1e9 * (i + kBatch) / rate);
      while (now_ns() < due) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  tw::test::wait_until([&] { return static_cast<int>(hub.store().count_events().value()) >= n; },
                       std::chrono::seconds(120));
  RunResult r;
  r.delivered = hub.store().count_events().value();
  tw::store::EventQuery q;
  q.kinds = {"test"};
  q.limit = static_cast<size_t>(n) + 10;
  std::set<std::int64_t> seqs;
  auto events = hub.store().query_events(q);
  if (!events) {
    std::fprintf(stderr, "query: %s\n", events.error().message.c_str());
    std::exit(1);
  }
  for (const auto& e : *events) seqs.insert(e.payload["seq"].get<std::int64_t>());
  r.distinct = static_cast<std::int64_t>(seqs.size());
  r.msgs_per_s = n / (static_cast<double>(last.load() - t0) / 1e9);
  r.p50_ms = pct(lat, 0.5);
  r.p99_ms = pct(lat, 0.99);
  pub.stop();
  (*edge_client)->stop();
  (*hc_client)->stop();
  return r;
}

RunResult run_baseline(const std::string& url, int n, int run) {
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(n));
  std::atomic<int> got{0};
  std::atomic<std::int64_t> last{0};
  std::mutex mu;
  tw::bus::MqttOptions so;
  so.broker.url = url;
  so.broker.client_id = "base-sub-" + std::to_string(run);
  auto sub = tw::bus::MqttClient::create(so);
  (*sub)->add_subscription("base/#", 1);
  (*sub)->on_message([&](std::string_view, std::string_view p) {
    auto t = now_ns();
    auto j = nlohmann::json::parse(p);
    std::lock_guard lock(mu);
    lat.push_back(static_cast<double>(t - j["payload"]["t_ns"].get<std::int64_t>()) / 1e6);
    last = t;
    ++got;
  });
  (void)(*sub)->start();
  tw::test::wait_until([&] { return (*sub)->connected(); }, std::chrono::seconds(10));
  tw::bus::MqttOptions po;
  po.broker.url = url;
  po.broker.client_id = "base-pub-" + std::to_string(run);
  po.clean_session = true;
  auto pubc = tw::bus::MqttClient::create(po);
  std::atomic<int> acked{0};
  (*pubc)->on_published([&](int) { ++acked; });
  (void)(*pubc)->start();
  tw::test::wait_until([&] { return (*pubc)->connected(); }, std::chrono::seconds(10));
  const auto t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    auto m = tw::make_message("bench", "test", tw::now_ms(), {{"seq", i}, {"t_ns", now_ns()}});
    while (!(*pubc)->publish("base/x", m.to_json(), 1)) std::this_thread::sleep_for(std::chrono::microseconds(50));
    while (i - acked.load() > 1000) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  tw::test::wait_until([&] { return got.load() >= n; }, std::chrono::seconds(60));
  RunResult r;
  r.delivered = got.load();
  r.distinct = got.load();
  r.msgs_per_s = n / (static_cast<double>(last.load() - t0) / 1e9);
  std::lock_guard lock(mu);
  r.p50_ms = pct(lat, 0.5);
  r.p99_ms = pct(lat, 0.99);
  (*pubc)->stop();
  (*sub)->stop();
  return r;
}

nlohmann::json summary(const std::vector<RunResult>& runs) {
  std::vector<double> tp, p50, p99;
  for (const auto& r : runs) {
    tp.push_back(r.msgs_per_s);
    p50.push_back(r.p50_ms);
    p99.push_back(r.p99_ms);
  }
  nlohmann::json j{{"median_msgs_per_s", pct(tp, 0.5)}, {"median_p50_ms", pct(p50, 0.5)}, {"median_p99_ms", pct(p99, 0.5)}};
  nlohmann::json each = nlohmann::json::array();
  for (const auto& r : runs)
    each.push_back({{"msgs_per_s", r.msgs_per_s}, {"p50_ms", r.p50_ms}, {"p99_ms", r.p99_ms}, {"delivered", r.delivered},
                    {"distinct", r.distinct}});
  j["runs"] = each;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 50000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const double paced_rate = argc > 3 ? std::atof(argv[3]) : 5000;
  std::vector<RunResult> full, base, paced;
  // A fresh broker for every run: the hub's persistent sessions of earlier runs would otherwise keep
  // collecting messages in the broker and slow the later runs down.
  auto on_fresh_broker = [](auto&& run) {
    tw::test::Mosquitto broker;
    broker.start();
    return run(broker.url());
  };
  for (int i = 0; i < runs; ++i) {
    base.push_back(on_fresh_broker([&](const std::string& url) { return run_baseline(url, n, i); }));
    full.push_back(on_fresh_broker([&](const std::string& url) { return run_full(url, n, i, 0); }));
    paced.push_back(on_fresh_broker([&](const std::string& url) { return run_full(url, n, 100 + i, paced_rate); }));
  }
  bool zero_loss = true;
  for (const auto& r : full) zero_loss = zero_loss && r.delivered == n && r.distinct == n;
  for (const auto& r : paced) zero_loss = zero_loss && r.delivered == n && r.distinct == n;
  nlohmann::json out{{"messages_per_run", n},
                     {"runs", runs},
                     {"zero_loss", zero_loss},
                     {"outbox_mqtt_hub_sqlite", summary(full)},
                     {"paced_rate_msgs_per_s", paced_rate},
                     {"outbox_mqtt_hub_sqlite_paced", summary(paced)},
                     {"baseline_bare_mosquitto_qos1", summary(base)}};
  out["throughput_ratio_full_vs_baseline"] =
      out["outbox_mqtt_hub_sqlite"]["median_msgs_per_s"].get<double>() /
      out["baseline_bare_mosquitto_qos1"]["median_msgs_per_s"].get<double>();
  std::printf("%s\n", out.dump(2).c_str());
  return zero_loss ? 0 : 1;
}
