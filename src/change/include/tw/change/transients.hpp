#pragma once
// Transient-object masks from the video module's COCO detector: people, vehicles, animals, parasols, furniture.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tw/change/compare.hpp"
#include "tw/core/result.hpp"

namespace tw::change {

// COCO labels (canonical names; the video module also accepts the file's spellings) treated as transient.
const std::vector<std::string>& transient_classes();

// Builds a masker backed by the default detector (YOLOX-nano through OpenCV DNN, <models_dir>). The masker owns
// the detector; it is not thread-safe. Errors from the detector factory (model_not_found, model_load...).
Result<TransientMasker> make_detector_masker(float score_threshold = 0.25f);

// Redaction hook for alert crops backed by the video module's Redactor (YuNet faces + head regions of person
// boxes found by the detector). Errors from the video module.
Result<std::function<void(cv::Mat&)>> make_video_redactor();

}  // namespace tw::change
