#pragma once
// The one wrapper around the sqlite3 C API: RAII owners for the connection and statements,
// a statement cache, and every SQLite error code translated into tw::Error in one place.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <sqlite3.h>

#include "tw/core/result.hpp"

namespace tw::store::sqlite {

// Translates an SQLite result code of `db` into an Error naming the operation.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
  // Binding: 1-based indices. Strings are copied by SQLite (SQLITE_TRANSIENT).
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void bind(int i, double v);  // NaN binds NULL
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // The caller keeps `v` alive and unchanged until the statement is stepped and reset.
  void bind_static(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind_null(int i) { sqlite3_bind_null(st_, i); }
  // Steps once: true = a row is available, false = done, Error otherwise.
  Result<bool> step();
  // Runs to completion (for statements that return no rows).
  Status exec();
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }

  std::int64_t col_int(int i) const { return sqlite3_column_int64(st_, i); }
  double col_double(int i) const;  // NULL reads as NaN
  std::string col_text(int i) const;
  bool col_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_;
};

// A statement borrowed from the cache; resets itself when it goes out of scope.
class StmtLease {
 public:
  explicit StmtLease(Stmt* s) : s_(s) {}
  StmtLease(const StmtLease&) = delete;
  StmtLease& operator=(const StmtLease&) = delete;
  StmtLease(StmtLease&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  ~StmtLease() {
    if (s_) s_->reset();
  }
  Stmt* operator->() { return s_; }
  Stmt& operator*() { return *s_; }

 private:
  Stmt* s_;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> open(const std::string& path, bool read_only = false);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Executes one or more statements without results.
  Status exec(std::string_view sql);
  // Prepares (once, then from the cache) a statement.
  Result<StmtLease> prepare(const std::string& sql);
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  struct Cached {
    std::unique_ptr<sqlite3_stmt, StmtDeleter> owner;
    std::unique_ptr<Stmt> stmt;
  };
  sqlite3* db_;
  std::unordered_map<std::string, Cached> cache_;
};

// BEGIN IMMEDIATE (or DEFERRED, for reads) ... COMMIT, rolled back when destroyed uncommitted.
// A read of several statements inside one deferred transaction sees one snapshot and takes the file
// locks once instead of once per statement.
class Transaction {
 public:
  explicit Transaction(Db& db, bool read_only = false) : db_(db), read_only_(read_only) {}
  Status begin() {
    auto s = db_.exec(read_only_ ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE");
    active_ = s.ok();
    return s;
  }
  Status commit() {
    auto s = db_.exec("COMMIT");
    if (s) active_ = false;
    return s;
  }
  ~Transaction() {
    if (active_) (void)db_.exec("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Db& db_;
  bool read_only_ = false;
  bool active_ = false;
};

}  // namespace tw::store::sqlite
