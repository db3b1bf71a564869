#pragma once
// `power` telemetry: one sample from a site's battery monitor / rectifier controller.
// Wire format (the payload of a `power` message, docs/messages/power.md):
//   {"mains_v":231.2,"dc_bus_v":53.9,"battery_a":-31.5,"battery_temp_c":27.1,
//    "block_v":[4.12,4.11,...],"door_open":false,"generator":"off","battery_connected":true,
//    "soc":0.87,"runtime_s":9120,"soh":0.97}
// battery_a > 0 charges the battery, < 0 discharges it (the usual BMS convention).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/result.hpp"

namespace tw::power {

enum class Generator { absent, off, running, fault };
std::string_view to_string(Generator g);
std::optional<Generator> parse_generator(std::string_view s);

struct PowerSample {
  std::int64_t ts_ms = 0;
  double mains_v = 0;   // AC mains voltage (0 during an outage)
  double dc_bus_v = 0;  // DC bus voltage (magnitude; a -48 V plant reports 53.5)
  double battery_a = 0;  // + charge, - discharge
  std::optional<double> battery_temp_c;
  std::vector<double> block_v;  // per-block (or per series cell group) voltages, may be empty
  std::optional<bool> door_open;
  Generator generator = Generator::absent;
  std::optional<bool> battery_connected;  // battery breaker / fuse contact
  // Derived on the edge when it runs an estimator.
  std::optional<double> soc;        // 0..1
  std::optional<double> runtime_s;  // remaining runtime at the present load
  std::optional<double> soh;        // 0..1.2 (capacity / rated)

  bool operator==(const PowerSample&) const = default;
};

// Validation limits; values outside are rejected as physically implausible.
inline constexpr double kMaxMainsV = 500;
inline constexpr double kMaxDcBusV = 120;
inline constexpr double kMaxBatteryA = 5000;
inline constexpr double kMinTempC = -50, kMaxTempC = 120;
inline constexpr double kMaxBlockV = 20;
inline constexpr std::size_t kMaxBlocks = 64;

// Strict parse of a `power` payload. Error codes (the counted reasons):
//   not_object, missing_field, bad_type, out_of_range, unknown_field.
// The message names the field and the offending value.
Result<PowerSample> parse_power_payload(const nlohmann::json& payload, std::int64_t ts_ms = 0);
nlohmann::json to_payload(const PowerSample& s);

// Counts rejected telemetry by reason (thread-compatible, one per consumer).
class RejectCounter {
 public:
  void count(const Error& e) { ++by_reason_[e.code]; ++total_; }
  std::uint64_t total() const { return total_; }
  std::uint64_t count_of(const std::string& reason) const {
    auto it = by_reason_.find(reason);
    return it == by_reason_.end() ? 0 : it->second;
  }
  const std::map<std::string, std::uint64_t>& by_reason() const { return by_reason_; }

 private:
  std::map<std::string, std::uint64_t> by_reason_;
  std::uint64_t total_ = 0;
};

// CSV replay format, one sample per line, header required (columns in any order, only the first
// four mandatory):
//   ts,mains_v,dc_bus_v,battery_a,battery_temp_c,block_v,door_open,generator,battery_connected,soc,runtime_s,soh
// ts is UTC milliseconds or ISO-8601; block_v is ';'-separated; booleans are 0/1/true/false;
// empty cells mean "not reported". Every row goes through parse_power_payload's checks; a bad row
// is an error naming file and line.
Result<std::vector<PowerSample>> read_telemetry_csv(const std::filesystem::path& path);
Result<std::vector<PowerSample>> parse_telemetry_csv(std::string_view text, std::string_view name);
std::string format_telemetry_csv(const std::vector<PowerSample>& samples);
Status write_telemetry_csv(const std::filesystem::path& path, const std::vector<PowerSample>& samples);

}  // namespace tw::power
