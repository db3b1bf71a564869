#include <spdlog/spdlog.h>

#include "tw/app/runners.hpp"
#include "tw/bus/mqtt.hpp"
#include "tw/hub/http.hpp"
#include "tw/hub/hub.hpp"
#include "processors.hpp"

namespace tw::app {

int run_hub(const HubConfig& cfg, double exit_after_s) {
  block_signals();
  auto store = store::open_store(cfg.store);
  if (!store) {
    spdlog::error("hub: store {}: {}", cfg.store, store.error().message);
    return 1;
  }
  hub::Hub hub(cfg, std::move(*store));
  add_domain_processors(hub);
  hub.start();
  hub::HttpServer http(hub);
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
    // The store commit happens inside the callback, before the PUBACK leaves: the broker only
    // forgets a message once the hub has it. Rejected messages are acknowledged too (they are
    // counted and logged; redelivering them would not make them valid).
    mqtt->on_message([&hub](std::string_view topic, std::string_view payload) { (void)hub.ingest_raw(topic, payload); });
    if (auto st = mqtt->start(); !st) {
      spdlog::error("hub: {}", st.error().message);
      return 1;
    }
  }
  std::printf("towerwatch hub listening on %s\n", http.url().c_str());
  std::fflush(stdout);
  wait_for_signal(exit_after_s);
  spdlog::info("hub: stopping");
  if (mqtt) mqtt->stop();
  http.stop();
  hub.stop();
  return 0;
}

}  // namespace tw::app
