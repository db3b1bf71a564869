#pragma once
// Per-site power alarm evaluation for the hub. Feed every `power` message of every site in time
// order; each call returns the alarm transitions it caused (the hub maps them onto its alarm store,
// one active alarm per (site, type)).
//
// Alarm types and their rules (thresholds in PowerAlarmsConfig):
//   mains_outage     raise: mains_v < mains_low_v for >= debounce_samples samples; clear: mains_v >= mains_ok_v
//                    for debounce_samples. Severity major on battery, minor while a generator runs.
//   low_runtime      raise: on battery and runtime < low_runtime_min; clear: mains back (outage cleared)
//                    or runtime >= low_runtime_min * 1.25. Runtime is the payload's runtime_s, else the
//                    site's own estimator when a discharge model is configured. Severity critical.
//   over_temperature raise: battery_temp_c > max_temp_c; clear below max_temp_c - temp_hysteresis_c. major.
//   block_imbalance  raise: max |block - median| > imbalance_frac * median; clear below 0.6 of it. minor.
//   battery_theft    raise: battery disconnected (battery_connected == false, or block voltages collapsed
//                    below 25 % of their last healthy median) while the door is open or the site is on
//                    battery; clear when reconnected and the door is closed. critical.
//   site_offline     raise: on_site_offline() (the hub's heartbeat watchdog); the message says whether the
//                    site was on battery (battery probably exhausted); clear on the next power message.
// Malformed payloads are rejected and counted by reason (rejects()); they never change alarm state.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/message.hpp"
#include "tw/power/estimator.hpp"
#include "tw/power/telemetry.hpp"

namespace tw::power {

enum class AlarmAction { raise, clear };
std::string_view to_string(AlarmAction a);

struct AlarmChange {
  AlarmAction action = AlarmAction::raise;
  std::string site;
  std::string type;      // mains_outage, low_runtime, over_temperature, block_imbalance, battery_theft, site_offline
  std::string severity;  // critical, major, minor, warning (repeated on clear)
  std::string message;   // one line for the operator
  nlohmann::json details = nlohmann::json::object();
  std::int64_t ts_ms = 0;
  nlohmann::json to_json() const;
};

struct PowerAlarmsConfig {
  double mains_low_v = 180;
  double mains_ok_v = 200;
  int debounce_samples = 2;
  double low_runtime_min = 60;
  double max_temp_c = 45;
  double temp_hysteresis_c = 3;
  double imbalance_frac = 0.05;
  double discharge_a = 1.0;  // battery current below -discharge_a means the site runs on battery
  // Optional: lets the evaluator estimate runtime itself when the edge sends none.
  std::shared_ptr<const DischargeModel> model;
  PackConfig pack;
};

class PowerAlarms {
 public:
  explicit PowerAlarms(PowerAlarmsConfig cfg = {});
  std::vector<AlarmChange> on_power(const tw::Message& msg);
  std::vector<AlarmChange> on_site_offline(const std::string& site, std::int64_t ts_ms);
  // Same as on_power for an already-validated sample (replay, simulator).
  std::vector<AlarmChange> on_sample(const std::string& site, const PowerSample& s);

  const RejectCounter& rejects() const { return rejects_; }
  bool active(const std::string& site, const std::string& type) const;
  // Latest estimate for a site evaluated with the configured model.
  std::optional<Estimate> estimate(const std::string& site) const;

 private:
  struct SiteState {
    std::map<std::string, bool> active;
    int mains_low_count = 0, mains_ok_count = 0;
    int imbalance_count = 0;
    std::optional<double> healthy_block_median;
    std::int64_t last_ts = -1;
    bool on_battery = false;
    std::optional<double> last_soc, last_runtime_s;
    std::unique_ptr<BatteryEstimator> estimator;
  };
  PowerAlarmsConfig cfg_;
  RejectCounter rejects_;
  std::map<std::string, SiteState> sites_;
};

}  // namespace tw::power
