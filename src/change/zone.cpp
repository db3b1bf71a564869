#include "tw/change/zone.hpp"

#include <charconv>
#include <cmath>

#include <fmt/core.h>
#include <opencv2/imgproc.hpp>

namespace tw::change {

Result<Zone> parse_zone(std::string_view text, std::string name) {
  Zone z;
  z.name = std::move(name);
  std::vector<double> v;
  size_t pos = 0;
  int index = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view tok = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    double d = 0;
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), d);
    if (tok.empty() || ec != std::errc() || p != tok.data() + tok.size() || !std::isfinite(d))
      return make_error("bad_zone", fmt::format("zone '{}': value {} ('{}') is not a number", z.name, index + 1, tok));
    if (d < 0) return make_error("bad_zone", fmt::format("zone '{}': value {} ({}) is negative", z.name, index + 1, d));
    v.push_back(d);
    ++index;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (v.size() % 2 != 0)
    return make_error("bad_zone", fmt::format("zone '{}': {} values, expected x,y pairs", z.name, v.size()));
  if (v.size() < 6)
    return make_error("bad_zone", fmt::format("zone '{}': {} points, a polygon needs at least 3", z.name, v.size() / 2));
  for (size_t i = 0; i < v.size(); i += 2) z.points.emplace_back(v[i], v[i + 1]);
  return z;
}

Status check_zone(const Zone& zone, cv::Size image) {
  if (zone.points.size() < 3)
    return make_error("bad_zone", fmt::format("zone '{}': a polygon needs at least 3 points", zone.name));
  double area = 0;
  for (size_t i = 0; i < zone.points.size(); ++i) {
    const auto& p = zone.points[i];
    if (p.x < 0 || p.y < 0 || p.x > image.width || p.y > image.height)
      return make_error("bad_zone", fmt::format("zone '{}': point {} ({},{}) is outside the {}x{} image", zone.name,
                                                i + 1, p.x, p.y, image.width, image.height));
    const auto& q = zone.points[(i + 1) % zone.points.size()];
    area += p.x * q.y - q.x * p.y;
  }
  if (std::abs(area) / 2 < 1.0)
    return make_error("bad_zone", fmt::format("zone '{}': polygon has no area", zone.name));
  return {};
}

cv::Mat zone_mask(const Zone& zone, cv::Size image) {
  cv::Mat m = cv::Mat::zeros(image, CV_8U);
  std::vector<cv::Point> pts;
  for (const auto& p : zone.points) pts.emplace_back(static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y)));
  std::vector<std::vector<cv::Point>> polys{pts};
  cv::fillPoly(m, polys, cv::Scalar(255));
  return m;
}

cv::Mat zones_mask(const std::vector<Zone>& zones, cv::Size image) {
  if (zones.empty()) return cv::Mat(image, CV_8U, cv::Scalar(255));
  cv::Mat m = cv::Mat::zeros(image, CV_8U);
  for (const auto& z : zones) m |= zone_mask(z, image);
  return m;
}

}  // namespace tw::change
