#include "tw/wildfire/geometry.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <GeographicLib/Geodesic.hpp>
#include <fmt/core.h>

namespace tw::wildfire {
namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

bool finite(double v) { return std::isfinite(v); }

struct Dir3 {
  double east, north, up;
};

// Unit view direction of image offset (u right, v down, pixels from the centre) in ENU.
Dir3 view_direction(const CameraPose& pose, int width, double u, double v) {
  const double half_fov = pose.hfov_deg * kDeg / 2.0;
  double x = 0, y = 0, z = 1;  // camera frame: x right, y up, z forward
  if (pose.projection == Projection::rectilinear) {
    const double f = (width / 2.0) / std::tan(half_fov);
    x = u;
    y = -v;
    z = f;
  } else {
    const double f = (width / 2.0) / half_fov;  // pixels per radian
    const double r = std::hypot(u, v);
    const double theta = r / f;
    const double s = r > 0 ? std::sin(theta) / r : 0.0;
    x = u * s;
    y = -v * s;
    z = std::cos(theta);
  }
  const double t = pose.tilt_deg * kDeg;
  const double y2 = y * std::cos(t) + z * std::sin(t);
  const double z2 = -y * std::sin(t) + z * std::cos(t);
  const double a = (pose.azimuth_deg + pose.pan_deg) * kDeg;
  Dir3 d{x * std::cos(a) + z2 * std::sin(a), -x * std::sin(a) + z2 * std::cos(a), y2};
  const double n = std::sqrt(d.east * d.east + d.north * d.north + d.up * d.up);
  return {d.east / n, d.north / n, d.up / n};
}

double dir_azimuth(const Dir3& d) { return wrap360(std::atan2(d.east, d.north) / kDeg); }

}  // namespace

double wrap180(double deg) {
  double r = std::fmod(deg, 360.0);
  if (r <= -180.0) r += 360.0;
  if (r > 180.0) r -= 360.0;
  return r;
}

double wrap360(double deg) {
  double r = std::fmod(deg, 360.0);
  if (r < 0) r += 360.0;
  if (r >= 360.0) r -= 360.0;
  return r;
}

Result<Projection> parse_projection(const std::string& name) {
  if (name == "rectilinear") return Projection::rectilinear;
  if (name == "equidistant") return Projection::equidistant;
  return make_error("bad_config", fmt::format("projection: '{}' is not rectilinear or equidistant", name));
}

Status validate(const CameraPose& p) {
  auto bad = [](const std::string& m) { return make_error("bad_config", m); };
  if (!finite(p.position.lat) || p.position.lat < -90 || p.position.lat > 90)
    return bad(fmt::format("camera lat {} outside [-90, 90]", p.position.lat));
  if (!finite(p.position.lon)) return bad("camera lon is not finite");
  if (!finite(p.azimuth_deg)) return bad("camera azimuth_deg is not finite");
  if (!finite(p.pan_deg)) return bad("camera pan_deg is not finite");
  if (!finite(p.hfov_deg) || p.hfov_deg <= 0 || p.hfov_deg >= 180)
    return bad(fmt::format("camera hfov_deg {} outside (0, 180)", p.hfov_deg));
  if (!finite(p.tilt_deg) || p.tilt_deg < -90 || p.tilt_deg > 90)
    return bad(fmt::format("camera tilt_deg {} outside [-90, 90]", p.tilt_deg));
  if (!finite(p.sigma_deg) || p.sigma_deg < 0) return bad(fmt::format("camera sigma_deg {} < 0", p.sigma_deg));
  return {};
}

Bearing pixel_bearing(const CameraPose& pose, int width, int height, double x, double y, double half_width_px) {
  const double u = x - width / 2.0;
  const double v = y - height / 2.0;
  const Dir3 d = view_direction(pose, width, u, v);
  Bearing b;
  b.azimuth_deg = dir_azimuth(d);
  b.elevation_deg = std::asin(std::clamp(d.up, -1.0, 1.0)) / kDeg;
  // The fire may be anywhere across the box: a uniform spread of the box's angular width.
  const double hw = std::max(0.5, half_width_px);
  const double left = dir_azimuth(view_direction(pose, width, u - hw, v));
  const double right = dir_azimuth(view_direction(pose, width, u + hw, v));
  const double spread = std::abs(wrap180(right - left)) / 2.0;
  const double width_sigma = spread / std::sqrt(3.0);
  b.sigma_deg = std::sqrt(pose.sigma_deg * pose.sigma_deg + width_sigma * width_sigma);
  return b;
}

double Fix::mahalanobis2(LatLon p) const {
  double s = 0, a1 = 0, a2 = 0;
  GeographicLib::Geodesic::WGS84().Inverse(position.lat, position.lon, p.lat, p.lon, s, a1, a2);
  const double e = s * std::sin(a1 * kDeg), n = s * std::cos(a1 * kDeg);
  const double det = cov_en[0] * cov_en[2] - cov_en[1] * cov_en[1];
  if (det <= 0) return std::numeric_limits<double>::infinity();
  // [e n] C^-1 [e n]^T with C^-1 = [c -b; -b a] / det
  return (e * e * cov_en[2] - 2 * e * n * cov_en[1] + n * n * cov_en[0]) / det;
}

Result<Fix> triangulate(const std::vector<BearingObservation>& obs, const TriangulationConfig& cfg) {
  if (obs.size() < 2) return make_error("too_few", fmt::format("triangulation needs 2+ bearings, got {}", obs.size()));
  for (size_t i = 0; i < obs.size(); ++i) {
    const auto& o = obs[i];
    if (!finite(o.azimuth_deg) || !finite(o.origin.lat) || !finite(o.origin.lon) || o.origin.lat < -90 ||
        o.origin.lat > 90)
      return make_error("bad_input", fmt::format("bearing {} ({}): non-finite or out-of-range value", i, o.source));
    if (!finite(o.sigma_deg) || o.sigma_deg <= 0)
      return make_error("bad_input", fmt::format("bearing {} ({}): sigma_deg {} must be > 0", i, o.source, o.sigma_deg));
  }
  const auto& geod = GeographicLib::Geodesic::WGS84();

  // Initial guess: intersections of pairs of rays in a local tangent plane at the first observer
  // (east/north metres from azimuthal-equidistant style offsets), averaged.
  const LatLon o0 = obs[0].origin;
  auto to_plane = [&](LatLon p, double& e, double& n) {
    double s = 0, a1 = 0, a2 = 0;
    geod.Inverse(o0.lat, o0.lon, p.lat, p.lon, s, a1, a2);
    e = s * std::sin(a1 * kDeg);
    n = s * std::cos(a1 * kDeg);
  };
  double sum_e = 0, sum_n = 0;
  int pairs = 0;
  for (size_t i = 0; i < obs.size(); ++i) {
    for (size_t j = i + 1; j < obs.size(); ++j) {
      double xi = 0, yi = 0, xj = 0, yj = 0;
      to_plane(obs[i].origin, xi, yi);
      to_plane(obs[j].origin, xj, yj);
      const double di[2] = {std::sin(obs[i].azimuth_deg * kDeg), std::cos(obs[i].azimuth_deg * kDeg)};
      const double dj[2] = {std::sin(obs[j].azimuth_deg * kDeg), std::cos(obs[j].azimuth_deg * kDeg)};
      const double den = di[0] * (-dj[1]) - di[1] * (-dj[0]);
      if (std::abs(den) < std::sin(cfg.min_crossing_deg * kDeg)) continue;
      const double bx = xj - xi, by = yj - yi;
      const double ti = (bx * (-dj[1]) - by * (-dj[0])) / den;
      const double tj = (di[0] * by - di[1] * bx) / den;
      if (ti <= 0 || tj <= 0) continue;
      sum_e += xi + ti * di[0];
      sum_n += yi + ti * di[1];
      ++pairs;
    }
  }
  if (pairs == 0)
    return make_error("no_intersection", "no two bearings cross in front of both observers at a usable angle");
  LatLon p;
  {
    const double e = sum_e / pairs, n = sum_n / pairs;
    geod.Direct(o0.lat, o0.lon, std::atan2(e, n) / kDeg, std::hypot(e, n), p.lat, p.lon);
  }

  Fix fix;
  double a11 = 0, a12 = 0, a22 = 0;
  double chi = 0;
  std::vector<double> head(obs.size());
  for (int it = 0; it < cfg.max_iterations; ++it) {
    a11 = a12 = a22 = 0;
    double b1 = 0, b2 = 0;
    chi = 0;
    for (size_t i = 0; i < obs.size(); ++i) {
      double s = 0, az1 = 0, az2 = 0, m12 = 0;
      geod.Inverse(obs[i].origin.lat, obs[i].origin.lon, p.lat, p.lon, s, az1, az2, m12);
      head[i] = az2;
      const double r = wrap180(obs[i].azimuth_deg - az1) * kDeg;
      const double m = std::max(m12, 1.0);
      const double je = std::cos(az2 * kDeg) / m, jn = -std::sin(az2 * kDeg) / m;
      const double w = 1.0 / std::pow(obs[i].sigma_deg * kDeg, 2);
      a11 += w * je * je;
      a12 += w * je * jn;
      a22 += w * jn * jn;
      b1 += w * je * r;
      b2 += w * jn * r;
      chi += r * r;
    }
    const double det = a11 * a22 - a12 * a12;
    if (!(det > 0)) return make_error("no_intersection", "bearings are parallel: the fix is undetermined");
    const double de = (a22 * b1 - a12 * b2) / det;
    const double dn = (a11 * b2 - a12 * b1) / det;
    const double step = std::hypot(de, dn);
    fix.iterations = it + 1;
    if (step > 0) geod.Direct(p.lat, p.lon, std::atan2(de, dn) / kDeg, step, p.lat, p.lon);
    if (step < 0.01) break;
  }
  // Validate the geometry at the solution.
  double max_cross = 0;
  for (size_t i = 0; i < obs.size(); ++i) {
    double s = 0, az1 = 0, az2 = 0;
    geod.Inverse(obs[i].origin.lat, obs[i].origin.lon, p.lat, p.lon, s, az1, az2);
    if (std::abs(wrap180(obs[i].azimuth_deg - az1)) > 45.0)
      return make_error("no_intersection", fmt::format("bearing {} ({}) points away from the fix", i, obs[i].source));
    if (s > cfg.max_range_km * 1000.0)
      return make_error("no_intersection", fmt::format("fix is {:.1f} km from {} (max {} km)", s / 1000.0,
                                                       obs[i].source, cfg.max_range_km));
    for (size_t j = 0; j < i; ++j) {
      const double c = std::abs(wrap180(head[i] - head[j]));
      max_cross = std::max(max_cross, std::min(c, 180.0 - c));
    }
  }
  if (max_cross < cfg.min_crossing_deg)
    return make_error("no_intersection",
                      fmt::format("bearings cross at {:.1f} deg (< {} deg)", max_cross, cfg.min_crossing_deg));

  const double det = a11 * a22 - a12 * a12;
  fix.position = p;
  fix.cov_en[0] = a22 / det;
  fix.cov_en[1] = -a12 / det;
  fix.cov_en[2] = a11 / det;
  fix.observations = static_cast<int>(obs.size());
  fix.rms_residual_deg = std::sqrt(chi / static_cast<double>(obs.size())) / kDeg;
  const double k2 = -2.0 * std::log(1.0 - cfg.confidence);
  const double a = fix.cov_en[0], b = fix.cov_en[1], c = fix.cov_en[2];
  const double tr = (a + c) / 2.0, d = std::sqrt(std::max(0.0, (a - c) * (a - c) / 4.0 + b * b));
  const double l1 = tr + d, l2 = std::max(0.0, tr - d);
  const double theta = 0.5 * std::atan2(2 * b, a - c);  // from east towards north
  fix.ellipse.semi_major_m = std::sqrt(k2 * l1);
  fix.ellipse.semi_minor_m = std::sqrt(k2 * l2);
  double az = std::atan2(std::cos(theta), std::sin(theta)) / kDeg;
  az = wrap360(az);
  if (az >= 180.0) az -= 180.0;
  fix.ellipse.major_azimuth_deg = az;
  fix.ellipse.confidence = cfg.confidence;
  return fix;
}

}  // namespace tw::wildfire
