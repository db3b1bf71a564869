#include <spdlog/spdlog.h>

#include "tw/app/downlink.hpp"
#include "tw/app/runners.hpp"
#include "tw/bus/bus.hpp"
#include "tw/edge/agent.hpp"
#include "sources.hpp"

namespace tw::app {

int run_edge(const SiteConfig& cfg, const EdgeOptions& opts) {
  block_signals();
  auto outbox = bus::Outbox::open(cfg.outbox_path);
  if (!outbox) {
    spdlog::error("edge: {}", outbox.error().message);
    return 1;
  }
  Metrics metrics;
  bus::MqttOptions o;
  o.broker = cfg.broker;
  o.clean_session = true;  // durability comes from the outbox, which re-sends after any reconnect
  o.max_inflight = cfg.max_inflight;
  o.will_topic = topic_for(cfg.id, "status");
  o.will_payload = edge::make_status_message(cfg, false).to_json();
  auto client = bus::MqttClient::create(o);
  if (!client) {
    spdlog::error("edge: {}", client.error().message);
    return 2;
  }
  bus::OutboxPublisher pub(**outbox, **client, metrics, static_cast<size_t>(cfg.max_inflight));
  edge::EdgeAgent agent(cfg, pub, metrics);
  if (opts.synthetic > 0) {
    agent.add_source(std::make_unique<edge::SyntheticSource>(cfg.id, pub, opts.synthetic, opts.synthetic_rate));
  } else {
    add_configured_sources(agent);
  }
  receive_downlink(**client, agent);  // the sources are in place before anything can arrive
  pub.start();
  if (auto st = (*client)->start(); !st) {
    spdlog::error("edge: {}", st.error().message);
    return 1;
  }
  agent.start();
  wait_for_signal(0, [&] { return opts.exit_when_drained && agent.sources_done() && pub.wait_drained(0); });
  agent.stop();
  pub.stop();
  (*client)->stop();
  return 0;
}

}  // namespace tw::app
