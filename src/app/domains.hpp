#pragma once
// Per-domain wiring, compiled in when the domain module is built (TW_HAVE_<DOMAIN>).
#include <cstddef>
#include <string>

#include "tw/edge/agent.hpp"
#include "tw/hub/hub.hpp"

namespace tw::app {

void add_power_processors(hub::Hub& hub);
void add_power_demo_sources(edge::EdgeAgent& agent, size_t index, double speed);

}  // namespace tw::app
