#pragma once
// Image-level smoke scoring with boxes, behind one small interface with two backends:
//   "head": towerwatch's own model: the COCO-pretrained YOLOX-nano backbone (PAN features at stride 16 and 32,
//           OpenCV DNN) followed by the trained smoke head (tools/smoke/smoke_head.onnx; inputs f16, f32, per-cell
//           colour statistics "cells" and the mask "valid" of scored cells, over which the head standardises each
//           feature channel per frame), which outputs a 26x26 smoke heat-map; the image score is its maximum,
//           boxes are its connected regions above box_threshold.
//           The top row of the grid (the text banner of HPWREN-style cameras) is never scored (set to 0).
//   "yolo": any YOLO-family ONNX smoke detector a user supplies (yolox / yolov5 / yolov8 layouts), run by
//           tw::video's detector; the image score is the best box score.
//
//   auto m = tw::wildfire::make_smoke_model({});            // the shipped head
//   tw::wildfire::SmokeResult r = (*m)->infer(bgr);         // r.score in [0,1], r.boxes in bgr pixels
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"

namespace tw::wildfire {

struct SmokeBox {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // frame pixels
  float score = 0;
  float width() const { return x1 - x0; }
  float height() const { return y1 - y0; }
  float area() const { return width() * height(); }
};

struct SmokeResult {
  float score = 0;               // image-level smoke score in [0, 1]
  std::vector<SmokeBox> boxes;   // by descending score
  cv::Mat heat;                  // "head" backend: CV_32F heat-map over the valid part of the grid; else empty
};

// Per-frame operating point of the shipped head: the best F1 with at most 5% false positives on the probable
// negatives, cross-validated by camera view (tools/smoke/metrics.json "threshold"): F1 0.28 (precision 0.94,
// recall 0.16), false-positive rate 0.045 per frame on cameras the head never saw. At 0.5 recall is higher (F1 0.75)
// but the false-positive rate is 0.45 per frame: pass a lower score_threshold only with operator review.
inline constexpr float kShippedThreshold = 0.86f;

struct SmokeModelConfig {
  std::string backend = "head";  // "head" | "yolo"
  std::string backbone;          // head: YOLOX-nano ONNX; empty = <models_dir>/yolox_nano_416_coco80.onnx
  std::string head;              // head: empty = $TOWERWATCH_SMOKE_HEAD, else tools/smoke/smoke_head.onnx
  float box_threshold = 0.35f;   // head: heat-map cells at or above this form boxes
  std::string yolo_model;        // yolo: the user's ONNX (required)
  std::string yolo_layout = "auto";
  int yolo_input = 0;            // yolo: network input side; 0 = the layout's default
  std::string yolo_names;        // yolo: class names file, one per line (required unless the model is COCO-80)
  std::string yolo_class;        // yolo: keep this class name only (e.g. "smoke"); empty = every class
  float yolo_score_threshold = 0.10f;
  int threads = 0;               // OpenCV threads for inference; 0 = leave OpenCV's setting
};

class SmokeModel {
 public:
  virtual ~SmokeModel() = default;
  // An empty frame gives score 0 and no boxes.
  virtual SmokeResult infer(const cv::Mat& bgr) = 0;
  virtual std::string name() const = 0;
};

// Errors: bad_config (unknown backend, threshold outside [0,1], missing yolo_model), model_not_found,
// model_load (names the file).
Result<std::unique_ptr<SmokeModel>> make_smoke_model(const SmokeModelConfig& config);

// Path of the shipped head: $TOWERWATCH_SMOKE_HEAD, else tools/smoke/smoke_head.onnx under the working directory,
// else under the source tree this was built from.
std::string default_head_path();

// Connected regions of heat >= threshold (8-connectivity), mapped back to frame pixels: each grid cell covers
// cell_px network pixels and the network saw the frame scaled by `scale`. Exposed for tests.
std::vector<SmokeBox> heat_boxes(const cv::Mat& heat, float threshold, float cell_px, float scale, cv::Size frame);

}  // namespace tw::wildfire
