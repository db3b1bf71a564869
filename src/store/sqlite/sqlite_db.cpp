#include "sqlite/sqlite_db.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace tw::store::sqlite {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string code;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = "store_busy"; break;
    case SQLITE_CONSTRAINT: code = "store_constraint"; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = "store_corrupt"; break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: code = "store_open"; break;
    case SQLITE_FULL:
    case SQLITE_IOERR: code = "store_io"; break;
    default: code = "store_error"; break;
  }
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return make_error(code, fmt::format("sqlite: {}: {} (code {})", what, msg ? msg : sqlite3_errstr(rc), rc));
}

void Stmt::bind(int i, double v) {
  if (std::isnan(v))
    sqlite3_bind_null(st_, i);
  else
    sqlite3_bind_double(st_, i, v);
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, rc, sqlite3_sql(st_) ? std::string_view(sqlite3_sql(st_)).substr(0, 80) : "step");
}

Status Stmt::exec() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) return {};
  }
}

double Stmt::col_double(int i) const {
  if (sqlite3_column_type(st_, i) == SQLITE_NULL) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(st_, i);
}

std::string Stmt::col_text(int i) const {
  const auto* p = sqlite3_column_text(st_, i);
  const int n = sqlite3_column_bytes(st_, i);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqlite_error(raw, rc, fmt::format("open '{}'", path));
    sqlite3_close(raw);
    return e;
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  return std::unique_ptr<Db>(new Db(raw));
}

Db::~Db() {
  cache_.clear();  // finalize statements before closing
  sqlite3_close(db_);
}

Status Db::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return make_error(sqlite_error(db_, rc, "").code,
                      fmt::format("sqlite: exec '{}': {} (code {})", s.substr(0, 80), msg, rc));
  }
  return {};
}

Result<StmtLease> Db::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st,
                                nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, fmt::format("prepare '{}'", sql.substr(0, 80)));
    Cached c;
    c.owner.reset(st);
    c.stmt = std::make_unique<Stmt>(db_, st);
    // Queries are built from a bounded set of shapes (lists bind as one JSON array), so the cache
    // stays small; it is never cleared while statements may be leased.
    it = cache_.emplace(sql, std::move(c)).first;
  }
  return StmtLease(it->second.stmt.get());
}

}  // namespace tw::store::sqlite
