#pragma once
// Wiring of the domain modules into the hub and the edge agent.
#include <string>

#include "tw/core/config.hpp"
#include "tw/edge/agent.hpp"
#include "tw/hub/hub.hpp"

namespace tw::app {

// Hub-side analysis: quake association, fire triangulation, power alarms, ...
void add_domain_processors(hub::Hub& hub);

}  // namespace tw::app
