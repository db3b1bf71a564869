#include "tw/power/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "tw/core/paths.hpp"

namespace tw::power {

PowerSimulator::PowerSimulator(std::shared_ptr<const DischargeModel> model, SimConfig cfg)
    : model_(std::move(model)), cfg_(cfg), rng_(cfg.seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) {
  cfg_.pack.series = std::max(1, cfg_.pack.series);
  cfg_.pack.parallel = std::max(1, cfg_.pack.parallel);
  q_ = cfg_.initial_q_ah;
  // Manufacturing spread between series groups: +-0.3 % of voltage, one group slightly weak.
  for (int i = 0; i < cfg_.pack.series; ++i) block_offset_.push_back(0.003 * normal());
  if (cfg_.with_estimates) {
    est_ = std::make_unique<BatteryEstimator>(model_, cfg_.pack);
    est_->set_q_used(cfg_.initial_q_ah);
  }
}

double PowerSimulator::uniform() {
  // splitmix64: fully specified, so runs are identical on every platform.
  std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (static_cast<double>(z >> 11) + 0.5) / 9007199254740992.0;  // (0,1)
}

double PowerSimulator::normal() {
  double u1 = uniform(), u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double PowerSimulator::pack_current_for_load(double q, double p_w, double& v_cell) const {
  // Constant power: solve I = P / (series * V(q, I / parallel)) by fixed-point iteration.
  const double s = cfg_.pack.series, p = cfg_.pack.parallel;
  double i_pack = p_w / (s * model_->ocv(q));
  for (int it = 0; it < 8; ++it) {
    auto v = model_->voltage(q, i_pack / p);
    if (!v) { v_cell = 0; return i_pack; }
    v_cell = *v;
    i_pack = p_w / (s * v_cell);
  }
  return i_pack;
}

SimStep PowerSimulator::next() {
  SimStep st;
  const double t = static_cast<double>(step_index_) * cfg_.step_s;
  ++step_index_;
  st.t_s = t;
  const double s = cfg_.pack.series, p = cfg_.pack.parallel;
  const bool outage = cfg_.outage_duration_s > 0 && t >= cfg_.outage_start_s &&
                      t < cfg_.outage_start_s + cfg_.outage_duration_s;
  st.mains_on = !outage;
  const double load = cfg_.load_w * (1.0 + 0.01 * normal());
  const bool theft_door = cfg_.theft_at_s >= 0 && t >= cfg_.theft_at_s;
  const bool theft_gone = cfg_.theft_at_s >= 0 && t >= cfg_.theft_at_s + 300;
  double i_cell = 0;  // + discharge
  double v_cell = model_->ocv(q_);
  bool down = false;
  if (theft_gone) {
    i_cell = 0;
    down = outage;  // no battery: the site stays up only on mains
  } else if (outage) {
    double i_pack = pack_current_for_load(q_, load, v_cell);
    i_cell = i_pack / p;
    if (v_cell <= 0 || q_ >= model_->capacity_ah(i_cell)) {
      down = true;  // low-voltage disconnect: the site goes dark
      i_cell = 0;
      v_cell = model_->ocv(q_);
    }
  } else {
    // Rectifier: constant current up to the float voltage, then the current tapers.
    const double r = 0.05;  // ohm per cell on charge
    const double v_float = model_->ocv(0) + cfg_.float_margin_v;
    double i_chg = std::clamp((v_float - model_->ocv(q_)) / r, 0.0, cfg_.charge_c_rate * model_->rated_ah());
    i_cell = -i_chg;
    v_cell = model_->ocv(q_) + i_chg * r;
  }
  st.site_down = down;
  if (!down && outage && !theft_gone) {
    // Time to empty at the nominal load from the true state.
    st.true_runtime_s = model_->runtime_constant_power_s(q_, cfg_.load_w / (s * p));
  }
  // Advance the charge over this step.
  q_ = std::max(0.0, q_ + i_cell * cfg_.step_s / 3600.0);
  st.true_q_ah = q_;
  if (down) return st;

  PowerSample ps;
  ps.ts_ms = cfg_.start_ms + static_cast<std::int64_t>(std::llround(t * 1000.0));
  ps.mains_v = outage ? 0.0 : std::round((cfg_.mains_nominal_v + 2.0 * normal()) * 10) / 10;
  const double bus = s * v_cell;
  ps.dc_bus_v = std::round((bus + 0.01 * normal()) * 1000) / 1000;
  ps.battery_a = std::round((-i_cell * p + 0.05 * normal()) * 100) / 100;
  const double heat = 0.8 * i_cell * i_cell;  // self-heating, K at the modelled rates
  ps.battery_temp_c = std::round((cfg_.ambient_c + 3.0 * std::sin(2 * std::numbers::pi * t / 86400.0) + heat +
                                  0.1 * normal()) * 10) / 10;
  if (theft_gone) {
    ps.block_v.assign(static_cast<std::size_t>(cfg_.pack.series), 0.0);
    ps.battery_a = 0;
    ps.battery_connected = false;
  } else {
    for (int i = 0; i < cfg_.pack.series; ++i)
      ps.block_v.push_back(
          std::round(v_cell * (1.0 + block_offset_[static_cast<std::size_t>(i)]) * 1000 + normal()) / 1000);
    ps.battery_connected = true;
  }
  ps.door_open = theft_door;
  ps.generator = Generator::absent;
  if (est_) {
    const auto& e = est_->update(ps);
    ps.soc = std::round(e.soc * 1000) / 1000;
    if (e.runtime_s) ps.runtime_s = std::round(*e.runtime_s);
    ps.soh = std::round(e.soh * 1000) / 1000;
  }
  st.sample = std::move(ps);
  return st;
}

std::vector<PowerSample> simulate(std::shared_ptr<const DischargeModel> model, const SimConfig& cfg) {
  PowerSimulator sim(std::move(model), cfg);
  std::vector<PowerSample> out;
  while (!sim.done()) {
    auto st = sim.next();
    if (st.sample) out.push_back(std::move(*st.sample));
  }
  return out;
}

Result<std::shared_ptr<const DischargeModel>> fit_model_from_files(const std::vector<std::string>& paths) {
  std::vector<DischargeCurve> curves;
  for (const auto& p : paths) {
    auto c = load_discharge_curve(p);
    if (!c) return c.error();
    curves.push_back(std::move(*c));
  }
  auto m = DischargeModel::fit(std::move(curves));
  if (!m) return m.error();
  return std::shared_ptr<const DischargeModel>(std::make_shared<DischargeModel>(std::move(*m)));
}

Result<std::shared_ptr<const DischargeModel>> load_default_model() {
  auto dir = tw::data_dir() / "power" / "arts_samsung30q" / "S001";
  return fit_model_from_files({(dir / "Q30_S001_C10.csv").string(), (dir / "Q30_S001_1C.csv").string(),
                               (dir / "Q30_S001_2C.csv").string()});
}

}  // namespace tw::power
