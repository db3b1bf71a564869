#pragma once
// 1-D layered velocity models, first-arrival travel-time tables, and the hypocentre locator
// (grid search, then Gauss-Newton refinement, with a covariance-based uncertainty).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tw/core/result.hpp"

namespace tw::seismic {

struct Layer {
  double top_km = 0;
  double vp = 0;
  double vs = 0;
};
struct VelocityModel {
  std::vector<Layer> layers;  // increasing top depth; the last one is a half-space
  static VelocityModel default_crust();  // simple continental crust over mantle (IASP91-like)
};
// Reads a CSV by header names: depth (top_depth_km | depth | depth_km), vp (vp_km_s | vp), optional vs
// (vs_km_s | vs); '#' lines are comments. Missing Vs uses vp / vp_vs.
Result<VelocityModel> read_velocity_model(const std::filesystem::path& file, double vp_vs = 1.73);
Result<VelocityModel> parse_velocity_model(const std::string& text, const std::string& name, double vp_vs = 1.73);

enum class Phase { P, S };

// First-arrival time (direct or head wave, flat layers) tabulated over epicentral distance and depth.
class TravelTimeTable {
 public:
  TravelTimeTable(const VelocityModel& model, Phase phase, double max_dist_km = 1500, double max_depth_km = 200,
                  double dx_km = 2, double dz_km = 2);
  double time(double dist_km, double depth_km) const;  // seconds; clamps to the table
  double max_depth_km() const { return max_z_; }
  double slowest_velocity() const { return vmin_; }

 private:
  double dx_, dz_, max_x_, max_z_;
  std::size_t nx_, nz_;
  double vmin_ = 0;
  std::vector<double> t_;  // nz x nx
};

struct Observation {
  double lat = 0, lon = 0;
  std::int64_t time_us = 0;
  double sigma_s = 0.1;  // pick uncertainty
};

struct LocatorConfig {
  double search_radius_km = 250;  // around the earliest station
  double coarse_step_km = 20;
  std::vector<double> coarse_depths_km{5, 10, 20, 35, 60, 100};
  double min_depth_km = 0;
  double max_depth_km = 150;
  double min_sigma_s = 0.1;  // floor on the residual scale for the uncertainty
  int free_depth_min_obs = 4;   // with fewer observations the depth is fixed at fixed_depth_km
  double fixed_depth_km = 15;
  int gauss_newton_iterations = 6;
};

struct Hypocentre {
  double lat = 0, lon = 0, depth_km = 0;
  std::int64_t origin_us = 0;
  double rms_s = 0;
  double err_h_km = 0, err_z_km = 0, err_t_s = 0;  // one-sigma
  double gap_deg = 360;
  std::vector<double> residuals_s;  // per observation, same order
  bool ok = false;
};

Hypocentre locate(const std::vector<Observation>& obs, const TravelTimeTable& tt, const LocatorConfig& cfg);

// Flat-earth local distance (equirectangular), km: accurate to ~0.5% within a few hundred km.
double fast_distance_km(double lat1, double lon1, double lat2, double lon2);

}  // namespace tw::seismic
