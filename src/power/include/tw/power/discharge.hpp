#pragma once
// Measured constant-current discharge curves and the discharge model fitted to them.
//
// Model ("rate surface"): at each depth of discharge q (Ah drawn from full), the terminal
// voltage of the cell is known at the currents of the fitted curves. Between those currents it
// is interpolated linearly in I; beyond the highest (lowest) fitted current it is extrapolated
// linearly with the differential resistance dV/dI measured between the two highest (lowest)
// curves at that same q. The usable capacity at current I is the q where V(q, I) reaches the
// cut-off voltage, so capacity depends on current through the measured resistance and the shape
// of the end-of-discharge knee, not through a fixed exponent. Peukert's law and a
// constant-capacity model are fitted too, for comparison.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tw/core/result.hpp"

namespace tw::power {

struct DischargeCurve {
  std::string name;
  double current_a = 0;    // discharge current magnitude (median over the discharge)
  double capacity_ah = 0;  // integrated charge from the start of discharge to the end of the record
  double runtime_s = 0;    // duration from the start of discharge to the end of the record
  double end_voltage = 0;  // last voltage (the cut-off the test stopped at)
  std::vector<double> q_ah;  // cumulative discharged charge, non-decreasing
  std::vector<double> v;     // terminal voltage at q_ah
  std::vector<double> temp_c;
  std::size_t skipped_rows = 0;  // rows with sensor overflow / non-physical values (counted, not fatal)
};

// Reads a curve in the ARTS Samsung 30Q layout: no header, optional UTF-8 BOM, columns
// t_s, current_A (negative = discharge), voltage_V, power_W, temperature_C, ... (>= 3 columns).
// Non-numeric cells or too few columns are errors naming file and line; physically impossible
// values (|I| > 1000 A, V outside 0..10 V, e.g. the 3.4e38 logger overflow) are skipped and counted.
Result<DischargeCurve> load_discharge_curve(const std::filesystem::path& path);
Result<DischargeCurve> parse_discharge_curve(std::string_view text, std::string_view name);

struct PeukertFit {
  double k = 1;        // Peukert exponent
  double ref_a = 1;    // reference current
  double ref_ah = 0;   // capacity at ref_a
  double capacity_ah(double current_a) const;
};

class DischargeModel {
 public:
  static constexpr std::size_t kMaxCurves = 16;
  // Fits the model; needs >= 2 curves at distinct currents. cutoff_v: terminal cut-off per cell;
  // when absent, the median end voltage of the curves.
  static Result<DischargeModel> fit(std::vector<DischargeCurve> curves, std::optional<double> cutoff_v = {});

  // Usable capacity (Ah, per cell) for a full discharge from full at a constant current.
  double capacity_ah(double current_a) const;
  // Full-discharge runtime at that current.
  double runtime_s(double current_a) const { return capacity_ah(current_a) * 3600.0 / current_a; }
  // Time until empty at a constant power per cell (telecom loads draw constant power, so the
  // current rises as the voltage sags), starting with q_ah drawn, for a cell whose capacity is
  // `soh` times the model's: integrates in steps of 0.5 % of capacity.
  double runtime_constant_power_s(double q_ah, double power_w, double soh = 1.0) const;
  // Terminal voltage after q_ah has been drawn at current_a (current >= 0 = discharge).
  // Returns nullopt beyond the range covered by the curves.
  std::optional<double> voltage(double q_ah, double current_a) const;
  // Open-circuit (zero current) voltage estimate and its inverse (q from a rested voltage).
  double ocv(double q_ah) const;
  double q_from_ocv(double v) const;
  // dOCV/dq (V/Ah, negative) at q.
  double ocv_slope(double q_ah) const;

  double cutoff_v() const { return cutoff_v_; }
  double max_q_ah() const { return q_max_; }
  double rated_ah() const { return capacity_ah(min_current_); }  // capacity at the lowest fitted rate
  const PeukertFit& peukert() const { return peukert_; }
  double constant_capacity_ah() const { return const_ah_; }  // mean measured capacity over fitted curves
  const std::vector<DischargeCurve>& curves() const { return curves_; }
  double min_current() const { return min_current_; }
  double max_current() const { return max_current_; }

  // Slow path: searches the cut-off from scratch (what the capacity table is built from).
  double capacity_ah_uncached(double current_a) const;

 private:
  static constexpr double kGridStep = 0.001;  // Ah; the voltage surface is sampled per mAh (per cell)
  std::vector<DischargeCurve> curves_;      // sorted by current
  std::vector<std::vector<double>> grid_v_;  // [curve][q index] terminal voltage; shorter than q grid at the end
  std::vector<double> ocv_;                  // OCV on the q grid
  double q_max_ = 0;
  double cutoff_v_ = 0;
  double min_current_ = 0, max_current_ = 0;
  double const_ah_ = 0;
  PeukertFit peukert_;
  // capacity table over log-spaced currents
  double table_log_lo_ = 0, table_log_step_ = 0;
  std::vector<double> table_ah_;

  std::optional<double> voltage_at_index(std::size_t qi, double current_a) const;
};

}  // namespace tw::power
