#pragma once
// Zone polygons (farmland parcels) in image pixels.
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/result.hpp"

namespace tw::change {

struct Zone {
  std::string name;
  std::vector<cv::Point2d> points;  // polygon vertices in input pixels (at least 3)
};

// Parses "x,y,x,y,..." (at least 3 points, finite, non-negative). Error bad_zone naming the token.
Result<Zone> parse_zone(std::string_view text, std::string name = "zone");
// Checks the zone against an image size: every vertex inside, non-zero area. Error bad_zone.
Status check_zone(const Zone& zone, cv::Size image);
// Filled CV_8U mask (255 inside) of the given size.
cv::Mat zone_mask(const Zone& zone, cv::Size image);
// Union of several zones; empty list = whole image.
cv::Mat zones_mask(const std::vector<Zone>& zones, cv::Size image);

}  // namespace tw::change
