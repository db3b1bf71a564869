#include "process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace tw::test {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

Process Process::spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  Process p;
  p.pid_ = ::fork();
  if (p.pid_ < 0) throw std::runtime_error("cannot fork for " + argv[0]);
  if (p.pid_ == 0) {
    // Child: die with the test process, whatever way it ends, so nothing is left running.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execve(args[0], args.data(), environ);
    ::_exit(127);
  }
  return p;
}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return -WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  signal(SIGTERM);
  if (auto rc = wait(grace)) return *rc;
  signal(SIGKILL);
  return wait(std::chrono::seconds(5)).value_or(-1);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tw-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string hub_toml(const TempDir& dir, int http_port, const std::string& broker_url, const std::string& client_id,
                     const HubTenant& tenant) {
  return "[hub]\nlisten = \"127.0.0.1:" + std::to_string(http_port) + "\"\nstore = \"sqlite://" + dir.file("hub.db") +
         "\"\n\n[broker]\nurl = \"" + broker_url + "\"\nclient_id = \"" + client_id +
         "\"\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n\n[[tenants]]\nid = \"" + tenant.id + "\"\nrole = \"" +
         tenant.role + "\"\nservices = " + tenant.services + "\napi_key_hash = \"" + tenant.api_key_hash + "\"\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_until(const std::function<bool()>& fn, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return fn();
}

std::optional<HttpReply> http_get(int port, const std::string& path, const std::string& bearer) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (resp.size() < 12) return std::nullopt;
  HttpReply r;
  r.status = std::stoi(resp.substr(9, 3));
  auto body = resp.find("\r\n\r\n");
  r.body = body == std::string::npos ? "" : resp.substr(body + 4);
  // De-chunk if needed.
  if (resp.find("Transfer-Encoding: chunked") != std::string::npos && body != std::string::npos) {
    std::string out;
    size_t pos = 0;
    const std::string& b = r.body;
    while (pos < b.size()) {
      auto eol = b.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::stoul(b.substr(pos, eol - pos), nullptr, 16);
      if (len == 0) break;
      out += b.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    r.body = out;
  }
  return r;
}

Mosquitto::Mosquitto(int port, MosquittoOptions options)
    : port_(port == 0 ? free_port() : port), options_(std::move(options)) {}

namespace {
void run_or_throw(const std::string& cmd) {
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("test setup failed: " + cmd);
}
}  // namespace

Mosquitto::~Mosquitto() { stop(); }

void Mosquitto::start() {
  const char* bin = "/usr/sbin/mosquitto";
  if (::access(bin, X_OK) != 0) throw std::runtime_error("mosquitto is not installed (apt-get install mosquitto)");
  const passwd* pw = ::getpwuid(::getuid());
  std::string conf = dir_.file("mosquitto.conf");
  std::string security = "allow_anonymous true\n";
  const std::string d = dir_.path().string();
  if (options_.tls && !std::filesystem::exists(dir_.file("server.crt"))) {
    // A CA and a server certificate for 127.0.0.1 (the name the client checks), EC keys: quick to make.
    write_file(dir_.file("san.ext"), "subjectAltName=IP:127.0.0.1\n");
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run_or_throw("openssl req -x509" + ec + " -keyout " + d + "/ca.key -out " + d + "/ca.crt -days 2 -subj /CN=tw-test-ca");
    run_or_throw("openssl req" + ec + " -keyout " + d + "/server.key -out " + d + "/server.csr -subj /CN=127.0.0.1");
    run_or_throw("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.crt -CAkey " + d + "/ca.key -CAcreateserial -out " +
                 d + "/server.crt -days 2 -extfile " + d + "/san.ext");
  }
  if (!options_.username.empty()) {
    run_or_throw("mosquitto_passwd -b -c " + d + "/passwd " + options_.username + " " + options_.password);
    security = "allow_anonymous false\npassword_file " + d + "/passwd\n";
  }
  if (options_.tls)
    security += "cafile " + d + "/ca.crt\ncertfile " + d + "/server.crt\nkeyfile " + d + "/server.key\n";
  write_file(conf, "listener " + std::to_string(port_) + " 127.0.0.1\n" + security +
                       "persistence true\n"
                       "persistence_location " + dir_.path().string() + "/\n"
                       "autosave_interval 1\n"
                       "max_queued_messages 0\n"
                       "max_inflight_messages 100\n"
                       "user " + std::string(pw ? pw->pw_name : "root") + "\n");
  proc_ = Process::spawn({bin, "-c", conf}, dir_.file("mosquitto.log"));
  // Ready when the port accepts connections.
  bool up = wait_until(
      [&] {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port_));
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
      },
      std::chrono::seconds(10));
  if (!up) throw std::runtime_error("mosquitto did not start: " + read_file(dir_.file("mosquitto.log")));
}

void Mosquitto::stop() {
  if (proc_.running()) proc_.stop();
}

}  // namespace tw::test
