#pragma once
// Test support: free loopback ports, child processes, temporary folders, a tiny HTTP GET.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tw::test {

int free_port();  // a TCP port on 127.0.0.1 that was free a moment ago

class Process {
 public:
  Process() = default;
  // Starts argv[0] with argv; stdout and stderr go to log_path (appended).
  static Process spawn(const std::vector<std::string>& argv, const std::string& log_path);
  Process(Process&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Process& operator=(Process&& o) noexcept;
  ~Process();  // kills (SIGKILL) and reaps if still running

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit status (or -signal), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after the grace period; returns the exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
};

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

// hub.toml of the end-to-end tests: HTTP on 127.0.0.1:http_port, a SQLite store (hub.db in dir), the broker at
// broker_url with quick reconnects, and one tenant; services is a TOML array, e.g. R"(["wildfire"])".
struct HubTenant {
  std::string id, role, services, api_key_hash;
};
std::string hub_toml(const TempDir& dir, int http_port, const std::string& broker_url, const std::string& client_id,
                     const HubTenant& tenant);

// Polls fn every 50 ms until it returns true or the timeout passes.
bool wait_until(const std::function<bool()>& fn, std::chrono::milliseconds timeout);

// Plain HTTP/1.1 GET to 127.0.0.1:port; returns status and body (nullopt if unreachable).
struct HttpReply {
  int status = 0;
  std::string body;
};
std::optional<HttpReply> http_get(int port, const std::string& path, const std::string& bearer = {});

// A mosquitto broker on 127.0.0.1 with persistence in a temp folder.
struct MosquittoOptions {
  bool tls = false;      // a TLS listener with a certificate for 127.0.0.1 from a throw-away CA (openssl)
  std::string username;  // non-empty: anonymous clients are refused, this user/password is the only login
  std::string password;
};

class Mosquitto {
 public:
  explicit Mosquitto(int port = 0, MosquittoOptions options = {});
  ~Mosquitto();
  void start();
  void stop();  // graceful: the broker saves its persistent state
  int port() const { return port_; }
  std::string url() const { return (options_.tls ? "mqtts://127.0.0.1:" : "mqtt://127.0.0.1:") + std::to_string(port_); }
  std::string ca_file() const { return dir_.file("ca.crt"); }  // with tls: the CA that signed the broker

 private:
  int port_;
  MosquittoOptions options_;
  TempDir dir_;
  Process proc_;
};

}  // namespace tw::test
