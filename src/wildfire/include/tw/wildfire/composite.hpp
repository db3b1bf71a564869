#pragma once
// Synthetic smoke sequences with a known onset: a white-on-black smoke sprite (Pyronear synthetic-dataset clip)
// alpha-blended onto a real background. Used for time-to-detect evaluation, tests and the demo, never for training
// truth.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"

namespace tw::wildfire {

struct SpriteSpec {
  float base_x = 0.5f;    // plume base (bottom centre of the sprite's content), fractions of the background
  float base_y = 0.6f;
  float height = 0.25f;   // sprite content height as a fraction of the background height
  float opacity = 0.8f;   // 0..1, Pyronear's make_set draws 0.4..1.0
};

// Reads every frame of a sprite clip and crops them all to the union bounding box of their content
// (luma > 10). Errors: not_found, bad_video (cannot open / no frame / no content).
Result<std::vector<cv::Mat>> load_sprite(const std::string& path);

// Blends one sprite frame (cropped, as from load_sprite) onto bg (BGR) in place; returns the box of the blended
// content (alpha > 0.1) in bg pixels, empty when nothing visible was drawn.
cv::Rect blend_sprite(cv::Mat& bg, const cv::Mat& sprite, const cv::Size& crop_size, const SpriteSpec& spec);

// The demo's smoke scene: the sprite composited onto a clear HPWREN mountain view, in an endless cycle of
// kClearFrames empty frames then kSmokeFrames with the plume growing to its full height.
struct PlumeCycle {
  static constexpr int kClearFrames = 6, kSmokeFrames = 18;
  cv::Mat background;
  std::vector<cv::Mat> sprite;  // as from load_sprite

  bool smoke(int i) const { return i % (kClearFrames + kSmokeFrames) >= kClearFrames; }
  cv::Mat frame(int i) const;  // frame i >= 0 of the cycle
};

// Loads the demo scene from a data folder (wildfire/hpwren_smoke, wildfire/pyronear_synthetic); where the HPWREN
// view is missing, the first frame of the Pyronear background clip. Errors: not_found, bad_video.
Result<PlumeCycle> load_plume_cycle(const std::string& data_dir);

}  // namespace tw::wildfire
