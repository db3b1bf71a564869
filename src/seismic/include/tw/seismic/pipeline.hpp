#pragma once
// Offline pipelines used by the CLI, the evaluation and the tests: pick a set of traces, or replay them
// through site processors and the hub's QuakeService in data-time order.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/result.hpp"
#include "tw/seismic/picker.hpp"
#include "tw/seismic/quake.hpp"
#include "tw/seismic/station.hpp"

namespace tw::seismic {

// Stations CSV read by header names: station, lat, lon, optional elev_m.
Result<std::vector<StationInfo>> read_stations_csv(const std::filesystem::path& file);

struct Calibration {
  double counts_per_cms2 = 1000;  // accelerometers (OpenEEW MiniSEED: milligal counts)
  double counts_per_cms = 0;      // velocity sensors: 0 = uncalibrated (picks only)
};

// Picks every station in `traces` (grouped by network.station) with the site chain, at maximum speed.
// `quake pick` uses the offline run_multiband_picker (picker.hpp) instead.
std::vector<Pick> run_picker(const std::vector<Trace>& traces, const ProcessorConfig& cfg,
                             const std::vector<StationInfo>& stations = {}, const Calibration& cal = {});

struct DetectResult {
  std::vector<Pick> picks;
  std::vector<QuakeEvent> events;  // final state of each event
  std::map<std::string, std::vector<nlohmann::json>> updates;  // event id -> summary of each version
  QuakeService::Stats stats;
  std::uint64_t samples = 0;
};
DetectResult run_detect(const std::vector<Trace>& traces, const std::vector<StationInfo>& stations,
                        const VelocityModel& model, const ProcessorConfig& pcfg, const QuakeConfig& qcfg,
                        const Calibration& cal = {}, double chunk_s = 0.1);

nlohmann::json picks_json(const std::vector<Pick>& picks);
nlohmann::json detect_json(const DetectResult& r);

// Acceptance evaluations on the recordings under data_dir()/seismic (see docs/seismic.md).
// Each returns a JSON summary with the measured figures and a "pass" flag per criterion.
nlohmann::json eval_obspy_coincidence(const std::filesystem::path& dir);
nlohmann::json eval_norway_picks(const std::filesystem::path& dir, const MultiBandPickerConfig& cfg = {});
nlohmann::json eval_openeew(const std::filesystem::path& dir, const std::vector<std::string>& only_files = {},
                            const ProcessorConfig& pcfg = {}, const QuakeConfig& qcfg = {});

}  // namespace tw::seismic
