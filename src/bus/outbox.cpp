#include "tw/bus/outbox.hpp"

#include <fmt/format.h>

namespace tw::bus {

Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& path) {
  auto db = sqlite::Db::open(path);
  if (!db) return db.error();
  auto st = db->exec(
      "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
      "topic TEXT NOT NULL, payload TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS progress (key TEXT PRIMARY KEY, value TEXT NOT NULL);");
  if (!st) return make_error("outbox", fmt::format("{}: {}", path, st.error().message));
  return std::unique_ptr<Outbox>(new Outbox(std::move(*db)));
}

Status Outbox::append(std::span<const Message> msgs, const std::string& progress_key,
                      const std::string& progress_value) {
  std::lock_guard lock(mu_);
  if (auto st = db_.exec("BEGIN IMMEDIATE"); !st) return st;
  auto ins = db_.prepare("INSERT OR IGNORE INTO outbox (id, topic, payload) VALUES (?, ?, ?)");
  if (!ins) {
    (void)db_.exec("ROLLBACK");
    return ins.error();
  }
  for (const auto& m : msgs) {
    if (auto st = ins->bind(1, m.id).bind(2, m.topic()).bind(3, m.to_json()).run(); !st) {
      (void)db_.exec("ROLLBACK");
      return st;
    }
  }
  if (!progress_key.empty()) {
    auto p = db_.prepare("INSERT INTO progress (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    if (!p || !p->bind(1, progress_key).bind(2, progress_value).run()) {
      (void)db_.exec("ROLLBACK");
      return make_error("outbox", "cannot record progress");
    }
  }
  return db_.exec("COMMIT");
}

Result<std::vector<OutboxRow>> Outbox::fetch(std::int64_t after_seq, size_t n) {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT seq, id, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
  if (!q) return q.error();
  q->bind(1, after_seq).bind(2, static_cast<std::int64_t>(n));
  std::vector<OutboxRow> rows;
  for (;;) {
    auto r = q->step();
    if (!r) return r.error();
    if (!*r) break;
    rows.push_back({q->col_int(0), q->col_text(1), q->col_text(2), q->col_text(3)});
  }
  return rows;
}

Status Outbox::remove(std::span<const std::int64_t> seqs) {
  if (seqs.empty()) return {};
  std::lock_guard lock(mu_);
  if (auto st = db_.exec("BEGIN IMMEDIATE"); !st) return st;
  auto del = db_.prepare("DELETE FROM outbox WHERE seq = ?");
  if (!del) {
    (void)db_.exec("ROLLBACK");
    return del.error();
  }
  for (auto s : seqs) {
    if (auto st = del->bind(1, s).run(); !st) {
      (void)db_.exec("ROLLBACK");
      return st;
    }
  }
  return db_.exec("COMMIT");
}

Result<std::int64_t> Outbox::depth() {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT count(*) FROM outbox");
  if (!q) return q.error();
  auto r = q->step();
  if (!r) return r.error();
  return q->col_int(0);
}

Result<std::optional<std::string>> Outbox::progress(const std::string& key) {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT value FROM progress WHERE key = ?");
  if (!q) return q.error();
  q->bind(1, key);
  auto r = q->step();
  if (!r) return r.error();
  if (!*r) return std::optional<std::string>{};
  return std::optional<std::string>{q->col_text(0)};
}

}  // namespace tw::bus
