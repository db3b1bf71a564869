// `towerwatch quake ...`: pick, detect and eval on recorded waveforms. JSON goes to stdout.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <fstream>
#include <memory>

#include "tw/core/cli.hpp"
#include "tw/core/paths.hpp"
#include "tw/seismic/io.hpp"
#include "tw/seismic/pipeline.hpp"

namespace tw::seismic {
namespace {

struct Opts {
  std::vector<std::string> mseed;
  std::string stations, velocity_model, filter, data, only, quakeml, cap;
  bool json = false;
  double counts_per_cms2 = 1000, chunk_s = 0.1;
};

int load(const std::vector<std::string>& files, std::vector<Trace>& traces) {
  for (const auto& f : files) {
    auto ws = read_mseed(f);
    if (!ws) return cli::fail(cli::kRuntimeError, ws.error().message);
    for (const auto& e : ws->report.errors) fmt::print(stderr, "warning: {}\n", e);
    if (ws->report.corrupt > 0) fmt::print(stderr, "warning: {}: {} corrupt records skipped\n", f, ws->report.corrupt);
    for (auto& t : ws->traces) traces.push_back(std::move(t));
  }
  return cli::kOk;
}

int cmd_pick(const Opts& o) {
  MultiBandPickerConfig cfg;
  if (!o.filter.empty()) cfg.bands = {o.filter};  // one band instead of the default set
  cfg.detector.trigger_filter = cfg.bands.front();
  if (auto st = validate(cfg.detector); !st) return cli::fail(cli::kUsageError, st.error().message);
  std::vector<Trace> traces;
  if (int rc = load(o.mseed, traces); rc != 0) return rc;
  auto picks = run_multiband_picker(traces, cfg);
  nlohmann::json out{{"picks", picks_json(picks)}};
  if (o.json) fmt::print("{}\n", out.dump());
  else
    for (const auto& p : out["picks"])
      fmt::print("{}.{}.{} P {} ±{:.3f}s\n", p["network"].get<std::string>(), p["station"].get<std::string>(),
                 p["channel"].get<std::string>(), p["time"].get<std::string>(), p["uncertainty_s"].get<double>());
  return cli::kOk;
}

int cmd_detect(const Opts& o) {
  auto stations = read_stations_csv(o.stations);
  if (!stations) return cli::fail(cli::kUsageError, stations.error().message);
  VelocityModel model = VelocityModel::default_crust();
  if (!o.velocity_model.empty()) {
    auto m = read_velocity_model(o.velocity_model);
    if (!m) return cli::fail(cli::kUsageError, m.error().message);
    model = std::move(*m);
  }
  ProcessorConfig pcfg;
  if (!o.filter.empty()) pcfg.trigger_filter = o.filter;
  if (auto st = validate(pcfg); !st) return cli::fail(cli::kUsageError, st.error().message);
  QuakeConfig qcfg;
  std::vector<Trace> traces;
  if (int rc = load(o.mseed, traces); rc != 0) return rc;
  Calibration cal;
  cal.counts_per_cms2 = o.counts_per_cms2;
  auto res = run_detect(traces, *stations, model, pcfg, qcfg, cal, o.chunk_s);
  auto out = detect_json(res);
  if (!o.quakeml.empty()) {
    std::ofstream f(o.quakeml);
    if (!f) return cli::fail(cli::kRuntimeError, o.quakeml + ": cannot write");
    f << to_quakeml(res.events);
  }
  if (!o.cap.empty()) {
    std::ofstream f(o.cap);
    if (!f) return cli::fail(cli::kRuntimeError, o.cap + ": cannot write");
    for (const auto& e : res.events)
      if (e.alert) f << to_cap_xml(e);
  }
  if (o.json) fmt::print("{}\n", out.dump());
  else {
    for (const auto& e : out["events"])
      fmt::print("event {} M{:.1f} at {:.3f},{:.3f} {:.0f} km, {} stations, alert {}\n", e["origin_time"].get<std::string>(),
                 e["magnitude"].get<double>(), e["lat"].get<double>(), e["lon"].get<double>(), e["depth_km"].get<double>(),
                 e["stations"].get<std::size_t>(), e["first_alert_time"].is_null() ? "none" : e["first_alert_time"].get<std::string>());
    fmt::print("{} picks\n", out["picks"].size());
  }
  return cli::kOk;
}

int cmd_eval(const Opts& o) {
  const std::filesystem::path dir = o.data.empty() ? data_dir() / "seismic" : std::filesystem::path(o.data);
  if (!std::filesystem::is_directory(dir)) return cli::fail(cli::kUsageError, dir.string() + ": not a directory");
  nlohmann::json out;
  if (o.only.empty() || o.only == "obspy") out["obspy_coincidence"] = eval_obspy_coincidence(dir / "obspy_waveforms");
  if (o.only.empty() || o.only == "norway") out["norway_picks"] = eval_norway_picks(dir / "norway_seisan");
  if (o.only.empty() || o.only == "openeew") out["openeew_events"] = eval_openeew(dir / "openeew_mexico");
  for (auto& [k, v] : out.items())
    if (v.contains("error")) {
      fmt::print("{}\n", out.dump(o.json ? -1 : 2));
      return cli::fail(cli::kRuntimeError, k + ": " + v["error"].get<std::string>());
    }
  fmt::print("{}\n", out.dump(o.json ? -1 : 2));
  return cli::kOk;
}

}  // namespace

void add_cli(CLI::App& app, tw::cli::Context& ctx) {
  auto o = std::make_shared<Opts>();
  auto* quake = app.add_subcommand("quake", "Earthquake picking, detection and evaluation on recorded data");
  quake->require_subcommand(1);

  auto* pick = quake->add_subcommand("pick", "P picks from MiniSEED files");
  pick->add_option("--mseed", o->mseed, "MiniSEED file (repeatable)")->required();
  pick->add_flag("--json", o->json, "JSON output");
  pick->add_option("--filter", o->filter, "pick in this one band only, e.g. BP(1,10,4) (default: a set of bands)");
  pick->callback([o, &ctx] { ctx.exit_code = cmd_pick(*o); });

  auto* detect = quake->add_subcommand("detect", "Associate, locate and size earthquakes from MiniSEED files");
  detect->add_option("--stations", o->stations, "stations CSV (station, lat, lon[, elev_m])")->required();
  detect->add_option("--mseed", o->mseed, "MiniSEED file (repeatable)")->required();
  detect->add_option("--velocity-model", o->velocity_model, "1-D velocity model CSV");
  detect->add_flag("--json", o->json, "JSON output");
  detect->add_option("--filter", o->filter, "trigger filter spec");
  detect->add_option("--counts-per-cms2", o->counts_per_cms2, "accelerometer counts per cm/s^2 (default 1000)");
  detect->add_option("--chunk", o->chunk_s, "replay step in seconds of data (default 0.1)");
  detect->add_option("--quakeml", o->quakeml, "also write QuakeML 1.2 to this file");
  detect->add_option("--cap", o->cap, "also write CAP 1.2 XML of alerting events to this file");
  detect->callback([o, &ctx] { ctx.exit_code = cmd_detect(*o); });

  auto* eval = quake->add_subcommand("eval", "Acceptance figures on the shared recordings");
  eval->add_option("--data", o->data, "seismic data folder (default: <data_dir>/seismic)");
  eval->add_option("--only", o->only, "obspy | norway | openeew")->check(CLI::IsMember({"obspy", "norway", "openeew"}));
  eval->add_flag("--json", o->json, "compact JSON output");
  eval->callback([o, &ctx] { ctx.exit_code = cmd_eval(*o); });
}

}  // namespace tw::seismic
