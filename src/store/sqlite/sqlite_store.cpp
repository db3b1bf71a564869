// SQLite backend. Thread model: one connection per store guarded by one mutex; every public call
// takes the mutex for its whole duration, so calls from several hub threads are serialised and each
// batch or alarm transition is atomic. Several stores (or processes) may open the same file: WAL mode
// lets readers run beside the writer, BEGIN IMMEDIATE plus a busy timeout serialises writers, and the
// partial unique index keeps one active alarm per (source, type) across connections.
#include "sqlite/sqlite_store.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "common.hpp"
#include "sqlite/sqlite_db.hpp"
#include "tw/core/time.hpp"

namespace tw::store::sqlite {
namespace {

using detail::has_coords;

// Migrations, applied in order; schema_version holds the highest one applied. Never edit an applied
// migration: append a new one.
const char* const kMigrations[] = {
    // 1: sites, events (+ a grid-cell/time index for near queries), alarms and their history.
    R"sql(
CREATE TABLE sites(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lat REAL, lon REAL, height_m REAL NOT NULL,
  status TEXT NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  info TEXT NOT NULL);
CREATE TABLE events(
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  site TEXT NOT NULL,
  kind TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  lat REAL, lon REAL,
  cell INTEGER,
  payload TEXT NOT NULL);
CREATE INDEX events_ts ON events(ts_ms);
CREATE INDEX events_kind_ts ON events(kind, ts_ms);
CREATE INDEX events_site_ts ON events(site, ts_ms);
CREATE INDEX events_cell_ts ON events(cell, ts_ms, lat, lon) WHERE cell IS NOT NULL;
CREATE TABLE alarms(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL, type TEXT NOT NULL,
  severity TEXT NOT NULL, status TEXT NOT NULL, service TEXT NOT NULL, site TEXT NOT NULL,
  lat REAL, lon REAL,
  start_ms INTEGER NOT NULL, update_ms INTEGER NOT NULL, ack_ms INTEGER NOT NULL, clear_ms INTEGER NOT NULL,
  count INTEGER NOT NULL, assignee TEXT NOT NULL, message TEXT NOT NULL, details TEXT NOT NULL);
CREATE UNIQUE INDEX alarms_one_active ON alarms(source, type) WHERE status IN ('active_unack', 'active_ack');
CREATE INDEX alarms_update ON alarms(update_ms);
CREATE INDEX alarms_site ON alarms(site);
CREATE TABLE alarm_history(
  seq INTEGER PRIMARY KEY,
  alarm_id INTEGER NOT NULL REFERENCES alarms(id),
  ts_ms INTEGER NOT NULL, action TEXT NOT NULL, user TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX alarm_history_alarm ON alarm_history(alarm_id, seq);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kEventCols = "e.id, e.site, e.kind, e.ts_ms, e.received_ms, e.lat, e.lon, e.payload";
constexpr const char* kAlarmCols =
    "id, source, type, severity, status, service, site, lat, lon, start_ms, update_ms, ack_ms, clear_ms, count, "
    "assignee, message, details";

Result<nlohmann::json> parse_json(const std::string& text, std::string_view what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    return make_error("store_corrupt", fmt::format("sqlite: {}: stored JSON does not parse", what));
  return j;
}

Result<EventRecord> read_event(Stmt& s, int c0 = 0) {
  EventRecord e;
  e.id = s.col_text(c0 + 0);
  e.site = s.col_text(c0 + 1);
  e.kind = s.col_text(c0 + 2);
  e.ts_ms = s.col_int(c0 + 3);
  e.received_ms = s.col_int(c0 + 4);
  e.lat = s.col_double(c0 + 5);
  e.lon = s.col_double(c0 + 6);
  auto p = parse_json(s.col_text(c0 + 7), "event " + e.id + " payload");
  if (!p) return p.error();
  e.payload = std::move(*p);
  return e;
}

Result<AlarmRecord> read_alarm(Stmt& s) {
  AlarmRecord a;
  a.id = s.col_int(0);
  a.source = s.col_text(1);
  a.type = s.col_text(2);
  a.severity = s.col_text(3);
  a.status = s.col_text(4);
  a.service = s.col_text(5);
  a.site = s.col_text(6);
  a.lat = s.col_double(7);
  a.lon = s.col_double(8);
  a.start_ms = s.col_int(9);
  a.update_ms = s.col_int(10);
  a.ack_ms = s.col_int(11);
  a.clear_ms = s.col_int(12);
  a.count = s.col_int(13);
  a.assignee = s.col_text(14);
  a.message = s.col_text(15);
  auto d = parse_json(s.col_text(16), fmt::format("alarm {} details", a.id));
  if (!d) return d.error();
  a.details = std::move(*d);
  return a;
}

std::string json_array(const std::vector<std::string>& v) { return detail::json_text(nlohmann::json(v)); }

// Grid cells of kCellDeg degrees index event locations (events_cell_ts). 0.25 degrees is about 28 km of
// latitude: a 30 km evidence query touches about 12 cells.
constexpr double kCellDeg = 0.25;
constexpr std::int64_t kLonCells = static_cast<std::int64_t>(360.0 / kCellDeg) + 1;
constexpr size_t kMaxCells = 400;

std::int64_t lat_index(double lat) { return static_cast<std::int64_t>(std::floor((lat + 90.0) / kCellDeg)); }
std::int64_t lon_index(double lon) { return static_cast<std::int64_t>(std::floor((lon + 180.0) / kCellDeg)); }
std::int64_t grid_cell(double lat, double lon) { return lat_index(lat) * kLonCells + lon_index(lon); }

// Cells overlapping the box; false when there would be more than kMaxCells.
bool cells_in_box(const detail::BoundingBox& b, std::vector<std::int64_t>& out) {
  const std::int64_t la0 = lat_index(b.min_lat), la1 = lat_index(b.max_lat);
  auto add_range = [&](double lo, double hi) {
    const std::int64_t c0 = lon_index(lo), c1 = lon_index(hi);
    if (static_cast<size_t>((la1 - la0 + 1) * (c1 - c0 + 1)) + out.size() > kMaxCells) return false;
    for (std::int64_t la = la0; la <= la1; ++la)
      for (std::int64_t c = c0; c <= c1; ++c) out.push_back(la * kLonCells + c);
    return true;
  };
  if (!add_range(b.min_lon1, b.max_lon1)) return false;
  if (b.has_second && !add_range(b.min_lon2, b.max_lon2)) return false;
  return true;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  std::string backend() const override { return "sqlite"; }

  Status init(bool in_memory) {
    // Default 4 KiB pages: 16 and 32 KiB pages made batches of 10,000 up to 1.4 x faster but single-event
    // transactions 2 x slower (BENCHMARKS.md), and the hub also commits small batches.
    if (!in_memory) {
      auto st = db_->prepare("PRAGMA journal_mode=WAL");
      if (!st) return st.error();
      auto row = (*st)->step();
      if (!row) return row.error();
      if (!*row || (*st)->col_text(0) != "wal")
        return make_error("store_open", "sqlite: could not switch the database to WAL journal mode");
    }
    if (auto s = db_->exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;"
                           "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456;");
        !s)
      return s;
    return migrate();
  }

  Status migrate() {
    if (auto s = db_->exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL, "
                           "applied_ms INTEGER NOT NULL)");
        !s)
      return s;
    for (;;) {
      Transaction tx(*db_);
      if (auto s = tx.begin(); !s) return s;
      auto st = db_->prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
      if (!st) return st.error();
      auto row = (*st)->step();
      if (!row) return row.error();
      const auto current = static_cast<int>((*st)->col_int(0));
      if (current > kSchemaVersion)
        return make_error("store_schema", fmt::format("sqlite: database schema version {} is newer than this "
                                                      "build's {}",
                                                      current, kSchemaVersion));
      if (current == kSchemaVersion) return tx.commit();
      if (auto s = db_->exec(kMigrations[current]); !s)
        return make_error(s.error().code, fmt::format("migration {}: {}", current + 1, s.error().message));
      auto ins = db_->prepare("INSERT INTO schema_version(version, applied_ms) VALUES(?, ?)");
      if (!ins) return ins.error();
      (*ins)->bind(1, std::int64_t{current + 1});
      (*ins)->bind(2, tw::now_ms());
      if (auto s = (*ins)->exec(); !s) return s;
      if (auto s = tx.commit(); !s) return s;
    }
  }

  // ---- sites
  Status upsert_site(const SiteRecord& site) override {
    if (auto v = detail::validate_site(site); !v) return v;
    std::lock_guard lock(mu_);
    auto st = db_->prepare(
        "INSERT INTO sites(id, name, lat, lon, height_m, status, last_seen_ms, info) VALUES(?,?,?,?,?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, lat=excluded.lat, lon=excluded.lon, "
        "height_m=excluded.height_m, status=excluded.status, last_seen_ms=excluded.last_seen_ms, "
        "info=excluded.info");
    if (!st) return st.error();
    auto& s = **st;
    s.bind(1, site.id);
    s.bind(2, site.name);
    s.bind(3, site.lat);
    s.bind(4, site.lon);
    s.bind(5, site.height_m);
    s.bind(6, site.status);
    s.bind(7, site.last_seen_ms);
    s.bind(8, detail::json_text(site.info));
    return s.exec();
  }

  Status set_site_status(const std::string& id, const std::string& status, std::int64_t seen_ms) override {
    if (!detail::valid_site_status(status))
      return make_error("bad_argument",
                        fmt::format("site '{}': status '{}' is not online|offline|unknown", id, status));
    std::lock_guard lock(mu_);
    auto st = db_->prepare("UPDATE sites SET status=?, last_seen_ms=MAX(last_seen_ms, ?) WHERE id=?");
    if (!st) return st.error();
    (*st)->bind(1, status);
    (*st)->bind(2, seen_ms);
    (*st)->bind(3, id);
    if (auto s = (*st)->exec(); !s) return s;
    if (db_->changes() == 0) return make_error("not_found", fmt::format("site '{}' is not known", id));
    return {};
  }

  Result<std::vector<SiteRecord>> sites() override {
    std::lock_guard lock(mu_);
    return read_sites("SELECT id, name, lat, lon, height_m, status, last_seen_ms, info FROM sites ORDER BY id",
                      nullptr);
  }

  Result<std::optional<SiteRecord>> site(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto r = read_sites("SELECT id, name, lat, lon, height_m, status, last_seen_ms, info FROM sites WHERE id=?",
                        &id);
    if (!r) return r.error();
    if (r->empty()) return std::optional<SiteRecord>{};
    return std::optional<SiteRecord>{std::move(r->front())};
  }

  // ---- events
  using Store::insert_events;
  Result<size_t> insert_events(std::span<const EventRecord> events, std::vector<bool>* inserted) override {
    for (size_t i = 0; i < events.size(); ++i)
      if (auto s = detail::validate_event(events[i], i); !s) return s.error();
    if (inserted != nullptr) inserted->assign(events.size(), false);
    if (events.empty()) return size_t{0};
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    if (auto s = tx.begin(); !s) return s.error();
    auto ins = db_->prepare(
        "INSERT OR IGNORE INTO events(id, site, kind, ts_ms, received_ms, lat, lon, cell, payload) "
        "VALUES(?,?,?,?,?,?,?,?,?)");
    if (!ins) return ins.error();
    size_t added = 0;
    std::vector<bool> is_new(events.size(), false);  // handed out only once committed
    std::string payload;
    for (size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      auto& s = **ins;
      // The strings outlive the step, so SQLite need not copy them.
      s.bind_static(1, e.id);
      s.bind_static(2, e.site);
      s.bind_static(3, e.kind);
      s.bind(4, e.ts_ms);
      s.bind(5, e.received_ms);
      s.bind(6, e.lat);
      s.bind(7, e.lon);
      if (has_coords(e.lat, e.lon))
        s.bind(8, grid_cell(e.lat, e.lon));
      else
        s.bind_null(8);
      payload = detail::json_text(e.payload);
      s.bind_static(9, payload);
      auto r = s.exec();
      s.reset();
      if (!r) return make_error(r.error().code, fmt::format("insert event '{}': {}", e.id, r.error().message));
      is_new[i] = db_->changes() > 0;
      added += is_new[i] ? 1 : 0;
    }
    if (auto s = tx.commit(); !s) return s.error();
    if (inserted != nullptr) *inserted = std::move(is_new);
    return added;
  }

  Result<std::vector<EventRecord>> query_events(const EventQuery& q) override {
    if (auto s = detail::validate_event_query(q); !s) return s.error();
    std::lock_guard lock(mu_);
    if (q.near) return query_near(q);
    // With a site or kind filter, each value is read from its own (value, ts_ms) index range in order, so
    // a rare kind or a quiet site costs `limit` rows per value instead of a scan of the time index; the
    // runs are merged here. Long lists fall back to one query.
    const bool by_site = !q.sites.empty() && q.sites.size() <= kMaxSplit;
    const bool by_kind = !by_site && !q.kinds.empty() && q.kinds.size() <= kMaxSplit;
    if (!by_site && !by_kind) return run_event_query(q, "");
    Transaction tx(*db_, /*read_only=*/true);
    if (auto b = tx.begin(); !b) return b.error();
    std::vector<EventRecord> out;
    for (const auto& v : by_site ? q.sites : q.kinds) {
      EventQuery one = q;
      (by_site ? one.sites : one.kinds) = {v};
      auto part = run_event_query(one, by_site ? "events_site_ts" : "events_kind_ts");
      if (!part) return part.error();
      for (auto& e : *part) out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [&](const EventRecord& a, const EventRecord& b) {
      if (a.ts_ms != b.ts_ms) return q.newest_first ? a.ts_ms > b.ts_ms : a.ts_ms < b.ts_ms;
      return q.newest_first ? a.id > b.id : a.id < b.id;
    });
    if (out.size() > q.limit) out.resize(q.limit);
    return out;
  }

  Result<std::optional<EventRecord>> event(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto st = db_->prepare(fmt::format("SELECT {} FROM events e WHERE e.id=?", kEventCols));
    if (!st) return st.error();
    (*st)->bind(1, id);
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) return std::optional<EventRecord>{};
    auto e = read_event(**st);
    if (!e) return e.error();
    return std::optional<EventRecord>{std::move(*e)};
  }

  Result<std::int64_t> count_events() override {
    std::lock_guard lock(mu_);
    auto st = db_->prepare("SELECT COUNT(*) FROM events");
    if (!st) return st.error();
    auto row = (*st)->step();
    if (!row) return row.error();
    return (*st)->col_int(0);
  }

  // ---- alarms
  Result<AlarmRecord> raise_alarm(const AlarmRecord& a) override {
    if (auto s = detail::validate_alarm(a); !s) return s.error();
    const std::int64_t ts = a.update_ms ? a.update_ms : a.start_ms;
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    if (auto s = tx.begin(); !s) return s.error();
    auto st = db_->prepare(fmt::format(
        "INSERT INTO alarms(source, type, severity, status, service, site, lat, lon, start_ms, update_ms, ack_ms, "
        "clear_ms, count, assignee, message, details) VALUES(?,?,?,'active_unack',?,?,?,?,?,?,0,0,1,?,?,?) "
        "ON CONFLICT(source, type) WHERE status IN ('active_unack', 'active_ack') DO UPDATE SET "
        "severity=excluded.severity, service=excluded.service, site=excluded.site, lat=excluded.lat, "
        "lon=excluded.lon, update_ms=MAX(update_ms, excluded.update_ms), count=count+1, "
        "message=excluded.message, details=excluded.details RETURNING {}",
        kAlarmCols));
    if (!st) return st.error();
    auto& s = **st;
    s.bind(1, a.source);
    s.bind(2, a.type);
    s.bind(3, a.severity);
    s.bind(4, a.service);
    s.bind(5, a.site);
    s.bind(6, a.lat);
    s.bind(7, a.lon);
    s.bind(8, a.start_ms ? a.start_ms : ts);
    s.bind(9, ts);
    s.bind(10, a.assignee);
    s.bind(11, a.message);
    s.bind(12, detail::json_text(a.details));
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return make_error("store_error", "sqlite: raise_alarm returned no row");
    auto rec = read_alarm(s);
    if (!rec) return rec.error();
    if (auto done = s.exec(); !done) return done.error();
    if (auto h = add_history(rec->id, ts, rec->count == 1 ? "raised" : "updated", "", a.message); !h)
      return h.error();
    if (auto c = tx.commit(); !c) return c.error();
    return rec;
  }

  Result<std::optional<AlarmRecord>> clear_alarm(const std::string& source, const std::string& type,
                                                 std::int64_t ts_ms, const std::string& user) override {
    std::lock_guard lock(mu_);
    auto st = db_->prepare(
        "SELECT id FROM alarms WHERE source=? AND type=? AND status IN ('active_unack', 'active_ack')");
    if (!st) return st.error();
    (*st)->bind(1, source);
    (*st)->bind(2, type);
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) return std::optional<AlarmRecord>{};
    const std::int64_t id = (*st)->col_int(0);
    (*st)->reset();
    return transition(id, ts_ms, user, Op::kClear, "");
  }

  Result<std::optional<AlarmRecord>> clear_alarm_by_id(std::int64_t id, std::int64_t ts_ms,
                                                       const std::string& user) override {
    std::lock_guard lock(mu_);
    return transition(id, ts_ms, user, Op::kClear, "");
  }

  Result<std::optional<AlarmRecord>> acknowledge_alarm(std::int64_t id, std::int64_t ts_ms,
                                                       const std::string& user) override {
    std::lock_guard lock(mu_);
    return transition(id, ts_ms, user, Op::kAck, "");
  }

  Result<std::optional<AlarmRecord>> assign_alarm(std::int64_t id, const std::string& assignee, std::int64_t ts_ms,
                                                  const std::string& user) override {
    std::lock_guard lock(mu_);
    return transition(id, ts_ms, user, Op::kAssign, assignee);
  }

  Status comment_alarm(std::int64_t id, const std::string& text, std::int64_t ts_ms,
                       const std::string& user) override {
    if (text.empty()) return make_error("bad_argument", fmt::format("alarm {}: empty comment", id));
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    if (auto s = tx.begin(); !s) return s;
    auto cur = load_alarm(id);
    if (!cur) return cur.error();
    if (!*cur) return make_error("not_found", fmt::format("alarm {} does not exist", id));
    if (auto h = add_history(id, ts_ms, "commented", user, text); !h) return h;
    return tx.commit();
  }

  Result<std::optional<AlarmRecord>> alarm(std::int64_t id) override {
    std::lock_guard lock(mu_);
    return load_alarm(id);
  }

  Result<std::vector<AlarmRecord>> alarms(const AlarmQuery& q) override {
    if (auto s = detail::validate_alarm_query(q); !s) return s.error();
    std::lock_guard lock(mu_);
    std::string sql = fmt::format("SELECT {} FROM alarms WHERE 1", kAlarmCols);
    if (q.active_only) sql += " AND status IN ('active_unack', 'active_ack')";
    if (!q.services.empty()) sql += " AND service IN (SELECT value FROM json_each(?))";
    if (q.site) sql += " AND site=?";
    detail::BoundingBox box;
    if (q.near) {
      box = detail::bounding_box(*q.near);
      sql += " AND lat BETWEEN ? AND ? AND (lon BETWEEN ? AND ? OR lon BETWEEN ? AND ?)";
    }
    sql += " ORDER BY update_ms DESC, id DESC";
    if (!q.near) sql += " LIMIT ?";
    auto st = db_->prepare(sql);
    if (!st) return st.error();
    auto& s = **st;
    int i = 1;
    if (!q.services.empty()) s.bind(i++, json_array(q.services));
    if (q.site) s.bind(i++, *q.site);
    if (q.near) {
      s.bind(i++, box.min_lat);
      s.bind(i++, box.max_lat);
      s.bind(i++, box.min_lon1);
      s.bind(i++, box.max_lon1);
      s.bind(i++, box.has_second ? box.min_lon2 : box.min_lon1);
      s.bind(i++, box.has_second ? box.max_lon2 : box.max_lon1);
    } else {
      s.bind(i++, static_cast<std::int64_t>(q.limit));
    }
    std::vector<AlarmRecord> out;
    std::optional<detail::NearFilter> filter;
    if (q.near) filter.emplace(*q.near);
    while (out.size() < q.limit) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      auto a = read_alarm(s);
      if (!a) return a.error();
      if (filter && !filter->contains(a->lat, a->lon)) continue;
      out.push_back(std::move(*a));
    }
    return out;
  }

  Result<std::vector<AlarmHistoryEntry>> alarm_history(std::int64_t id) override {
    std::lock_guard lock(mu_);
    auto cur = load_alarm(id);
    if (!cur) return cur.error();
    if (!*cur) return make_error("not_found", fmt::format("alarm {} does not exist", id));
    auto st = db_->prepare("SELECT ts_ms, action, user, text FROM alarm_history WHERE alarm_id=? ORDER BY seq");
    if (!st) return st.error();
    (*st)->bind(1, id);
    std::vector<AlarmHistoryEntry> out;
    for (;;) {
      auto row = (*st)->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({(*st)->col_int(0), (*st)->col_text(1), (*st)->col_text(2), (*st)->col_text(3)});
    }
    return out;
  }

 private:
  enum class Op { kClear, kAck, kAssign };

  Result<std::vector<SiteRecord>> read_sites(const std::string& sql, const std::string* id) {
    auto st = db_->prepare(sql);
    if (!st) return st.error();
    if (id) (*st)->bind(1, *id);
    std::vector<SiteRecord> out;
    for (;;) {
      auto row = (*st)->step();
      if (!row) return row.error();
      if (!*row) break;
      auto& s = **st;
      SiteRecord r;
      r.id = s.col_text(0);
      r.name = s.col_text(1);
      r.lat = s.col_double(2);
      r.lon = s.col_double(3);
      r.height_m = s.col_double(4);
      r.status = s.col_text(5);
      r.last_seen_ms = s.col_int(6);
      auto info = parse_json(s.col_text(7), "site " + r.id + " info");
      if (!info) return info.error();
      r.info = std::move(*info);
      out.push_back(std::move(r));
    }
    return out;
  }

  Result<std::optional<AlarmRecord>> load_alarm(std::int64_t id) {
    auto st = db_->prepare(fmt::format("SELECT {} FROM alarms WHERE id=?", kAlarmCols));
    if (!st) return st.error();
    (*st)->bind(1, id);
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) return std::optional<AlarmRecord>{};
    auto a = read_alarm(**st);
    if (!a) return a.error();
    return std::optional<AlarmRecord>{std::move(*a)};
  }

  Status add_history(std::int64_t id, std::int64_t ts, std::string_view action, const std::string& user,
                     const std::string& text) {
    auto st = db_->prepare("INSERT INTO alarm_history(alarm_id, ts_ms, action, user, text) VALUES(?,?,?,?,?)");
    if (!st) return st.error();
    (*st)->bind(1, id);
    (*st)->bind(2, ts);
    (*st)->bind(3, action);
    (*st)->bind(4, user);
    (*st)->bind(5, text);
    return (*st)->exec();
  }

  // Applies an acknowledge / clear / assign transition atomically and records it in the history.
  // An alarm already in the target state is returned unchanged (no history entry).
  Result<std::optional<AlarmRecord>> transition(std::int64_t id, std::int64_t ts, const std::string& user, Op op,
                                                const std::string& assignee) {
    Transaction tx(*db_);
    if (auto s = tx.begin(); !s) return s.error();
    auto cur = load_alarm(id);
    if (!cur) return cur.error();
    if (!*cur) return std::optional<AlarmRecord>{};
    AlarmRecord a = std::move(**cur);
    std::string action, text;
    switch (op) {
      case Op::kClear:
        if (!detail::is_active_status(a.status)) return std::optional<AlarmRecord>{std::move(a)};
        a.status = detail::cleared_status(a.status);
        a.clear_ms = ts;
        action = "cleared";
        break;
      case Op::kAck:
        if (a.ack_ms != 0) return std::optional<AlarmRecord>{std::move(a)};
        a.status = detail::acked_status(a.status);
        a.ack_ms = ts;
        action = "acknowledged";
        break;
      case Op::kAssign:
        a.assignee = assignee;
        action = "assigned";
        text = assignee;
        break;
    }
    auto st = db_->prepare("UPDATE alarms SET status=?, ack_ms=?, clear_ms=?, assignee=? WHERE id=?");
    if (!st) return st.error();
    (*st)->bind(1, a.status);
    (*st)->bind(2, a.ack_ms);
    (*st)->bind(3, a.clear_ms);
    (*st)->bind(4, a.assignee);
    (*st)->bind(5, id);
    if (auto s = (*st)->exec(); !s) return s.error();
    if (auto h = add_history(id, ts, action, user, text); !h) return h.error();
    if (auto c = tx.commit(); !c) return c.error();
    return std::optional<AlarmRecord>{std::move(a)};
  }

  static constexpr size_t kMaxSplit = 32;

  // One value binds as "= ?" (so a (value, ts_ms) index also gives the order), several as a JSON array.
  static void append_filters(std::string& sql, const EventQuery& q) {
    if (q.since_ms) sql += " AND e.ts_ms >= ?";
    if (q.until_ms) sql += " AND e.ts_ms < ?";
    if (q.kinds.size() == 1) sql += " AND e.kind = ?";
    if (q.kinds.size() > 1) sql += " AND e.kind IN (SELECT value FROM json_each(?))";
    if (q.sites.size() == 1) sql += " AND e.site = ?";
    if (q.sites.size() > 1) sql += " AND e.site IN (SELECT value FROM json_each(?))";
  }
  static int bind_filters(Stmt& s, const EventQuery& q, int i = 1) {
    if (q.since_ms) s.bind(i++, *q.since_ms);
    if (q.until_ms) s.bind(i++, *q.until_ms);
    if (q.kinds.size() == 1) s.bind(i++, q.kinds.front());
    if (q.kinds.size() > 1) s.bind(i++, json_array(q.kinds));
    if (q.sites.size() == 1) s.bind(i++, q.sites.front());
    if (q.sites.size() > 1) s.bind(i++, json_array(q.sites));
    return i;
  }

  // The filtered, ordered and limited query, optionally forced onto one index.
  Result<std::vector<EventRecord>> run_event_query(const EventQuery& q, std::string_view index) {
    std::string sql = fmt::format("SELECT {} FROM events e{}{} WHERE 1", kEventCols,
                                  index.empty() ? "" : " INDEXED BY ", index);
    append_filters(sql, q);
    sql += q.newest_first ? " ORDER BY e.ts_ms DESC, e.id DESC LIMIT ?" : " ORDER BY e.ts_ms ASC, e.id ASC LIMIT ?";
    auto st = db_->prepare(sql);
    if (!st) return st.error();
    int i = bind_filters(**st, q);
    (*st)->bind(i, static_cast<std::int64_t>(q.limit));
    std::vector<EventRecord> out;
    for (;;) {
      auto row = (*st)->step();
      if (!row) return row.error();
      if (!*row) break;
      auto e = read_event(**st);
      if (!e) return e.error();
      out.push_back(std::move(*e));
    }
    return out;
  }

  // Near queries: the events_cell_ts index yields the events of the grid cells overlapping the conservative
  // bounding box within the time window; the exact geodesic test, ordering and limit run here on the light
  // columns, and only the rows that are returned are read in full. Boxes spanning more than kMaxCells cells
  // (radius of several hundred km) filter on the box instead, from the time index.
  Result<std::vector<EventRecord>> query_near(const EventQuery& q) {
    Transaction tx(*db_, /*read_only=*/true);
    if (auto b = tx.begin(); !b) return b.error();
    const detail::BoundingBox box = detail::bounding_box(*q.near);
    std::vector<std::int64_t> cells;
    const bool use_cells = cells_in_box(box, cells);
    std::string sql = use_cells ? "SELECT e.seq, e.ts_ms, e.lat, e.lon FROM events e INDEXED BY events_cell_ts WHERE "
                                : "SELECT e.seq, e.ts_ms, e.lat, e.lon FROM events e WHERE ";
    sql += use_cells ? "e.cell IN (SELECT value FROM json_each(?))"
                     : "e.lat BETWEEN ? AND ? AND (e.lon BETWEEN ? AND ? OR e.lon BETWEEN ? AND ?)";
    append_filters(sql, q);
    auto st = db_->prepare(sql);
    if (!st) return st.error();
    auto& s = **st;
    int i = 1;
    if (use_cells) {
      s.bind(i++, nlohmann::json(cells).dump());
    } else {
      s.bind(i++, box.min_lat);
      s.bind(i++, box.max_lat);
      s.bind(i++, box.min_lon1);
      s.bind(i++, box.max_lon1);
      s.bind(i++, box.has_second ? box.min_lon2 : box.min_lon1);
      s.bind(i++, box.has_second ? box.max_lon2 : box.max_lon1);
    }
    bind_filters(s, q, i);
    // events_cell_ts covers (cell, ts_ms, lat, lon): candidates are filtered without touching the table.
    struct Cand {
      std::int64_t seq, ts;
    };
    std::vector<Cand> cands;
    const detail::NearFilter filter(*q.near);
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      if (!filter.contains(s.col_double(2), s.col_double(3))) continue;
      cands.push_back({s.col_int(0), s.col_int(1)});
    }
    // Keep the first `limit` by time plus every candidate tied with the last one; ties are broken by id
    // once the rows are read.
    auto by_time = [&](const Cand& a, const Cand& b) { return q.newest_first ? a.ts > b.ts : a.ts < b.ts; };
    size_t keep = std::min(q.limit, cands.size());
    std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep), cands.end(), by_time);
    if (keep > 0 && keep < cands.size()) {
      const std::int64_t edge = cands[keep - 1].ts;
      auto tail = std::partition(cands.begin() + static_cast<std::ptrdiff_t>(keep), cands.end(),
                                 [&](const Cand& c) { return c.ts == edge; });
      keep = static_cast<size_t>(tail - cands.begin());
    }
    auto full = db_->prepare(fmt::format("SELECT {} FROM events e WHERE e.seq=?", kEventCols));
    if (!full) return full.error();
    std::vector<EventRecord> out;
    out.reserve(keep);
    for (size_t j = 0; j < keep; ++j) {
      auto& f = **full;
      f.reset();
      f.bind(1, cands[j].seq);
      auto row = f.step();
      if (!row) return row.error();
      if (!*row) return make_error("store_corrupt", fmt::format("sqlite: event seq {} vanished", cands[j].seq));
      auto e = read_event(f);
      if (!e) return e.error();
      out.push_back(std::move(*e));
    }
    std::sort(out.begin(), out.end(), [&](const EventRecord& a, const EventRecord& b) {
      if (a.ts_ms != b.ts_ms) return q.newest_first ? a.ts_ms > b.ts_ms : a.ts_ms < b.ts_ms;
      return q.newest_first ? a.id > b.id : a.id < b.id;
    });
    if (out.size() > q.limit) out.resize(q.limit);
    return out;
  }

  std::mutex mu_;
  std::unique_ptr<Db> db_;
};

}  // namespace

int sqlite_schema_version() { return kSchemaVersion; }

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  if (path.empty()) return make_error("bad_url", "sqlite: empty database path");
  auto db = Db::open(path);
  if (!db) return db.error();
  auto store = std::make_unique<SqliteStore>(std::move(*db));
  const bool in_memory = path == ":memory:" || path.rfind("file::memory:", 0) == 0;
  if (auto s = store->init(in_memory); !s) return s.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tw::store::sqlite
