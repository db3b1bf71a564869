#pragma once
// Face redaction of frames that leave the analytics process (snapshots, clips, live view).
// Faces are found with YuNet (cv::FaceDetectorYN, face_yunet_2022feb_120x160.onnx) and, because faces that are
// too small or turned away escape any face detector, the head region of every person box is redacted too.
// Faces are only ever detected to be blurred: nothing here describes or compares faces.
//
// Stable API (used by the video, wildfire and change modules):
//   auto r = tw::video::Redactor::create(tw::video::RedactConfig{});
//   if (!r) { ... r.error().message ... }
//   tw::video::RedactStats s = r->redact(frame);                 // faces only, in place
//   tw::video::RedactStats s = r->redact(frame, person_boxes);   // faces + head regions of person boxes
//   tw::video::RedactStats s = r->redact(frame, detector);       // runs the detector for the persons
// A Redactor is not thread-safe: use one per worker thread.
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"
#include "tw/video/detector.hpp"

namespace cv {
class FaceDetectorYN;
}

namespace tw::video {

enum class RedactMethod { blur, pixelate };
// "blur" | "pixelate"; error bad_config otherwise.
Result<RedactMethod> parse_redact_method(const std::string& name);

struct RedactConfig {
  std::string face_model;          // empty = <models_dir>/face_yunet_2022feb_120x160.onnx
  float face_score = 0.5f;         // YuNet score threshold (low: a missed face is worse than a blurred patch)
  float face_nms = 0.3f;
  int face_max_side = 1280;        // frames larger than this are downscaled for face detection only
  RedactMethod method = RedactMethod::blur;
  float margin = 0.35f;            // each face box grows by this fraction of its size on every side
  bool person_heads = true;        // also redact the head region of each person box
  float head_fraction = 0.22f;     // head region = top fraction of the person box height ...
  float head_width_fraction = 0.8f;  // ... and this central fraction of its width (grown by margin)
  int pixel_block = 10;            // pixelate: cell size in pixels (at least 2)
  int min_person_height = 0;       // person boxes smaller than this (pixels) are ignored; 0 = none
  int verify_passes = 1;           // look for faces again in the redacted frame and redact those too (0 = off):
                                   // blurring a neighbour can reveal a face YuNet missed in the crowded original
};

// One region to redact, in frame pixels.
struct RedactRegion {
  cv::Rect box;
  bool from_face = true;  // false: head region of a person box
  float score = 0;
};

struct RedactStats {
  int faces = 0;  // YuNet faces redacted
  int heads = 0;  // head regions of person boxes redacted
  std::vector<RedactRegion> regions;
};

// Redacts the given regions of bgr in place (each clipped to the frame). Blur strength scales with the
// region so that a face cannot be recovered from what is left.
void apply_redaction(cv::Mat& bgr, const std::vector<cv::Rect>& regions, RedactMethod method, int pixel_block = 10);

// Head region of a person box (frame pixels, clipped), as used by Redactor.
cv::Rect head_region(const Detection& person, const RedactConfig& config, cv::Size frame);

class Redactor {
 public:
  // Errors: model_not_found, model_load, bad_config (names the key).
  static Result<Redactor> create(const RedactConfig& config);

  // YuNet faces (grown by margin, clipped) without changing the frame.
  std::vector<RedactRegion> find_faces(const cv::Mat& bgr);

  // Redacts faces and the head regions of the "person" detections, in place.
  RedactStats redact(cv::Mat& bgr, const std::vector<Detection>& persons = {});
  // Same, with the person boxes found by `detector` (only label "person" is used).
  RedactStats redact(cv::Mat& bgr, Detector& detector);

  const RedactConfig& config() const { return config_; }

 private:
  Redactor() = default;
  RedactConfig config_;
  cv::Ptr<cv::FaceDetectorYN> face_;
  cv::Size input_size_{0, 0};
};

}  // namespace tw::video
