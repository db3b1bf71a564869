#pragma once
// Per camera and PTZ preset temporal logic that turns per-frame smoke scores into alerts:
//  - a sliding-window vote: a region must score in `votes` of the last `window` frames (Pyronear: 4 of 8);
//  - a configurable minimum box size and a minimum persistence (time between first and latest hit);
//  - static masks (normalised rectangles: chimneys, roads, a quarry);
//  - learned nuisance regions: a grid cell whose alerts go unconfirmed `nuisance_after` times within
//    `nuisance_memory_ms` (or that operators dismissed that often) stops alerting until an alert there is confirmed;
//  - day/night: frames darker than `night_luma` use `night_policy` (raise the threshold, suppress, or ignore).
// No OpenCV types in the API except the frame statistics helper.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"
#include "tw/wildfire/smoke_model.hpp"

namespace tw::wildfire {

struct NormRect {  // fractions of the frame, [0, 1]
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool contains(float x, float y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};

enum class NightPolicy { raise, suppress, ignore };
Result<NightPolicy> parse_night_policy(const std::string& name);  // "raise" | "suppress" | "ignore"

struct TemporalConfig {
  float score_threshold = kShippedThreshold;  // a frame votes when its box score reaches this
  int window = 8;                             // frames in the sliding window (1..32)
  int votes = 4;                              // hits needed in the window (1..window)
  float min_box_fraction = 0.0005f;           // box area / frame area below this is ignored (13x12 px at 640x480)
  std::int64_t min_persistence_ms = 0;        // time from a region's first hit to the alert
  std::int64_t cooldown_ms = 15 * 60 * 1000;  // an alerted region does not alert again within this time
  // An alert needs the pixels of its box to have changed since the region's first hit by at least this mean
  // absolute grey level (on a 160x120 thumbnail; applied by SmokeWatcher, which holds the frames): a still image
  // or a frozen stream is no rising plume. Camera noise alone exceeds it. 0 = off.
  float min_change = 0.5f;
  float match_grow = 0.25f;                   // boxes match across frames when they overlap after growing by this
  std::vector<NormRect> masks;                // static masks: a box whose centre lies inside is ignored
  int nuisance_grid_cols = 16, nuisance_grid_rows = 12;
  int nuisance_after = 3;                     // unconfirmed alerts in a cell that make it a nuisance region
  std::int64_t nuisance_memory_ms = 3LL * 24 * 3600 * 1000;
  float night_luma = 40.f;                    // mean luma (0-255) below which the frame counts as night
  NightPolicy night_policy = NightPolicy::raise;
  float night_score_threshold = 0.99f;        // used at night with policy "raise" (above the day one)
};
// Errors bad_config naming the key.
Status validate(const TemporalConfig& config);

struct FrameStats {
  float mean_luma = 128;  // 0-255
  float mean_saturation = 128;
  bool night = false;
  bool infrared = false;  // colourless frame (IR / night mode of the camera)
};
FrameStats frame_stats(const cv::Mat& bgr, float night_luma);

struct TemporalAlert {
  SmokeBox box;             // latest box of the region
  float score = 0;          // best score of the region within the window
  int votes = 0;            // hits in the window when the alert was raised
  std::int64_t first_seen_ms = 0;
  bool night = false;
  int region_id = 0;        // id of the region inside this filter (for feedback)
};

enum class Rejection { none, below_threshold, too_small, masked, nuisance, night };

class TemporalFilter {
 public:
  explicit TemporalFilter(TemporalConfig config = {});
  // One analysed frame (frame size in pixels). Returns the alerts raised by this frame (usually none).
  std::vector<TemporalAlert> update(const SmokeResult& r, int width, int height, std::int64_t ts_ms,
                                    const FrameStats& stats = {});
  // Operator feedback on an alert box: confirm pins its cells as real (clears their nuisance count);
  // dismiss counts against them like an unconfirmed alert, twice.
  void confirm(const SmokeBox& box, int width, int height);
  void dismiss(const SmokeBox& box, int width, int height, std::int64_t ts_ms);
  bool is_nuisance(float cx_frac, float cy_frac, std::int64_t ts_ms) const;
  // Why the last update ignored each box of its input (same order as r.boxes).
  const std::vector<Rejection>& last_rejections() const { return rejections_; }
  const TemporalConfig& config() const { return cfg_; }
  void reset();

 private:
  struct Region {
    int id = 0;
    SmokeBox box;
    std::uint32_t history = 0;  // bit 0 = latest frame
    std::int64_t first_ms = 0, last_ms = 0;
    std::int64_t alerted_ms = -1;
    float best = 0;
  };
  int cell_of(float cx_frac, float cy_frac) const;
  void note_alert(const SmokeBox& box, int width, int height, std::int64_t ts_ms, int weight);
  TemporalConfig cfg_;
  std::vector<Region> regions_;
  std::vector<std::deque<std::int64_t>> cell_alerts_;  // unconfirmed alert times per nuisance cell
  std::vector<Rejection> rejections_;
  int next_id_ = 1;
};

}  // namespace tw::wildfire
