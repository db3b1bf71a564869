#include "tw/app/downlink.hpp"

#include <spdlog/spdlog.h>

namespace tw::app {

hub::Hub::Downlink mqtt_downlink(bus::MqttClient& client) {
  return [&client](const Message& m) -> Status {
    if (auto r = client.publish(downlink_topic(m.site, m.kind), m.to_json(), 1); !r) return r.error();
    return {};
  };
}

void receive_downlink(bus::MqttClient& client, edge::EdgeAgent& agent) {
  client.add_subscription(downlink_topic(agent.config().id, "+"), 1);
  client.on_message([&agent](std::string_view topic, std::string_view payload) {
    auto m = parse_message(payload, topic);
    if (!m) {
      spdlog::warn("edge {}: message on {} rejected: {}", agent.config().id, topic, m.error().message);
      return;
    }
    if (auto st = agent.deliver(*m); !st) spdlog::warn("edge {}: {}", agent.config().id, st.error().message);
  });
}

}  // namespace tw::app
