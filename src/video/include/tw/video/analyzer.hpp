#pragma once
// Edge-facing API of the traffic analytics: one CameraAnalyzer per camera turns frames into `counts` messages.
//   auto a = tw::video::CameraAnalyzer::create(cfg);            // loads the detector (or shares one)
//   for each frame: for (auto& m : a->feed(bgr, ts_ms)) outbox.push(m);
//   at shutdown:    for (auto& m : a->flush(ts_ms)) outbox.push(m);
// Only counts leave: tracks and boxes stay inside the analyzer. Snapshots that leave the site go through
// redacted_snapshot() (faces and head regions of persons redacted).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/config.hpp"
#include "tw/core/message.hpp"
#include "tw/core/result.hpp"
#include "tw/video/counting.hpp"
#include "tw/video/detector.hpp"
#include "tw/video/redact.hpp"
#include "tw/video/source.hpp"
#include "tw/video/tracker.hpp"

namespace tw::video {

// Skips detector calls while the scene does not change: the frame (grey, downscaled) is compared with the
// frame of the last detector call; the detector runs when more than `min_changed_fraction` of the pixels
// changed by more than `pixel_threshold`, and at least every `max_skip` frames.
struct MotionGateConfig {
  bool enabled = true;
  int width = 160;                     // analysis width of the grey frame
  int pixel_threshold = 18;            // 0..255 grey difference counted as change
  double min_changed_fraction = 0.0005;
  int max_skip = 25;                   // force a detector call after this many skipped frames
};

class MotionGate {
 public:
  explicit MotionGate(MotionGateConfig config = {}) : cfg_(config) {}
  // True when the detector should run on this frame. Call mark_detected() when it did.
  bool should_detect(const cv::Mat& bgr);
  void mark_detected();
  double last_changed_fraction() const { return last_fraction_; }

 private:
  MotionGateConfig cfg_;
  cv::Mat ref_, cur_;
  int skipped_ = 0;
  double last_fraction_ = 1;
};

struct AnalyzerConfig {
  std::string site;
  std::string camera;
  std::vector<LineSpec> lines;
  std::vector<ZoneSpec> zones;
  std::vector<std::string> classes = default_classes();  // counted classes (detector filter too)
  DetectorConfig detector = [] {
    DetectorConfig d;
    d.score_threshold = 0.1f;  // low-score boxes feed the tracker's second stage
    return d;
  }();
  TrackerConfig tracker;
  CounterConfig counter;
  MotionGateConfig motion;
  double interval_s = 60;  // one `counts` message per interval (by frame timestamps)
  bool emit_empty = true;  // emit a counts message even when nothing was counted in the interval
};

struct AnalyzerStats {
  std::int64_t frames = 0;
  std::int64_t detector_calls = 0;
  std::int64_t skipped = 0;  // frames the motion gate skipped
  std::int64_t tracks_started = 0;
  std::int64_t messages = 0;
};

// What happened in one analysed frame, for evaluation and tests (stays on the edge).
struct FrameTracks {
  bool detected = false;
  std::vector<Track> tracks;  // confirmed tracks matched in this frame
};

class CameraAnalyzer {
 public:
  // The detector may be shared between analyzers that run on the same thread; null = create from config.
  static Result<std::unique_ptr<CameraAnalyzer>> create(AnalyzerConfig config,
                                                        std::shared_ptr<Detector> detector = nullptr);

  // Analyses one frame taken at ts_ms (UTC ms, non-decreasing); returns the messages due (counts at the end
  // of each interval).
  std::vector<Message> feed(const cv::Mat& bgr, std::int64_t ts_ms);
  // Emits the partial interval (if any frame was fed since the last message).
  std::vector<Message> flush(std::int64_t ts_ms);

  const CountSnapshot& totals() const { return counter_.totals(); }
  const AnalyzerStats& stats() const { return stats_; }
  const FrameTracks& last_frame() const { return last_; }
  const AnalyzerConfig& config() const { return cfg_; }
  Detector& detector() { return *detector_; }

 private:
  CameraAnalyzer(AnalyzerConfig config, std::shared_ptr<Detector> detector);
  Message make_counts(std::int64_t end_ms);

  AnalyzerConfig cfg_;
  std::shared_ptr<Detector> detector_;
  Tracker tracker_;
  LineZoneCounter counter_;
  MotionGate gate_;
  AnalyzerStats stats_;
  FrameTracks last_;
  std::int64_t interval_start_ = -1;
  bool dirty_ = false;
};

// Analyzer settings for one camera of a site config ([[site.camera]]: lines, zones, classes); errors name the
// camera and the line/zone at fault.
Result<AnalyzerConfig> analyzer_config_for(const std::string& site, const CameraConfig& camera);
// Source settings for the same camera (decimated to camera.analysis_fps, drop_oldest, reconnect with backoff).
SourceConfig source_config_for(const std::string& site, const CameraConfig& camera);

// A copy of the frame with faces and person head regions redacted; persons from `detector` when given.
cv::Mat redacted_snapshot(const cv::Mat& bgr, Redactor& redactor, Detector* detector = nullptr,
                          RedactStats* stats = nullptr);

}  // namespace tw::video
