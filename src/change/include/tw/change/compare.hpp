#pragma once
// Structural comparison of two captures of one view (land-use change on farmland).
//
//   auto r = tw::change::compare(reference_bgr, current_bgr, tw::change::CompareOptions{});
//   if (!r) { r.error().code: empty_image | size_mismatch | bad_zone | bad_option }
//   r->changed, r->score, r->changed_fraction, r->regions, r->mask (CV_8U, input size, 255 = changed)
//
// Method (docs/change.md): both images are converted to grey, scaled to a working size and registered to a
// common half-way frame (ECC, Euclidean, on gradient magnitude, seeded by phase correlation); a registration
// whose correlation is too low or whose motion is too large reports "view moved" instead of a change. Each
// image is described at every pixel by histograms of gradient orientation pooled at three scales and divided by
// the image's own typical contrast (so brightness, colour and global contrast do not matter). The distance
// between the two descriptors is symmetric in the order of the images. Pixels far above the image's own
// distance level are changed; transient objects (people, vehicles, parasols... found by the detector in either
// image) and everything outside the zone are excluded; small blobs are dropped. The pair changed structurally
// when that mask covers decision_fraction of the analysed area. Only then, a learned change head (tw/change/
// head.hpp, symmetric in the order) outlines what changed: its mask gives changed_fraction and the regions when
// it covers at least head_min_fraction; otherwise the structural mask stands. Unchanged pairs have an empty mask.
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"

namespace tw::change {

// Returns a CV_8U mask of bgr's size, non-zero over transient objects (people, vehicles...), or an empty Mat.
using TransientMasker = std::function<cv::Mat(const cv::Mat& bgr)>;

struct CompareOptions {
  int work_max_side = 512;          // images are analysed with their long side scaled down to this
  double pre_blur_sigma = 1.0;      // denoising before gradients (working pixels)
  std::vector<double> pool_sigmas{1.0, 2.0, 4.0, 8.0, 16.0};  // descriptor pooling scales (working pixels at 512;
                                                               // scaled with the working size)
  double contrast_floor = 1.0;      // descriptor normaliser = energy + floor * median energy of the image
  double threshold = 0.5;           // minimum descriptor distance of a changed pixel (0..~1.4)
  double grow_threshold = 0.4;      // changed regions grow through connected pixels above this (hysteresis;
                                    // >= threshold disables growing)
  double robust_k = 0.0;            // optional: also at least median + k * 1.4826 * MAD of the image's distances
  double min_region_fraction = 0.0005;  // blobs smaller than this fraction of the working image are dropped
  double decision_fraction = 0.28;  // changed = changed pixels >= this fraction of the analysed area
  double transient_dilate = 0.01;   // transient boxes grow by this fraction of the image diagonal
  // Registration quality check.
  // "View moved" = a motion beyond max_shift_fraction of the diagonal or max_rotation_deg, found by ECC with a
  // correlation of at least min_registration_corr that beats the unmoved correlation by min_registration_gain.
  // Smaller trusted motions are compensated; untrusted estimates are ignored (the images are compared as they are).
  double min_registration_corr = 0.5;
  double min_registration_gain = 0.15;
  double max_shift_fraction = 0.05;
  double max_rotation_deg = 3.0;
  // Visibility check: darker or flatter than this relative to the other capture is not comparable (night, fog).
  double min_visibility_ratio = 0.35;
  double min_mean_luma = 25.0;          // 0..255; darker captures are not comparable
  // Learned change head (tools/change/README.md). It outlines what changed once the structural comparison has
  // decided that the pair changed: the mask is then the head's probability >= head_threshold inside the
  // analysed area when that covers at least head_min_fraction of it; otherwise the structural mask stays (the
  // head, trained on aerial views, never vetoes a structural change).
  // use_head = false keeps the structural mask (docs/change.md).
  bool use_head = true;
  std::string head_model;               // ONNX path; empty = $TOWERWATCH_CHANGE_HEAD or the shipped model
  double head_threshold = 0.5;          // 0..1, probability of a changed pixel
  double head_min_fraction = 0.002;     // of the analysed area
  int head_views = 4;                   // 1, 4 or 8 test-time views averaged (flips; 8 adds the transposes)
};

struct Region {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // bounding box in input pixels, x1/y1 exclusive
  double area_px = 0;                  // changed pixels in input pixels
  double score = 0;                    // mean head probability (or descriptor distance without the head) inside
};

enum class CompareStatus { ok, view_moved, low_visibility };
const char* to_string(CompareStatus s);

struct Registration {
  double dx = 0, dy = 0;   // translation of current relative to reference (input pixels)
  double rotation_deg = 0;
  double correlation = 0;  // ECC correlation coefficient of the aligned gradient-magnitude images
  double identity_correlation = 0;  // the same without any motion
  bool converged = false;
};

struct CompareResult {
  CompareStatus status = CompareStatus::ok;
  bool changed = false;
  double score = 0;             // 0..1; >= 0.5 exactly when changed
  double changed_fraction = 0;  // mask pixels / analysed pixels (inside the zone, outside transients)
  std::vector<Region> regions;  // connected parts of the mask, largest first
  cv::Mat mask;                 // CV_8U, input size, 255 = changed, 0 elsewhere (reference frame); with the head,
                                // empty unless the pair changed
  double structural_fraction = 0;   // share of the analysed area whose structure changed
  bool structural_changed = false;  // structural_fraction >= decision_fraction
  bool head_used = false;           // the mask comes from the change head
  Registration registration;
  double visibility_reference = 0;  // typical gradient contrast of each capture (working pixels)
  double visibility_current = 0;
  double transient_fraction = 0;    // share of the analysed area masked as transient
  double distance_median = 0;       // descriptor distance statistics over the analysed area
  double distance_mad = 0;
  double threshold_used = 0;        // max(threshold, median + k * 1.4826 * MAD)
  // Diagnostics in the working (half-way) frame: descriptor distance (CV_32F) and transient mask (CV_8U).
  cv::Mat distance;
  cv::Mat transients;
  cv::Mat probability;  // change head probability (CV_32F, working frame) when it ran
};

// Validates the options (error bad_option naming the field).
Status validate(const CompareOptions& opt);

// zone_mask: optional CV_8U mask of the input size (non-zero = counts). masker: optional transient detector,
// applied to both images; the union of both masks is excluded so the result does not depend on the order.
Result<CompareResult> compare(const cv::Mat& reference, const cv::Mat& current, const CompareOptions& opt = {},
                              const cv::Mat& zone_mask = {}, const TransientMasker& masker = {});

// Reads an image file as 8-bit BGR. Errors: not_found, bad_image (names the file).
Result<cv::Mat> load_image(const std::string& path);

}  // namespace tw::change
