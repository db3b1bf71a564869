// Estimator update rate: how many `power` messages one core can take per second.
#include <benchmark/benchmark.h>

#include "tw/core/message.hpp"
#include "tw/power/alarms.hpp"
#include "tw/power/simulator.hpp"

using namespace tw::power;

namespace {
struct Fixture {
  std::shared_ptr<const DischargeModel> model;
  std::vector<PowerSample> samples;  // one day of 1-minute telemetry with a 3.5 h outage
  std::vector<std::string> raw;      // the same as wire JSON
  Fixture() {
    auto m = load_default_model();
    if (!m) throw std::runtime_error(m.error().message);
    model = *m;
    SimConfig cfg;
    cfg.duration_s = 24 * 3600;
    cfg.with_estimates = false;
    samples = simulate(model, cfg);
    for (const auto& s : samples) raw.push_back(tw::make_message("b1", "power", s.ts_ms, to_payload(s)).to_json());
  }
};
Fixture& fx() {
  static Fixture f;
  return f;
}
template <bool ConstantPower>
void BM_EstimatorUpdate(benchmark::State& state) {
  auto& f = fx();
  PackConfig pc{13, 42};
  pc.constant_power = ConstantPower;
  BatteryEstimator est(f.model, pc);
  std::size_t i = 0;
  std::int64_t offset = 0;
  for (auto _ : state) {
    PowerSample s = f.samples[i];
    s.ts_ms += offset;
    benchmark::DoNotOptimize(est.update(s));
    if (++i == f.samples.size()) { i = 0; offset += 2 * 86400000; }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EstimatorUpdate<true>)->Name("BM_EstimatorUpdate/constant_power");
BENCHMARK(BM_EstimatorUpdate<false>)->Name("BM_EstimatorUpdate/constant_current");

// Baseline: the untabulated cut-off search that the estimator's capacity table replaces.
void BM_CapacityUncached(benchmark::State& state) {
  auto& f = fx();
  double i = 0.5;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.model->capacity_ah_uncached(i));
    i = i < 6 ? i * 1.01 : 0.5;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CapacityUncached);
void BM_CapacityTabulated(benchmark::State& state) {
  auto& f = fx();
  double i = 0.5;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.model->capacity_ah(i));
    i = i < 6 ? i * 1.01 : 0.5;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CapacityTabulated);

void BM_ParsePayload(benchmark::State& state) {
  auto& f = fx();
  std::vector<nlohmann::json> payloads;
  for (const auto& s : f.samples) payloads.push_back(to_payload(s));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_power_payload(payloads[i], 0));
    if (++i == payloads.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParsePayload);

// Hub path end to end: wire JSON -> message -> validation -> estimator -> alarms.
void BM_HubMessageToAlarms(benchmark::State& state) {
  auto& f = fx();
  PowerAlarmsConfig cfg;
  cfg.model = f.model;
  PowerAlarms alarms(cfg);
  std::size_t i = 0;
  std::int64_t offset = 0;
  for (auto _ : state) {
    auto m = tw::parse_message(f.raw[i]);
    m->ts_ms += offset;
    benchmark::DoNotOptimize(alarms.on_power(*m));
    if (++i == f.raw.size()) { i = 0; offset += 2 * 86400000; }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HubMessageToAlarms);
}  // namespace
