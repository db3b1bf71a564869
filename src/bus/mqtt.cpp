#include "tw/bus/mqtt.hpp"

#include <mosquitto.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
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
  // Our own network thread drives the client (run()): libmosquitto only queues packets, never writes
  // them from the caller's thread.
  mosquitto_threaded_set(c->mosq_, true);
  c->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (c->wake_fd_ < 0) return make_error("mqtt", "eventfd failed");
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
  if (wake_fd_ >= 0) close(wake_fd_);
}

void MqttClient::add_subscription(std::string topic, int qos) { subs_.emplace_back(std::move(topic), qos); }

Status MqttClient::start() {
  auto addr = parse_broker_url(opts_.broker.url);
  if (!addr) return addr.error();
  // connect_async returns an error if the broker is down at start; the network thread keeps retrying.
  int rc = mosquitto_connect_async(mosq_, addr->host.c_str(), addr->port, opts_.broker.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO && rc != MOSQ_ERR_NO_CONN)
    return make_error("mqtt", std::string("connect: ") + mosquitto_strerror(rc));
  if (rc != MOSQ_ERR_SUCCESS) spdlog::warn("mqtt {}: broker {} not reachable yet, retrying", opts_.broker.client_id, opts_.broker.url);
  stopping_ = false;
  started_ = true;
  thread_ = std::thread([this] { run(); });
  return {};
}

void MqttClient::stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
  connected_ = false;
}

void MqttClient::wake() {
  const std::uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void MqttClient::run() {
  const int min_delay = std::max(1, opts_.broker.reconnect_min_ms);
  const int max_delay = std::max(min_delay, opts_.broker.reconnect_max_ms);
  int delay = min_delay;
  while (!stopping_) {
    int rc = MOSQ_ERR_NO_CONN;
    if (mosquitto_socket(mosq_) >= 0) {
      // Connecting (TCP, TLS handshake, CONNACK) runs libmosquitto's own loop; from the CONNACK on, the
      // messages the broker kept for our session are read and acknowledged in batches like the rest.
      rc = session_up_ ? serve_batch() : mosquitto_loop(mosq_, 100, 1);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
      if (session_up_ && !refused_) delay = min_delay;  // after a refusal, only an accepted batch resets it
      continue;
    }
    session_up_ = false;
    if (stopping_) break;
    // Not connected: wait (stop() cuts the wait short), then reconnect, backing off exponentially.
    std::uint64_t stale = 0;
    (void)!read(wake_fd_, &stale, sizeof stale);  // an old wake-up must not cut this wait short
    if (stopping_) break;
    pollfd w{wake_fd_, POLLIN, 0};
    (void)poll(&w, 1, delay);
    if (stopping_) break;
    delay = std::min(max_delay, delay * 2);
    (void)mosquitto_reconnect_async(mosq_);
  }
  // A clean DISCONNECT, so the broker does not publish the last will. Only writes from here on:
  // nothing more is read, so no message is acknowledged that was not delivered.
  if (mosquitto_socket(mosq_) >= 0) {
    mosquitto_disconnect(mosq_);
    for (int i = 0; i < 50 && mosquitto_socket(mosq_) >= 0; ++i) {
      if (mosquitto_loop_write(mosq_, 1) != MOSQ_ERR_SUCCESS) break;
      pollfd out{mosquitto_socket(mosq_), POLLOUT, 0};
      if (out.fd >= 0) (void)poll(&out, 1, 20);
    }
  }
}

int MqttClient::serve_batch() {
  const int fd = mosquitto_socket(mosq_);
  pollfd p[2] = {{fd, static_cast<short>(POLLIN | (mosquitto_want_write(mosq_) ? POLLOUT : 0)), 0},
                 {wake_fd_, POLLIN, 0}};
  if (poll(p, 2, 1000) < 0) return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
  if ((p[1].revents & POLLIN) != 0) {
    std::uint64_t n = 0;
    (void)!read(wake_fd_, &n, sizeof n);
  }
  int rc = MOSQ_ERR_SUCCESS;
  if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    // Read every packet already waiting; their PUBACKs are only queued meanwhile.
    batching_ = true;
    for (;;) {
      rc = mosquitto_loop_read(mosq_, 1);
      if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq_) < 0 || inbox_.size() >= kMaxBatch) break;
      pollfd more{fd, POLLIN, 0};
      if (poll(&more, 1, 0) <= 0) break;
    }
    batching_ = false;
    if (!inbox_.empty()) {
      refused_ = !deliver();
      if (refused_) {
        // Not stored: drop the connection with the PUBACKs still unsent (reconnect discards queued packets
        // and closes the socket); run() backs off and reconnects, and the broker delivers the batch again.
        spdlog::warn("mqtt {}: batch not accepted, reconnecting without acknowledging it", opts_.broker.client_id);
        (void)mosquitto_reconnect_async(mosq_);
        connected_ = false;
        session_up_ = false;
        if (on_state_) on_state_(false);
        return MOSQ_ERR_CONN_LOST;
      }
    }
    if (rc != MOSQ_ERR_SUCCESS) return rc;
    if (mosquitto_socket(mosq_) < 0) return MOSQ_ERR_NO_CONN;
  }
  // Only now, after the callback has returned, do the PUBACKs leave (with anything published meanwhile).
  rc = mosquitto_loop_write(mosq_, 1);
  if (rc != MOSQ_ERR_SUCCESS) return rc;
  return mosquitto_loop_misc(mosq_);
}

bool MqttClient::deliver() {
  if (inbox_.empty()) return true;
  bool ok = true;
  if (on_batch_) {
    ok = on_batch_(inbox_);
  } else if (on_message_) {
    for (const auto& m : inbox_) on_message_(m.topic, m.payload);
  }
  inbox_.clear();
  return ok;
}

Result<int> MqttClient::publish(const std::string& topic, std::string_view payload, int qos, bool retain) {
  if (!connected_) return make_error("not_connected", "not connected to the broker");
  int mid = 0;
  int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, retain);
  if (rc != MOSQ_ERR_SUCCESS) return make_error("mqtt", std::string("publish: ") + mosquitto_strerror(rc));
  wake();
  return mid;
}

void MqttClient::cb_connect(mosquitto* m, void* self, int rc) {
  auto* c = static_cast<MqttClient*>(self);
  if (rc != 0) {
    spdlog::warn("mqtt {}: connection refused: {}", c->opts_.broker.client_id, mosquitto_connack_string(rc));
    return;
  }
  c->session_up_ = true;
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
  c->session_up_ = false;
  if (c->stopping_) return;  // our own DISCONNECT at stop(): nothing to report
  if (rc != 0) spdlog::warn("mqtt {}: connection lost, reconnecting", c->opts_.broker.client_id);
  if (c->on_state_) c->on_state_(false);
}

void MqttClient::cb_publish(mosquitto*, void* self, int mid) {
  auto* c = static_cast<MqttClient*>(self);
  if (c->on_published_) c->on_published_(mid);
}

void MqttClient::cb_message(mosquitto*, void* self, const mosquitto_message* msg) {
  auto* c = static_cast<MqttClient*>(self);
  if (!c->on_message_ && !c->on_batch_) return;
  // libmosquitto has queued this message's PUBACK; it is written by the network thread only after the
  // read phase, so the callback (the hub's commit) always comes first.
  c->inbox_.push_back({msg->topic, std::string(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen))});
  // Before the CONNACK has been handled (libmosquitto's own loop) a message is delivered at once; only a
  // TLS record that carries the CONNACK and messages behind it gets here. A refusal cannot hold back this
  // PUBACK: it is logged.
  if (!c->batching_ && !c->deliver())
    spdlog::error("mqtt {}: a message delivered while connecting was not accepted", c->opts_.broker.client_id);
}

}  // namespace tw::bus
