#pragma once
// Deterministic telemetry simulator for the demo and tests: a tower site whose mains fails and comes
// back. The battery is a pack of real cells whose terminal voltage comes from a DischargeModel fitted
// to measured curves; the site load is constant power (as telecom DC loads are), so the battery
// current rises as the voltage sags. While on mains the rectifier recharges the pack (constant current,
// then constant voltage taper). If the pack reaches its cut-off the site goes dark (no samples) until
// mains returns. Optional theft scenario: the cabinet door opens, then the battery is disconnected.
// Same seed, same config -> the same samples, on any platform (own RNG and normal deviates).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tw/core/result.hpp"
#include "tw/power/discharge.hpp"
#include "tw/power/estimator.hpp"
#include "tw/power/telemetry.hpp"

namespace tw::power {

struct SimConfig {
  std::uint64_t seed = 1;
  std::int64_t start_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  double step_s = 60;
  double duration_s = 8 * 3600.0;
  double outage_start_s = 3600;
  double outage_duration_s = 3.5 * 3600;  // <= 0: no outage
  double load_w = 1500;
  double mains_nominal_v = 230;
  double ambient_c = 25;
  PackConfig pack{13, 42};
  double charge_c_rate = 0.2;     // rectifier charge current limit, in C
  double float_margin_v = 0.0;    // float voltage per cell above the full OCV
  double initial_q_ah = 0;        // per cell, drawn from full at start
  double theft_at_s = -1;         // door opens here; battery disconnected 5 min later (< 0: never)
  bool with_estimates = true;     // fill soc / runtime_s / soh as an edge estimator would
};

struct SimStep {
  double t_s = 0;
  std::optional<PowerSample> sample;  // nullopt while the site is dark
  double true_q_ah = 0;               // per cell, ground truth
  bool mains_on = true;
  bool site_down = false;
  std::optional<double> true_runtime_s;  // on battery: time left at the present load until cut-off
};

class PowerSimulator {
 public:
  PowerSimulator(std::shared_ptr<const DischargeModel> model, SimConfig cfg);
  bool done() const { return static_cast<double>(step_index_) * cfg_.step_s > cfg_.duration_s; }
  SimStep next();
  const SimConfig& config() const { return cfg_; }

 private:
  double uniform();
  double normal();
  double pack_current_for_load(double q, double p_w, double& v_cell) const;
  std::shared_ptr<const DischargeModel> model_;
  SimConfig cfg_;
  std::uint64_t rng_;
  std::uint64_t step_index_ = 0;
  double q_ = 0;
  std::vector<double> block_offset_;
  std::unique_ptr<BatteryEstimator> est_;
};

// Runs the whole scenario; returns the samples the site sent.
std::vector<PowerSample> simulate(std::shared_ptr<const DischargeModel> model, const SimConfig& cfg);

// The model the demo and the CLI use when no curves are given: cell S001 of the ARTS Samsung 30Q
// recordings at C/10, 1C and 2C under tw::data_dir().
Result<std::shared_ptr<const DischargeModel>> load_default_model();
Result<std::shared_ptr<const DischargeModel>> fit_model_from_files(const std::vector<std::string>& paths);

}  // namespace tw::power
