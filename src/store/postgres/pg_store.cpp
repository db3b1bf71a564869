// PostgreSQL + PostGIS backend. Thread model: one connection per store guarded by one mutex (a libpq
// connection must not be used by two threads at once); every public call holds it for its whole
// duration. Several stores or hub processes may share one database: idempotency (event_ids primary
// key), one active alarm per (source, type) (partial unique index + ON CONFLICT) and migrations
// (advisory lock) are enforced by the server, not by this process.
//
// Events live in a table partitioned by month on ts_ms; a partition is created the first time a batch
// needs it. Unique constraints on a partitioned table must contain the partition key, so the
// insert-if-absent key is the unpartitioned table event_ids(id PRIMARY KEY, ts_ms), written in the same
// statement as the event. Locations are geography(Point, 4326) with a GiST index over (geog, ts_ms)
// (btree_gist), which serves the evidence query "near a point within a time window" from one index.
#include "postgres/pg_store.hpp"

#include <chrono>
#include <cmath>
#include <mutex>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "common.hpp"
#include "postgres/pg_conn.hpp"

namespace tw::store::pg {
namespace {

const char* const kMigrations[] = {
    // 1
    R"sql(
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE sites(
  id text PRIMARY KEY,
  name text NOT NULL,
  lat double precision, lon double precision, height_m double precision NOT NULL,
  status text NOT NULL,
  last_seen_ms bigint NOT NULL,
  info jsonb NOT NULL);
CREATE TABLE event_ids(id text PRIMARY KEY, ts_ms bigint NOT NULL);
CREATE TABLE events(
  id text NOT NULL,
  site text NOT NULL,
  kind text NOT NULL,
  ts_ms bigint NOT NULL,
  received_ms bigint NOT NULL,
  lat double precision, lon double precision,
  geog geography(Point, 4326),
  payload jsonb NOT NULL) PARTITION BY RANGE (ts_ms);
CREATE INDEX events_ts ON events(ts_ms);
CREATE INDEX events_site_ts ON events(site, ts_ms);
CREATE INDEX events_kind_ts ON events(kind, ts_ms);
CREATE INDEX events_geog_ts ON events USING gist(geog, ts_ms);
CREATE TABLE alarms(
  id bigserial PRIMARY KEY,
  source text NOT NULL, type text NOT NULL,
  severity text NOT NULL, status text NOT NULL, service text NOT NULL, site text NOT NULL,
  lat double precision, lon double precision, geog geography(Point, 4326),
  start_ms bigint NOT NULL, update_ms bigint NOT NULL, ack_ms bigint NOT NULL, clear_ms bigint NOT NULL,
  count bigint NOT NULL, assignee text NOT NULL, message text NOT NULL, details jsonb NOT NULL);
CREATE UNIQUE INDEX alarms_one_active ON alarms(source, type) WHERE status IN ('active_unack', 'active_ack');
CREATE INDEX alarms_update ON alarms(update_ms);
CREATE INDEX alarms_geog ON alarms USING gist(geog);
CREATE TABLE alarm_history(
  seq bigserial PRIMARY KEY,
  alarm_id bigint NOT NULL REFERENCES alarms(id),
  ts_ms bigint NOT NULL, action text NOT NULL, "user" text NOT NULL, text text NOT NULL);
CREATE INDEX alarm_history_alarm ON alarm_history(alarm_id, seq);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));
constexpr std::int64_t kMigrationLock = 0x7477'5354'4f52'45;  // "twSTORE"

constexpr const char* kEventCols = "e.id, e.site, e.kind, e.ts_ms, e.received_ms, e.lat, e.lon, e.payload";
constexpr const char* kAlarmCols =
    "id, source, type, severity, status, service, site, lat, lon, start_ms, update_ms, ack_ms, clear_ms, count, "
    "assignee, message, details";
constexpr const char* kPoint = "ST_SetSRID(ST_MakePoint({}, {}), 4326)::geography";

std::string num(std::int64_t v) { return std::to_string(v); }

Result<nlohmann::json> parse_json(std::string_view text, std::string_view what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    return make_error("store_corrupt", fmt::format("postgresql: {}: stored JSON does not parse", what));
  return j;
}

Result<EventRecord> read_event(const PgResult& r, int i) {
  EventRecord e;
  e.id = r.str(i, 0);
  e.site = r.str(i, 1);
  e.kind = r.str(i, 2);
  e.ts_ms = r.i64(i, 3);
  e.received_ms = r.i64(i, 4);
  e.lat = r.f64(i, 5);
  e.lon = r.f64(i, 6);
  auto p = parse_json(r.text(i, 7), "event " + e.id + " payload");
  if (!p) return p.error();
  e.payload = std::move(*p);
  return e;
}

Result<AlarmRecord> read_alarm(const PgResult& r, int i) {
  AlarmRecord a;
  a.id = r.i64(i, 0);
  a.source = r.str(i, 1);
  a.type = r.str(i, 2);
  a.severity = r.str(i, 3);
  a.status = r.str(i, 4);
  a.service = r.str(i, 5);
  a.site = r.str(i, 6);
  a.lat = r.f64(i, 7);
  a.lon = r.f64(i, 8);
  a.start_ms = r.i64(i, 9);
  a.update_ms = r.i64(i, 10);
  a.ack_ms = r.i64(i, 11);
  a.clear_ms = r.i64(i, 12);
  a.count = r.i64(i, 13);
  a.assignee = r.str(i, 14);
  a.message = r.str(i, 15);
  auto d = parse_json(r.text(i, 16), fmt::format("alarm {} details", a.id));
  if (!d) return d.error();
  a.details = std::move(*d);
  return a;
}

std::string text_array(const std::vector<std::string>& v) {
  std::vector<Param> p(v.begin(), v.end());
  return pg_array(p);
}

class PgStore final : public Store {
 public:
  explicit PgStore(std::unique_ptr<Conn> c) : c_(std::move(c)) {}
  std::string backend() const override { return "postgresql"; }

  Status migrate() {
    // Short OLTP queries: parallel workers and JIT cost more to start than they save, and make the
    // latency tail long.
    if (auto r = c_->set_session("SET client_min_messages = warning; SET max_parallel_workers_per_gather = 0; "
                                 "SET jit = off");
        !r)
      return r;
    Tx tx(*c_);
    if (auto s = tx.begin(); !s) return s;
    if (auto r = c_->exec(fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLock)); !r) return r.error();
    if (auto r = c_->exec("CREATE TABLE IF NOT EXISTS schema_version(version int NOT NULL, applied_ms bigint "
                          "NOT NULL)");
        !r)
      return r.error();
    auto cur = c_->exec("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!cur) return cur.error();
    const auto current = static_cast<int>(cur->i64(0, 0));
    if (current > kSchemaVersion)
      return make_error("store_schema", fmt::format("postgresql: database schema version {} is newer than this "
                                                    "build's {}",
                                                    current, kSchemaVersion));
    for (int v = current; v < kSchemaVersion; ++v) {
      if (auto r = c_->exec(kMigrations[v]); !r)
        return make_error(r.error().code, fmt::format("migration {}: {}", v + 1, r.error().message));
      if (auto r = c_->exec(fmt::format("INSERT INTO schema_version VALUES({}, "
                                        "(extract(epoch from now()) * 1000)::bigint)",
                                        v + 1));
          !r)
        return r.error();
    }
    return tx.commit();
  }

  // ---- sites
  Status upsert_site(const SiteRecord& s) override {
    if (auto v = detail::validate_site(s); !v) return v;
    std::lock_guard lock(mu_);
    auto r = c_->query(
        "INSERT INTO sites(id, name, lat, lon, height_m, status, last_seen_ms, info) "
        "VALUES($1, $2, $3::float8, $4::float8, $5::float8, $6, $7::bigint, $8::jsonb) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, lat=excluded.lat, lon=excluded.lon, "
        "height_m=excluded.height_m, status=excluded.status, last_seen_ms=excluded.last_seen_ms, info=excluded.info",
        {s.id, s.name, pg_double(s.lat), pg_double(s.lon), pg_double(s.height_m), s.status, num(s.last_seen_ms),
         detail::json_text(s.info)});
    if (!r) return r.error();
    return {};
  }

  Status set_site_status(const std::string& id, const std::string& status, std::int64_t seen_ms) override {
    if (!detail::valid_site_status(status))
      return make_error("bad_argument",
                        fmt::format("site '{}': status '{}' is not online|offline|unknown", id, status));
    std::lock_guard lock(mu_);
    auto r = c_->query("UPDATE sites SET status=$1, last_seen_ms=GREATEST(last_seen_ms, $2::bigint) WHERE id=$3",
                       {status, num(seen_ms), id});
    if (!r) return r.error();
    if (r->affected() == 0) return make_error("not_found", fmt::format("site '{}' is not known", id));
    return {};
  }

  Result<std::vector<SiteRecord>> sites() override {
    std::lock_guard lock(mu_);
    return read_sites("SELECT id, name, lat, lon, height_m, status, last_seen_ms, info FROM sites ORDER BY id",
                      {});
  }

  Result<std::optional<SiteRecord>> site(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto r = read_sites("SELECT id, name, lat, lon, height_m, status, last_seen_ms, info FROM sites WHERE id=$1",
                        {id});
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
    // Duplicates inside one batch: keep the first (the statement below would insert both otherwise).
    std::unordered_set<std::string_view> seen;
    std::vector<Param> ids, sites, kinds, ts, rx, lats, lons, payloads;
    for (const auto& e : events) {
      if (!seen.insert(e.id).second) continue;
      ids.emplace_back(e.id);
      sites.emplace_back(e.site);
      kinds.emplace_back(e.kind);
      ts.emplace_back(num(e.ts_ms));
      rx.emplace_back(num(e.received_ms));
      lats.push_back(pg_double_or_null(e.lat));
      lons.push_back(pg_double_or_null(e.lon));
      payloads.emplace_back(detail::json_text(e.payload));
    }
    std::lock_guard lock(mu_);
    for (const auto& e : events)
      if (auto s = ensure_partition(e.ts_ms); !s) return s.error();
    auto r = c_->query(
        "WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], "
        "$6::float8[], $7::float8[], $8::jsonb[]) AS t(id, site, kind, ts_ms, received_ms, lat, lon, payload)), "
        "n AS (INSERT INTO event_ids(id, ts_ms) SELECT id, ts_ms FROM i ON CONFLICT DO NOTHING RETURNING id) "
        "INSERT INTO events(id, site, kind, ts_ms, received_ms, lat, lon, geog, payload) "
        "SELECT i.id, i.site, i.kind, i.ts_ms, i.received_ms, i.lat, i.lon, "
        "CASE WHEN i.lat IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326)::geography END, "
        "i.payload FROM i JOIN n ON n.id = i.id RETURNING id",
        {pg_array(ids), pg_array(sites), pg_array(kinds), pg_array(ts), pg_array(rx), pg_array(lats),
         pg_array(lons), pg_array(payloads)});
    if (!r) return make_error(r.error().code, fmt::format("insert {} events: {}", ids.size(), r.error().message));
    if (inserted != nullptr) {
      // The first event of each new id was stored (duplicates inside the batch were left out above).
      std::unordered_set<std::string_view> added;
      for (int row = 0; row < r->rows(); ++row) added.insert(r->text(row, 0));
      for (size_t i = 0; i < events.size(); ++i) (*inserted)[i] = added.erase(events[i].id) > 0;
    }
    return static_cast<size_t>(r->affected());
  }

  Result<std::vector<EventRecord>> query_events(const EventQuery& q) override {
    if (auto s = detail::validate_event_query(q); !s) return s.error();
    std::string sql = fmt::format("SELECT {} FROM events e WHERE true", kEventCols);
    Params p;
    auto arg = [&](std::string v) {
      p.emplace_back(std::move(v));
      return fmt::format("${}", p.size());
    };
    if (q.since_ms) sql += " AND e.ts_ms >= " + arg(num(*q.since_ms)) + "::bigint";
    if (q.until_ms) sql += " AND e.ts_ms < " + arg(num(*q.until_ms)) + "::bigint";
    if (!q.kinds.empty()) sql += " AND e.kind = ANY(" + arg(text_array(q.kinds)) + "::text[])";
    if (!q.sites.empty()) sql += " AND e.site = ANY(" + arg(text_array(q.sites)) + "::text[])";
    if (q.near) {
      auto lon = arg(pg_double(q.near->lon)) + "::float8";
      auto lat = arg(pg_double(q.near->lat)) + "::float8";
      sql += fmt::format(" AND ST_DWithin(e.geog, {}, {}::float8)", fmt::format(kPoint, lon, lat),
                         arg(pg_double(q.near->radius_km * 1000.0)));
    }
    sql += q.newest_first ? " ORDER BY e.ts_ms DESC, e.id DESC" : " ORDER BY e.ts_ms ASC, e.id ASC";
    sql += " LIMIT " + arg(num(static_cast<std::int64_t>(q.limit))) + "::bigint";
    std::lock_guard lock(mu_);
    auto r = c_->query(sql, p);
    if (!r) return r.error();
    std::vector<EventRecord> out;
    out.reserve(static_cast<size_t>(r->rows()));
    for (int i = 0; i < r->rows(); ++i) {
      auto e = read_event(*r, i);
      if (!e) return e.error();
      out.push_back(std::move(*e));
    }
    return out;
  }

  Result<std::optional<EventRecord>> event(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto r = c_->query(fmt::format("SELECT {} FROM events e WHERE e.ts_ms = (SELECT ts_ms FROM event_ids WHERE "
                                   "id = $1) AND e.id = $1",
                                   kEventCols),
                       {id});
    if (!r) return r.error();
    if (r->rows() == 0) return std::optional<EventRecord>{};
    auto e = read_event(*r, 0);
    if (!e) return e.error();
    return std::optional<EventRecord>{std::move(*e)};
  }

  Result<std::int64_t> count_events() override {
    std::lock_guard lock(mu_);
    auto r = c_->exec("SELECT COUNT(*) FROM events");
    if (!r) return r.error();
    return r->i64(0, 0);
  }

  // ---- alarms
  Result<AlarmRecord> raise_alarm(const AlarmRecord& a) override {
    if (auto s = detail::validate_alarm(a); !s) return s.error();
    const std::int64_t ts = a.update_ms ? a.update_ms : a.start_ms;
    std::lock_guard lock(mu_);
    // One statement: the upsert on the partial unique index and its history entry commit together.
    auto r = c_->query(
        fmt::format(
            "WITH a AS (INSERT INTO alarms(source, type, severity, status, service, site, lat, lon, geog, "
            "start_ms, update_ms, ack_ms, clear_ms, count, assignee, message, details) "
            "VALUES($1, $2, $3, 'active_unack', $4, $5, $6::float8, $7::float8, "
            "CASE WHEN $6::float8 IS NULL THEN NULL ELSE {} END, $8::bigint, $9::bigint, 0, 0, 1, $10, $11, "
            "$12::jsonb) "
            "ON CONFLICT(source, type) WHERE status IN ('active_unack', 'active_ack') DO UPDATE SET "
            "severity=excluded.severity, service=excluded.service, site=excluded.site, lat=excluded.lat, "
            "lon=excluded.lon, geog=excluded.geog, update_ms=GREATEST(alarms.update_ms, excluded.update_ms), "
            "count=alarms.count+1, message=excluded.message, details=excluded.details RETURNING {}), "
            "h AS (INSERT INTO alarm_history(alarm_id, ts_ms, action, \"user\", text) "
            "SELECT id, $9::bigint, CASE WHEN count = 1 THEN 'raised' ELSE 'updated' END, '', $11 FROM a) "
            "SELECT * FROM a",
            fmt::format(kPoint, "$7::float8", "$6::float8"), kAlarmCols),
        {a.source, a.type, a.severity, a.service, a.site, pg_double_or_null(a.lat), pg_double_or_null(a.lon),
         num(a.start_ms ? a.start_ms : ts), num(ts), a.assignee, a.message, detail::json_text(a.details)});
    if (!r) return r.error();
    if (r->rows() != 1) return make_error("store_error", "postgresql: raise_alarm returned no row");
    return read_alarm(*r, 0);
  }

  Result<std::optional<AlarmRecord>> clear_alarm(const std::string& source, const std::string& type,
                                                 std::int64_t ts_ms, const std::string& user) override {
    std::lock_guard lock(mu_);
    auto r = c_->query("SELECT id FROM alarms WHERE source=$1 AND type=$2 AND status IN ('active_unack', "
                       "'active_ack')",
                       {source, type});
    if (!r) return r.error();
    if (r->rows() == 0) return std::optional<AlarmRecord>{};
    return transition(r->i64(0, 0), ts_ms, user, Op::kClear, "");
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
    auto r = c_->query("INSERT INTO alarm_history(alarm_id, ts_ms, action, \"user\", text) "
                       "SELECT id, $2::bigint, 'commented', $3, $4 FROM alarms WHERE id = $1::bigint",
                       {num(id), num(ts_ms), user, text});
    if (!r) return r.error();
    if (r->affected() == 0) return make_error("not_found", fmt::format("alarm {} does not exist", id));
    return {};
  }

  Result<std::optional<AlarmRecord>> alarm(std::int64_t id) override {
    std::lock_guard lock(mu_);
    return load_alarm(id, false);
  }

  Result<std::vector<AlarmRecord>> alarms(const AlarmQuery& q) override {
    if (auto s = detail::validate_alarm_query(q); !s) return s.error();
    std::string sql = fmt::format("SELECT {} FROM alarms WHERE true", kAlarmCols);
    Params p;
    auto arg = [&](std::string v) {
      p.emplace_back(std::move(v));
      return fmt::format("${}", p.size());
    };
    if (q.active_only) sql += " AND status IN ('active_unack', 'active_ack')";
    if (!q.services.empty()) sql += " AND service = ANY(" + arg(text_array(q.services)) + "::text[])";
    if (q.site) sql += " AND site = " + arg(*q.site);
    if (q.near) {
      auto lon = arg(pg_double(q.near->lon)) + "::float8";
      auto lat = arg(pg_double(q.near->lat)) + "::float8";
      sql += fmt::format(" AND ST_DWithin(geog, {}, {}::float8)", fmt::format(kPoint, lon, lat),
                         arg(pg_double(q.near->radius_km * 1000.0)));
    }
    sql += " ORDER BY update_ms DESC, id DESC LIMIT " + arg(num(static_cast<std::int64_t>(q.limit))) + "::bigint";
    std::lock_guard lock(mu_);
    auto r = c_->query(sql, p);
    if (!r) return r.error();
    std::vector<AlarmRecord> out;
    for (int i = 0; i < r->rows(); ++i) {
      auto a = read_alarm(*r, i);
      if (!a) return a.error();
      out.push_back(std::move(*a));
    }
    return out;
  }

  Result<std::vector<AlarmHistoryEntry>> alarm_history(std::int64_t id) override {
    std::lock_guard lock(mu_);
    auto cur = load_alarm(id, false);
    if (!cur) return cur.error();
    if (!*cur) return make_error("not_found", fmt::format("alarm {} does not exist", id));
    auto r = c_->query("SELECT ts_ms, action, \"user\", text FROM alarm_history WHERE alarm_id=$1::bigint "
                       "ORDER BY seq",
                       {num(id)});
    if (!r) return r.error();
    std::vector<AlarmHistoryEntry> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back({r->i64(i, 0), r->str(i, 1), r->str(i, 2), r->str(i, 3)});
    return out;
  }

 private:
  enum class Op { kClear, kAck, kAssign };

  Result<std::vector<SiteRecord>> read_sites(const std::string& sql, const Params& p) {
    auto r = c_->query(sql, p);
    if (!r) return r.error();
    std::vector<SiteRecord> out;
    for (int i = 0; i < r->rows(); ++i) {
      SiteRecord s;
      s.id = r->str(i, 0);
      s.name = r->str(i, 1);
      s.lat = r->f64(i, 2);
      s.lon = r->f64(i, 3);
      s.height_m = r->f64(i, 4);
      s.status = r->str(i, 5);
      s.last_seen_ms = r->i64(i, 6);
      auto info = parse_json(r->text(i, 7), "site " + s.id + " info");
      if (!info) return info.error();
      s.info = std::move(*info);
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<std::optional<AlarmRecord>> load_alarm(std::int64_t id, bool for_update) {
    auto r = c_->query(fmt::format("SELECT {} FROM alarms WHERE id=$1::bigint{}", kAlarmCols,
                                   for_update ? " FOR UPDATE" : ""),
                       {num(id)});
    if (!r) return r.error();
    if (r->rows() == 0) return std::optional<AlarmRecord>{};
    auto a = read_alarm(*r, 0);
    if (!a) return a.error();
    return std::optional<AlarmRecord>{std::move(*a)};
  }

  Result<std::optional<AlarmRecord>> transition(std::int64_t id, std::int64_t ts, const std::string& user, Op op,
                                                const std::string& assignee) {
    Tx tx(*c_);
    if (auto s = tx.begin(); !s) return s.error();
    auto cur = load_alarm(id, true);
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
    auto u = c_->query("UPDATE alarms SET status=$1, ack_ms=$2::bigint, clear_ms=$3::bigint, assignee=$4 "
                       "WHERE id=$5::bigint",
                       {a.status, num(a.ack_ms), num(a.clear_ms), a.assignee, num(id)});
    if (!u) return u.error();
    auto h = c_->query("INSERT INTO alarm_history(alarm_id, ts_ms, action, \"user\", text) "
                       "VALUES($1::bigint, $2::bigint, $3, $4, $5)",
                       {num(id), num(ts), action, user, text});
    if (!h) return h.error();
    if (auto c = tx.commit(); !c) return c.error();
    return std::optional<AlarmRecord>{std::move(a)};
  }

  Status ensure_partition(std::int64_t ts_ms) {
    Partition part = partition_for(ts_ms);
    if (partitions_.count(part.name)) return {};
    auto r = c_->exec(fmt::format("CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})",
                                  part.name, part.from_ms, part.to_ms));
    if (!r) {
      // Another connection may have created it at the same moment.
      auto chk = c_->query("SELECT to_regclass($1) IS NOT NULL", {part.name});
      if (!chk || chk->rows() != 1 || !chk->boolean(0, 0)) return r.error();
    }
    partitions_.insert(part.name);
    return {};
  }

  std::mutex mu_;
  std::unique_ptr<Conn> c_;
  std::unordered_set<std::string> partitions_;
};

}  // namespace

int pg_schema_version() { return kSchemaVersion; }

Partition partition_for(std::int64_t ts_ms) {
  using namespace std::chrono;
  const sys_days day{days{ts_ms >= 0 ? ts_ms / 86400000 : (ts_ms - 86399999) / 86400000}};
  const year_month_day ymd{day};
  const year_month ym{ymd.year(), ymd.month()};
  const year_month next = ym + months{1};
  Partition p;
  p.name = fmt::format("events_y{:04d}m{:02d}", static_cast<int>(ym.year()), static_cast<unsigned>(ym.month()));
  p.from_ms = sys_days{ym / 1}.time_since_epoch().count() * 86400000LL;
  p.to_ms = sys_days{next / 1}.time_since_epoch().count() * 86400000LL;
  return p;
}

Result<std::unique_ptr<Store>> open_pg_store(const std::string& url) {
  auto c = Conn::connect(url);
  if (!c) return c.error();
  auto store = std::make_unique<PgStore>(std::move(*c));
  if (auto s = store->migrate(); !s) return s.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tw::store::pg
