#pragma once
// Evaluations on recorded data (`towerwatch video-eval ...`): counting and tracking against MOT ground truth,
// and redaction checked with independent face detectors. Runs offline, never on a site.
#include <cstdint>
#include <string>
#include <vector>

#include "tw/core/result.hpp"
#include "tw/video/analyzer.hpp"
#include "tw/video/mot.hpp"

namespace CLI {
class App;
}
namespace tw::cli {
struct Context;
}

namespace tw::video {

struct CountEvalOptions {
  // A folder with line_crossings.json (lines, true counts, "video"), gt/gt.txt and a seqinfo*.ini giving the
  // ground truth's image width (the scale to the video is video width / imWidth).
  std::string dir;
  AnalyzerConfig analyzer;  // lines/classes are taken from the folder; the rest is used as given
  std::int64_t max_frames = 0;  // 0 = whole video; otherwise truth and metrics are restricted to these frames
  double analysis_fps = 0;      // analyse at most this many frames per second (0 = every frame)
  // Tuning aid: detections per frame are read from this JSON-lines file when it exists, else recorded to it
  // (the detector then runs on every frame). Empty = run the detector normally.
  std::string detections_cache;
};

struct LineEval {
  std::string line;
  DirCounts truth;     // from line_crossings.json (whole video) or recomputed from gt (max_frames > 0)
  DirCounts measured;
};

struct CountEval {
  std::int64_t frames = 0;
  std::vector<LineEval> lines;
  std::int64_t abs_error = 0;    // sum over lines and directions of |measured - truth|
  std::int64_t true_total = 0;   // sum of true crossings
  double error_fraction = 0;     // abs_error / true_total
  MotMetrics mot;
  AnalyzerStats stats;
  double seconds = 0;            // wall time of decode + analysis
};

Result<CountEval> evaluate_counting(const CountEvalOptions& options);

struct RedactEvalItem {
  std::string name;
  std::int64_t frames = 0;
  std::int64_t haar_in = 0;           // Haar frontal-face detections in the input (includes its false positives)
  std::int64_t haar_surviving = 0;    // of those, still found at the same place after redaction
  std::int64_t haar_in_eyes = 0;      // Haar faces in the input with a Haar eye inside (confirmed faces)
  std::int64_t haar_surviving_eyes = 0;  // of those, still found at the same place after redaction
  std::int64_t haar_out = 0;          // Haar detections anywhere in the output
  std::int64_t yunet_in = 0;          // YuNet faces in the input (score >= check threshold)
  std::int64_t yunet_out = 0;         // YuNet faces anywhere in the output
};

// Redacts every frame of each input (video or image) and looks for faces again with an independent Haar
// cascade (Debian opencv-data) and with YuNet. `haar_cascade` empty = the Debian default path.
Result<std::vector<RedactEvalItem>> evaluate_redaction(const std::vector<std::string>& inputs,
                                                       const RedactConfig& config, const std::string& haar_cascade = "",
                                                       std::int64_t max_frames = 0);

void add_eval_cli(CLI::App& app, cli::Context& ctx);

}  // namespace tw::video
