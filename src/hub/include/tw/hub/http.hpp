#pragma once
// The hub's HTTP API: REST under /api/v1 (every data endpoint authenticated and filtered by the
// tenant's scope), server-sent events at /api/v1/stream, Prometheus /metrics, the OpenAPI document,
// and the static web dashboard. Reference: docs/api.md.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/result.hpp"
#include "tw/hub/hub.hpp"
#include "tw/hub/tenants.hpp"

namespace httplib {
class Server;
}

namespace tw::hub {

struct RouteInfo {
  std::string method;  // GET, POST, PUT, DELETE
  std::string path;    // OpenAPI template, e.g. /api/v1/alarms/{id}/ack
};

class HttpServer {
 public:
  HttpServer(Hub& hub, TenantRepo& tenants);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds HOST:PORT (port 0 picks a free one) and serves on a background thread.
  Status start(const std::string& listen);
  void stop();
  int port() const { return port_; }
  std::string url() const;
  // Every API route the server answers (not the static files).
  const std::vector<RouteInfo>& api_routes() const { return routes_; }

 private:
  struct Impl;
  void setup();
  Hub& hub_;
  TenantRepo& repo_;
  Authenticator auth_;
  std::unique_ptr<httplib::Server> srv_;
  std::vector<RouteInfo> routes_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
};

// The OpenAPI 3.0 document describing the routes (hand-written in openapi.cpp; a test checks that it
// and api_routes() agree).
const nlohmann::json& openapi_document();

// Parses "HOST:PORT".
Result<std::pair<std::string, int>> parse_listen(const std::string& listen);

}  // namespace tw::hub
