#pragma once
#include <string>

#include "tw/core/config.hpp"
#include "tw/edge/agent.hpp"

namespace tw::app {

// Sources described by a site config: sensor replays and live feeds, camera analysers.
void add_configured_sources(edge::EdgeAgent& agent, const SiteConfig& cfg);

// The demo's simulated sites and what each replays from the recorded data in data_dir.
struct DemoSite {
  SiteConfig config;
  size_t index = 0;
};
std::vector<DemoSite> demo_sites(const std::string& data_dir);
void add_demo_sources(edge::EdgeAgent& agent, const DemoSite& site, const std::string& data_dir, double speed);

}  // namespace tw::app
