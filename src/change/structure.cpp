#include "structure.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace tw::change {

cv::Mat to_grey(const cv::Mat& img) {
  cv::Mat g;
  if (img.channels() == 1) {
    g = img;
  } else if (img.channels() == 4) {
    cv::cvtColor(img, g, cv::COLOR_BGRA2GRAY);
  } else {
    cv::cvtColor(img, g, cv::COLOR_BGR2GRAY);
  }
  return g;
}

cv::Mat gradient_magnitude(const cv::Mat& grey32) {
  cv::Mat gx, gy, m;
  cv::Sobel(grey32, gx, CV_32F, 1, 0, 3, 0.125);
  cv::Sobel(grey32, gy, CV_32F, 0, 1, 3, 0.125);
  cv::magnitude(gx, gy, m);
  return m;
}

double percentile(std::vector<float> v, double q) {
  if (v.empty()) return 0;
  auto k = static_cast<size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

double typical_contrast(const cv::Mat& gm) {
  std::vector<float> v;
  v.reserve(gm.total());
  for (int y = 0; y < gm.rows; ++y) {
    const float* p = gm.ptr<float>(y);
    v.insert(v.end(), p, p + gm.cols);
  }
  return percentile(std::move(v), 0.5);
}

void median_mad(const cv::Mat& values, const cv::Mat& mask, double& median, double& mad) {
  std::vector<float> v;
  v.reserve(values.total());
  for (int y = 0; y < values.rows; ++y) {
    const float* p = values.ptr<float>(y);
    const uchar* m = mask.empty() ? nullptr : mask.ptr<uchar>(y);
    for (int x = 0; x < values.cols; ++x)
      if (!m || m[x]) v.push_back(p[x]);
  }
  median = percentile(v, 0.5);
  for (float& f : v) f = std::abs(f - static_cast<float>(median));
  mad = percentile(std::move(v), 0.5);
}

void pool(const cv::Mat& src, cv::Mat& dst, double sigma) {
  // Each halving of the resolution halves the sigma still to apply; keep at least 1.5 px at the coarse level.
  int levels = 0;
  double s = sigma;
  cv::Mat cur = src;
  while (s > 3.0 && std::min(cur.cols, cur.rows) >= 32) {
    cv::Mat down;
    cv::resize(cur, down, cv::Size((cur.cols + 1) / 2, (cur.rows + 1) / 2), 0, 0, cv::INTER_AREA);
    cur = down;
    s /= 2;
    ++levels;
  }
  cv::Mat blurred;
  cv::GaussianBlur(cur, blurred, cv::Size(), s, s, cv::BORDER_REFLECT);
  if (levels == 0) {
    dst = blurred;
  } else {
    cv::resize(blurred, dst, src.size(), 0, 0, cv::INTER_LINEAR);
  }
}

namespace {

std::vector<cv::Mat> orientation_channels(const cv::Mat& grey32, int bins) {
  cv::Mat gx, gy, mag, ang;
  cv::Sobel(grey32, gx, CV_32F, 1, 0, 3, 0.125);
  cv::Sobel(grey32, gy, CV_32F, 0, 1, 3, 0.125);
  cv::cartToPolar(gx, gy, mag, ang);  // radians 0..2pi
  std::vector<cv::Mat> ch(static_cast<size_t>(bins));
  for (auto& c : ch) c = cv::Mat::zeros(grey32.size(), CV_32F);
  const float per_bin = static_cast<float>(bins) / static_cast<float>(CV_PI);
  for (int y = 0; y < grey32.rows; ++y) {
    const float* m = mag.ptr<float>(y);
    const float* a = ang.ptr<float>(y);
    for (int x = 0; x < grey32.cols; ++x) {
      float t = a[x];
      if (t >= static_cast<float>(CV_PI)) t -= static_cast<float>(CV_PI);
      float pos = t * per_bin - 0.5f;
      float f = std::floor(pos);
      float w1 = pos - f;
      int b0 = static_cast<int>(f);
      b0 = (b0 % bins + bins) % bins;
      int b1 = (b0 + 1) % bins;
      ch[static_cast<size_t>(b0)].ptr<float>(y)[x] += m[x] * (1 - w1);
      ch[static_cast<size_t>(b1)].ptr<float>(y)[x] += m[x] * w1;
    }
  }
  return ch;
}

// Pooled, contrast-normalised descriptor channels at one scale.
std::vector<cv::Mat> describe(const std::vector<cv::Mat>& ch, double sigma, double floor_k) {
  std::vector<cv::Mat> p(ch.size());
  cv::Mat energy = cv::Mat::zeros(ch[0].size(), CV_32F);
  for (size_t i = 0; i < ch.size(); ++i) {
    pool(ch[i], p[i], sigma);
    energy += p[i].mul(p[i]);
  }
  cv::sqrt(energy, energy);
  double med = typical_contrast(energy);
  cv::Mat norm = energy + (floor_k * med + 1e-6);
  for (auto& m : p) cv::divide(m, norm, m);
  return p;
}

}  // namespace

cv::Mat structure_distance(const cv::Mat& a, const cv::Mat& b, const StructureParams& prm) {
  auto ca = orientation_channels(a, prm.bins);
  auto cb = orientation_channels(b, prm.bins);
  cv::Mat total = cv::Mat::zeros(a.size(), CV_32F);
  for (double s : prm.pool_sigmas) {
    auto da = describe(ca, s, prm.contrast_floor);
    auto db = describe(cb, s, prm.contrast_floor);
    cv::Mat d2 = cv::Mat::zeros(a.size(), CV_32F);
    for (size_t i = 0; i < da.size(); ++i) {
      cv::Mat diff = da[i] - db[i];
      d2 += diff.mul(diff);
    }
    cv::sqrt(d2, d2);
    total += d2;
  }
  total *= 1.0 / static_cast<double>(prm.pool_sigmas.size());
  return total;
}

}  // namespace tw::change
