#include "tw/power/alarms.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tw::power {

std::string_view to_string(AlarmAction a) { return a == AlarmAction::raise ? "raise" : "clear"; }

nlohmann::json AlarmChange::to_json() const {
  return {{"action", std::string(to_string(action))}, {"site", site}, {"type", type}, {"severity", severity},
          {"message", message}, {"details", details}, {"ts", ts_ms}};
}

PowerAlarms::PowerAlarms(PowerAlarmsConfig cfg) : cfg_(std::move(cfg)) {}

namespace {
double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
std::string fmt_min(double s) { return fmt::format("{:.0f} min", s / 60.0); }
}  // namespace

std::vector<AlarmChange> PowerAlarms::on_power(const tw::Message& msg) {
  if (msg.kind != "power") {
    rejects_.count(make_error("wrong_kind", fmt::format("message kind '{}' is not power", msg.kind)));
    return {};
  }
  auto s = parse_power_payload(msg.payload, msg.ts_ms);
  if (!s) {
    rejects_.count(s.error());
    spdlog::debug("power: site {} message {} rejected: {}", msg.site, msg.id, s.error().message);
    return {};
  }
  return on_sample(msg.site, *s);
}

bool PowerAlarms::active(const std::string& site, const std::string& type) const {
  auto it = sites_.find(site);
  if (it == sites_.end()) return false;
  auto a = it->second.active.find(type);
  return a != it->second.active.end() && a->second;
}

std::optional<Estimate> PowerAlarms::estimate(const std::string& site) const {
  auto it = sites_.find(site);
  if (it == sites_.end() || !it->second.estimator) return std::nullopt;
  return it->second.estimator->estimate();
}

std::vector<AlarmChange> PowerAlarms::on_site_offline(const std::string& site, std::int64_t ts_ms) {
  auto& st = sites_[site];
  std::vector<AlarmChange> out;
  if (st.active["site_offline"]) return out;
  st.active["site_offline"] = true;
  AlarmChange c;
  c.site = site;
  c.type = "site_offline";
  c.ts_ms = ts_ms;
  c.severity = st.on_battery ? "critical" : "major";
  c.message = st.on_battery ? "site went offline while on battery: battery probably exhausted"
                            : "site went offline while on mains";
  c.details = {{"on_battery", st.on_battery}};
  if (st.last_soc) c.details["last_soc"] = *st.last_soc;
  if (st.last_runtime_s) c.details["last_runtime_s"] = *st.last_runtime_s;
  out.push_back(std::move(c));
  return out;
}

std::vector<AlarmChange> PowerAlarms::on_sample(const std::string& site, const PowerSample& s) {
  auto& st = sites_[site];
  std::vector<AlarmChange> out;
  if (st.last_ts >= 0 && s.ts_ms < st.last_ts) {
    rejects_.count(make_error("out_of_order", fmt::format("site {}: sample at {} ms is older than the last one ({} ms)",
                                                          site, s.ts_ms, st.last_ts)));
    return out;
  }
  st.last_ts = s.ts_ms;
  // Builds the message and details only when the alarm actually changes state (the common case
  // is no change, and formatting dominates the per-message cost otherwise).
  auto set = [&](const char* type, bool on, const char* severity, auto&& message, auto&& details) {
    bool& a = st.active[type];
    if (a == on) return;
    a = on;
    out.push_back(AlarmChange{on ? AlarmAction::raise : AlarmAction::clear, site, type, severity, message(),
                              details(), s.ts_ms});
  };
  auto none = [] { return nlohmann::json::object(); };
  if (st.active["site_offline"])
    set("site_offline", false, "major", [] { return std::string("site is reporting again"); }, none);

  std::optional<Estimate> est;
  if (cfg_.model) {
    if (!st.estimator) st.estimator = std::make_unique<BatteryEstimator>(cfg_.model, cfg_.pack);
    est = st.estimator->update(s);
  }
  std::optional<double> runtime = s.runtime_s;
  if (!runtime && est) runtime = est->runtime_s;
  std::optional<double> soc = s.soc;
  if (!soc && est) soc = est->soc;

  const bool mains_low = s.mains_v < cfg_.mains_low_v;
  const bool gen = s.generator == Generator::running;
  const bool on_battery = (mains_low && !gen) || s.battery_a < -cfg_.discharge_a;
  auto base = [&] {
    nlohmann::json d{{"mains_v", s.mains_v}, {"dc_bus_v", s.dc_bus_v}, {"battery_a", s.battery_a},
                     {"generator", std::string(to_string(s.generator))}};
    if (soc) d["soc"] = *soc;
    if (runtime) d["runtime_s"] = *runtime;
    return d;
  };

  // Mains outage, debounced both ways.
  st.mains_low_count = mains_low ? st.mains_low_count + 1 : 0;
  st.mains_ok_count = s.mains_v >= cfg_.mains_ok_v ? st.mains_ok_count + 1 : 0;
  if (st.mains_low_count >= cfg_.debounce_samples)
    set("mains_outage", true, gen ? "minor" : "major",
        [&] {
          return gen ? fmt::format("mains failed ({:.0f} V), generator running", s.mains_v)
                     : fmt::format("mains failed ({:.0f} V), site on battery", s.mains_v);
        },
        base);
  if (st.mains_ok_count >= cfg_.debounce_samples)
    set("mains_outage", false, "major", [&] { return fmt::format("mains restored ({:.0f} V)", s.mains_v); }, base);

  // Low runtime.
  const double thr_s = cfg_.low_runtime_min * 60.0;
  if (on_battery && runtime && *runtime < thr_s) {
    set("low_runtime", true, "critical",
        [&] {
          return fmt::format("battery runtime {} below {} (SoC {:.0f} %)", fmt_min(*runtime), fmt_min(thr_s),
                             soc ? *soc * 100 : -1.0);
        },
        [&] {
          auto d = base();
          d["threshold_s"] = thr_s;
          return d;
        });
  } else if ((!on_battery && !st.active["mains_outage"]) || (runtime && *runtime >= 1.25 * thr_s)) {
    set("low_runtime", false, "critical",
        [&] {
          return on_battery ? fmt::format("battery runtime back to {}", fmt_min(runtime.value_or(0)))
                            : std::string("site back on mains");
        },
        base);
  }

  // Battery over-temperature.
  if (s.battery_temp_c) {
    const double temp = *s.battery_temp_c;
    auto d = [&] { return nlohmann::json{{"battery_temp_c", temp}, {"max_temp_c", cfg_.max_temp_c}}; };
    if (temp > cfg_.max_temp_c)
      set("over_temperature", true, "major",
          [&] { return fmt::format("battery at {:.1f} °C (limit {:.0f} °C)", temp, cfg_.max_temp_c); }, d);
    else if (temp < cfg_.max_temp_c - cfg_.temp_hysteresis_c)
      set("over_temperature", false, "major", [&] { return fmt::format("battery back to {:.1f} °C", temp); }, d);
  }

  // Blocks: imbalance and collapse (disconnection).
  bool blocks_collapsed = false;
  if (s.block_v.size() >= 3) {
    double med = median_of(s.block_v);
    if (st.healthy_block_median && med < 0.25 * *st.healthy_block_median) {
      blocks_collapsed = true;
    } else if (med > 0) {
      st.healthy_block_median = med;
      double worst = 0;
      std::size_t worst_i = 0;
      for (std::size_t i = 0; i < s.block_v.size(); ++i)
        if (std::abs(s.block_v[i] - med) > worst) { worst = std::abs(s.block_v[i] - med); worst_i = i; }
      double frac = worst / med;
      st.imbalance_count = frac > cfg_.imbalance_frac ? st.imbalance_count + 1 : 0;
      auto d = [&] {
        return nlohmann::json{{"block", worst_i}, {"block_v", s.block_v[worst_i]}, {"median_v", med},
                              {"deviation_frac", frac}};
      };
      if (st.imbalance_count >= cfg_.debounce_samples)
        set("block_imbalance", true, "minor",
            [&] {
              return fmt::format("block {} at {:.3f} V deviates {:.1f} % from the median {:.3f} V", worst_i,
                                 s.block_v[worst_i], frac * 100, med);
            },
            d);
      else if (frac < 0.6 * cfg_.imbalance_frac)
        set("block_imbalance", false, "minor", [] { return std::string("block voltages balanced again"); }, d);
    }
  }

  // Possible theft: battery disconnected with the door open or while the site needs the battery.
  const bool disconnected = (s.battery_connected && !*s.battery_connected) || blocks_collapsed;
  const bool door = s.door_open.value_or(false);
  auto td = [&] {
    return nlohmann::json{{"door_open", door}, {"on_battery", on_battery}, {"battery_connected", !disconnected}};
  };
  if (disconnected && (door || on_battery))
    set("battery_theft", true, "critical",
        [&] {
          return std::string(door ? "battery disconnected with the cabinet door open: possible theft"
                                  : "battery disconnected while the site is on battery: possible theft");
        },
        td);
  else if (!disconnected && !door)
    set("battery_theft", false, "critical", [] { return std::string("battery reconnected and door closed"); }, td);

  st.on_battery = on_battery;
  st.last_soc = soc;
  st.last_runtime_s = runtime;
  return out;
}

}  // namespace tw::power
