#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tw/change/compare.hpp"
#include "tw/core/paths.hpp"

namespace tw::change::test {

inline std::filesystem::path levir() { return tw::data_dir() / "change" / "levir_cd_samples"; }
inline std::filesystem::path webcam(const std::string& cam) { return tw::data_dir() / "change" / "webcam_timelapse" / cam; }

inline cv::Mat load(const std::filesystem::path& p) {
  auto r = tw::change::load_image(p.string());
  EXPECT_TRUE(r.ok()) << p << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : cv::Mat();
}

// Pixel F1 of a predicted mask against a {0,255} label.
inline double pixel_f1(const cv::Mat& pred, const cv::Mat& label) {
  cv::Mat p = pred > 127, g = label > 127;
  double tp = cv::countNonZero(p & g), np = cv::countNonZero(p), ng = cv::countNonZero(g);
  return np + ng > 0 ? 2 * tp / (np + ng) : 1.0;
}

}  // namespace tw::change::test
