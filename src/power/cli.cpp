// `towerwatch power ...`: runtime and end-of-life evaluation, telemetry simulation and replay.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "tw/core/cli.hpp"
#include "tw/core/message.hpp"
#include "tw/power/alarms.hpp"
#include "tw/power/discharge.hpp"
#include "tw/power/health.hpp"
#include "tw/power/simulator.hpp"
#include "tw/power/telemetry.hpp"

namespace tw::power {
namespace {

struct RuntimeOpts {
  std::vector<std::string> fit;
  double current = 0;
  std::string model = "surface";
  bool json = false;
};

int run_runtime(const RuntimeOpts& o) {
  if (!(o.current > 0) || !std::isfinite(o.current))
    return cli::fail(cli::kUsageError, fmt::format("--current must be a positive number of amps, got {}", o.current));
  std::vector<DischargeCurve> curves;
  for (const auto& f : o.fit) {
    auto c = load_discharge_curve(f);
    if (!c) return cli::fail(c.error().code == "io" ? cli::kUsageError : cli::kRuntimeError, c.error().message);
    curves.push_back(std::move(*c));
  }
  auto m = DischargeModel::fit(std::move(curves));
  if (!m) return cli::fail(cli::kUsageError, m.error().message);
  double cap = 0;
  if (o.model == "surface") cap = m->capacity_ah(o.current);
  else if (o.model == "peukert") cap = m->peukert().capacity_ah(o.current);
  else if (o.model == "constant") cap = m->constant_capacity_ah();
  else return cli::fail(cli::kUsageError, fmt::format("--model '{}' is not surface, peukert or constant", o.model));
  double rt = cap * 3600.0 / o.current;
  if (o.json) {
    nlohmann::json j{{"current_a", o.current}, {"runtime_s", rt}, {"capacity_ah", cap}};
    std::cout << j.dump() << "\n";
  } else {
    fmt::print("{} model: {:.4f} Ah at {:.3f} A, runtime {:.1f} s ({:.2f} h); Peukert k = {:.4f}, cut-off {:.3f} V\n",
               o.model, cap, o.current, rt, rt / 3600.0, m->peukert().k, m->cutoff_v());
  }
  return cli::kOk;
}

struct EolOpts {
  std::string csv, battery;
  int upto = 0;
  double eol_ah = 0;
  bool json = false;
};

int run_eol(const EolOpts& o) {
  if (o.upto < 5) return cli::fail(cli::kUsageError, fmt::format("--upto-cycle must be >= 5, got {}", o.upto));
  if (!(o.eol_ah > 0)) return cli::fail(cli::kUsageError, fmt::format("--eol-ah must be positive, got {}", o.eol_ah));
  auto t = load_capacity_csv(o.csv);
  if (!t) return cli::fail(t.error().code == "io" ? cli::kUsageError : cli::kRuntimeError, t.error().message);
  auto it = t->by_battery.find(o.battery);
  if (it == t->by_battery.end())
    return cli::fail(cli::kUsageError, fmt::format("{}: no discharge cycles for battery '{}'", o.csv, o.battery));
  if (it->second.size() < static_cast<std::size_t>(o.upto))
    return cli::fail(cli::kUsageError, fmt::format("battery {} has only {} discharge cycles, --upto-cycle is {}",
                                                   o.battery, it->second.size(), o.upto));
  // The first N discharges of this battery; every other battery in the file is a reference cell.
  const std::vector<CapacityRecord> given(it->second.begin(), it->second.begin() + o.upto);
  std::vector<const std::vector<CapacityRecord>*> refs;
  for (const auto& [id, recs] : t->by_battery)
    if (id != o.battery) refs.push_back(&recs);
  auto eol = predict_eol_cycle_population(given, o.eol_ah, refs);
  if (!eol) return cli::fail(cli::kRuntimeError, fmt::format("battery {}: {}", o.battery, eol.error().message));
  if (o.json) {
    nlohmann::json j{{"battery", o.battery}, {"predicted_eol_cycle", *eol}};
    std::cout << j.dump() << "\n";
  } else {
    fmt::print("battery {}: capacity predicted below {} Ah at discharge cycle {} (from cycles 1..{})\n", o.battery,
               o.eol_ah, *eol, o.upto);
  }
  return cli::kOk;
}

struct SimOpts {
  SimConfig cfg;
  double hours = 8, outage_start_h = 1, outage_h = 3.5, theft_at_h = -1;
  std::string site = "sim-01", out, format = "csv";
  std::vector<std::string> fit;
};

Result<std::shared_ptr<const DischargeModel>> model_for(const std::vector<std::string>& fit) {
  return fit.empty() ? load_default_model() : fit_model_from_files(fit);
}

int run_simulate(SimOpts o) {
  auto model = model_for(o.fit);
  if (!model) return cli::fail(cli::kUsageError, model.error().message);
  o.cfg.duration_s = o.hours * 3600;
  o.cfg.outage_start_s = o.outage_start_h * 3600;
  o.cfg.outage_duration_s = o.outage_h * 3600;
  o.cfg.theft_at_s = o.theft_at_h < 0 ? -1 : o.theft_at_h * 3600;
  auto samples = simulate(*model, o.cfg);
  std::string text;
  if (o.format == "csv") {
    text = format_telemetry_csv(samples);
  } else if (o.format == "jsonl") {
    for (const auto& s : samples) text += make_message(o.site, "power", s.ts_ms, to_payload(s)).to_json() + "\n";
  } else {
    return cli::fail(cli::kUsageError, fmt::format("--format '{}' is not csv or jsonl", o.format));
  }
  if (o.out.empty() || o.out == "-") {
    std::cout << text;
  } else {
    std::ofstream f(o.out, std::ios::binary);
    if (!f) return cli::fail(cli::kUsageError, o.out + ": cannot open for writing");
    f << text;
  }
  return cli::kOk;
}

struct ReplayOpts {
  std::string csv, site = "replay";
  std::vector<std::string> fit;
  int series = 13, parallel = 42;
  double low_runtime_min = 60;
  bool estimate = false;
};

int run_replay(const ReplayOpts& o) {
  auto samples = read_telemetry_csv(o.csv);
  if (!samples) return cli::fail(samples.error().code == "io" ? cli::kUsageError : cli::kRuntimeError,
                                 samples.error().message);
  PowerAlarmsConfig cfg;
  cfg.low_runtime_min = o.low_runtime_min;
  if (o.estimate || !o.fit.empty()) {
    auto model = model_for(o.fit);
    if (!model) return cli::fail(cli::kUsageError, model.error().message);
    cfg.model = *model;
    cfg.pack.series = o.series;
    cfg.pack.parallel = o.parallel;
  }
  PowerAlarms alarms(cfg);
  std::size_t n_alarms = 0;
  for (auto s : *samples) {
    if (cfg.model) { s.soc.reset(); s.runtime_s.reset(); s.soh.reset(); }  // re-estimate here
    for (const auto& c : alarms.on_sample(o.site, s)) {
      std::cout << c.to_json().dump() << "\n";
      ++n_alarms;
    }
  }
  nlohmann::json summary{{"samples", samples->size()}, {"alarm_changes", n_alarms},
                         {"rejected", alarms.rejects().total()}};
  std::cout << summary.dump() << "\n";
  return cli::kOk;
}

}  // namespace

void add_cli(CLI::App& app, tw::cli::Context& ctx) {
  auto* power = app.add_subcommand("power", "Site power: battery runtime, end of life, telemetry tools");
  power->require_subcommand(1);

  static RuntimeOpts ro;
  auto* rt = power->add_subcommand("runtime", "Fit the discharge model to measured curves and predict runtime");
  rt->add_option("--fit", ro.fit, "Discharge curve CSV (ARTS Samsung 30Q layout); repeat for each rate")
      ->required()->check(CLI::ExistingFile);
  rt->add_option("--current", ro.current, "Constant discharge current (A)")->required();
  rt->add_option("--model", ro.model, "surface (default), peukert or constant");
  rt->add_flag("--json", ro.json, "Print {\"current_a\",\"runtime_s\",\"capacity_ah\"} as JSON");
  rt->callback([&ctx] { ctx.exit_code = run_runtime(ro); });

  static EolOpts eo;
  auto* eol = power->add_subcommand("eol", "Predict the discharge cycle at which capacity falls below a threshold");
  eol->add_option("--capacity-csv", eo.csv, "Per-cycle capacities (NASA PCoE metadata.csv layout)")
      ->required()->check(CLI::ExistingFile);
  eol->add_option("--battery", eo.battery, "Battery id, e.g. B0005")->required();
  eol->add_option("--upto-cycle", eo.upto, "Use only the first N discharge cycles")->required();
  eol->add_option("--eol-ah", eo.eol_ah, "End-of-life capacity threshold (Ah)")->required();
  eol->add_flag("--json", eo.json, "Print {\"battery\",\"predicted_eol_cycle\"} as JSON");
  eol->callback([&ctx] { ctx.exit_code = run_eol(eo); });

  static SimOpts so;
  auto* sim = power->add_subcommand("simulate", "Simulate a site's power telemetry through a mains outage");
  sim->add_option("--seed", so.cfg.seed, "Random seed (same seed, same output)");
  sim->add_option("--site", so.site, "Site id (jsonl output)");
  sim->add_option("--hours", so.hours, "Duration (h)");
  sim->add_option("--step-s", so.cfg.step_s, "Sample interval (s)");
  sim->add_option("--outage-start-h", so.outage_start_h, "Mains failure time (h)");
  sim->add_option("--outage-h", so.outage_h, "Outage duration (h, 0 = none)");
  sim->add_option("--load-w", so.cfg.load_w, "Site DC load (W)");
  sim->add_option("--series", so.cfg.pack.series, "Cells in series");
  sim->add_option("--parallel", so.cfg.pack.parallel, "Cells in parallel");
  sim->add_option("--theft-at-h", so.theft_at_h, "Door opens at this time, battery removed 5 min later");
  sim->add_option("--fit", so.fit, "Discharge curves for the cell model (default: ARTS S001 C/10, 1C, 2C)")
      ->check(CLI::ExistingFile);
  sim->add_option("--format", so.format, "csv (default) or jsonl (power messages)");
  sim->add_option("--out", so.out, "Output file (default stdout)");
  sim->callback([&ctx] { ctx.exit_code = run_simulate(so); });

  static ReplayOpts rp;
  auto* rep = power->add_subcommand("replay", "Replay telemetry CSV through the alarm evaluator (JSON lines)");
  rep->add_option("--csv", rp.csv, "Telemetry CSV")->required()->check(CLI::ExistingFile);
  rep->add_option("--site", rp.site, "Site id");
  rep->add_option("--fit", rp.fit, "Discharge curves: estimate SoC/runtime here instead of trusting the payload")
      ->check(CLI::ExistingFile);
  rep->add_flag("--estimate", rp.estimate, "Estimate SoC/runtime here with the default cell model");
  rep->add_option("--series", rp.series, "Cells in series (with --fit/--estimate)");
  rep->add_option("--parallel", rp.parallel, "Cells in parallel (with --fit/--estimate)");
  rep->add_option("--low-runtime-min", rp.low_runtime_min, "Low-runtime alarm threshold (min)");
  rep->callback([&ctx] { ctx.exit_code = run_replay(rp); });
}

}  // namespace tw::power
