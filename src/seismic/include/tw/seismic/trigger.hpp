#pragma once
// Characteristic functions (recursive and classic STA/LTA), on/off triggering, network coincidence
// triggering, and the AIC onset refiner.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tw::seismic {

// Recursive STA/LTA (Withers et al. 1998) as in ObsPy's recursive_sta_lta: the characteristic function
// is 0 for the first `lta` samples after a start or reset. Streaming: state carries across calls.
class RecursiveStaLta {
 public:
  RecursiveStaLta(double sta_s, double lta_s, double fs);
  void apply(std::span<const double> x, std::span<double> cft);
  void reset();

 private:
  double csta_, clta_;
  std::int64_t nlta_;
  double sta_ = 0, lta_ = 1e-99;
  std::int64_t n_ = 0;
};

// Classic STA/LTA over sliding windows (ObsPy classic_sta_lta). Streaming with running sums.
class ClassicStaLta {
 public:
  ClassicStaLta(double sta_s, double lta_s, double fs);
  void apply(std::span<const double> x, std::span<double> cft);
  void reset();

 private:
  std::size_t nsta_, nlta_;
  std::vector<double> ring_;  // last nlta squares
  std::size_t pos_ = 0;
  double ssta_ = 0, slta_ = 0;
  std::int64_t n_ = 0;
};

// On/off trigger: on at the first sample with cft > on; off at the last sample with cft > off.
struct TriggerWindow {
  std::int64_t on = 0;   // sample index
  std::int64_t off = 0;  // last index above the off threshold
  double peak = 0;
};
class Trigger {
 public:
  Trigger(double on, double off) : on_(on), off_(off) {}
  // Feeds cft values starting at absolute index `first`; returns windows that closed and reports
  // in `opened` the indices where the trigger switched on.
  void feed(std::span<const double> cft, std::int64_t first, std::vector<TriggerWindow>& closed,
            std::vector<std::int64_t>* opened = nullptr);
  bool active() const { return active_; }
  // Closes an open window at `last` (end of data).
  bool finish(std::int64_t last, TriggerWindow& w);
  void reset() { active_ = false; }

 private:
  double on_, off_;
  bool active_ = false;
  TriggerWindow cur_;
};

// Whole-trace helper, ObsPy trigger_onset semantics.
std::vector<TriggerWindow> trigger_onset(std::span<const double> cft, double on, double off);

// Network coincidence trigger (ObsPy coincidence_trigger semantics, weight 1 per trace).
struct StationTrigger {
  std::string trace_id;
  std::string station;
  double on_s = 0;  // absolute times, seconds
  double off_s = 0;
};
struct CoincidenceEvent {
  double time_s = 0;
  double duration_s = 0;
  double coincidence_sum = 0;
  std::vector<std::string> stations;
  std::vector<std::string> trace_ids;
};
std::vector<CoincidenceEvent> coincidence_trigger(std::vector<StationTrigger> triggers, double threshold_sum);

// Akaike Information Criterion onset (Maeda 1985) over x: returns the index of the minimum of
// AIC(k) = k log var(x[0..k]) + (n-k-1) log var(x[k+1..n)), and the half width (in samples) of
// the region within `delta` of the minimum as an uncertainty measure.
struct AicResult {
  std::size_t index = 0;
  double half_width = 0;
  bool ok = false;
};
AicResult aic_onset(std::span<const double> x, double delta = 2.0);

// Onset signal-to-noise ratio: RMS of x[onset..] over RMS of x[..onset) (0 when either side is empty).
double onset_snr(std::span<const double> x, std::size_t onset);

// Pick uncertainty in seconds from the AIC minimum half width (samples), widened at low SNR:
// half / fs * (1 + 2 / max(snr, 1)), bounded to [1 sample, 1 s] and rounded to the millisecond.
double pick_uncertainty_s(double half_width, double fs, double snr);

// Sliding-window kurtosis (fourth standardised moment) of x over the `n` samples ending at each index
// (Saragiotis et al. 2002; Baillard et al. 2014): large where an impulsive arrival enters the window of
// Gaussian-like noise (kurtosis ~3). Values before a full window are 0.
std::vector<double> kurtosis_cf(std::span<const double> x, std::size_t n);

}  // namespace tw::seismic
