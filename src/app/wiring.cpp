// The one place that knows which domain analysers exist.
#include "domains.hpp"
#include "processors.hpp"
#include "sources.hpp"

namespace tw::app {

void add_domain_processors([[maybe_unused]] hub::Hub& hub) {
#ifdef TW_HAVE_POWER
  add_power_processors(hub);
#endif
#ifdef TW_HAVE_SEISMIC
  add_seismic_processors(hub);
#endif
#ifdef TW_HAVE_WILDFIRE
  add_wildfire_processors(hub);
#endif
}

void add_configured_sources([[maybe_unused]] edge::EdgeAgent& agent) {
#ifdef TW_HAVE_VIDEO
  add_video_sources(agent);
#endif
#ifdef TW_HAVE_WILDFIRE
  add_wildfire_sources(agent);
#endif
#ifdef TW_HAVE_CHANGE
  add_change_sources(agent);
#endif
}

std::vector<DemoSite> demo_sites(const std::string& /*data_dir*/) {
  struct S {
    const char* id;
    const char* name;
    double lat, lon, h;
  };
  // Tower sites around the Valley of Mexico and the Pacific coast.
  static const S kSites[] = {
      {"cdmx-centro", "CDMX Centro", 19.4326, -99.1332, 2240},  {"cdmx-sur", "CDMX Sur", 19.3000, -99.1500, 2300},
      {"puebla", "Puebla", 19.0414, -98.2063, 2135},            {"oaxaca", "Oaxaca", 17.0732, -96.7266, 1555},
      {"acapulco", "Acapulco", 16.8531, -99.8237, 30},          {"toluca", "Toluca", 19.2826, -99.6557, 2660},
  };
  std::vector<DemoSite> out;
  for (const auto& s : kSites) {
    DemoSite d;
    d.config.id = s.id;
    d.config.name = s.name;
    d.config.lat = s.lat;
    d.config.lon = s.lon;
    d.config.height_m = s.h;
    d.config.heartbeat_s = 5;
    d.index = out.size();
    out.push_back(std::move(d));
  }
  return out;
}

void add_demo_sources([[maybe_unused]] edge::EdgeAgent& agent, [[maybe_unused]] const DemoSite& site,
                      [[maybe_unused]] const std::string& data_dir, [[maybe_unused]] double speed) {
#ifdef TW_HAVE_POWER
  add_power_demo_sources(agent, site.index, speed);
#endif
#ifdef TW_HAVE_VIDEO
  if (site.index == 0) add_video_demo_sources(agent, data_dir);
#endif
#ifdef TW_HAVE_CHANGE
  if (site.index == 2) add_change_demo_sources(agent, data_dir, speed);
#endif
#ifdef TW_HAVE_WILDFIRE
  if (site.index == 0 || site.index == 5) add_wildfire_demo_sources(agent, data_dir, speed);
#endif
}

}  // namespace tw::app

namespace tw::app {

void add_demo_extra_sites([[maybe_unused]] std::vector<std::unique_ptr<edge::EdgeAgent>>& agents,
                          [[maybe_unused]] bus::Publisher& out, [[maybe_unused]] Metrics& metrics,
                          [[maybe_unused]] const std::string& data_dir, [[maybe_unused]] double speed) {
#ifdef TW_HAVE_SEISMIC
  add_seismic_demo_sites(agents, out, metrics, data_dir, speed);
#endif
}

}  // namespace tw::app
