#include "postgres/pg_conn.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

namespace tw::store::pg {
namespace {

std::string error_code_for(std::string_view sqlstate) {
  if (sqlstate.starts_with("23")) return "store_constraint";
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57")) return "store_unavailable";
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") return "store_busy";
  if (sqlstate.starts_with("22")) return "bad_argument";
  if (sqlstate.starts_with("42")) return "store_schema";
  return "store_error";
}

void ignore_notice(void*, const char*) {}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::int64_t PgResult::i64(int row, int col) const {
  auto t = text(row, col);
  std::int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

double PgResult::f64(int row, int col) const {
  if (null(row, col)) return std::numeric_limits<double>::quiet_NaN();
  auto t = text(row, col);
  double v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::int64_t PgResult::affected() const {
  const char* s = PQcmdTuples(r_.get());
  return (s && *s) ? std::strtoll(s, nullptr, 10) : 0;
}

Result<std::unique_ptr<Conn>> Conn::connect(const std::string& url) {
  PGconn* raw = PQconnectdb(url.c_str());
  if (!raw) return make_error("store_unavailable", "postgresql: out of memory creating a connection");
  std::unique_ptr<Conn> c(new Conn(raw));
  if (PQstatus(raw) != CONNECTION_OK) {
    // Never echo the URL: it may hold a password.
    return make_error("store_unavailable", fmt::format("postgresql: connect to {}:{}/{} failed: {}",
                                                       PQhost(raw) ? PQhost(raw) : "?",
                                                       PQport(raw) ? PQport(raw) : "?",
                                                       PQdb(raw) ? PQdb(raw) : "?", trim(PQerrorMessage(raw))));
  }
  PQsetNoticeProcessor(raw, ignore_notice, nullptr);
  return c;
}

Status Conn::ensure() {
  if (PQstatus(c_.get()) == CONNECTION_OK) return {};
  PQreset(c_.get());
  prepared_.clear();
  if (PQstatus(c_.get()) != CONNECTION_OK)
    return make_error("store_unavailable",
                      fmt::format("postgresql: reconnect failed: {}", trim(PQerrorMessage(c_.get()))));
  if (!session_sql_.empty()) {
    if (auto r = check(PQexec(c_.get(), session_sql_.c_str()), session_sql_); !r) return r.error();
  }
  return {};
}

Status Conn::set_session(std::string sql) {
  session_sql_ = std::move(sql);
  auto r = exec(session_sql_);
  if (!r) return r.error();
  return {};
}

Result<PgResult> Conn::check(PGresult* r, std::string_view sql) {
  PgResult res(r);
  if (!r) return make_error("store_unavailable", fmt::format("postgresql: {}", trim(PQerrorMessage(c_.get()))));
  auto st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string sqlstate = state ? state : "";
  return make_error(error_code_for(sqlstate),
                    fmt::format("postgresql: '{}': {} (SQLSTATE {})", sql.substr(0, 80),
                                trim(PQresultErrorMessage(r)), sqlstate));
}

Result<PgResult> Conn::exec(const std::string& sql) {
  if (auto s = ensure(); !s) return s.error();
  return check(PQexec(c_.get(), sql.c_str()), sql);
}

Result<PgResult> Conn::query(const std::string& sql, const Params& params) {
  if (auto s = ensure(); !s) return s.error();
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = fmt::format("tw_s{}", prepared_.size());
    auto r = check(PQprepare(c_.get(), name.c_str(), sql.c_str(), 0, nullptr), sql);
    if (!r) return r.error();
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values(params.size());
  for (size_t i = 0; i < params.size(); ++i) values[i] = params[i] ? params[i]->c_str() : nullptr;
  return check(PQexecPrepared(c_.get(), it->second.c_str(), static_cast<int>(params.size()), values.data(),
                              nullptr, nullptr, 0),
               sql);
}

std::string pg_double(double v) { return fmt::format("{}", v); }

Param pg_double_or_null(double v) {
  if (std::isnan(v)) return std::nullopt;
  return pg_double(v);
}

std::string pg_array(const std::vector<Param>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if (!items[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char ch : *items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

Status Tx::begin() {
  auto r = c_.exec("BEGIN");
  if (!r) return r.error();
  active_ = true;
  return {};
}

Status Tx::commit() {
  auto r = c_.exec("COMMIT");
  active_ = false;
  if (!r) return r.error();
  return {};
}

Tx::~Tx() {
  if (active_) (void)c_.exec("ROLLBACK");
}

}  // namespace tw::store::pg
