#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "processors.hpp"
#include "sources.hpp"
#include "tw/app/runners.hpp"
#include "tw/bus/bus.hpp"
#include "tw/core/paths.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/http.hpp"
#include "tw/hub/tenants.hpp"

namespace tw::app {

int run_demo(const DemoOptions& opts) {
  block_signals();
  std::string state = opts.state_dir;
  if (state.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "towerwatch-demo-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      spdlog::error("demo: cannot create a state directory");
      return 1;
    }
    state = tmpl;
  }
  std::error_code ec;
  std::filesystem::create_directories(state, ec);
  if (ec) {
    spdlog::error("demo: state directory {}: {}", state, ec.message());
    return 1;
  }
  const std::string data = opts.data_dir.empty() ? data_dir().string() : opts.data_dir;

  HubConfig hc;
  hc.listen = opts.listen;
  hc.store = "sqlite://" + (std::filesystem::absolute(state) / "hub.db").string();
  hc.use_broker = false;
  hc.offline_after_s = 30;
  auto store = store::open_store(hc.store);
  if (!store) {
    spdlog::error("demo: {}", store.error().message);
    return 1;
  }
  // Demo tenants with fixed, documented keys (docs/api.md), in the state directory's tenant repository.
  auto tenants = hub::open_sqlite_tenant_repo((std::filesystem::absolute(state) / "tenants.db").string());
  if (!tenants) {
    spdlog::error("demo: tenants: {}", tenants.error().message);
    return 1;
  }
  const auto demo = hub::demo_tenants();
  for (const auto& d : demo) {
    if (auto st = (*tenants)->upsert_tenant(d.tenant); !st) {
      spdlog::error("demo: tenants: {}", st.error().message);
      return 1;
    }
    if (auto k = (*tenants)->add_key(d.tenant.id, hub::hash_api_key(d.key), "demo", now_ms()); !k) {
      spdlog::error("demo: tenants: {}", k.error().message);
      return 1;
    }
  }
  hub::Hub hub(hc, std::move(*store));
  hub.add_processor(hub::make_alert_processor());
  add_domain_processors(hub);
  hub.start();
  hub::HttpServer http(hub, **tenants);
  if (auto st = http.start(hc.listen); !st) {
    spdlog::error("demo: {}", st.error().message);
    return 1;
  }

  bus::InProcessBus bus;
  bus.subscribe([&hub](const Message& m) { return hub.ingest(m); });
  Metrics edge_metrics;
  std::vector<std::unique_ptr<edge::EdgeAgent>> agents;
  for (auto site : demo_sites(data)) {
    // Each site keeps its files (analysis state) in its own folder of the state directory.
    site.config.outbox_path = (std::filesystem::absolute(state) / site.config.id / "outbox.db").string();
    std::filesystem::create_directories(std::filesystem::path(site.config.outbox_path).parent_path(), ec);
    auto agent = std::make_unique<edge::EdgeAgent>(site.config, bus, edge_metrics);
    add_demo_sources(*agent, site, data, opts.speed);
    agents.push_back(std::move(agent));
  }
  add_demo_extra_sites(agents, bus, edge_metrics, data, opts.speed);
  // Operators' verdicts go straight to the site's agent (the separate processes use MQTT: tw/app/downlink.hpp).
  hub.set_downlink([&agents](const Message& m) -> Status {
    for (auto& a : agents)
      if (a->config().id == m.site) return a->deliver(m);
    return make_error("unknown_site", "no demo site " + m.site);
  });
  std::printf("towerwatch demo: dashboard and API at %s (state in %s, data from %s)\n", http.url().c_str(),
              state.c_str(), data.c_str());
  std::printf("demo API keys (log in to the dashboard with one; never use them outside the demo):\n");
  for (const auto& d : demo)
    std::printf("  %-18s %-9s %-32s %s\n", d.tenant.id.c_str(), hub::to_string(d.tenant.role).c_str(), d.key.c_str(),
                d.tenant.name.c_str());
  std::fflush(stdout);
  for (auto& a : agents) a->start();  // after the address is out: anyone who sees a site can find the log line
  wait_for_signal(opts.exit_after_s);
  spdlog::info("demo: stopping");
  for (auto& a : agents) a->stop();
  http.stop();  // no verdict reaches the agents after this, before they are destroyed
  hub.stop();
  return 0;
}

}  // namespace tw::app
