#include "tw/change/head.hpp"

#include <fmt/core.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "tw/core/paths.hpp"
#include "tw/video/detector.hpp"

namespace tw::change {

namespace {

constexpr int kMultiple = 8;  // the backbone's coarsest stride

struct Cache {
  std::mutex mu;
  std::map<std::string, cv::dnn::Net> nets;
};

Cache& cache() {
  static Cache c;
  return c;
}

}  // namespace

std::string default_change_head_path() {
  return shipped_path("TOWERWATCH_CHANGE_HEAD", "tools/change/change_head.onnx",
                      TW_CHANGE_SOURCE_DIR "/tools/change/change_head.onnx")
      .string();
}

namespace {

// Test-time view k (0..7) of an image: k & 3 selects no flip, left-right, upside-down or both; k >= 4
// transposes first. unview maps a probability map of view k back.
constexpr int kNoFlip = 2;
constexpr int kFlipCode[4] = {kNoFlip, 1, 0, -1};

cv::Mat view(const cv::Mat& img, int k) {
  cv::Mat t = img, out;
  if (k >= 4) cv::transpose(img, t);
  if (kFlipCode[k & 3] == kNoFlip) return t;
  cv::flip(t, out, kFlipCode[k & 3]);
  return out;
}

cv::Mat unview(const cv::Mat& img, int k) {
  cv::Mat t = img, out;
  if (kFlipCode[k & 3] != kNoFlip) cv::flip(img, t, kFlipCode[k & 3]);
  if (k < 4) return t;
  cv::transpose(t, out);
  return out;
}

Result<cv::Mat> probability_once(const cv::Mat& a_bgr, const cv::Mat& b_bgr, const std::string& path) {
  cv::Mat a = tw::video::standardised_blob(a_bgr, kMultiple), b = tw::video::standardised_blob(b_bgr, kMultiple);
  cv::Mat out;
  {
    auto& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.nets.find(path);
    if (it == c.nets.end()) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(path, ec))
        return make_error(
            "model_missing",
            fmt::format("change head model {} not found (set TOWERWATCH_CHANGE_HEAD, the option "
                        "head_model, or run from the source tree; tools/change/README.md)",
                        path));
      try {
        cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        it = c.nets.emplace(path, net).first;
      } catch (const cv::Exception& e) {
        return make_error("model_error",
                          fmt::format("change head model {}: cannot load ({})", path, e.what()));
      }
    }
    try {
      it->second.setInput(a, "a");
      it->second.setInput(b, "b");
      out = it->second.forward("prob").clone();
    } catch (const cv::Exception& e) {
      return make_error("model_error", fmt::format("change head model {}: {}", path, e.what()));
    }
  }
  if (out.dims != 4 || out.size[2] * 2 != a.size[2] || out.size[3] * 2 != a.size[3])
    return make_error("model_error", fmt::format("change head model {}: unexpected output shape", path));
  cv::Mat half(out.size[2], out.size[3], CV_32F, out.ptr<float>(0, 0));
  cv::Mat full;
  cv::resize(half, full, cv::Size(half.cols * 2, half.rows * 2), 0, 0, cv::INTER_LINEAR);
  return full(cv::Rect(0, 0, a_bgr.cols, a_bgr.rows)).clone();
}

}  // namespace

Result<cv::Mat> change_probability(const cv::Mat& a_bgr, const cv::Mat& b_bgr, const std::string& model,
                                   int views) {
  if (a_bgr.empty() || b_bgr.empty() || a_bgr.size() != b_bgr.size() || a_bgr.type() != CV_8UC3 ||
      b_bgr.type() != CV_8UC3)
    return make_error("bad_image", "change head: needs two BGR 8-bit images of the same size");
  if (views != 1 && views != 4 && views != 8) return make_error("bad_option", "change head: views must be 1, 4 or 8");
  const std::string path = model.empty() ? default_change_head_path() : model;
  cv::Mat sum;
  for (int k = 0; k < views; ++k) {
    auto p = probability_once(view(a_bgr, k), view(b_bgr, k), path);
    if (!p) return p.error();
    if (sum.empty())
      sum = unview(*p, k);
    else
      sum += unview(*p, k);
  }
  return cv::Mat(sum / views);
}

}  // namespace tw::change
