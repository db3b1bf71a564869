#pragma once
// Learned per-pixel change head of the change module. Recipe, data and model card:
// tools/change/train_change_head.py and tools/change/README.md.
//
// A small fully convolutional network: the first stages of the COCO-pretrained YOLOX-nano (frozen, carried in
// the head's ONNX) describe each image at strides 2, 4 and 8; the trained decoder sees only |e(a) - e(b)| and
// e(a) + e(b), so the probability map is the same whichever image comes first.
#include <string>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"

namespace tw::change {

// Path of the shipped head: $TOWERWATCH_CHANGE_HEAD, else tools/change/change_head.onnx under the working
// directory, else in the source tree.
std::string default_change_head_path();

// Change probability (CV_32F, 0..1, the images' size) of two registered BGR 8-bit images of the same size.
// model: path of the ONNX head, empty = default_change_head_path(). views: 1, 4 (the mean over the pair as
// given, flipped left-right, upside down and both) or 8 (the same four of the transposed pair as well). The
// network is loaded once per path and shared (calls are serialised). Errors: model_missing (names the path and
// the environment variable), model_error (OpenCV cannot load or run it), bad_image.
Result<cv::Mat> change_probability(const cv::Mat& a_bgr, const cv::Mat& b_bgr, const std::string& model = {},
                                   int views = 1);

}  // namespace tw::change
