#pragma once
// Bearings from camera pixels, and fire location from two or more bearings on the WGS84 ellipsoid.
//
//   tw::wildfire::CameraPose pose{.position = {32.9, -116.4}, .azimuth_deg = 120, .hfov_deg = 60};
//   tw::wildfire::Bearing b = tw::wildfire::pixel_bearing(pose, 640, 480, box_cx, box_cy, box_half_w);
//   auto fix = tw::wildfire::triangulate({{pos1, b1.azimuth_deg, b1.sigma_deg}, {pos2, ...}});
//   // fix->position, fix->ellipse.semi_major_m ... (95% confidence)
#include <string>
#include <vector>

#include "tw/core/geo.hpp"
#include "tw/core/result.hpp"

namespace tw::wildfire {

enum class Projection { rectilinear, equidistant };  // pinhole, or fisheye-like (angle proportional to radius)
// "rectilinear" | "equidistant"; error bad_config otherwise.
Result<Projection> parse_projection(const std::string& name);

struct CameraPose {
  LatLon position;               // camera (tower) position
  double azimuth_deg = 0;        // azimuth of the optical axis at pan 0, clockwise from true north
  double hfov_deg = 60;          // horizontal field of view at the current zoom
  double tilt_deg = 0;           // optical axis above (+) or below (-) the horizon
  double pan_deg = 0;            // PTZ pan reported by the camera, added to azimuth_deg
  double sigma_deg = 0.5;        // 1-sigma uncertainty of the calibration (azimuth and pan readout)
  Projection projection = Projection::rectilinear;
};
// Errors bad_config naming the field: hfov outside (0, 180), tilt outside [-90, 90], non-finite values,
// latitude outside [-90, 90], sigma < 0.
Status validate(const CameraPose& pose);

struct Bearing {
  double azimuth_deg = 0;    // [0, 360), clockwise from true north
  double elevation_deg = 0;  // above the horizon
  double sigma_deg = 0;      // 1-sigma azimuth uncertainty: calibration + box width + pixel quantisation
};

// Bearing of image point (x, y) (pixels, origin top-left) in a width x height frame. half_width_px is half the
// width of the detected box: the fire may be anywhere across it, which widens sigma (uniform spread).
Bearing pixel_bearing(const CameraPose& pose, int width, int height, double x, double y, double half_width_px = 0);

struct BearingObservation {
  LatLon origin;             // where the bearing was taken
  double azimuth_deg = 0;
  double sigma_deg = 1;      // 1-sigma, > 0
  std::string source;        // free text (site/camera), carried into diagnostics
};

struct ErrorEllipse {
  double semi_major_m = 0;
  double semi_minor_m = 0;
  double major_azimuth_deg = 0;  // azimuth of the major axis, [0, 180)
  double confidence = 0.95;
};

struct Fix {
  LatLon position;
  ErrorEllipse ellipse;
  double cov_en[3] = {0, 0, 0};  // covariance (m^2): east-east, east-north, north-north
  double rms_residual_deg = 0;   // of the bearings about the fix (0 for exactly two)
  int observations = 0;
  int iterations = 0;
  // Squared Mahalanobis distance of a point from the fix (east/north metres via the covariance);
  // <= 5.991 means inside the 95% ellipse.
  double mahalanobis2(LatLon p) const;
};

struct TriangulationConfig {
  double max_range_km = 80;   // a fix farther than this from any observer is rejected
  double min_crossing_deg = 5;  // two bearings crossing at a smaller angle give no usable fix
  double confidence = 0.95;
  int max_iterations = 20;
};

// Weighted least-squares intersection of geodesic bearings (Gauss-Newton on the ellipsoid, GeographicLib).
// Errors: too_few (< 2 observations), bad_input (sigma <= 0, non-finite), no_intersection (rays diverge,
// cross behind an observer, too shallow a crossing, or beyond max_range_km).
Result<Fix> triangulate(const std::vector<BearingObservation>& obs, const TriangulationConfig& config = {});

// Wraps an angle difference to (-180, 180].
double wrap180(double deg);
double wrap360(double deg);

}  // namespace tw::wildfire
