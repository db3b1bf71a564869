#pragma once
// Learned per-pixel change head of the change module. Recipe, data and model card:
// tools/change/train_change_head.py and tools/change/README.md.
//
// A tiny fully convolutional network: one shared encoder describes each image (standardised Lab), the decoder
// sees only |e(a) - e(b)| and e(a) + e(b), so the probability map is the same whichever image comes first.
#include <string>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"

namespace tw::change {

// Path of the shipped head: $TOWERWATCH_CHANGE_HEAD, else tools/change/change_head.onnx under the working
// directory, else in the source tree.
std::string default_change_head_path();

// Change probability (CV_32F, 0..1, the images' size) of two registered BGR 8-bit images of the same size.
// model: path of the ONNX head, empty = default_change_head_path(). The network is loaded once per path and
// shared (calls are serialised). Errors: model_missing (names the path and the environment variable),
// model_error (OpenCV cannot load or run it), bad_image.
Result<cv::Mat> change_probability(const cv::Mat& a_bgr, const cv::Mat& b_bgr, const std::string& model = {});

// The head's input: BGR 8-bit -> Lab (float, L 0..100) -> per channel (x - mean) / max(std, floor), as a
// [1,3,H',W'] blob with H', W' rounded up to multiples of 4 (edge padding). Exposed for tests.
cv::Mat head_input(const cv::Mat& bgr);

}  // namespace tw::change
