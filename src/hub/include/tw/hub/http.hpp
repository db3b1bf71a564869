#pragma once
// The hub's HTTP API: REST under /api/v1, server-sent events at /api/v1/stream, Prometheus /metrics,
// and the static web dashboard.
#include <memory>
#include <string>
#include <thread>

#include "tw/core/result.hpp"
#include "tw/hub/hub.hpp"

namespace httplib {
class Server;
}

namespace tw::hub {

class HttpServer {
 public:
  explicit HttpServer(Hub& hub);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds HOST:PORT (port 0 picks a free one) and serves on a background thread.
  Status start(const std::string& listen);
  void stop();
  int port() const { return port_; }
  std::string url() const;

 private:
  void routes();
  Hub& hub_;
  std::unique_ptr<httplib::Server> srv_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
};

// Parses "HOST:PORT".
Result<std::pair<std::string, int>> parse_listen(const std::string& listen);

}  // namespace tw::hub
