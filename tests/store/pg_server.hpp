#pragma once
// A real, throw-away PostgreSQL 15 + PostGIS server for tests and benchmarks: initdb into a temp
// directory, pg_ctl start on 127.0.0.1 with a free port, a template database with PostGIS and
// btree_gist installed, fresh databases cloned from it, and pg_ctl stop + removal on destruction.
// As root (CI) the server runs as the `postgres` user through runuser, since postgres refuses root.
#include <memory>
#include <string>

#include "tw/core/result.hpp"

namespace tw::store::testing {

class PgServer {
 public:
  // Fails with a clear message when the PostgreSQL/PostGIS binaries are missing or start-up fails.
  static Result<std::unique_ptr<PgServer>> start();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  // postgresql://postgres@127.0.0.1:<port>/<db>
  std::string url(const std::string& db) const;
  // Creates a new empty database (PostGIS already installed) and returns its URL.
  Result<std::string> create_database();

 private:
  PgServer() = default;
  std::string dir_;
  std::string run_as_;  // "runuser -u postgres -- " when root
  std::string bindir_;
  int port_ = 0;
  int next_db_ = 0;
  bool running_ = false;
};

}  // namespace tw::store::testing
