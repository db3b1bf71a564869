#pragma once
// The one wrapper around libpq: RAII owners for PGconn/PGresult, prepared statements cached per
// connection, text-format parameters (NULL = std::nullopt), and libpq/SQLSTATE errors translated into
// tw::Error in one place.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <libpq-fe.h>

#include "tw/core/result.hpp"

namespace tw::store::pg {

using Param = std::optional<std::string>;
using Params = std::vector<Param>;

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  int rows() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view text(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::string str(int row, int col) const { return std::string(text(row, col)); }
  std::int64_t i64(int row, int col) const;
  double f64(int row, int col) const;  // NULL reads as NaN
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  std::int64_t affected() const;  // PQcmdTuples

 private:
  struct Del {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Del> r_;
};

class Conn {
 public:
  static Result<std::unique_ptr<Conn>> connect(const std::string& url);
  // Runs one or more statements without parameters.
  Result<PgResult> exec(const std::string& sql);
  // Runs a statement with parameters, preparing it once per connection.
  Result<PgResult> query(const std::string& sql, const Params& params);
  // Reconnects if the connection was lost (prepared statements are then re-prepared and the session
  // settings re-applied).
  Status ensure();
  // Runs `sql` now and again after every reconnection (SET statements).
  Status set_session(std::string sql);

 private:
  struct Del {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  explicit Conn(PGconn* c) : c_(c) {}
  Result<PgResult> check(PGresult* r, std::string_view sql);
  std::unique_ptr<PGconn, Del> c_;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
  std::string session_sql_;
};

// Text helpers for parameters.
std::string pg_double(double v);  // shortest round-trip decimal
Param pg_double_or_null(double v);
// A PostgreSQL array literal of quoted elements ("NULL" for nullopt).
std::string pg_array(const std::vector<Param>& items);

// RAII transaction: BEGIN, COMMIT on commit(), ROLLBACK when left uncommitted.
class Tx {
 public:
  explicit Tx(Conn& c) : c_(c) {}
  Status begin();
  Status commit();
  ~Tx();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

 private:
  Conn& c_;
  bool active_ = false;
};

}  // namespace tw::store::pg
