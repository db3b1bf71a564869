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

// Must match tools/smoke/train_smoke_head.py (WORK_SIDE, STRIDE, MULTIPLE, BANNER_PX, ZOOM).
constexpr int kWorkSide = 640;  // larger frames are scaled down so that their longer side is this
constexpr int kStride = 8;      // network pixels per heat-map cell
constexpr int kMultiple = 32;   // the backbone's coarsest stride: the input is padded to a multiple of it
constexpr int kZoom = 2;        // the second look: the work frame upscaled this many times
// Top network pixels never scored: HPWREN-style cameras burn a text banner (date, camera name) into the top of
// the frame, and the head must not learn it.
constexpr int kBannerPx = 24;

Result<cv::dnn::Net> load_net(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error("model_not_found", fmt::format("{}: smoke head ONNX not found", path));
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(path);
  } catch (const cv::Exception& e) {
    return make_error("model_load", fmt::format("{}: OpenCV cannot load the smoke head: {}", path, e.err));
  }
  if (net.empty()) return make_error("model_load", fmt::format("{}: OpenCV loaded an empty smoke head", path));
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

class HeadModel final : public SmokeModel {
 public:
  // Two copies of the same network, one per look: OpenCV DNN re-plans a network whenever its input size changes,
  // which costs more than the look itself when one network alternates between the two sizes.
  HeadModel(cv::dnn::Net net, cv::dnn::Net zoom_net, float box_threshold)
      : net_(std::move(net)), zoom_net_(std::move(zoom_net)), box_threshold_(box_threshold) {}

  std::string name() const override { return "head"; }

  SmokeResult infer(const cv::Mat& bgr) override {
    SmokeResult r;
    if (bgr.empty()) return r;
    cv::Mat img = bgr;
    if (bgr.channels() == 1) cv::cvtColor(bgr, img, cv::COLOR_GRAY2BGR);
    if (bgr.channels() == 4) cv::cvtColor(bgr, img, cv::COLOR_BGRA2BGR);
    const double scale =
        std::min(1.0, static_cast<double>(kWorkSide) / static_cast<double>(std::max(img.cols, img.rows)));
    cv::Mat work = img;
    if (scale < 1.0)
      cv::resize(img, work,
                 cv::Size(std::max(1, static_cast<int>(std::lround(img.cols * scale))),
                          std::max(1, static_cast<int>(std::lround(img.rows * scale)))),
                 0, 0, cv::INTER_AREA);
    // Two looks (two_scale_heat in the recipe): the work frame and its kZoom times upscaled copy, whose heat-map is
    // max-pooled back to the work frame's grid; the heat is their cell-wise maximum. Horizon plumes of 10-15 px are
    // one or two cells at the frame's own size: only the second look sees them.
    cv::Mat up;
    cv::resize(work, up, cv::Size(), kZoom, kZoom, cv::INTER_LINEAR);
    r.heat = look(net_, work);
    const cv::Mat near = look(zoom_net_, up);
    for (int y = 0; y < r.heat.rows; ++y) {
      auto* h = r.heat.ptr<float>(y);
      for (int x = 0; x < r.heat.cols; ++x) {
        float m = 0;
        for (int yy = y * kZoom; yy < std::min(near.rows, (y + 1) * kZoom); ++yy)
          for (int xx = x * kZoom; xx < std::min(near.cols, (x + 1) * kZoom); ++xx)
            m = std::max(m, near.at<float>(yy, xx));
        h[x] = std::max(h[x], m);
      }
    }
    r.heat.rowRange(0, std::min(r.heat.rows, (kBannerPx + kStride - 1) / kStride)).setTo(0.f);
    double mx = 0;
    cv::minMaxLoc(r.heat, nullptr, &mx);
    r.score = static_cast<float>(mx);
    r.boxes = heat_boxes(r.heat, box_threshold_, static_cast<float>(kStride), static_cast<float>(scale), img.size());
    return r;
  }

 private:
  // The heat-map of one look, cut to the image's cells (without the padding).
  static cv::Mat look(cv::dnn::Net& net, const cv::Mat& img) {
    net.setInput(tw::video::standardised_blob(img, kMultiple));
    cv::Mat out = net.forward();
    if (out.dims != 4 || out.size[1] != 1 || out.size[2] * kStride < img.rows || out.size[3] * kStride < img.cols)
      CV_Error(cv::Error::StsBadSize, "the output is not a [1,1,H/8,W/8] heat-map");
    const int rows = std::min(out.size[2], (img.rows + kStride - 1) / kStride);
    const int cols = std::min(out.size[3], (img.cols + kStride - 1) / kStride);
    return cv::Mat(out.size[2], out.size[3], CV_32F, out.ptr<float>())(cv::Rect(0, 0, cols, rows)).clone();
  }

  cv::dnn::Net net_, zoom_net_;
  float box_threshold_;
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
    const std::string path = cfg.head.empty() ? default_head_path() : cfg.head;
    auto net = load_net(path);
    if (!net) return net.error();
    auto zoom_net = load_net(path);
    if (!zoom_net) return zoom_net.error();
    // Run it once, so that a wrong file fails here rather than on the first frame.
    try {
      auto m = std::make_unique<HeadModel>(std::move(*net), std::move(*zoom_net), cfg.box_threshold);
      (void)m->infer(cv::Mat(240, 320, CV_8UC3, cv::Scalar::all(114)));
      return std::unique_ptr<SmokeModel>(std::move(m));
    } catch (const cv::Exception& e) {
      return make_error("model_load", fmt::format("{}: not a smoke head (input image, output heat): {}", path, e.err));
    }
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
