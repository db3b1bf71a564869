#include <gtest/gtest.h>

#include <algorithm>

#include "tw/core/message.hpp"
#include "tw/power/alarms.hpp"
#include "tw/power/simulator.hpp"

using namespace tw::power;

namespace {
std::shared_ptr<const DischargeModel> model() {
  static auto m = [] {
    auto r = load_default_model();
    EXPECT_TRUE(r) << r.error().message;
    return *r;
  }();
  return m;
}

struct Event {
  double t_s;
  AlarmChange change;
};

// Runs the simulator through the alarm evaluator, as the hub would see it.
std::vector<Event> run(const SimConfig& cfg, PowerAlarms& alarms, double* down_at = nullptr,
                       std::vector<SimStep>* steps = nullptr) {
  PowerSimulator sim(model(), cfg);
  std::vector<Event> out;
  bool was_down = false;
  while (!sim.done()) {
    auto st = sim.next();
    if (steps) steps->push_back(st);
    if (st.site_down && !was_down) {
      if (down_at) *down_at = st.t_s;
      for (auto& c : alarms.on_site_offline("sim-01", cfg.start_ms + static_cast<std::int64_t>(st.t_s * 1000)))
        out.push_back({st.t_s, c});
    }
    was_down = st.site_down;
    if (!st.sample) continue;
    auto msg = tw::make_message("sim-01", "power", st.sample->ts_ms, to_payload(*st.sample));
    for (auto& c : alarms.on_power(msg)) out.push_back({st.t_s, c});
  }
  return out;
}
const Event* find(const std::vector<Event>& ev, const std::string& type, AlarmAction a) {
  for (const auto& e : ev)
    if (e.change.type == type && e.change.action == a) return &e;
  return nullptr;
}
}  // namespace

TEST(PowerAlarms, ReplayedOutageRaisesOutageThenLowRuntimeAndClearsBoth) {
  SimConfig cfg;  // 13S42P Samsung 30Q, 1500 W, outage from 1 h for 3.5 h
  PowerAlarms alarms;
  std::vector<SimStep> steps;
  auto ev = run(cfg, alarms, nullptr, &steps);
  const auto* out_r = find(ev, "mains_outage", AlarmAction::raise);
  const auto* low_r = find(ev, "low_runtime", AlarmAction::raise);
  const auto* out_c = find(ev, "mains_outage", AlarmAction::clear);
  const auto* low_c = find(ev, "low_runtime", AlarmAction::clear);
  ASSERT_TRUE(out_r && low_r && out_c && low_c);
  EXPECT_EQ(ev.size(), 4u);  // nothing else: no theft, temperature or imbalance alarm
  EXPECT_EQ(out_r->change.severity, "major");
  EXPECT_EQ(low_r->change.severity, "critical");
  // Outage raised on the second sample without mains (debounce 2).
  EXPECT_DOUBLE_EQ(out_r->t_s, cfg.outage_start_s + cfg.step_s);
  // Low runtime later, while the battery still had about the configured hour left.
  EXPECT_GT(low_r->t_s, out_r->t_s);
  auto st = std::find_if(steps.begin(), steps.end(), [&](const SimStep& s) { return s.t_s == low_r->t_s; });
  ASSERT_NE(st, steps.end());
  ASSERT_TRUE(st->true_runtime_s);
  EXPECT_NEAR(*st->true_runtime_s, 3600, 300) << "true runtime left when low_runtime was raised";
  EXPECT_FALSE(std::any_of(steps.begin(), steps.end(), [](const SimStep& s) { return s.site_down; }));
  // Both clear when mains returns (second sample with mains, debounce 2).
  const double back = cfg.outage_start_s + cfg.outage_duration_s;
  EXPECT_DOUBLE_EQ(out_c->t_s, back + cfg.step_s);
  EXPECT_DOUBLE_EQ(low_c->t_s, back + cfg.step_s);
  EXPECT_FALSE(alarms.active("sim-01", "mains_outage"));
  EXPECT_FALSE(alarms.active("sim-01", "low_runtime"));
  EXPECT_EQ(alarms.rejects().total(), 0u);
}

TEST(PowerAlarms, EstimatesRuntimeItselfWhenTheEdgeSendsNone) {
  SimConfig cfg;
  cfg.with_estimates = false;  // raw monitor: no soc / runtime_s in the payload
  PowerAlarmsConfig acfg;
  acfg.model = model();
  acfg.pack = cfg.pack;
  PowerAlarms alarms(acfg);
  std::vector<SimStep> steps;
  auto ev = run(cfg, alarms, nullptr, &steps);
  const auto* low_r = find(ev, "low_runtime", AlarmAction::raise);
  ASSERT_TRUE(low_r);
  auto st = std::find_if(steps.begin(), steps.end(), [&](const SimStep& s) { return s.t_s == low_r->t_s; });
  EXPECT_NEAR(*st->true_runtime_s, 3600, 300);
  EXPECT_TRUE(find(ev, "low_runtime", AlarmAction::clear));
}

TEST(PowerAlarms, BatteryExhaustedSiteGoesOfflineAfterTheLowRuntimeAlarm) {
  SimConfig cfg;
  cfg.outage_duration_s = 6 * 3600;  // longer than the battery lasts
  cfg.duration_s = 9 * 3600;
  PowerAlarms alarms;
  double down_at = -1;
  auto ev = run(cfg, alarms, &down_at);
  const auto* low_r = find(ev, "low_runtime", AlarmAction::raise);
  const auto* off = find(ev, "site_offline", AlarmAction::raise);
  ASSERT_TRUE(low_r && off);
  ASSERT_GT(down_at, 0);
  EXPECT_NEAR(down_at - low_r->t_s, 3600, 300);  // warned an hour ahead
  EXPECT_EQ(off->change.severity, "critical");
  EXPECT_EQ(off->change.details["on_battery"], true);
  // Mains returns, the site reports again: offline, outage and low runtime all clear.
  EXPECT_TRUE(find(ev, "site_offline", AlarmAction::clear));
  EXPECT_TRUE(find(ev, "mains_outage", AlarmAction::clear));
  EXPECT_TRUE(find(ev, "low_runtime", AlarmAction::clear));
}

TEST(PowerAlarms, DoorOpenThenBatteryDisconnectRaisesTheft) {
  SimConfig cfg;
  cfg.outage_duration_s = 0;
  cfg.duration_s = 3 * 3600;
  cfg.theft_at_s = 2 * 3600;  // door opens; battery pulled 5 min later
  PowerAlarms alarms;
  auto ev = run(cfg, alarms);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].change.type, "battery_theft");
  EXPECT_EQ(ev[0].change.action, AlarmAction::raise);
  EXPECT_EQ(ev[0].change.severity, "critical");
  EXPECT_DOUBLE_EQ(ev[0].t_s, cfg.theft_at_s + 300);
  EXPECT_EQ(ev[0].change.details["door_open"], true);
}

TEST(PowerAlarms, DisconnectWhileOnBatteryWithDoorClosedAndClearing) {
  PowerAlarms alarms;
  PowerSample s;
  s.mains_v = 0;
  s.dc_bus_v = 50;
  s.battery_a = -20;
  s.door_open = false;
  s.battery_connected = true;
  s.block_v = {12.5, 12.5, 12.6, 12.5};
  std::int64_t t = 0;
  auto feed = [&] { s.ts_ms = (t += 60000); return alarms.on_sample("s", s); };
  feed();
  feed();  // mains_outage raised here
  s.block_v = {0.1, 0.0, 0.2, 0.1};  // blocks collapse: disconnected, no contact reported
  s.battery_connected.reset();
  auto c = feed();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "battery_theft");
  EXPECT_NE(c[0].message.find("on battery"), std::string::npos);
  s.block_v = {12.5, 12.5, 12.6, 12.5};
  s.mains_v = 230;
  s.battery_a = 2;
  c = feed();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "battery_theft");
  EXPECT_EQ(c[0].action, AlarmAction::clear);
}

TEST(PowerAlarms, OverTemperatureAndBlockImbalanceWithHysteresis) {
  PowerAlarms alarms;
  PowerSample s;
  s.mains_v = 230;
  s.dc_bus_v = 54;
  s.battery_a = 0.5;
  s.block_v = {13.5, 13.5, 13.5, 13.5};
  std::int64_t t = 0;
  auto feed = [&](double temp) {
    s.battery_temp_c = temp;
    s.ts_ms = (t += 60000);
    return alarms.on_sample("s", s);
  };
  EXPECT_TRUE(feed(44.9).empty());
  auto c = feed(45.5);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "over_temperature");
  EXPECT_EQ(c[0].details["battery_temp_c"], 45.5);
  EXPECT_TRUE(feed(43.0).empty());  // inside the 3 degC hysteresis
  c = feed(41.9);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].action, AlarmAction::clear);

  s.block_v = {13.5, 13.5, 12.5, 13.5};  // block 2 is 7.4 % low
  EXPECT_TRUE(feed(25).empty());          // debounce: first sample
  c = feed(25);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "block_imbalance");
  EXPECT_EQ(c[0].details["block"], 2);
  s.block_v = {13.5, 13.5, 13.2, 13.5};  // 2.2 %: below 60 % of the 5 % limit
  c = feed(25);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].action, AlarmAction::clear);
}

TEST(PowerAlarms, MalformedTelemetryIsRejectedWithACountedReason) {
  PowerAlarms alarms;
  auto good = tw::make_message("s", "power", 2000, {{"mains_v", 0}, {"dc_bus_v", 50}, {"battery_a", -10}});
  EXPECT_TRUE(alarms.on_power(good).empty());
  auto bad1 = tw::make_message("s", "power", 3000, {{"mains_v", 0}, {"battery_a", -10}});
  auto bad2 = tw::make_message("s", "power", 3000, {{"mains_v", 0}, {"dc_bus_v", 50}, {"battery_a", "x"}});
  auto bad3 = tw::make_message("s", "power", 3000, {{"mains_v", 0}, {"dc_bus_v", 500}, {"battery_a", -10}});
  auto old = tw::make_message("s", "power", 1000, {{"mains_v", 0}, {"dc_bus_v", 50}, {"battery_a", -10}});
  auto wrong = tw::make_message("s", "smoke", 3000, {{"camera", "c"}, {"score", 1}, {"bearing_deg", 2}});
  for (const auto* m : {&bad1, &bad2, &bad3, &old, &wrong}) EXPECT_TRUE(alarms.on_power(*m).empty());
  EXPECT_EQ(alarms.rejects().total(), 5u);
  EXPECT_EQ(alarms.rejects().count_of("missing_field"), 1u);
  EXPECT_EQ(alarms.rejects().count_of("bad_type"), 1u);
  EXPECT_EQ(alarms.rejects().count_of("out_of_range"), 1u);
  EXPECT_EQ(alarms.rejects().count_of("out_of_order"), 1u);
  EXPECT_EQ(alarms.rejects().count_of("wrong_kind"), 1u);
  // Rejected samples changed nothing: the next good one completes the outage debounce.
  auto good2 = tw::make_message("s", "power", 4000, {{"mains_v", 0}, {"dc_bus_v", 50}, {"battery_a", -10}});
  auto c = alarms.on_power(good2);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type, "mains_outage");
}

TEST(PowerSimulator, DeterministicPerSeedAndValidTelemetry) {
  SimConfig cfg;
  cfg.duration_s = 2 * 3600;
  cfg.outage_start_s = 1800;
  cfg.outage_duration_s = 1800;
  auto a = simulate(model(), cfg);
  auto b = simulate(model(), cfg);
  cfg.seed = 2;
  auto c = simulate(model(), cfg);
  ASSERT_EQ(a.size(), 121u);
  EXPECT_EQ(format_telemetry_csv(a), format_telemetry_csv(b));
  EXPECT_NE(format_telemetry_csv(a), format_telemetry_csv(c));
  for (const auto& s : a) {
    auto p = parse_power_payload(to_payload(s), s.ts_ms);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(s.block_v.size(), 13u);
  }
  // Mid-outage: on battery, ~1500 W drawn from the pack, bus voltage in the 13S Li-ion range.
  const auto& mid = a[45];
  EXPECT_EQ(mid.mains_v, 0);
  EXPECT_NEAR(-mid.battery_a * mid.dc_bus_v, 1500, 60);
  EXPECT_GT(mid.dc_bus_v, 13 * 3.3);
  EXPECT_LT(mid.dc_bus_v, 13 * 4.15);
  ASSERT_TRUE(mid.runtime_s);
  // After mains returns the pack charges (positive current).
  EXPECT_GT(a[70].battery_a, 1.0);
  EXPECT_GT(a[70].mains_v, 220);
}
