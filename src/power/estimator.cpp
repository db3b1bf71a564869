#include "tw/power/estimator.hpp"

#include <algorithm>
#include <cmath>

namespace tw::power {

BatteryEstimator::BatteryEstimator(std::shared_ptr<const DischargeModel> model, PackConfig cfg)
    : model_(std::move(model)), cfg_(cfg), history_(model_->rated_ah()) {
  cfg_.series = std::max(1, cfg_.series);
  cfg_.parallel = std::max(1, cfg_.parallel);
  rest_a_ = cfg_.rest_current_cell_a > 0 ? cfg_.rest_current_cell_a : model_->rated_ah() / 50.0;
  sd_ = 0.5 * model_->rated_ah();  // state unknown until float or a rest anchors it
}

double BatteryEstimator::cell_voltage(const PowerSample& s) const {
  if (!s.block_v.empty() && s.block_v.size() == static_cast<std::size_t>(cfg_.series)) {
    double sum = 0;
    for (double v : s.block_v) sum += v;
    return sum / static_cast<double>(s.block_v.size());
  }
  return s.dc_bus_v / cfg_.series;
}

const Estimate& BatteryEstimator::update(const PowerSample& s) {
  if (last_ts_ >= 0 && s.ts_ms < last_ts_) return est_;
  const double rated = model_->rated_ah();
  const double cap_now = rated * est_.soh;
  const double i_cell = s.battery_a / cfg_.parallel;  // + charge
  const double v_cell = cell_voltage(s);
  if (last_ts_ >= 0) {
    double dt = static_cast<double>(s.ts_ms - last_ts_) / 1000.0;
    if (dt <= cfg_.max_gap_s) {
      double dq = -i_cell * dt / 3600.0;  // + when discharging
      q_ += dq;
      moved_since_anchor_ += dq;
      sd_ += cfg_.coulomb_drift * std::abs(dq);  // a bias, so it grows linearly with the charge moved
    } else {
      sd_ += 0.1 * cap_now;  // unknown what happened in the gap
    }
  }
  last_ts_ = s.ts_ms;
  q_ = std::clamp(q_, 0.0, cap_now);

  const bool resting = std::abs(i_cell) < rest_a_;
  const bool mains_on = s.mains_v >= 100;
  // Float: on mains, charge current tapered, cell near full voltage -> full.
  if (mains_on && resting && v_cell >= model_->ocv(0) - 0.05) {
    q_ = 0;
    sd_ = 0;
    anchor_soc_ocv_ = 1.0;
    moved_since_anchor_ = 0;
  }
  if (resting) {
    if (rest_since_ < 0) {
      rest_since_ = s.ts_ms;
      anchored_this_rest_ = false;
    }
    if (!anchored_this_rest_ && static_cast<double>(s.ts_ms - rest_since_) / 1000.0 >= cfg_.rest_s) {
      anchored_this_rest_ = true;
      double soc_ocv = std::clamp(1.0 - model_->q_from_ocv(v_cell) / rated, 0.0, 1.0);
      // Capacity over the partial cycle since the previous anchor.
      if (anchor_soc_ocv_ && std::abs(*anchor_soc_ocv_ - soc_ocv) >= cfg_.min_anchor_dsoc) {
        double c = std::abs(moved_since_anchor_) / std::abs(*anchor_soc_ocv_ - soc_ocv);
        if (c > 0.3 * rated && c < 1.5 * rated) {
          history_.add(s.ts_ms, c);
          if (auto soh = history_.soh()) est_.soh = *soh;
        }
      }
      // Fuse the voltage-derived charge with the counted one.
      const double cap_new = rated * est_.soh;
      double q_ocv = (1.0 - soc_ocv) * cap_new;
      double slope = std::abs(model_->ocv_slope(model_->q_from_ocv(v_cell))) * rated / cap_new;  // V per Ah
      double r = slope > 1e-6 ? (cfg_.voltage_noise_v / slope) * (cfg_.voltage_noise_v / slope) : 1e6;
      double var = sd_ * sd_;
      double k = var / (var + r);
      q_ += k * (q_ocv - q_);
      sd_ = std::sqrt((1 - k) * var);
      anchor_soc_ocv_ = soc_ocv;
      moved_since_anchor_ = 0;
    }
  } else {
    rest_since_ = -1;
  }

  const double cap = rated * est_.soh;
  q_ = std::clamp(q_, 0.0, cap);
  est_.q_used_ah = q_;
  est_.soc = cap > 0 ? std::clamp(1.0 - q_ / cap, 0.0, 1.0) : 0.0;
  est_.on_battery = i_cell < -rest_a_;
  if (est_.on_battery) {
    double i = -i_cell;
    if (cfg_.constant_power) {
      est_.runtime_s = model_->runtime_constant_power_s(q_, i * v_cell, est_.soh);
    } else {
      double usable = model_->capacity_ah(i) * est_.soh;
      est_.runtime_s = std::max(0.0, usable - q_) * 3600.0 / i;
    }
  } else {
    est_.runtime_s.reset();
  }
  est_.eol_ms = history_.projected_eol_ms(cfg_.eol_fraction);
  return est_;
}

}  // namespace tw::power
