#include "tw/video/detector.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include <fmt/core.h>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "tw/core/paths.hpp"

namespace tw::video {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, DetectorFactory> factories;
};

Result<std::unique_ptr<Detector>> make_opencv_dnn(const DetectorConfig& cfg);

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
    reg->factories["opencv_dnn"] = make_opencv_dnn;
    return reg;
  }();
  return *r;
}

int grid_cells(int w, int h) {
  int n = 0;
  for (int s : {8, 16, 32}) n += (w / s) * (h / s);
  return n;
}

}  // namespace

std::string canonical_class_name(const std::string& name) {
  static const std::map<std::string, std::string> k{{"motorbike", "motorcycle"}, {"aeroplane", "airplane"},
                                                    {"sofa", "couch"},           {"pottedplant", "potted plant"},
                                                    {"diningtable", "dining table"}, {"tvmonitor", "tv"}};
  auto it = k.find(name);
  return it == k.end() ? name : it->second;
}

namespace {

Result<std::vector<std::string>> read_class_names(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("model_not_found", fmt::format("{}: cannot open class names file", path));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) names.push_back(canonical_class_name(line));
  }
  if (names.empty()) return make_error("bad_config", fmt::format("{}: class names file is empty", path));
  return names;
}

// Views an output blob [1,R,C] or [R,C] as a 2-D matrix (no copy).
cv::Mat as_2d(const cv::Mat& out) {
  if (out.dims == 2) return out;
  if (out.dims < 2) return {};
  const int rows = out.size[out.dims - 2], cols = out.size[out.dims - 1];
  return cv::Mat(rows, cols, CV_32F, const_cast<float*>(out.ptr<float>()));
}

class OpenCvDnnDetector final : public Detector {
 public:
  OpenCvDnnDetector(cv::dnn::Net net, DetectorConfig cfg, std::vector<std::string> names, Layout layout, int iw,
                    int ih)
      : net_(std::move(net)), cfg_(std::move(cfg)), names_(std::move(names)), layout_(layout), iw_(iw), ih_(ih) {}

  std::string name() const override { return "opencv_dnn"; }
  const std::vector<std::string>& class_names() const override { return names_; }

  std::vector<Detection> detect(const cv::Mat& bgr) override {
    if (bgr.empty()) return {};
    cv::Mat input3;
    if (bgr.channels() == 1) {
      cv::cvtColor(bgr, input3, cv::COLOR_GRAY2BGR);
    } else if (bgr.channels() == 4) {
      cv::cvtColor(bgr, input3, cv::COLOR_BGRA2BGR);
    } else {
      input3 = bgr;
    }
    const bool yolox = layout_ == Layout::yolox;
    LetterboxInfo lb = letterbox(input3, iw_, ih_, !yolox, canvas_);
    cv::Mat blob = cv::dnn::blobFromImage(canvas_, yolox ? 1.0 : 1.0 / 255.0, cv::Size(iw_, ih_), cv::Scalar(),
                                          /*swapRB=*/!yolox, /*crop=*/false, CV_32F);
    net_.setInput(blob);
    cv::Mat out = net_.forward();
    cv::Mat m = as_2d(out);
    auto cand = decode_output(m, layout_, iw_, ih_, lb, cfg_.score_threshold, keep_);
    auto res = nms_per_class(cand, cfg_.nms_threshold, cfg_.max_detections);
    const float fw = static_cast<float>(bgr.cols), fh = static_cast<float>(bgr.rows);
    for (auto& d : res) {
      d.x0 = std::clamp(d.x0, 0.f, fw);
      d.x1 = std::clamp(d.x1, 0.f, fw);
      d.y0 = std::clamp(d.y0, 0.f, fh);
      d.y1 = std::clamp(d.y1, 0.f, fh);
      d.label = d.class_id >= 0 && static_cast<size_t>(d.class_id) < names_.size()
                    ? names_[static_cast<size_t>(d.class_id)]
                    : fmt::format("class{}", d.class_id);
    }
    return res;
  }

  void set_keep(std::vector<bool> keep) { keep_ = std::move(keep); }

 private:
  cv::dnn::Net net_;
  DetectorConfig cfg_;
  std::vector<std::string> names_;
  Layout layout_;
  int iw_, ih_;
  std::vector<bool> keep_;
  cv::Mat canvas_;
};

Result<std::unique_ptr<Detector>> make_opencv_dnn(const DetectorConfig& cfg) {
  if (!(cfg.score_threshold >= 0.f && cfg.score_threshold <= 1.f))
    return make_error("bad_config", fmt::format("detector.score_threshold: {} is not in [0,1]", cfg.score_threshold));
  if (!(cfg.nms_threshold > 0.f && cfg.nms_threshold <= 1.f))
    return make_error("bad_config", fmt::format("detector.nms_threshold: {} is not in (0,1]", cfg.nms_threshold));
  if (cfg.max_detections <= 0)
    return make_error("bad_config", fmt::format("detector.max_detections: {} must be positive", cfg.max_detections));
  for (int v : {cfg.input_width, cfg.input_height}) {
    if (v < 0 || v > 4096 || (v > 0 && v % 32 != 0))
      return make_error("bad_config",
                        fmt::format("detector.input_width/input_height: {} must be 0 (auto) or a multiple of 32 "
                                    "up to 4096",
                                    v));
  }
  bool have_layout = false;
  Layout layout = Layout::yolox;
  if (cfg.layout != "auto") {
    auto l = parse_layout(cfg.layout);
    if (!l) return l.error();
    have_layout = true;
    layout = *l;
  }
  std::string model = cfg.model.empty() ? (models_dir() / "yolox_nano_416_coco80.onnx").string() : cfg.model;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec))
    return make_error("model_not_found", fmt::format("{}: detector model not found", model));
  std::string names_path =
      cfg.class_names_file.empty() ? (models_dir() / "coco_classes.txt").string() : cfg.class_names_file;
  auto names = read_class_names(names_path);
  if (!names) return names.error();
  std::vector<bool> keep;
  if (!cfg.classes.empty()) {
    keep.assign(names->size(), false);
    for (const auto& c : cfg.classes) {
      auto it = std::find(names->begin(), names->end(), canonical_class_name(c));
      if (it == names->end())
        return make_error("bad_config", fmt::format("detector.classes: unknown class '{}' (not in {})", c, names_path));
      keep[static_cast<size_t>(it - names->begin())] = true;
    }
  }
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(model);
  } catch (const cv::Exception& e) {
    return make_error("model_load", fmt::format("{}: OpenCV cannot load the ONNX model: {}", model, e.what()));
  }
  if (net.empty()) return make_error("model_load", fmt::format("{}: OpenCV loaded an empty network", model));
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  // Probe the network once with a grey image to learn (or check) its output layout and input size.
  std::vector<std::pair<int, int>> sizes;
  if (cfg.input_width > 0 || cfg.input_height > 0) {
    sizes.emplace_back(cfg.input_width > 0 ? cfg.input_width : cfg.input_height,
                       cfg.input_height > 0 ? cfg.input_height : cfg.input_width);
  } else if (have_layout) {
    sizes.emplace_back(layout == Layout::yolox ? 416 : 640, layout == Layout::yolox ? 416 : 640);
  } else {
    sizes = {{416, 416}, {640, 640}};
  }
  std::string why;
  for (auto [w, h] : sizes) {
    cv::Mat blob = cv::dnn::blobFromImage(cv::Mat(h, w, CV_8UC3, cv::Scalar::all(114)), 1.0, cv::Size(w, h));
    cv::Mat out;
    try {
      net.setInput(blob);
      out = net.forward();
    } catch (const cv::Exception& e) {
      why += fmt::format(" {}x{} input: forward failed ({});", w, h, e.err);
      continue;
    }
    std::vector<int> shape(out.size.p, out.size.p + out.dims);
    auto g = guess_layout(shape, w, h);
    if (!g) {
      why += fmt::format(" {}x{} input: {};", w, h, g.error().message);
      continue;
    }
    if (have_layout && *g != layout && !(layout == Layout::yolov5 && *g == Layout::yolox)) {
      why += fmt::format(" {}x{} input: output shape does not match layout '{}';", w, h, cfg.layout);
      continue;
    }
    if (!have_layout) layout = *g;
    const int nc = layout == Layout::yolov8 ? shape[shape.size() - 2] - 4 : shape[shape.size() - 1] - 5;
    if (static_cast<size_t>(nc) != names->size())
      return make_error("bad_config", fmt::format("{}: the model has {} classes but {} names {}", model, nc,
                                                  names_path, names->size()));
    auto det = std::make_unique<OpenCvDnnDetector>(std::move(net), cfg, std::move(*names), layout, w, h);
    det->set_keep(std::move(keep));
    return std::unique_ptr<Detector>(std::move(det));
  }
  return make_error("bad_layout", fmt::format("{}: cannot decode the detector output:{}", model, why));
}
}  // namespace

void register_detector(const std::string& name, DetectorFactory factory) {
  auto& r = registry();
  std::lock_guard lk(r.mu);
  r.factories[name] = std::move(factory);
}

std::vector<std::string> detector_names() {
  auto& r = registry();
  std::lock_guard lk(r.mu);
  std::vector<std::string> out;
  for (const auto& [k, v] : r.factories) out.push_back(k);
  return out;
}

Result<std::unique_ptr<Detector>> make_detector(const DetectorConfig& config) {
  DetectorFactory f;
  {
    auto& r = registry();
    std::lock_guard lk(r.mu);
    auto it = r.factories.find(config.backend);
    if (it == r.factories.end()) {
      std::string known;
      for (const auto& [k, v] : r.factories) known += (known.empty() ? "" : ", ") + k;
      return make_error("unknown_backend",
                        fmt::format("detector.backend: unknown backend '{}' (known: {})", config.backend, known));
    }
    f = it->second;
  }
  return f(config);
}

Result<Layout> parse_layout(const std::string& name) {
  if (name == "yolox") return Layout::yolox;
  if (name == "yolov5") return Layout::yolov5;
  if (name == "yolov8" || name == "yolo11" || name == "yolov11") return Layout::yolov8;
  return make_error("bad_config",
                    fmt::format("detector.layout: '{}' is not one of auto, yolox, yolov5, yolov8, yolo11", name));
}

Result<Layout> guess_layout(const std::vector<int>& shape, int input_width, int input_height) {
  if (shape.size() < 2)
    return make_error("bad_layout", fmt::format("detector output has {} dimensions, expected 2 or 3", shape.size()));
  const int a = shape[shape.size() - 2], b = shape[shape.size() - 1];
  const int cells = grid_cells(input_width, input_height);
  if (a == cells && b > 5) return Layout::yolox;
  if (a == 3 * cells && b > 5) return Layout::yolov5;
  if (b == cells && a > 4) return Layout::yolov8;  // [4+C, N]
  return make_error("bad_layout",
                    fmt::format("detector output shape [{}x{}] matches no known layout for a {}x{} input "
                                "(yolox: {} rows, yolov5: {} rows, yolov8: {} columns)",
                                a, b, input_width, input_height, cells, 3 * cells, cells));
}

LetterboxInfo letterbox(const cv::Mat& bgr, int width, int height, bool centre, cv::Mat& out, int fill) {
  LetterboxInfo lb;
  const float r = std::min(static_cast<float>(width) / static_cast<float>(bgr.cols),
                           static_cast<float>(height) / static_cast<float>(bgr.rows));
  const int nw = std::max(1, std::min(width, static_cast<int>(std::lround(static_cast<float>(bgr.cols) * r))));
  const int nh = std::max(1, std::min(height, static_cast<int>(std::lround(static_cast<float>(bgr.rows) * r))));
  lb.scale = r;
  if (centre) {
    lb.pad_x = (width - nw) / 2;
    lb.pad_y = (height - nh) / 2;
  }
  out.create(height, width, bgr.type());
  out.setTo(cv::Scalar::all(fill));
  cv::Mat roi = out(cv::Rect(lb.pad_x, lb.pad_y, nw, nh));
  if (nw == bgr.cols && nh == bgr.rows) {
    bgr.copyTo(roi);
  } else {
    cv::resize(bgr, roi, cv::Size(nw, nh), 0, 0, cv::INTER_LINEAR);
  }
  return lb;
}

cv::Mat standardised_blob(const cv::Mat& bgr, int multiple) {
  constexpr double kMeanTarget = 114.0, kStdTarget = 58.0, kStdFloor = 4.0;
  cv::Scalar mean, sd;
  cv::meanStdDev(bgr, mean, sd);
  const int h = bgr.rows, w = bgr.cols;
  const int hp = (h + multiple - 1) / multiple * multiple, wp = (w + multiple - 1) / multiple * multiple;
  cv::Mat padded;
  cv::copyMakeBorder(bgr, padded, 0, hp - h, 0, wp - w, cv::BORDER_REPLICATE);
  const int sizes[4] = {1, 3, hp, wp};
  cv::Mat blob(4, sizes, CV_32F);
  std::vector<cv::Mat> ch(3);
  cv::split(padded, ch);
  for (int c = 0; c < 3; ++c) {
    cv::Mat plane(hp, wp, CV_32F, blob.ptr<float>(0, c));
    const double s = kStdTarget / std::max(sd[c], kStdFloor);
    ch[static_cast<size_t>(c)].convertTo(plane, CV_32F, s, kMeanTarget - mean[c] * s);
  }
  return blob;
}

std::vector<Detection> decode_output(const cv::Mat& m, Layout layout, int input_width, int input_height,
                                     const LetterboxInfo& lb, float score_threshold, const std::vector<bool>& keep) {
  std::vector<Detection> out;
  if (m.empty() || m.type() != CV_32F) return out;
  auto add = [&](float cx, float cy, float w, float h, float score, int cls) {
    Detection d;
    d.x0 = (cx - 0.5f * w - static_cast<float>(lb.pad_x)) / lb.scale;
    d.y0 = (cy - 0.5f * h - static_cast<float>(lb.pad_y)) / lb.scale;
    d.x1 = (cx + 0.5f * w - static_cast<float>(lb.pad_x)) / lb.scale;
    d.y1 = (cy + 0.5f * h - static_cast<float>(lb.pad_y)) / lb.scale;
    d.score = score;
    d.class_id = cls;
    out.push_back(std::move(d));
  };
  auto kept = [&](int c) { return keep.empty() || (static_cast<size_t>(c) < keep.size() && keep[static_cast<size_t>(c)]); };

  if (layout == Layout::yolov8) {
    const int nc = m.rows - 4, n = m.cols;
    if (nc <= 0) return out;
    for (int i = 0; i < n; ++i) {
      int best = -1;
      float bs = 0;
      for (int c = 0; c < nc; ++c) {
        if (!kept(c)) continue;
        float s = m.at<float>(4 + c, i);
        if (s > bs) bs = s, best = c;
      }
      if (best < 0 || bs < score_threshold) continue;
      add(m.at<float>(0, i), m.at<float>(1, i), m.at<float>(2, i), m.at<float>(3, i), bs, best);
    }
    return out;
  }
  const int nc = m.cols - 5;
  if (nc <= 0) return out;
  // YOLOX grid: rows are stride 8 cells, then 16, then 32, row-major.
  int stride_idx = 0, base = 0;
  const int strides[3] = {8, 16, 32};
  for (int i = 0; i < m.rows; ++i) {
    const float* p = m.ptr<float>(i);
    const float obj = p[4];
    if (obj < score_threshold) continue;
    int best = -1;
    float bs = 0;
    for (int c = 0; c < nc; ++c) {
      if (!kept(c)) continue;
      if (p[5 + c] > bs) bs = p[5 + c], best = c;
    }
    if (best < 0) continue;
    const float score = obj * bs;
    if (score < score_threshold) continue;
    if (layout == Layout::yolov5) {
      add(p[0], p[1], p[2], p[3], score, best);
      continue;
    }
    // locate the cell of row i
    while (stride_idx < 3) {
      const int s = strides[stride_idx];
      const int n = (input_width / s) * (input_height / s);
      if (i < base + n) break;
      base += n;
      ++stride_idx;
    }
    if (stride_idx >= 3) break;
    const int s = strides[stride_idx];
    const int gw = input_width / s;
    const int k = i - base;
    const float gx = static_cast<float>(k % gw), gy = static_cast<float>(k / gw);
    const float fs = static_cast<float>(s);
    add((p[0] + gx) * fs, (p[1] + gy) * fs, std::exp(p[2]) * fs, std::exp(p[3]) * fs, score, best);
  }
  return out;
}

float iou(const Detection& a, const Detection& b) {
  const float ix = std::max(0.f, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const float iy = std::max(0.f, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  const float inter = ix * iy;
  const float ua = std::max(0.f, a.x1 - a.x0) * std::max(0.f, a.y1 - a.y0) +
                   std::max(0.f, b.x1 - b.x0) * std::max(0.f, b.y1 - b.y0) - inter;
  return ua > 0 ? inter / ua : 0.f;
}

std::vector<Detection> nms_per_class(const std::vector<Detection>& candidates, float iou_threshold,
                                     int max_detections) {
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return candidates[a].score > candidates[b].score; });
  std::vector<Detection> kept;
  for (size_t idx : order) {
    const auto& c = candidates[idx];
    bool suppressed = false;
    for (const auto& k : kept) {
      if (k.class_id == c.class_id && iou(k, c) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) {
      kept.push_back(c);
      if (max_detections > 0 && static_cast<int>(kept.size()) >= max_detections) break;
    }
  }
  return kept;
}

}  // namespace tw::video
