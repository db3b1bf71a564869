#include "tw/wildfire/smoke_model.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "tw/core/paths.hpp"
#include "tw/video/detector.hpp"

namespace tw::wildfire {
namespace {

constexpr int kInput = 416;
constexpr int kCell = 16;
// Top grid rows never scored: HPWREN-style cameras burn a text banner (date, camera name) into the top of the
// frame, and the head must not learn it (tools/smoke/train_smoke_head.py: OVERLAY_ROWS).
constexpr int kOverlayRows = 1;
const char* const kLayer16 = "onnx_node!Mul_272";  // YOLOX-nano PAN output, stride 16, 128 channels
const char* const kLayer32 = "onnx_node!Mul_298";  // stride 32, 256 channels

Result<cv::dnn::Net> load_net(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error("model_not_found", fmt::format("{}: {} not found", path, what));
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(path);
  } catch (const cv::Exception& e) {
    return make_error("model_load", fmt::format("{}: OpenCV cannot load the {}: {}", path, what, e.err));
  }
  if (net.empty()) return make_error("model_load", fmt::format("{}: OpenCV loaded an empty {}", path, what));
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

// Colour statistics of each 16x16 cell of the letterboxed input and the cell's row position, [1, 7, 26, 26]:
// mean B, G, R, std B, G, R (0..1) and row / 25 (tools/smoke/smoke_features.py: cell_stats).
cv::Mat cell_stats(const cv::Mat& canvas) {
  const int g = kInput / kCell;
  cv::Mat f, mean, sq;
  canvas.convertTo(f, CV_32F, 1.0 / 255.0);
  cv::resize(f, mean, cv::Size(g, g), 0, 0, cv::INTER_AREA);
  cv::resize(f.mul(f), sq, cv::Size(g, g), 0, 0, cv::INTER_AREA);
  const int dims[4] = {1, 7, g, g};
  cv::Mat blob(4, dims, CV_32F);
  for (int y = 0; y < g; ++y) {
    const auto* m = mean.ptr<cv::Vec3f>(y);
    const auto* q = sq.ptr<cv::Vec3f>(y);
    for (int x = 0; x < g; ++x) {
      for (int c = 0; c < 3; ++c) {
        blob.ptr<float>(0, c)[y * g + x] = m[x][c];
        blob.ptr<float>(0, 3 + c)[y * g + x] = std::sqrt(std::max(0.f, q[x][c] - m[x][c] * m[x][c]));
      }
      blob.ptr<float>(0, 6)[y * g + x] = static_cast<float>(y) / static_cast<float>(g - 1);
    }
  }
  return blob;
}

// Cells the head scores and normalises over, [1, 1, 26, 26]: 1 on the image part of the letterbox (rows x
// cols cells) minus the banner rows, 0 elsewhere (tools/smoke/train_smoke_head.py: valid_mask).
cv::Mat valid_mask(int rows, int cols) {
  const int g = kInput / kCell;
  const int dims[4] = {1, 1, g, g};
  cv::Mat blob(4, dims, CV_32F, cv::Scalar(0));
  cv::Mat plane(g, g, CV_32F, blob.ptr<float>());
  if (rows > kOverlayRows && cols > 0) plane(cv::Range(kOverlayRows, rows), cv::Range(0, cols)).setTo(1.f);
  return blob;
}

class HeadModel final : public SmokeModel {
 public:
  HeadModel(cv::dnn::Net backbone, cv::dnn::Net head, float box_threshold, bool use_cells, bool use_valid)
      : backbone_(std::move(backbone)),
        head_(std::move(head)),
        box_threshold_(box_threshold),
        use_cells_(use_cells),
        use_valid_(use_valid) {}

  std::string name() const override { return "head"; }

  SmokeResult infer(const cv::Mat& bgr) override {
    SmokeResult r;
    if (bgr.empty()) return r;
    cv::Mat img = bgr;
    if (bgr.channels() == 1) cv::cvtColor(bgr, img, cv::COLOR_GRAY2BGR);
    if (bgr.channels() == 4) cv::cvtColor(bgr, img, cv::COLOR_BGRA2BGR);
    cv::Mat canvas;
    const auto lb = tw::video::letterbox(img, kInput, kInput, /*centre=*/false, canvas, 114);
    cv::Mat blob = cv::dnn::blobFromImage(canvas, 1.0, cv::Size(kInput, kInput), cv::Scalar(), false, false);
    backbone_.setInput(blob);
    std::vector<cv::Mat> feats;
    backbone_.forward(feats, std::vector<cv::String>{kLayer16, kLayer32});
    head_.setInput(feats[0], "f16");
    head_.setInput(feats[1], "f32");
    const int g = kInput / kCell;
    const int rows =
        std::min(g, static_cast<int>(std::ceil(static_cast<float>(img.rows) * lb.scale / kCell)));
    const int cols =
        std::min(g, static_cast<int>(std::ceil(static_cast<float>(img.cols) * lb.scale / kCell)));
    if (use_cells_) head_.setInput(cell_stats(canvas), "cells");
    if (use_valid_) head_.setInput(valid_mask(rows, cols), "valid");
    cv::Mat out = head_.forward();
    const int grid = out.size[2];
    cv::Mat heat(grid, out.size[3], CV_32F, out.ptr<float>());
    r.heat = heat(cv::Rect(0, 0, std::max(1, cols), std::max(1, rows))).clone();
    r.heat.rowRange(0, std::min(kOverlayRows, r.heat.rows)).setTo(0.f);
    double mx = 0;
    cv::minMaxLoc(r.heat, nullptr, &mx);
    r.score = static_cast<float>(mx);
    r.boxes = heat_boxes(r.heat, box_threshold_, static_cast<float>(kCell), lb.scale, img.size());
    return r;
  }

 private:
  cv::dnn::Net backbone_;
  cv::dnn::Net head_;
  float box_threshold_;
  bool use_cells_;
  bool use_valid_;
};

class YoloModel final : public SmokeModel {
 public:
  explicit YoloModel(std::unique_ptr<tw::video::Detector> det) : det_(std::move(det)) {}
  std::string name() const override { return "yolo:" + det_->name(); }
  SmokeResult infer(const cv::Mat& bgr) override {
    SmokeResult r;
    if (bgr.empty()) return r;
    for (const auto& d : det_->detect(bgr)) {
      r.boxes.push_back({d.x0, d.y0, d.x1, d.y1, d.score});
      r.score = std::max(r.score, d.score);
    }
    return r;
  }

 private:
  std::unique_ptr<tw::video::Detector> det_;
};

}  // namespace

std::string default_head_path() {
  return shipped_path("TOWERWATCH_SMOKE_HEAD", "tools/smoke/smoke_head.onnx",
                      TW_WILDFIRE_SOURCE_DIR "/tools/smoke/smoke_head.onnx")
      .string();
}

std::vector<SmokeBox> heat_boxes(const cv::Mat& heat, float threshold, float cell_px, float scale,
                                 cv::Size frame) {
  std::vector<SmokeBox> out;
  if (heat.empty() || scale <= 0) return out;
  cv::Mat mask = heat >= threshold;
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  for (int i = 1; i < n; ++i) {
    const int x = stats.at<int>(i, cv::CC_STAT_LEFT), y = stats.at<int>(i, cv::CC_STAT_TOP);
    const int w = stats.at<int>(i, cv::CC_STAT_WIDTH), h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
    float best = 0;
    for (int yy = y; yy < y + h; ++yy)
      for (int xx = x; xx < x + w; ++xx)
        if (labels.at<int>(yy, xx) == i) best = std::max(best, heat.at<float>(yy, xx));
    const float k = cell_px / scale;
    SmokeBox b;
    b.x0 = std::clamp(static_cast<float>(x) * k, 0.f, static_cast<float>(frame.width));
    b.y0 = std::clamp(static_cast<float>(y) * k, 0.f, static_cast<float>(frame.height));
    b.x1 = std::clamp(static_cast<float>(x + w) * k, 0.f, static_cast<float>(frame.width));
    b.y1 = std::clamp(static_cast<float>(y + h) * k, 0.f, static_cast<float>(frame.height));
    b.score = best;
    out.push_back(b);
  }
  std::sort(out.begin(), out.end(), [](const SmokeBox& a, const SmokeBox& b) { return a.score > b.score; });
  return out;
}

Result<std::unique_ptr<SmokeModel>> make_smoke_model(const SmokeModelConfig& cfg) {
  if (cfg.threads > 0) cv::setNumThreads(cfg.threads);
  if (cfg.backend == "head") {
    if (!(cfg.box_threshold >= 0 && cfg.box_threshold <= 1))
      return make_error("bad_config",
                        fmt::format("smoke.box_threshold: {} outside [0, 1]", cfg.box_threshold));
    const std::string bb =
        cfg.backbone.empty() ? (models_dir() / "yolox_nano_416_coco80.onnx").string() : cfg.backbone;
    const std::string hd = cfg.head.empty() ? default_head_path() : cfg.head;
    auto b = load_net(bb, "smoke backbone (YOLOX-nano ONNX)");
    if (!b) return b.error();
    auto h = load_net(hd, "smoke head ONNX");
    if (!h) return h.error();
    // Check that the two fit together once, so a wrong file fails here rather than on the first frame.
    // Heads with inputs "cells" (colour statistics) and "valid" (scored cells, for per-frame normalisation)
    // are tried first, then heads without "valid", then two-input heads.
    const cv::Mat probe(240, 320, CV_8UC3, cv::Scalar::all(114));
    std::string why;
    for (const auto& [cells, valid] :
         {std::pair{true, true}, std::pair{true, false}, std::pair{false, false}}) {
      try {
        auto m = std::make_unique<HeadModel>(*b, *h, cfg.box_threshold, cells, valid);
        (void)m->infer(probe);
        return std::unique_ptr<SmokeModel>(std::move(m));
      } catch (const cv::Exception& e) {
        why = e.err;
      }
    }
    return make_error("model_load", fmt::format("{} + {}: backbone and head do not fit: {}", bb, hd, why));
  }
  if (cfg.backend == "yolo") {
    if (cfg.yolo_model.empty())
      return make_error("bad_config", "smoke.yolo_model: required with backend 'yolo'");
    tw::video::DetectorConfig dc;
    dc.model = cfg.yolo_model;
    dc.layout = cfg.yolo_layout;
    dc.input_width = dc.input_height = cfg.yolo_input;
    dc.class_names_file = cfg.yolo_names;
    dc.classes.clear();
    if (!cfg.yolo_class.empty()) dc.classes.push_back(cfg.yolo_class);
    dc.score_threshold = cfg.yolo_score_threshold;
    auto d = tw::video::make_detector(dc);
    if (!d) return d.error();
    return std::unique_ptr<SmokeModel>(std::make_unique<YoloModel>(std::move(*d)));
  }
  return make_error("bad_config", fmt::format("smoke.backend: unknown '{}' (head, yolo)", cfg.backend));
}

}  // namespace tw::wildfire
