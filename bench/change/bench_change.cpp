// ms per comparison at 1280x720 (a tower camera's capture), one thread.
// Real content: a webcam frame scaled to 1280x720, compared with a later capture of the same view.
#include <benchmark/benchmark.h>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "tw/change/compare.hpp"
#include "tw/change/transients.hpp"
#include "tw/core/paths.hpp"

namespace {

struct Pair {
  cv::Mat a, b;
};

const Pair& pair720() {
  static Pair p = [] {
    auto dir = tw::data_dir() / "change" / "webcam_timelapse" / "courbevoie";
    auto a = tw::change::load_image((dir / "20131007_155702.png").string());
    auto b = tw::change::load_image((dir / "20140405_112704.png").string());
    if (!a || !b) throw std::runtime_error("bench_change: webcam frames missing under " + dir.string());
    Pair q;
    cv::resize(*a, q.a, cv::Size(1280, 720), 0, 0, cv::INTER_CUBIC);
    cv::resize(*b, q.b, cv::Size(1280, 720), 0, 0, cv::INTER_CUBIC);
    return q;
  }();
  return p;
}

// Structural comparison of an unchanged pair (registration, descriptors, thresholding, regions; the head does not
// run because the pair did not change).
void BM_Compare720(benchmark::State& state) {
  cv::setNumThreads(1);
  const Pair& p = pair720();
  tw::change::CompareOptions opt;
  for (auto _ : state) {
    auto r = tw::change::compare(p.a, p.b, opt);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Compare720)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same pair with the learned change head forced to run (decision_fraction tiny, so the pair always counts
// as structurally changed): the cost of a comparison that outlines a change.
void BM_CompareWithHead720(benchmark::State& state) {
  cv::setNumThreads(1);
  const Pair& p = pair720();
  tw::change::CompareOptions opt;
  opt.decision_fraction = 1e-6;
  for (auto _ : state) {
    auto r = tw::change::compare(p.a, p.b, opt);
    if (!r || r->probability.empty()) {
      state.SkipWithError(r ? "head did not run" : r.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CompareWithHead720)->Unit(benchmark::kMillisecond)->UseRealTime();

// Baseline in the same run: plain absolute grey difference + threshold + components at the same working size.
void BM_AbsDiffBaseline720(benchmark::State& state) {
  cv::setNumThreads(1);
  const Pair& p = pair720();
  for (auto _ : state) {
    cv::Mat ga, gb, sa, sb, d, m, lab;
    cv::cvtColor(p.a, ga, cv::COLOR_BGR2GRAY);
    cv::cvtColor(p.b, gb, cv::COLOR_BGR2GRAY);
    cv::resize(ga, sa, cv::Size(512, 288), 0, 0, cv::INTER_AREA);
    cv::resize(gb, sb, cv::Size(512, 288), 0, 0, cv::INTER_AREA);
    cv::absdiff(sa, sb, d);
    cv::threshold(d, m, 40, 255, cv::THRESH_BINARY);
    int n = cv::connectedComponents(m, lab);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_AbsDiffBaseline720)->Unit(benchmark::kMillisecond)->UseRealTime();

// With the transient-object detector run on both captures (YOLOX-nano 416, OpenCV DNN, one thread).
void BM_CompareWithDetector720(benchmark::State& state) {
  cv::setNumThreads(1);
  const Pair& p = pair720();
  auto m = tw::change::make_detector_masker();
  if (!m) {
    state.SkipWithError(m.error().message.c_str());
    return;
  }
  tw::change::CompareOptions opt;
  for (auto _ : state) {
    auto r = tw::change::compare(p.a, p.b, opt, {}, *m);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CompareWithDetector720)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
