#include <spdlog/spdlog.h>

#include "tw/app/downlink.hpp"
#include "tw/app/runners.hpp"
#include "tw/bus/mqtt.hpp"
#include "tw/hub/http.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/hub.hpp"
#include "tw/hub/tenants.hpp"
#include "processors.hpp"

namespace tw::app {
namespace {
// The tenant repository: hub.tenant_db, else beside a SQLite store, else ./tenants.db.
std::string tenant_db_path(const HubConfig& cfg) {
  if (!cfg.tenant_db.empty()) return cfg.tenant_db;
  if (cfg.store.rfind("sqlite://", 0) == 0 && cfg.store != "sqlite://:memory:") return cfg.store.substr(9) + ".tenants.db";
  return "tenants.db";
}
}  // namespace

int run_hub(const HubConfig& cfg, double exit_after_s) {
  block_signals();
  auto store = store::open_store(cfg.store);
  if (!store) {
    spdlog::error("hub: store {}: {}", cfg.store, store.error().message);
    return 1;
  }
  auto tenants = hub::open_sqlite_tenant_repo(tenant_db_path(cfg));
  if (!tenants) {
    spdlog::error("hub: tenant repository {}: {}", tenant_db_path(cfg), tenants.error().message);
    return 1;
  }
  if (auto st = hub::bootstrap_tenants(**tenants, cfg.tenants, now_ms()); !st) {
    spdlog::error("hub: {}: {}", cfg.file, st.error().message);
    return 2;
  }
  hub::Hub hub(cfg, std::move(*store));
  hub.add_processor(hub::make_alert_processor());
  add_domain_processors(hub);
  hub.start();
  hub::HttpServer http(hub, **tenants);
  if (auto st = http.start(cfg.listen); !st) {
    spdlog::error("hub: {}", st.error().message);
    return 1;
  }
  std::unique_ptr<bus::MqttClient> mqtt;
  if (cfg.use_broker) {
    bus::MqttOptions o;
    o.broker = cfg.broker;
    o.clean_session = false;  // the broker keeps our QoS 1 messages while we are away
    auto c = bus::MqttClient::create(o);
    if (!c) {
      spdlog::error("hub: {}", c.error().message);
      return 2;
    }
    mqtt = std::move(*c);
    mqtt->add_subscription("tw/v1/+/+", 1);
    // The store commit happens inside the callback, before the PUBACKs leave: the broker only
    // forgets a message once the hub has it. Messages that arrive together are committed together.
    // Rejected messages are acknowledged too (they are counted and logged; redelivering them would
    // not make them valid).
    mqtt->on_messages([&hub](std::span<const RawMessage> batch) { return hub.ingest_raw_batch(batch); });
    if (auto st = mqtt->start(); !st) {
      spdlog::error("hub: {}", st.error().message);
      return 1;
    }
    hub.set_downlink(mqtt_downlink(*mqtt));  // operators' smoke verdicts to the sites
  }
  std::printf("towerwatch hub listening on %s\n", http.url().c_str());
  std::fflush(stdout);
  wait_for_signal(exit_after_s);
  spdlog::info("hub: stopping");
  hub.set_downlink({});
  if (mqtt) mqtt->stop();
  http.stop();
  hub.stop();
  return 0;
}

}  // namespace tw::app
