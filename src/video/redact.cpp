#include "tw/video/redact.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/core.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "tw/core/paths.hpp"

namespace tw::video {

Result<RedactMethod> parse_redact_method(const std::string& name) {
  if (name == "blur") return RedactMethod::blur;
  if (name == "pixelate") return RedactMethod::pixelate;
  return make_error("bad_config", fmt::format("redact.method: '{}' is not one of blur, pixelate", name));
}

void apply_redaction(cv::Mat& bgr, const std::vector<cv::Rect>& regions, RedactMethod method, int pixel_block) {
  const cv::Rect frame(0, 0, bgr.cols, bgr.rows);
  for (const auto& r0 : regions) {
    const cv::Rect r = r0 & frame;
    if (r.width <= 0 || r.height <= 0) continue;
    cv::Mat roi = bgr(r);
    if (method == RedactMethod::pixelate) {
      const int block = std::max(2, pixel_block);
      // At least 3 cells across would still show a face's layout at large sizes: cap the cells at 6.
      const int cw = std::clamp(r.width / block, 1, 6);
      const int ch = std::clamp(r.height / block, 1, 6);
      cv::Mat small;
      cv::resize(roi, small, cv::Size(cw, ch), 0, 0, cv::INTER_AREA);
      cv::resize(small, roi, r.size(), 0, 0, cv::INTER_NEAREST);
    } else {
      // Downscale to a few pixels, blow back up and smooth: equivalent to a very wide blur, at any size,
      // in constant time per pixel.
      const int cw = std::clamp(r.width / 8, 1, 4);
      const int ch = std::clamp(r.height / 8, 1, 4);
      cv::Mat small;
      cv::resize(roi, small, cv::Size(cw, ch), 0, 0, cv::INTER_AREA);
      cv::Mat up;
      cv::resize(small, up, r.size(), 0, 0, cv::INTER_LINEAR);
      int k = std::max(3, (std::min(r.width, r.height) / 3) | 1);
      cv::GaussianBlur(up, roi, cv::Size(k, k), 0);
    }
  }
}

cv::Rect head_region(const Detection& p, const RedactConfig& c, cv::Size frame) {
  const float w = p.x1 - p.x0, h = p.y1 - p.y0;
  if (w <= 0 || h <= 0) return {};
  const float hh = h * c.head_fraction;
  const float hw = std::max(w * c.head_width_fraction, hh * 0.8f);
  const float cx = 0.5f * (p.x0 + p.x1);
  const float mx = hw * c.margin * 0.5f, my = hh * c.margin * 0.5f;
  const int x0 = static_cast<int>(std::floor(cx - 0.5f * hw - mx));
  const int x1 = static_cast<int>(std::ceil(cx + 0.5f * hw + mx));
  const int y0 = static_cast<int>(std::floor(p.y0 - my));
  const int y1 = static_cast<int>(std::ceil(p.y0 + hh + my));
  return cv::Rect(x0, y0, x1 - x0, y1 - y0) & cv::Rect(0, 0, frame.width, frame.height);
}

Result<Redactor> Redactor::create(const RedactConfig& config) {
  if (!(config.face_score > 0.f && config.face_score < 1.f))
    return make_error("bad_config", fmt::format("redact.face_score: {} is not in (0,1)", config.face_score));
  if (!(config.face_nms > 0.f && config.face_nms <= 1.f))
    return make_error("bad_config", fmt::format("redact.face_nms: {} is not in (0,1]", config.face_nms));
  if (!(config.margin >= 0.f && config.margin <= 2.f))
    return make_error("bad_config", fmt::format("redact.margin: {} is not in [0,2]", config.margin));
  if (!(config.head_fraction > 0.f && config.head_fraction <= 1.f))
    return make_error("bad_config", fmt::format("redact.head_fraction: {} is not in (0,1]", config.head_fraction));
  if (!(config.head_width_fraction > 0.f && config.head_width_fraction <= 1.5f))
    return make_error("bad_config",
                      fmt::format("redact.head_width_fraction: {} is not in (0,1.5]", config.head_width_fraction));
  if (config.pixel_block < 2)
    return make_error("bad_config", fmt::format("redact.pixel_block: {} must be at least 2", config.pixel_block));
  if (config.verify_passes < 0 || config.verify_passes > 3)
    return make_error("bad_config", fmt::format("redact.verify_passes: {} is not in [0,3]", config.verify_passes));
  if (config.face_max_side < 64)
    return make_error("bad_config", fmt::format("redact.face_max_side: {} must be at least 64", config.face_max_side));
  std::string model =
      config.face_model.empty() ? (models_dir() / "face_yunet_2022feb_120x160.onnx").string() : config.face_model;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec))
    return make_error("model_not_found", fmt::format("{}: face model not found", model));
  Redactor r;
  r.config_ = config;
  try {
    r.face_ = cv::FaceDetectorYN::create(model, "", cv::Size(160, 120), config.face_score, config.face_nms, 5000);
  } catch (const cv::Exception& e) {
    return make_error("model_load", fmt::format("{}: cv::FaceDetectorYN cannot load it: {}", model, e.err));
  }
  if (!r.face_) return make_error("model_load", fmt::format("{}: cv::FaceDetectorYN returned nothing", model));
  return r;
}

std::vector<RedactRegion> Redactor::find_faces(const cv::Mat& bgr) {
  std::vector<RedactRegion> out;
  if (bgr.empty() || !face_) return out;
  cv::Mat img = bgr;
  if (img.channels() == 1) cv::cvtColor(bgr, img, cv::COLOR_GRAY2BGR);
  if (img.channels() == 4) cv::cvtColor(bgr, img, cv::COLOR_BGRA2BGR);
  double s = 1.0;
  const int side = std::max(img.cols, img.rows);
  if (side > config_.face_max_side) {
    s = static_cast<double>(config_.face_max_side) / side;
    cv::Mat small;
    cv::resize(img, small, cv::Size(), s, s, cv::INTER_AREA);
    img = small;
  }
  if (img.size() != input_size_) {
    face_->setInputSize(img.size());
    input_size_ = img.size();
  }
  cv::Mat faces;
  try {
    face_->detect(img, faces);
  } catch (const cv::Exception&) {
    return out;  // a frame the network cannot take (e.g. degenerate size): nothing found
  }
  const cv::Rect frame(0, 0, bgr.cols, bgr.rows);
  for (int i = 0; i < faces.rows; ++i) {
    const float* f = faces.ptr<float>(i);
    const double x = f[0] / s, y = f[1] / s, w = f[2] / s, h = f[3] / s;
    const double mx = w * config_.margin, my = h * config_.margin;
    cv::Rect r(static_cast<int>(std::floor(x - mx)), static_cast<int>(std::floor(y - my)),
               static_cast<int>(std::ceil(w + 2 * mx)), static_cast<int>(std::ceil(h + 2 * my)));
    r &= frame;
    if (r.width <= 0 || r.height <= 0) continue;
    out.push_back({r, true, f[14]});
  }
  return out;
}

RedactStats Redactor::redact(cv::Mat& bgr, const std::vector<Detection>& persons) {
  RedactStats st;
  if (bgr.empty()) return st;
  st.regions = find_faces(bgr);
  st.faces = static_cast<int>(st.regions.size());
  if (config_.person_heads) {
    for (const auto& p : persons) {
      if (p.label != "person") continue;
      if (p.y1 - p.y0 < static_cast<float>(config_.min_person_height)) continue;
      cv::Rect r = head_region(p, config_, bgr.size());
      if (r.width <= 0 || r.height <= 0) continue;
      st.regions.push_back({r, false, p.score});
      ++st.heads;
    }
  }
  std::vector<cv::Rect> rects;
  rects.reserve(st.regions.size());
  for (const auto& r : st.regions) rects.push_back(r.box);
  apply_redaction(bgr, rects, config_.method, config_.pixel_block);
  for (int pass = 0; pass < config_.verify_passes && !st.regions.empty(); ++pass) {
    auto again = find_faces(bgr);
    if (again.empty()) break;
    rects.clear();
    for (const auto& r : again) rects.push_back(r.box);
    apply_redaction(bgr, rects, config_.method, config_.pixel_block);
    st.faces += static_cast<int>(again.size());
    st.regions.insert(st.regions.end(), again.begin(), again.end());
  }
  return st;
}

RedactStats Redactor::redact(cv::Mat& bgr, Detector& detector) {
  if (bgr.empty()) return {};
  return redact(bgr, detector.detect(bgr));
}

}  // namespace tw::video
