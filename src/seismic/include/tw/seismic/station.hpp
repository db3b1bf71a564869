#pragma once
// Site-side processing: per-channel filter chains, STA/LTA trigger, AIC onset refinement, P picks with
// an uncertainty, and ground motion (PGA, PGV, Pd, tau_c) after each pick. Feed it chunks of samples in
// time order; it returns `pick` and `ground_motion` messages as soon as they can be decided.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tw/core/message.hpp"
#include "tw/core/result.hpp"
#include "tw/seismic/filter.hpp"
#include "tw/seismic/trace.hpp"
#include "tw/seismic/trigger.hpp"

namespace tw::seismic {

enum class SensorKind { accelerometer, velocity, unknown };

struct StationInfo {
  std::string site;  // towerwatch site id (message "site"); default network.station
  std::string network;
  std::string station;
  double lat = 0;
  double lon = 0;
  double elev_m = 0;
  // Counts per physical unit: per cm/s^2 for accelerometers, per cm/s for velocity sensors.
  // 0 means uncalibrated: picks are made but no ground motion is reported.
  double counts_per_unit = 0;
  SensorKind sensor = SensorKind::unknown;  // unknown: decided from the SEED instrument code
};

// SEED instrument code (2nd channel letter): N/G/L/M accelerometer (N), H/L seismometer...
SensorKind sensor_from_channel(const std::string& channel);

struct ProcessorConfig {
  std::string trigger_filter = "BP(1,10,4)";  // on the vertical channel, before STA/LTA
  std::string stalta = "recursive";           // recursive | classic
  double sta_s = 0.5;
  double lta_s = 10;
  double trigger_on = 3.5;
  double trigger_off = 1.5;
  double pick_pre_s = 3.0;          // AIC window before the trigger
  double pick_post_s = 0.2;         // ... and after it (the pick is emitted this long after the trigger)
  bool pick_zero_phase = false;     // AIC on the raw window filtered forward and backward
  double pick_refine_s = 1.0;       // second AIC pass on [onset - this, window end] (0: off)
  double min_snr = 1.5;             // picks whose post/pre RMS ratio is below are dropped
  double min_pick_interval_s = 4;   // a new trigger within this time of the last pick is ignored
  std::string vertical_components = "Z1";  // component letters taken as vertical, by preference
  std::string acc_filter = "HP(0.075,2)";          // accelerometer counts -> acceleration
  std::string vel_filter = "INT>>HP(0.075,2)";     // acceleration -> velocity
  std::string disp_filter = "INT>>HP(0.075,2)";    // velocity -> displacement
  double pd_window_s = 3.0;                        // Pd and tau_c window after the onset
  std::vector<double> gm_report_s{1, 2, 3, 5, 10, 20, 40};  // ground_motion reports after the onset
  double max_gap_samples = 1.5;     // a larger gap is a gap (smaller ones are timing jitter)
  double max_fill_s = 5.0;          // gaps up to this are bridged by linear interpolation; longer ones
                                    // restart the channel (filters, STA/LTA warm-up, trigger)
};
// Checks every field; errors name the field.
Status validate(const ProcessorConfig& cfg);

struct Pick {
  std::string network, station, location, channel;
  std::int64_t time_us = 0;
  double uncertainty_s = 0;
  double snr = 0;
  double cft_peak = 0;
  std::int64_t trigger_us = 0;
};

struct GroundMotion {
  std::string network, station;
  std::int64_t pick_time_us = 0;
  double window_s = 0;
  double pga_cms2 = 0, pgv_cms = 0, pd_cm = 0, tau_c_s = 0;
  double pd_noise_cm = 0;  // peak displacement in the same window length before the onset
  bool final = false;
};

nlohmann::json to_json(const Pick& p, const StationInfo& info);
nlohmann::json to_json(const GroundMotion& g, const StationInfo& info);
// Parse payloads back (validates fields; errors name the field).
Result<Pick> pick_from_json(const nlohmann::json& payload);
Result<GroundMotion> ground_motion_from_json(const nlohmann::json& payload);

class StationProcessor {
 public:
  StationProcessor(StationInfo info, ProcessorConfig cfg);
  ~StationProcessor();
  StationProcessor(StationProcessor&&) noexcept;
  StationProcessor& operator=(StationProcessor&&) noexcept;

  // Feeds one contiguous chunk of one channel of this station. Chunks of a channel must come in time
  // order (a gap restarts the channel; an overlap drops the repeated samples).
  std::vector<tw::Message> feed(const Trace& chunk);
  // Flushes pending picks at end of data.
  std::vector<tw::Message> finish();

  const StationInfo& info() const { return info_; }
  // Everything picked so far (also available as messages).
  const std::vector<Pick>& picks() const { return picks_; }
  std::uint64_t samples_processed() const { return samples_; }
  std::uint64_t gaps() const { return gaps_; }
  std::uint64_t filled_samples() const { return filled_; }
  // Errors in the config (bad filter spec for this sample rate) are reported once per channel here.
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  struct Channel;
  struct Tracker;
  Channel& channel(const Trace& t);
  void process(Channel& ch, const Trace& chunk, std::size_t from, std::vector<tw::Message>& out);
  void decide_pick(Channel& ch, std::int64_t trig_idx, double peak, std::vector<tw::Message>& out);
  void update_tracker(Channel& ch, std::vector<tw::Message>& out);
  bool is_vertical(const std::string& channel) const;

  StationInfo info_;
  ProcessorConfig cfg_;
  std::map<std::string, std::unique_ptr<Channel>> channels_;
  std::unique_ptr<Tracker> tracker_;
  std::vector<Pick> picks_;
  std::vector<std::string> errors_;
  std::uint64_t samples_ = 0;
  std::uint64_t gaps_ = 0;
  std::uint64_t filled_ = 0;
  std::int64_t last_pick_us_ = INT64_MIN / 2;
  std::string vertical_;  // chosen vertical channel code
};

// Replays traces as chunks in data-time order, as a live stream would deliver them.
struct ReplayOptions {
  double chunk_s = 0.25;  // data seconds per step
  double speed = 0;       // 0: as fast as possible; 1: real time; 10: ten times real time
};
class Replay {
 public:
  Replay(std::vector<Trace> traces, ReplayOptions opt);
  // Next step's chunks (each a piece of one trace), ordered by start time; nullopt at the end.
  std::optional<std::vector<Trace>> next();
  std::int64_t clock_us() const { return clock_us_; }  // data time reached

 private:
  std::vector<Trace> traces_;
  std::vector<std::size_t> pos_;
  ReplayOptions opt_;
  std::int64_t clock_us_ = 0;
  std::int64_t end_us_ = 0;
  std::int64_t wall_start_ms_ = 0;
  std::int64_t data_start_us_ = 0;
};

}  // namespace tw::seismic
