// Video analytics benchmarks. Run single-threaded (OpenCV threads = 1) so that the numbers are per core:
//   build/video/bench/video/bench_video --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Recordings come from $TOWERWATCH_DATA (default ../shared/data); run from the repository root.
#include <benchmark/benchmark.h>

#include <memory>
#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/videoio.hpp>

#include "tw/core/paths.hpp"
#include "tw/video/analyzer.hpp"
#include "tw/video/redact.hpp"
#include "tw/video/source.hpp"
#include "tw/video/tracker.hpp"

namespace tv = tw::video;

namespace {

std::string video_path(const char* rel) { return (tw::data_dir() / "video" / rel).string(); }
const char* kPets = "pets09_s2l1/pets09_s2l1_opencv_vtest_480x360.avi";
const char* kPlaza = "plaza_topdown_unknown/plaza_topdown_1280x720.avi";
const char* kTud = "tud_campus/TUD-Campus.mp4";

struct Once {
  Once() {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    cv::setNumThreads(1);
  }
};
const Once kOnce;

// Reads frames in order, reopening the file at its end.
class Looper {
 public:
  explicit Looper(std::string path) : path_(std::move(path)) { open(); }
  const cv::Mat& next() {
    if (!cap_.read(frame_) || frame_.empty()) {
      open();
      if (!cap_.read(frame_)) throw std::runtime_error(path_ + ": no frames");
      wrapped_ = true;
    }
    return frame_;
  }
  bool wrapped() const { return wrapped_; }

 private:
  void open() {
    cap_.release();
    if (!cap_.open(path_, cv::CAP_FFMPEG)) throw std::runtime_error(path_ + ": cannot open");
  }
  std::string path_;
  cv::VideoCapture cap_;
  cv::Mat frame_;
  bool wrapped_ = false;
};

tv::AnalyzerConfig pets_config(bool gate) {
  tv::AnalyzerConfig c;
  c.camera = "bench";
  c.classes = {"person"};
  for (const char* l : {"0,144,480,144", "0,216,480,216", "0,288,480,288", "160,0,160,360", "320,0,320,360",
                        "40,340,440,40"})
    c.lines.push_back(*tv::parse_line(l));
  c.motion.enabled = gate;
  return c;
}

// Decode only: the floor under every pipeline number.
void BM_Decode(benchmark::State& st, const char* rel) {
  Looper lp(video_path(rel));
  for (auto _ : st) benchmark::DoNotOptimize(lp.next().data);
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK_CAPTURE(BM_Decode, pets09_480x360, kPets)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, plaza_1280x720, kPlaza)->Unit(benchmark::kMillisecond);

// Detector forward + decode + NMS on one fixed frame.
void BM_Detector(benchmark::State& st, const char* rel, int w, int h) {
  tv::DetectorConfig dc;
  dc.input_width = w;
  dc.input_height = h;
  auto det = tv::make_detector(dc);
  if (!det) {
    st.SkipWithError(det.error().message.c_str());
    return;
  }
  Looper lp(video_path(rel));
  for (int i = 0; i < 50; ++i) lp.next();
  cv::Mat f = lp.next().clone();
  for (auto _ : st) benchmark::DoNotOptimize((*det)->detect(f).size());
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK_CAPTURE(BM_Detector, yolox_416x416_pets, kPets, 416, 416)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Detector, yolox_480x384_pets, kPets, 480, 384)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Detector, yolox_416x416_plaza, kPlaza, 416, 416)->Unit(benchmark::kMillisecond);

// Full counting pipeline: decode, motion gate, detector, tracker, line counter; frames/s per core.
void BM_Pipeline(benchmark::State& st, const char* rel, bool gate) {
  auto cfg = pets_config(gate);
  if (std::string(rel) == kPlaza) {
    cfg.lines = {*tv::parse_line("0,360,1280,360"), *tv::parse_line("640,0,640,720")};
  }
  auto a = tv::CameraAnalyzer::create(cfg);
  if (!a) {
    st.SkipWithError(a.error().message.c_str());
    return;
  }
  Looper lp(video_path(rel));
  std::int64_t ts = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize((*a)->feed(lp.next(), ts).size());
    ts += 100;
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["detector_calls_per_frame"] =
      static_cast<double>((*a)->stats().detector_calls) / static_cast<double>((*a)->stats().frames);
}
BENCHMARK_CAPTURE(BM_Pipeline, pets09_480x360, kPets, true)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK_CAPTURE(BM_Pipeline, pets09_480x360_nogate, kPets, false)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK_CAPTURE(BM_Pipeline, plaza_1280x720, kPlaza, true)->Unit(benchmark::kMillisecond)->Iterations(200);

// Static scene: the same PETS frame again and again; the motion gate skips the detector.
void BM_PipelineStatic(benchmark::State& st, bool gate) {
  auto a = tv::CameraAnalyzer::create(pets_config(gate));
  if (!a) {
    st.SkipWithError(a.error().message.c_str());
    return;
  }
  Looper lp(video_path(kPets));
  cv::Mat f = lp.next().clone();
  std::int64_t ts = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize((*a)->feed(f, ts).size());
    ts += 100;
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["detector_calls_per_frame"] =
      static_cast<double>((*a)->stats().detector_calls) / static_cast<double>((*a)->stats().frames);
}
BENCHMARK_CAPTURE(BM_PipelineStatic, gated, true)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK_CAPTURE(BM_PipelineStatic, ungated, false)->Unit(benchmark::kMillisecond)->Iterations(50);

// Tracker alone: 30 objects moving.
void BM_Tracker(benchmark::State& st) {
  tv::Tracker t;
  int f = 0;
  for (auto _ : st) {
    std::vector<tv::TrackInput> d;
    for (int i = 0; i < 30; ++i) {
      const float x = static_cast<float>((i * 37 + f * 2) % 1200), y = static_cast<float>(i * 20 % 600);
      d.push_back({tv::Box{x, y, x + 30, y + 70}, 0.8f, 0});
    }
    benchmark::DoNotOptimize(t.update(d).size());
    ++f;
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Tracker)->Unit(benchmark::kMicrosecond);

// Redaction of one 640x480 TUD-Campus frame: YuNet + person heads (detector) + blur.
void BM_Redact(benchmark::State& st, bool heads) {
  auto r = tv::Redactor::create(tv::RedactConfig{});
  tv::DetectorConfig dc;
  dc.classes = {"person"};
  auto det = tv::make_detector(dc);
  if (!r || !det) {
    st.SkipWithError("cannot load models");
    return;
  }
  Looper lp(video_path(kTud));
  for (int i = 0; i < 10; ++i) lp.next();
  cv::Mat f = lp.next().clone();
  for (auto _ : st) {
    cv::Mat out = heads ? tv::redacted_snapshot(f, *r, det->get()) : tv::redacted_snapshot(f, *r);
    benchmark::DoNotOptimize(out.data);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK_CAPTURE(BM_Redact, faces_only_640x480, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Redact, faces_and_heads_640x480, true)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
