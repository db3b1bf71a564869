#pragma once
// Per-domain wiring, compiled in when the domain module is built (TW_HAVE_<DOMAIN>).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tw/bus/bus.hpp"

#include "tw/edge/agent.hpp"
#include "tw/hub/hub.hpp"

namespace tw::app {

void add_power_processors(hub::Hub& hub);
void add_power_demo_sources(edge::EdgeAgent& agent, size_t index, double speed);

// Counting cameras of a site config; in the demo, one camera replaying a recorded plaza.
void add_video_sources(edge::EdgeAgent& agent);
void add_video_demo_sources(edge::EdgeAgent& agent, const std::string& data_dir);

// Smoke cameras of a site config; fire triangulation at the hub.
void add_wildfire_sources(edge::EdgeAgent& agent);
void add_wildfire_processors(hub::Hub& hub);
// In the demo, tower cameras that see a composited smoke plume at one place (a fire for triangulation).
void add_wildfire_demo_sources(edge::EdgeAgent& agent, const std::string& data_dir, double speed);

// Land-use change watchers on the site's cameras with "change" analytics.
void add_change_sources(edge::EdgeAgent& agent);
// In the demo, a farmland camera replaying recorded before/after captures of new construction.
void add_change_demo_sources(edge::EdgeAgent& agent, const std::string& data_dir, double speed);

void add_seismic_processors(hub::Hub& hub);
// Adds one site per accelerometer of a recorded earthquake, replayed live.
void add_seismic_demo_sites(std::vector<std::unique_ptr<edge::EdgeAgent>>& agents, bus::Publisher& out,
                            Metrics& metrics, const std::string& data_dir, double speed);

}  // namespace tw::app
