#pragma once
// Illumination-invariant structure descriptors (private to the change module).
#include <vector>

#include <opencv2/core.hpp>

namespace tw::change {

struct StructureParams {
  int bins = 6;                     // unsigned gradient orientation bins over 0..180 degrees
  std::vector<double> pool_sigmas;  // pooling scales in pixels
  double contrast_floor = 1.0;      // normaliser = energy + floor * median energy
};

cv::Mat to_grey(const cv::Mat& bgr);                 // CV_8U
cv::Mat gradient_magnitude(const cv::Mat& grey32);   // CV_32F
double typical_contrast(const cv::Mat& grad_mag);    // median gradient magnitude
// Per-pixel distance (CV_32F) between the structure descriptors of two aligned CV_32F grey images.
cv::Mat structure_distance(const cv::Mat& a, const cv::Mat& b, const StructureParams& p);
// Gaussian pooling, fast for large sigmas (pyramid down, blur, back up).
void pool(const cv::Mat& src, cv::Mat& dst, double sigma);
// Median and median absolute deviation of the values under mask (non-zero).
void median_mad(const cv::Mat& values32, const cv::Mat& mask, double& median, double& mad);
double percentile(std::vector<float> v, double q);

}  // namespace tw::change
