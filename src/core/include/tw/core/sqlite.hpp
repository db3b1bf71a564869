#pragma once
// The one RAII wrapper around sqlite3 used by the project: a connection and prepared statements,
// with every error translated into tw::Error in one place.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tw/core/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tw::sqlite {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind_null(int i);
  // Returns true while a row is available; false when done. Errors are returned as values.
  Result<bool> step();
  Status run();  // step to completion, then reset
  void reset();
  std::int64_t col_int(int i) const;
  double col_double(int i) const;
  std::string col_text(int i) const;
  bool col_null(int i) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
};

class Db {
 public:
  // Opens (creating if needed) with WAL journaling and synchronous=NORMAL.
  static Result<Db> open(const std::string& path);
  Db() = default;
  Db(Db&&) noexcept = default;
  Db& operator=(Db&&) noexcept = default;

  Status exec(const std::string& sql);
  Result<Stmt> prepare(std::string_view sql);
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  sqlite3* handle() const { return db_.get(); }
  Error error(std::string_view what) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace tw::sqlite
