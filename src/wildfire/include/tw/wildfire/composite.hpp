#pragma once
// Synthetic smoke sequences with a known onset: a white-on-black smoke sprite (Pyronear synthetic-dataset clip)
// alpha-blended onto a real background. Used for time-to-detect evaluation and tests, never for training truth.
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

}  // namespace tw::wildfire
