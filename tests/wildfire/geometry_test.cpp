#include <cmath>
#include <random>

#include <GeographicLib/Geodesic.hpp>
#include <gtest/gtest.h>

#include "tw/wildfire/geometry.hpp"

using namespace tw::wildfire;

namespace {

double true_bearing(tw::LatLon from, tw::LatLon to) {
  double a1 = 0, a2 = 0;
  GeographicLib::Geodesic::WGS84().Inverse(from.lat, from.lon, to.lat, to.lon, a1, a2);
  return wrap360(a1);
}

// A fire near Julian, CA and three HPWREN-like tower sites around it (tens of km away).
const tw::LatLon kFire{33.0500, -116.6000};
const tw::LatLon kTowerA{32.8500, -116.4200};  // SE, 28 km
const tw::LatLon kTowerB{33.3000, -116.4500};  // NE, 31 km
const tw::LatLon kTowerC{33.1000, -116.9000};  // W, 29 km

}  // namespace

TEST(Bearing, CentreEdgeAndPan) {
  CameraPose p;
  p.azimuth_deg = 100;
  p.hfov_deg = 60;
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 320, 240).azimuth_deg, 100.0, 1e-9);
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 640, 240).azimuth_deg, 130.0, 1e-9);
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 0, 240).azimuth_deg, 70.0, 1e-9);
  // Quarter width in a pinhole camera: atan(tan(30)/2) = 16.102 deg.
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 480, 240).azimuth_deg, 100.0 + 16.1021, 1e-3);
  p.projection = Projection::equidistant;  // angle proportional to the pixel offset
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 480, 240).azimuth_deg, 115.0, 1e-9);
  p.projection = Projection::rectilinear;
  p.pan_deg = 275;  // PTZ pan wraps through north
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 320, 240).azimuth_deg, 15.0, 1e-9);
}

TEST(Bearing, TiltAndElevation) {
  CameraPose p;
  p.azimuth_deg = 0;
  p.hfov_deg = 60;
  p.tilt_deg = 20;
  // Centre column keeps the azimuth; the edge column moves outwards: atan(tan30 / cos20) = 31.572 deg.
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 320, 100).azimuth_deg, 0.0, 1e-9);
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 640, 240).azimuth_deg, 31.5667, 1e-3);
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 320, 240).elevation_deg, 20.0, 1e-9);
  // Top edge of the image: 20 + atan(240 / f), f = 320 / tan30.
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 320, 0).elevation_deg, 20.0 + 23.4132, 1e-3);
}

TEST(Bearing, SigmaCombinesCalibrationAndBoxWidth) {
  CameraPose p;
  p.hfov_deg = 64;
  p.projection = Projection::equidistant;  // 10 px per degree
  p.sigma_deg = 0.5;
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 320, 240, 0.5).sigma_deg, std::sqrt(0.25 + std::pow(0.05 / std::sqrt(3), 2)),
              1e-9);
  // A 60 px wide box spans 6 deg: uniform spread of +-3 deg, sigma 3/sqrt(3).
  EXPECT_NEAR(pixel_bearing(p, 640, 480, 320, 240, 30).sigma_deg, std::sqrt(0.25 + 3.0), 1e-9);
}

TEST(Bearing, ValidateNamesTheField) {
  CameraPose p;
  p.hfov_deg = 0;
  auto s = validate(p);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "bad_config");
  EXPECT_NE(s.error().message.find("hfov_deg"), std::string::npos);
  p.hfov_deg = 60;
  p.tilt_deg = 95;
  ASSERT_FALSE(validate(p));
  EXPECT_NE(validate(p).error().message.find("tilt_deg"), std::string::npos);
  p.tilt_deg = 0;
  p.position.lat = 91;
  EXPECT_NE(validate(p).error().message.find("lat"), std::string::npos);
  p.position.lat = 10;
  p.sigma_deg = -1;
  EXPECT_NE(validate(p).error().message.find("sigma_deg"), std::string::npos);
  EXPECT_FALSE(parse_projection("fisheye"));
  EXPECT_TRUE(parse_projection("equidistant"));
}

TEST(Triangulate, ExactBearingsRecoverTheFire) {
  for (auto towers : {std::vector<tw::LatLon>{kTowerA, kTowerB}, std::vector<tw::LatLon>{kTowerA, kTowerB, kTowerC}}) {
    std::vector<BearingObservation> obs;
    for (auto t : towers) obs.push_back({t, true_bearing(t, kFire), 0.5, "t"});
    auto fix = triangulate(obs);
    ASSERT_TRUE(fix) << fix.error().message;
    EXPECT_LT(tw::distance_km(fix->position, kFire) * 1000.0, 0.05);
    EXPECT_LT(fix->rms_residual_deg, 1e-4);
    EXPECT_EQ(fix->observations, static_cast<int>(towers.size()));
    EXPECT_GT(fix->ellipse.semi_major_m, fix->ellipse.semi_minor_m * 0.999);
  }
}

TEST(Triangulate, EllipseShapeAndOrientation) {
  // Tower W is 20 km due west looking east, tower S 10 km due south looking north, both 1 deg.
  const tw::LatLon fire{34.0, -117.0};
  const tw::LatLon w = tw::destination(fire, 270, 20), s = tw::destination(fire, 180, 10);
  auto fix = triangulate({{w, true_bearing(w, fire), 1.0, "W"}, {s, true_bearing(s, fire), 1.0, "S"}});
  ASSERT_TRUE(fix);
  const double k = std::sqrt(-2 * std::log(0.05));  // 2.4477
  const double rad = M_PI / 180;
  // Cross-track 1-sigma: W constrains north-south to 20 km * 1 deg; S constrains east-west to 10 km * 1 deg.
  EXPECT_NEAR(fix->ellipse.semi_major_m, k * 20000 * rad, 0.01 * k * 20000 * rad);
  EXPECT_NEAR(fix->ellipse.semi_minor_m, k * 10000 * rad, 0.01 * k * 10000 * rad);
  const double az = fix->ellipse.major_azimuth_deg;
  EXPECT_LT(std::min(az, 180 - az), 1.0);  // major axis runs north-south
}

TEST(Triangulate, NoisyBearingsStayInsideTheEllipse) {
  // Monte Carlo: with Gaussian bearing noise of the stated sigma, the 95% ellipse must cover the truth ~95% of the time.
  std::mt19937 rng(42);
  std::normal_distribution<double> n01(0, 1);
  const double sigma = 0.8;
  int inside = 0, total = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<BearingObservation> obs;
    for (auto t : {kTowerA, kTowerB, kTowerC}) obs.push_back({t, true_bearing(t, kFire) + sigma * n01(rng), sigma, "t"});
    if (trial % 2 == 0) obs.pop_back();  // half the trials with two towers only
    auto fix = triangulate(obs);
    ASSERT_TRUE(fix) << fix.error().message;
    ++total;
    if (fix->mahalanobis2(kFire) <= 5.991) ++inside;
  }
  const double cover = static_cast<double>(inside) / total;
  EXPECT_GT(cover, 0.92);
  EXPECT_LT(cover, 0.98);
}

TEST(Triangulate, ThirdTowerShrinksTheEllipse) {
  auto two = triangulate({{kTowerA, true_bearing(kTowerA, kFire), 1, "A"}, {kTowerB, true_bearing(kTowerB, kFire), 1, "B"}});
  auto three = triangulate({{kTowerA, true_bearing(kTowerA, kFire), 1, "A"},
                            {kTowerB, true_bearing(kTowerB, kFire), 1, "B"},
                            {kTowerC, true_bearing(kTowerC, kFire), 1, "C"}});
  ASSERT_TRUE(two);
  ASSERT_TRUE(three);
  EXPECT_LT(three->ellipse.semi_major_m * three->ellipse.semi_minor_m,
            0.8 * two->ellipse.semi_major_m * two->ellipse.semi_minor_m);
}

TEST(Triangulate, BadGeometryIsAnError) {
  // Too few.
  auto r = triangulate({{kTowerA, 10, 1, "A"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "too_few");
  // Diverging rays: both look away from each other.
  r = triangulate({{kTowerA, true_bearing(kTowerA, kFire) + 180, 1, "A"}, {kTowerB, true_bearing(kTowerB, kFire) + 180, 1, "B"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "no_intersection");
  // Parallel rays.
  r = triangulate({{kTowerA, 0, 1, "A"}, {tw::destination(kTowerA, 90, 10), 0, 1, "B"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "no_intersection");
  // Beyond range: two nearly parallel rays that cross 300 km away.
  const tw::LatLon far = tw::destination(kTowerA, 0, 300);
  r = triangulate({{kTowerA, 0, 1, "A"}, {tw::destination(kTowerA, 90, 30), true_bearing(tw::destination(kTowerA, 90, 30), far), 1, "B"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "no_intersection");
  // Non-positive sigma.
  r = triangulate({{kTowerA, 10, 0, "A"}, {kTowerB, 100, 1, "B"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_input");
}

TEST(Triangulate, Wrap) {
  EXPECT_DOUBLE_EQ(wrap180(190), -170);
  EXPECT_DOUBLE_EQ(wrap180(-180), 180);
  EXPECT_DOUBLE_EQ(wrap360(-10), 350);
  EXPECT_DOUBLE_EQ(wrap360(720), 0);
}
