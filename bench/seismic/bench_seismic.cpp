// Seismic benchmarks: site processing throughput on real data, MiniSEED decoding, hub decision latency.
// Run from the repository root (data under ../shared/data or $TOWERWATCH_DATA).
#include <benchmark/benchmark.h>
#include <libmseed.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>

#include "tw/core/paths.hpp"
#include "tw/seismic/io.hpp"
#include "tw/seismic/pipeline.hpp"
#include "tw/seismic/quake.hpp"
#include "tw/seismic/station.hpp"

using namespace tw::seismic;

namespace {
const std::string& file_bytes(const char* rel) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(rel);
  if (it == cache.end()) {
    auto b = read_file_bytes(tw::data_dir() / rel);
    it = cache.emplace(rel, b ? *b : std::string()).first;
  }
  return it->second;
}
constexpr const char* kOpenEew = "seismic/openeew_mexico/mseed/2020_1_30.mseed";
constexpr const char* kNorway = "seismic/norway_seisan/mseed/1996-06-25-0337-20S.NNSN__039.mseed";

std::size_t count_samples(const std::vector<Trace>& t) {
  std::size_t n = 0;
  for (const auto& x : t) n += x.samples.size();
  return n;
}
}  // namespace

// MiniSEED decoding alone: our scanner (record detection, Steim decode via libmseed, segment merge).
static void BM_MseedDecode(benchmark::State& state, const char* rel) {
  const std::string& data = file_bytes(rel);
  std::size_t n = 0;
  for (auto _ : state) {
    auto ws = decode_mseed(data, rel);
    n = count_samples(ws.traces);
    benchmark::DoNotOptimize(ws.traces.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
}
BENCHMARK_CAPTURE(BM_MseedDecode, openeew, kOpenEew)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MseedDecode, norway, kNorway)->Unit(benchmark::kMillisecond);

// Baseline: libmseed's own msr_parse loop over the same bytes (decode only, no merging).
static void BM_LibmseedParseBaseline(benchmark::State& state, const char* rel) {
  std::vector<char> buf(file_bytes(rel).begin(), file_bytes(rel).end());
  std::int64_t n = 0;
  for (auto _ : state) {
    MSRecord* msr = nullptr;
    n = 0;
    for (std::size_t off = 0; off + 128 <= buf.size();) {
      const int len = ms_detect(buf.data() + off, static_cast<int>(buf.size() - off));
      if (len <= 0) break;
      if (msr_parse(buf.data() + off, len, &msr, len, 1, 0) == MS_NOERROR) n += msr->numsamples;
      off += static_cast<std::size_t>(len);
    }
    msr_free(&msr);
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(n * state.iterations());
}
BENCHMARK_CAPTURE(BM_LibmseedParseBaseline, openeew, kOpenEew)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LibmseedParseBaseline, norway, kNorway)->Unit(benchmark::kMillisecond);

// Whole site chain after decoding: filters, STA/LTA, trigger, AIC refinement, ground motion (all
// channels: trigger chain on verticals, acceleration/velocity/displacement chains on every channel).
static void BM_SiteChain(benchmark::State& state, const char* rel) {
  auto ws = decode_mseed(file_bytes(rel), rel);
  const std::size_t n = count_samples(ws.traces);
  std::size_t picks = 0;
  for (auto _ : state) {
    std::map<std::string, StationProcessor> procs;
    for (const auto& t : ws.traces) {
      auto it = procs.find(t.station);
      if (it == procs.end()) {
        StationInfo info;
        info.network = t.network;
        info.station = t.station;
        info.counts_per_unit = 1000;  // calibrated: ground motion is computed on every channel
        info.sensor = SensorKind::accelerometer;
        it = procs.emplace(t.station, StationProcessor(info, ProcessorConfig{})).first;
      }
      benchmark::DoNotOptimize(it->second.feed(t));
    }
    picks = 0;
    for (auto& [k, p] : procs) picks += p.picks().size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
  state.counters["picks"] = static_cast<double>(picks);
}
BENCHMARK_CAPTURE(BM_SiteChain, openeew, kOpenEew)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SiteChain, norway, kNorway)->Unit(benchmark::kMillisecond);

// Baseline for the chain: one 4th-order band-pass alone over the same samples.
static void BM_BandpassOnlyBaseline(benchmark::State& state, const char* rel) {
  auto ws = decode_mseed(file_bytes(rel), rel);
  const std::size_t n = count_samples(ws.traces);
  for (auto _ : state) {
    for (auto& t : ws.traces) {
      auto f = make_filter_chain("BP(1,10,4)", t.sample_rate);
      std::vector<double> x = t.samples;
      f->apply(x);
      benchmark::DoNotOptimize(x.data());
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
}
BENCHMARK_CAPTURE(BM_BandpassOnlyBaseline, openeew, kOpenEew)->Unit(benchmark::kMillisecond);

// Hub decision latency: 10,000 sites producing random noise picks, then an event; time to process the
// 4th event pick (which creates and locates the event, computes magnitude, intensity for all sites and
// the alert). Noise: 300 picks in the last 160 s (1.9 picks/s over the network, one per site per
// ~90 min). At 16.7 picks/s (one per site per 10 min) the associator does not yet form the event from
// its first 4-6 picks (known limitation, see BENCHMARKS.md), so that rate is not timed.
static void BM_HubDecisionAfter4thPick(benchmark::State& state) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> la(10, 30), lo(-110, -90);
  std::vector<StationInfo> sites;
  for (int i = 0; i < 10000; ++i) {
    StationInfo s;
    s.station = "T" + std::to_string(i);
    s.lat = la(rng);
    s.lon = lo(rng);
    sites.push_back(s);
  }
  const std::int64_t t0 = 1'700'000'000'000'000;
  std::vector<Pick> noise;
  std::uniform_int_distribution<std::size_t> site(0, sites.size() - 1);
  std::uniform_int_distribution<std::int64_t> when(440'000'000, 600'000'000);
  for (int i = 0; i < 300; ++i) {
    Pick p;
    p.station = sites[site(rng)].station;
    p.time_us = t0 + when(rng);
    p.uncertainty_s = 0.2;
    noise.push_back(p);
  }
  std::sort(noise.begin(), noise.end(), [](const Pick& a, const Pick& b) { return a.time_us < b.time_us; });
  const double elat = 20, elon = -100, ez = 15;
  const std::int64_t ot = t0 + 590'000'000;
  std::vector<std::pair<double, std::size_t>> near;
  for (std::size_t i = 0; i < sites.size(); ++i) near.emplace_back(fast_distance_km(elat, elon, sites[i].lat, sites[i].lon), i);
  std::sort(near.begin(), near.end());
  QuakeService proto(sites, VelocityModel::default_crust());
  std::vector<std::string> live;
  for (const auto& s : sites) live.push_back(s.station);
  std::size_t events = 0, secondary = 0, assoc = 0;
  for (auto _ : state) {
    state.PauseTiming();
    QuakeService svc(sites, VelocityModel::default_crust());
    svc.set_active_sites(live);
    std::vector<Pick> ev;
    for (int k = 0; k < 4; ++k) {
      Pick p;
      p.station = sites[near[static_cast<std::size_t>(k)].second].station;
      p.time_us = ot + static_cast<std::int64_t>(proto.p_table().time(near[static_cast<std::size_t>(k)].first, ez) * 1e6);
      p.uncertainty_s = 0.1;
      ev.push_back(p);
    }
    std::size_t ni = 0;
    for (int k = 0; k < 3; ++k) {
      while (ni < noise.size() && noise[ni].time_us < ev[static_cast<std::size_t>(k)].time_us) {
        (void)svc.on_pick(noise[ni], noise[ni].time_us + 300'000);
        ++ni;
      }
      (void)svc.on_pick(ev[static_cast<std::size_t>(k)], ev[static_cast<std::size_t>(k)].time_us + 300'000);
    }
    while (ni < noise.size() && noise[ni].time_us < ev[3].time_us) {
      (void)svc.on_pick(noise[ni], noise[ni].time_us + 300'000);
      ++ni;
    }
    state.ResumeTiming();
    auto out = svc.on_pick(ev[3], ev[3].time_us + 300'000);
    benchmark::DoNotOptimize(out.data());
    state.PauseTiming();
    events = svc.events().size();
    secondary = svc.stats().secondary;
    assoc = svc.stats().associated;
    state.ResumeTiming();
  }
  state.counters["events"] = static_cast<double>(events);
  state.counters["secondary"] = static_cast<double>(secondary);
  state.counters["associated"] = static_cast<double>(assoc);
}
BENCHMARK(BM_HubDecisionAfter4thPick)->Unit(benchmark::kMillisecond)->Iterations(static_cast<benchmark::IterationCount>(std::getenv("TW_BENCH_HUB_ITERS") ? std::atoi(std::getenv("TW_BENCH_HUB_ITERS")) : 10));

BENCHMARK_MAIN();
