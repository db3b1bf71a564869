// Run from the repository root: build/<dir>/bench/wildfire/bench_wildfire
#include <benchmark/benchmark.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tw/core/paths.hpp"
#include "tw/video/detector.hpp"
#include "tw/wildfire/geometry.hpp"
#include "tw/wildfire/smoke_model.hpp"
#include "tw/wildfire/temporal.hpp"

namespace {

cv::Mat frame640() {
  static cv::Mat f = cv::imread(
      (tw::data_dir() / "wildfire/hpwren_smoke/smoke/ck0k99r7bir3f0a460bctrlmy.jpeg").string());
  return f;
}

// towerwatch smoke model (frozen YOLOX-nano stages to dark5 at the frame's own 640x480 + decoder), one core.
void BM_SmokeHead_640x480_1core(benchmark::State& st) {
  cv::setNumThreads(1);
  auto m = tw::wildfire::make_smoke_model({});
  if (!m) {
    st.SkipWithError(m.error().message.c_str());
    return;
  }
  const cv::Mat f = frame640();
  float s = 0;
  for (auto _ : st) {
    s += (*m)->infer(f).score;
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SmokeHead_640x480_1core)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// Baseline: the full YOLOX-nano COCO detector (tw::video) on the same frame, one core.
void BM_YoloxNanoDetector_640x480_1core(benchmark::State& st) {
  cv::setNumThreads(1);
  auto d = tw::video::make_detector({});
  if (!d) {
    st.SkipWithError(d.error().message.c_str());
    return;
  }
  const cv::Mat f = frame640();
  for (auto _ : st) benchmark::DoNotOptimize((*d)->detect(f).size());
}
BENCHMARK(BM_YoloxNanoDetector_640x480_1core)->Unit(benchmark::kMillisecond)->MinTime(3.0);

void BM_TemporalUpdate(benchmark::State& st) {
  tw::wildfire::TemporalFilter f;
  tw::wildfire::SmokeResult r;
  r.score = 0.99f;
  r.boxes = {{100, 100, 160, 150, 0.99f}, {400, 50, 430, 90, 0.98f}};  // both above kShippedThreshold: both vote
  std::int64_t t = 0;
  for (auto _ : st) benchmark::DoNotOptimize(f.update(r, 640, 480, t += 30'000).size());
}
BENCHMARK(BM_TemporalUpdate);

void BM_Triangulate3(benchmark::State& st) {
  const tw::LatLon fire{33.05, -116.60};
  std::vector<tw::wildfire::BearingObservation> obs;
  for (tw::LatLon t : {tw::LatLon{32.85, -116.42}, tw::LatLon{33.30, -116.45}, tw::LatLon{33.10, -116.90}})
    obs.push_back({t, tw::azimuth_deg(t, fire) + 0.3, 0.5, "t"});
  for (auto _ : st) benchmark::DoNotOptimize(tw::wildfire::triangulate(obs).ok());
}
BENCHMARK(BM_Triangulate3)->Unit(benchmark::kMicrosecond);

}  // namespace
