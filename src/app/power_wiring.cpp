// Site power: alarms at the hub, a simulated battery plant at each demo site.
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "domains.hpp"
#include "tw/core/time.hpp"
#include "tw/power/alarms.hpp"
#include "tw/power/simulator.hpp"

namespace tw::app {
namespace {

// Every power message through PowerAlarms; alarm changes go onto the hub's alarm store.
class PowerProcessor : public hub::Processor {
 public:
  std::string name() const override { return "power"; }
  void on_message(const Message& m, hub::HubContext& ctx) override {
    if (m.kind != "power") return;
    for (auto& c : alarms_.on_power(m)) {
      if (c.action == power::AlarmAction::clear) {
        ctx.clear_alarm(c.site, c.type);
        continue;
      }
      store::AlarmRecord a;
      a.source = c.site;
      a.site = c.site;
      a.type = c.type;
      a.severity = c.severity;
      a.service = "power";
      a.message = c.message;
      a.details = c.details;
      a.start_ms = a.update_ms = c.ts_ms;
      if (auto s = ctx.site(c.site)) {
        a.lat = s->lat;
        a.lon = s->lon;
      }
      (void)ctx.raise_alarm(std::move(a));
    }
  }

 private:
  power::PowerAlarms alarms_;
};

// A battery plant replayed live: one sample per step, stamped with the wall clock.
class PowerSimSource : public edge::Source {
 public:
  PowerSimSource(std::string site, std::shared_ptr<const power::DischargeModel> model, power::SimConfig cfg,
                 double speed)
      : site_(std::move(site)), model_(std::move(model)), cfg_(cfg), speed_(speed) {}
  std::string name() const override { return "power-sim"; }
  void run(std::stop_token stop, bus::Publisher& out) override {
    cfg_.start_ms = tw::now_ms();
    power::PowerSimulator sim(model_, cfg_);
    auto next = std::chrono::steady_clock::now();
    while (!stop.stop_requested() && !sim.done()) {
      auto st = sim.next();
      if (st.sample) (void)out.publish(make_message(site_, "power", st.sample->ts_ms, power::to_payload(*st.sample)));
      next += std::chrono::microseconds(static_cast<std::int64_t>(1e6 * cfg_.step_s / speed_));
      tw::sleep_until(stop, next);
    }
  }

 private:
  std::string site_;
  std::shared_ptr<const power::DischargeModel> model_;
  power::SimConfig cfg_;
  double speed_;
};

}  // namespace

void add_power_processors(hub::Hub& hub) { hub.add_processor(std::make_unique<PowerProcessor>()); }

void add_power_demo_sources(edge::EdgeAgent& agent, size_t index, double speed) {
  static auto model = power::load_default_model();
  if (!model) {
    spdlog::warn("demo: no battery model ({}); power simulation off", model.error().message);
    return;
  }
  // A small battery string so that an outage runs through low-runtime within minutes; every other
  // site loses mains a minute after start, for five minutes, then recovers.
  power::SimConfig cfg;
  cfg.seed = 17 + index;
  cfg.step_s = 5;
  cfg.duration_s = 24 * 3600.0;
  cfg.pack = {13, 6};
  cfg.load_w = 1200;
  cfg.outage_start_s = index % 2 == 0 ? 60.0 + 20.0 * static_cast<double>(index) : -1;
  cfg.outage_duration_s = index % 2 == 0 ? 300 : 0;
  agent.add_source(std::make_unique<PowerSimSource>(agent.config().id, *model, cfg, speed));
}

}  // namespace tw::app
