#pragma once
// Object detection behind a small interface; backends are chosen by name through a registry.
//
// Stable API (used by the video, wildfire and change modules):
//   auto det = tw::video::make_detector(tw::video::DetectorConfig{});   // YOLOX-nano, COCO, default classes
//   if (!det) { ... det.error().message ... }
//   std::vector<tw::video::Detection> d = (*det)->detect(bgr);          // boxes in bgr's pixel coordinates
//
// The built-in backend "opencv_dnn" runs an ONNX detector with OpenCV DNN and decodes three output layouts:
//   yolox  [1,N,5+C], N = sum over strides 8/16/32 of (S/s)^2, raw grid offsets (decoded here), obj and class
//          scores already sigmoided; input BGR 0-255, letterbox at the top-left, pad 114.
//   yolov5 [1,N,5+C], N = 3 * sum of grid cells, boxes cx,cy,w,h in input pixels, obj * class score;
//          input RGB /255, centred letterbox, pad 114.
//   yolov8 [1,4+C,N] (YOLOv8 / YOLO11), boxes cx,cy,w,h in input pixels, class scores without objectness;
//          input RGB /255, centred letterbox, pad 114.
// "auto" picks the layout from the output shape. NMS runs per class (OpenCV 4.6 has no batched NMS).
// A Detector instance is not thread-safe: use one per worker thread.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"

namespace tw::video {

struct Detection {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // box corners in the input frame's pixels (x1,y1 exclusive edge)
  float score = 0;                       // objectness * class probability, 0..1
  int class_id = -1;                     // index in the model's class list (COCO-80 for the default model)
  std::string label;                     // class name ("person", "car", ...), or "class<N>" when unnamed
};

// The COCO classes the traffic analytics use by default.
inline const std::vector<std::string>& default_classes() {
  static const std::vector<std::string> k{"person", "bicycle", "car", "motorcycle", "bus", "truck"};
  return k;
}

struct DetectorConfig {
  std::string backend = "opencv_dnn";  // registry name
  std::string model;                   // ONNX path; empty = <models_dir>/yolox_nano_416_coco80.onnx
  std::string layout = "auto";         // auto | yolox | yolov5 | yolov8 (also accepts yolo11)
  int input_width = 0;                 // network input; 0 = 416 for yolox, 640 for yolov5/yolov8
  int input_height = 0;
  std::string class_names_file;        // one name per line; empty = <models_dir>/coco_classes.txt
  std::vector<std::string> classes = default_classes();  // keep only these labels; empty = all classes
  float score_threshold = 0.30f;       // minimum final score
  float nms_threshold = 0.45f;         // IoU above which the lower-scored box of the same class is removed
  int max_detections = 300;            // after NMS, highest scores first
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Detections sorted by descending score, clipped to the frame. An empty frame gives no detections.
  virtual std::vector<Detection> detect(const cv::Mat& bgr) = 0;
  virtual std::string name() const = 0;
  // All class names of the model, indexed by class_id.
  virtual const std::vector<std::string>& class_names() const = 0;
};

using DetectorFactory = std::function<Result<std::unique_ptr<Detector>>(const DetectorConfig&)>;

// COCO's official spelling of a class name: class-name files that use the VOC spellings ("motorbike",
// "aeroplane", "sofa", "tvmonitor", ...) are read with these names, and both spellings are accepted in
// DetectorConfig::classes. Other names are returned unchanged.
std::string canonical_class_name(const std::string& name);

// Registers (or replaces) a backend under a name. "opencv_dnn" is built in.
void register_detector(const std::string& name, DetectorFactory factory);
std::vector<std::string> detector_names();
// Errors: unknown_backend, bad_config (invalid threshold/size/class), model_not_found, model_load (OpenCV could
// not read the ONNX), bad_layout. Messages name the file or key at fault.
Result<std::unique_ptr<Detector>> make_detector(const DetectorConfig& config);

// ---- building blocks, public for other backends and for tests -------------------------------------------

enum class Layout { yolox, yolov5, yolov8 };
// Layout from a name ("yolox", "yolov5", "yolov8", "yolo11"); error bad_config otherwise.
Result<Layout> parse_layout(const std::string& name);
// Layout from an output blob shape (dims as given by OpenCV, batch first) and input size; error bad_layout.
Result<Layout> guess_layout(const std::vector<int>& shape, int input_width, int input_height);

struct LetterboxInfo {
  float scale = 1;   // network pixels per frame pixel
  int pad_x = 0;     // offset of the resized image inside the network input
  int pad_y = 0;
};
// Resizes bgr into a width x height canvas keeping the aspect ratio, filled with `fill`; centred or top-left.
LetterboxInfo letterbox(const cv::Mat& bgr, int width, int height, bool centre, cv::Mat& out, int fill = 114);

// Input of towerwatch's own heads built on YOLOX-nano stages (change head, smoke head): BGR 8-bit -> float, per
// channel (x - mean) / max(std, 4) * 58 + 114 (the image's own exposure and white balance taken out, in the
// backbone's 0..255 range), as a [1,3,H',W'] blob with H', W' rounded up to multiples of `multiple` (edge
// padding; the statistics are those of the image, not the padding). Must match `preprocess` of
// tools/common/yolox_stages.py.
cv::Mat standardised_blob(const cv::Mat& bgr, int multiple);

// Decodes one output blob (already reshaped to 2-D rows x cols as described above; for yolov8 pass the
// [4+C, N] matrix) into candidate detections in frame pixels, before NMS. Only class ids for which
// keep[class_id] is true (or all when keep is empty) and score >= score_threshold are returned.
std::vector<Detection> decode_output(const cv::Mat& rows, Layout layout, int input_width, int input_height,
                                     const LetterboxInfo& lb, float score_threshold,
                                     const std::vector<bool>& keep);

// Non-maximum suppression applied separately for each class_id; returns survivors by descending score.
std::vector<Detection> nms_per_class(const std::vector<Detection>& candidates, float iou_threshold,
                                     int max_detections);

float iou(const Detection& a, const Detection& b);

}  // namespace tw::video
