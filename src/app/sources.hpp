#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tw/bus/bus.hpp"

#include "tw/core/config.hpp"
#include "tw/edge/agent.hpp"

namespace tw::app {

// Sources described by a site config: sensor replays and live feeds, camera analysers.
void add_configured_sources(edge::EdgeAgent& agent);

// The demo's simulated sites and what each replays from the recorded data in data_dir.
struct DemoSite {
  SiteConfig config;
  size_t index = 0;
};
std::vector<DemoSite> demo_sites(const std::string& data_dir);
void add_demo_sources(edge::EdgeAgent& agent, const DemoSite& site, const std::string& data_dir, double speed);
// Sites that come with the recorded data (e.g. one per accelerometer of a recorded earthquake).
void add_demo_extra_sites(std::vector<std::unique_ptr<edge::EdgeAgent>>& agents, bus::Publisher& out,
                          Metrics& metrics, const std::string& data_dir, double speed);

}  // namespace tw::app
