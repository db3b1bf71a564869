#include "tw/bus/mqtt.hpp"

#include <mosquitto.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace tw::bus {
namespace {
std::once_flag g_init;
}

MqttClient::MqttClient(MqttOptions opts) : opts_(std::move(opts)) {}

Result<std::unique_ptr<MqttClient>> MqttClient::create(MqttOptions opts) {
  std::call_once(g_init, [] { mosquitto_lib_init(); });
  auto addr = parse_broker_url(opts.broker.url);
  if (!addr) return addr.error();
  std::unique_ptr<MqttClient> c(new MqttClient(std::move(opts)));
  const auto& b = c->opts_.broker;
  c->mosq_ = mosquitto_new(b.client_id.empty() ? nullptr : b.client_id.c_str(), c->opts_.clean_session, c.get());
  if (c->mosq_ == nullptr) return make_error("mqtt", "mosquitto_new failed (a persistent session needs a client id)");
  mosquitto_int_option(c->mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_connect_callback_set(c->mosq_, &MqttClient::cb_connect);
  mosquitto_disconnect_callback_set(c->mosq_, &MqttClient::cb_disconnect);
  mosquitto_publish_callback_set(c->mosq_, &MqttClient::cb_publish);
  mosquitto_message_callback_set(c->mosq_, &MqttClient::cb_message);
  mosquitto_subscribe_callback_set(c->mosq_, &MqttClient::cb_subscribe);
  mosquitto_max_inflight_messages_set(c->mosq_, static_cast<unsigned>(c->opts_.max_inflight));
  mosquitto_reconnect_delay_set(c->mosq_, static_cast<unsigned>(std::max(1, b.reconnect_min_ms / 1000)),
                                static_cast<unsigned>(std::max(1, b.reconnect_max_ms / 1000)), true);
  if (!b.username.empty()) {
    if (int rc = mosquitto_username_pw_set(c->mosq_, b.username.c_str(), b.password.empty() ? nullptr : b.password.c_str());
        rc != MOSQ_ERR_SUCCESS)
      return make_error("mqtt", std::string("username/password: ") + mosquitto_strerror(rc));
  }
  if (addr->tls) {
    int rc = mosquitto_tls_set(c->mosq_, b.ca_file.empty() ? nullptr : b.ca_file.c_str(),
                               b.ca_file.empty() ? "/etc/ssl/certs" : nullptr,
                               b.cert_file.empty() ? nullptr : b.cert_file.c_str(),
                               b.key_file.empty() ? nullptr : b.key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) return make_error("mqtt", std::string("TLS setup: ") + mosquitto_strerror(rc));
  }
  if (!c->opts_.will_topic.empty()) {
    int rc = mosquitto_will_set(c->mosq_, c->opts_.will_topic.c_str(), static_cast<int>(c->opts_.will_payload.size()),
                                c->opts_.will_payload.data(), 1, c->opts_.will_retain);
    if (rc != MOSQ_ERR_SUCCESS) return make_error("mqtt", std::string("last will: ") + mosquitto_strerror(rc));
  }
  return c;
}

MqttClient::~MqttClient() {
  stop();
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
}

void MqttClient::add_subscription(std::string topic, int qos) { subs_.emplace_back(std::move(topic), qos); }

Status MqttClient::start() {
  auto addr = parse_broker_url(opts_.broker.url);
  if (!addr) return addr.error();
  // connect_async returns an error if the broker is down at start; the loop thread keeps retrying.
  int rc = mosquitto_connect_async(mosq_, addr->host.c_str(), addr->port, opts_.broker.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO && rc != MOSQ_ERR_NO_CONN)
    return make_error("mqtt", std::string("connect: ") + mosquitto_strerror(rc));
  if (rc != MOSQ_ERR_SUCCESS) spdlog::warn("mqtt {}: broker {} not reachable yet, retrying", opts_.broker.client_id, opts_.broker.url);
  rc = mosquitto_loop_start(mosq_);
  if (rc != MOSQ_ERR_SUCCESS) return make_error("mqtt", std::string("loop start: ") + mosquitto_strerror(rc));
  started_ = true;
  return {};
}

void MqttClient::stop() {
  if (!started_) return;
  started_ = false;
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, true);
  connected_ = false;
}

Result<int> MqttClient::publish(const std::string& topic, std::string_view payload, int qos, bool retain) {
  if (!connected_) return make_error("not_connected", "not connected to the broker");
  int mid = 0;
  int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, retain);
  if (rc != MOSQ_ERR_SUCCESS) return make_error("mqtt", std::string("publish: ") + mosquitto_strerror(rc));
  return mid;
}

void MqttClient::cb_connect(mosquitto* m, void* self, int rc) {
  auto* c = static_cast<MqttClient*>(self);
  if (rc != 0) {
    spdlog::warn("mqtt {}: connection refused: {}", c->opts_.broker.client_id, mosquitto_connack_string(rc));
    return;
  }
  if (c->subs_.empty()) {
    c->connected_ = true;
    if (c->on_state_) c->on_state_(true);
    return;
  }
  // Ready only once the broker has confirmed every subscription (SUBACK).
  c->pending_subs_ = static_cast<int>(c->subs_.size());
  for (const auto& [topic, qos] : c->subs_) mosquitto_subscribe(m, nullptr, topic.c_str(), qos);
}

void MqttClient::cb_subscribe(mosquitto*, void* self, int, int, const int*) {
  auto* c = static_cast<MqttClient*>(self);
  if (--c->pending_subs_ == 0) {
    c->connected_ = true;
    if (c->on_state_) c->on_state_(true);
  }
}

void MqttClient::cb_disconnect(mosquitto*, void* self, int rc) {
  auto* c = static_cast<MqttClient*>(self);
  c->connected_ = false;
  if (rc != 0) spdlog::warn("mqtt {}: connection lost, reconnecting", c->opts_.broker.client_id);
  if (c->on_state_) c->on_state_(false);
}

void MqttClient::cb_publish(mosquitto*, void* self, int mid) {
  auto* c = static_cast<MqttClient*>(self);
  if (c->on_published_) c->on_published_(mid);
}

void MqttClient::cb_message(mosquitto*, void* self, const mosquitto_message* msg) {
  auto* c = static_cast<MqttClient*>(self);
  if (!c->on_message_) return;
  // Runs before the PUBACK for this message leaves the network thread: the hub commits here,
  // so the broker only learns of delivery after the store has the message.
  c->on_message_(msg->topic, std::string_view(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen)));
}

}  // namespace tw::bus
