#include "pg_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <libpq-fe.h>

#include <fmt/format.h>

namespace tw::store::testing {
namespace {

namespace fs = std::filesystem;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status exec_sql(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    return make_error("pg_server", "connect for '" + sql + "': " + msg);
  }
  PGresult* r = PQexec(c, sql.c_str());
  Status out;
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    out = make_error("pg_server", "'" + sql + "': " + PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  return out;
}

}  // namespace

Result<std::unique_ptr<PgServer>> PgServer::start() {
  std::unique_ptr<PgServer> s(new PgServer());
  const char* env = std::getenv("TW_PG_BINDIR");
  s->bindir_ = env && *env ? env : "/usr/lib/postgresql/15/bin";
  for (const char* tool : {"initdb", "pg_ctl", "postgres"})
    if (!fs::exists(fs::path(s->bindir_) / tool))
      return make_error("pg_server", fmt::format("PostgreSQL binary '{}' not found in {} (install postgresql-15 "
                                                 "and postgresql-15-postgis-3, or set TW_PG_BINDIR)",
                                                 tool, s->bindir_));
  const fs::path control = fs::path("/usr/share/postgresql/15/extension/postgis.control");
  if (!env && !fs::exists(control))
    return make_error("pg_server", fmt::format("PostGIS is not installed ({} missing; install "
                                               "postgresql-15-postgis-3)",
                                               control.string()));
  char tmpl[] = "/tmp/tw_pg_XXXXXX";
  if (!::mkdtemp(tmpl)) return make_error("pg_server", "mkdtemp failed");
  s->dir_ = tmpl;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) return make_error("pg_server", "running as root but there is no 'postgres' user to run the server");
    if (::chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      return make_error("pg_server", "chown of " + s->dir_ + " to postgres failed");
    s->run_as_ = "runuser -u postgres -- ";
  }
  const std::string log = s->dir_ + "/setup.log";
  std::string cmd = fmt::format("{}{}/initdb -D {}/data -A trust -U postgres -E UTF8 --no-sync >{} 2>&1",
                                s->run_as_, s->bindir_, s->dir_, log);
  if (std::system(cmd.c_str()) != 0)
    return make_error("pg_server", fmt::format("initdb failed: {}", slurp(log)));
  for (int attempt = 0; attempt < 5 && !s->running_; ++attempt) {
    s->port_ = free_port();
    cmd = fmt::format(
        "{}{}/pg_ctl -D {}/data -l {}/server.log -w -t 60 -o \"-p {} -c listen_addresses=127.0.0.1 -k {} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 "
        "-c shared_buffers=256MB\" start >>{} 2>&1",
        s->run_as_, s->bindir_, s->dir_, s->dir_, s->port_, s->dir_, log);
    s->running_ = std::system(cmd.c_str()) == 0;
  }
  if (!s->running_)
    return make_error("pg_server", fmt::format("pg_ctl start failed: {}\n{}", slurp(log),
                                               slurp(s->dir_ + "/server.log")));
  if (auto st = exec_sql(s->url("postgres"), "CREATE DATABASE tw_template"); !st) return st.error();
  if (auto st = exec_sql(s->url("tw_template"), "CREATE EXTENSION postgis; CREATE EXTENSION btree_gist"); !st)
    return st.error();
  return s;
}

PgServer::~PgServer() {
  if (running_) {
    std::string cmd = fmt::format("{}{}/pg_ctl -D {}/data -m fast -w -t 60 stop >/dev/null 2>&1", run_as_,
                                  bindir_, dir_);
    (void)std::system(cmd.c_str());
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PgServer::url(const std::string& db) const {
  return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, db);
}

Result<std::string> PgServer::create_database() {
  std::string name = fmt::format("tw_test_{}", next_db_++);
  if (auto st = exec_sql(url("postgres"),
                         fmt::format("CREATE DATABASE {} TEMPLATE tw_template STRATEGY FILE_COPY", name));
      !st)
    return st.error();
  return url(name);
}

}  // namespace tw::store::testing
