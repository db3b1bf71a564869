#pragma once
// Per-site battery state estimation from `power` telemetry.
//
// State of charge: coulomb counting of battery_a, corrected from the resting voltage. When the
// battery current stays below rest_current for rest_s, the rested cell voltage gives a charge
// estimate through the model's open-circuit curve; it is fused with the counted charge weighted by
// their variances (the counted one grows with the charge moved since the last anchor, the voltage
// one with the sensor noise divided by the OCV slope, so flat parts of the curve correct little).
// Float charge (on mains, current tapered, cell voltage near full) resets to 100 %.
// Remaining runtime: at the present discharge current, (usable capacity at that current, scaled
// by SoH) minus the charge already drawn.
// Capacity across cycles: between two rest anchors at least min_anchor_dsoc apart, the counted
// charge over the OCV-derived change of SoC measures the capacity; the history gives SoH and the
// projected end of life.
#include <memory>
#include <optional>

#include "tw/power/discharge.hpp"
#include "tw/power/health.hpp"
#include "tw/power/telemetry.hpp"

namespace tw::power {

struct PackConfig {
  int series = 13;    // cells (or blocks of the modelled type) in series
  int parallel = 1;   // strings in parallel
  double rest_current_cell_a = 0.0;  // 0: rated_ah / 50 (C/50)
  double rest_s = 1800;              // rest time before the voltage is trusted
  double voltage_noise_v = 0.005;    // per-cell voltage measurement noise (1 sigma)
  double coulomb_drift = 0.02;       // counted-charge error per unit of charge moved (1 sigma, relative)
  double max_gap_s = 900;            // longer telemetry gaps are not integrated
  double min_anchor_dsoc = 0.3;      // partial cycle depth that yields a capacity measurement
  double eol_fraction = 0.8;         // SoH at which a battery is due for replacement
  bool constant_power = true;        // runtime at the present power (telecom DC loads), else present current
};

struct Estimate {
  double soc = 1;                    // 0..1 of the present usable capacity at low rate
  std::optional<double> runtime_s;   // only while discharging
  double soh = 1;                    // capacity / rated
  double q_used_ah = 0;              // per cell, drawn from full
  std::optional<std::int64_t> eol_ms;
  bool on_battery = false;
};

class BatteryEstimator {
 public:
  BatteryEstimator(std::shared_ptr<const DischargeModel> model, PackConfig cfg);
  // Feeds one sample (timestamps must not go backwards; an older sample is ignored).
  const Estimate& update(const PowerSample& s);
  const Estimate& estimate() const { return est_; }
  // Forces the state (e.g. a new site whose battery state is known).
  void set_q_used(double q_ah) { q_ = q_ah; sd_ = 0; }
  const CapacityHistory& history() const { return history_; }
  std::size_t capacity_measurements() const { return history_.size(); }
  double cell_voltage(const PowerSample& s) const;

 private:
  std::shared_ptr<const DischargeModel> model_;
  PackConfig cfg_;
  double rest_a_;
  double q_ = 0;          // per cell Ah drawn from full
  double sd_ = 0;         // 1-sigma uncertainty of q_ (Ah)
  std::int64_t last_ts_ = -1;
  std::int64_t rest_since_ = -1;
  bool anchored_this_rest_ = false;
  // last OCV anchor for capacity measurement
  std::optional<double> anchor_soc_ocv_;
  double moved_since_anchor_ = 0;  // signed Ah counted since the last anchor
  CapacityHistory history_;
  Estimate est_;
};

}  // namespace tw::power
