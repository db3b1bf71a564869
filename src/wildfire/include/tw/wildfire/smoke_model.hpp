#pragma once
// Image-level smoke scoring with boxes, behind one small interface with two backends:
//   "head": towerwatch's own model (tools/smoke/smoke_head.onnx): the first stages of the COCO-pretrained
//           YOLOX-nano (frozen to dark3, carried in the ONNX) followed by fine-tuned dark4/dark5 and a smoke
//           decoder. The frame is scaled so that its longer side is at most 640, standardised per colour channel
//           and padded to a multiple of 32 (tw::video::standardised_blob); the output is a smoke heat-map with one
//           cell per 8x8 network pixels. The frame is looked at twice, as is and upscaled 2x (small horizon
//           plumes); the heat is the cell-wise maximum of the first heat-map and the second, max-pooled back to
//           the first one's grid. The image score is its maximum, boxes are its connected regions above
//           box_threshold. The top 24 network pixels (the text banner of HPWREN-style cameras) are never scored
//           (set to 0).
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
  cv::Mat heat;                  // "head" backend: CV_32F heat-map, one cell per 8x8 network pixels; else empty
};

// Per-frame operating point of the shipped head: the best F1 with at most 5% false positives on the probable
// negatives, cross-validated by camera view (tools/smoke/metrics.json "threshold"; figures in
// tools/smoke/README.md).
inline constexpr float kShippedThreshold = 0.963f;

struct SmokeModelConfig {
  std::string backend = "head";  // "head" | "yolo"
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
