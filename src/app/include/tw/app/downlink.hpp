#pragma once
// Messages from the hub to a site over MQTT: topic tw/v1/to/<site>/<kind>, QoS 1 (docs/messages.md). Today
// that is the operators' verdicts on smoke alarms, which teach the camera's watcher its nuisance regions.
#include "tw/bus/mqtt.hpp"
#include "tw/edge/agent.hpp"
#include "tw/hub/hub.hpp"

namespace tw::app {

// The hub's side: a Hub::Downlink publishing on the hub's client (fails fast while it is not connected).
hub::Hub::Downlink mqtt_downlink(bus::MqttClient& client);

// The site's side: subscribes the site's client to its downlink topic and hands every message, parsed and
// checked against its topic, to the agent (bad ones are logged and dropped). Call before client.start().
void receive_downlink(bus::MqttClient& client, edge::EdgeAgent& agent);

}  // namespace tw::app
