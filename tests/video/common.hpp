#pragma once
// Shared helpers for the video tests: paths of the recorded data and a few frames of it.
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "tw/core/paths.hpp"

namespace tw::video::testing {

inline std::string pets_dir() { return (tw::data_dir() / "video" / "pets09_s2l1").string(); }
inline std::string pets_video() { return pets_dir() + "/pets09_s2l1_opencv_vtest_480x360.avi"; }
inline std::string pets_gt() { return pets_dir() + "/gt/gt.txt"; }
inline std::string tud_video() { return (tw::data_dir() / "video" / "tud_campus" / "TUD-Campus.mp4").string(); }
inline std::string faces_photo(const char* name) {
  return (tw::data_dir() / "video" / "faces_libfacedetection" / name).string();
}

// Frame `index` (0-based) of a video, read sequentially.
inline cv::Mat read_frame(const std::string& path, int index) {
  cv::VideoCapture cap(path, cv::CAP_FFMPEG);
  cv::Mat f;
  for (int i = 0; i <= index; ++i)
    if (!cap.read(f)) return {};
  return f.clone();
}

}  // namespace tw::video::testing
