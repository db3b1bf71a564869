#pragma once
// Battery health across cycles: capacity history, state of health and projected end of life.
//
// End-of-life projection: a straight-line trend of capacity against cycle (or time) fitted by least
// absolute deviations. Capacity "regeneration" after long rests (a jump up that fades within a few
// cycles, plain in the NASA ageing data) shows up as positive outliers; LAD lets them pull the trend
// far less than least squares does. The EOL cycle is the first cycle after the data where the trend
// falls below the threshold.
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tw/core/result.hpp"

namespace tw::power {

struct LineFit {
  double intercept = 0;
  double slope = 0;
  double at(double x) const { return intercept + slope * x; }
};
// Least-absolute-deviation line (iteratively reweighted least squares). Needs >= 2 distinct x.
Result<LineFit> fit_line_lad(const std::vector<double>& x, const std::vector<double>& y);

// Per-battery discharge capacities read from the NASA PCoE metadata.csv layout
// (type,start_time,ambient_temperature,battery_id,test_id,uid,filename,Capacity,Re,Rct).
// Discharge rows only, ordered by test_id; rows with an empty or non-numeric Capacity ("[]") are skipped
// and counted.
struct CapacityRecord {
  int test_id = 0;
  double capacity_ah = 0;
  double ambient_c = std::numeric_limits<double>::quiet_NaN();  // ambient_temperature column; NaN if absent
};
struct CapacityTable {
  std::map<std::string, std::vector<CapacityRecord>> by_battery;
  std::size_t skipped_rows = 0;
};
Result<CapacityTable> load_capacity_csv(const std::filesystem::path& path);
Result<CapacityTable> parse_capacity_csv(std::string_view text, std::string_view name);

// Predicts the (1-based) discharge cycle at which capacity falls below eol_ah, from the capacities
// of cycles 1..N given. If the last observed cycles are already below, returns the first such cycle.
// Error if fewer than 5 cycles or the trend never reaches eol_ah within max_cycles.
Result<int> predict_eol_cycle(const std::vector<double>& capacities_ah, double eol_ah, int max_cycles = 100000);

// Population-informed EOL (state-based similarity prognostics, after Wang, Yu, Siegel & Lee 2008, "A
// similarity-based prognostics approach for remaining useful life estimation of engineered systems"):
// the degradation that remains from a capacity level is taken from other cells of the same type that
// went through that level under the same ambient temperature, instead of extrapolating a fixed shape.
//  * State of the cell: a LAD line over the most recent quarter of the cycles given (>= 5) gives the
//    current capacity level L at cycle N and a robust noise scale sigma (1.4826 * median |residual|).
//  * Each reference (the whole record of another cell; the cell itself must not be among them) is cleaned
//    (discharges outside 0.5..1.5 x its median capacity, or at another ambient temperature, are ignored) and
//    smoothed by a running median of 5. After its peak it first falls below L at cycle kL and below
//    eol_ah at kT: it predicts N + (kT - kL).
//  * Similarity: mean |difference| between the cell's recent window and the reference's window ending
//    at kL (aligned by cycle shift only, capacities in Ah: same rated cell). A reference farther than
//    3 sigma is not like this cell and is dropped; the others are weighted by exp(-(d - d_min) / sigma).
//  * With no reference left (none similar, none reaching L or eol_ah, no population at all) this is
//    predict_eol_cycle(), the cell's own LAD line.
// Only the capacities given are read, so future cycles of the cell are never used.
Result<int> predict_eol_cycle_population(const std::vector<CapacityRecord>& given, double eol_ah,
                                         const std::vector<const std::vector<CapacityRecord>*>& references,
                                         int max_cycles = 100000);

// Capacity measurements accumulated in the field (one per detected cycle), SoH and the projected
// end-of-life date.
class CapacityHistory {
 public:
  explicit CapacityHistory(double rated_ah) : rated_ah_(rated_ah) {}
  void add(std::int64_t ts_ms, double capacity_ah);
  std::size_t size() const { return points_.size(); }
  double rated_ah() const { return rated_ah_; }
  // Latest capacity (median of the last three measurements, robust to one bad cycle) / rated.
  std::optional<double> soh() const;
  std::optional<double> capacity_ah() const;
  // UTC ms when the capacity trend reaches eol_fraction * rated; nullopt with < 3 points or no fade.
  std::optional<std::int64_t> projected_eol_ms(double eol_fraction = 0.8) const;

 private:
  double rated_ah_;
  std::vector<std::pair<std::int64_t, double>> points_;
};

}  // namespace tw::power
