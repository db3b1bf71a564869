// Store benchmarks.
//   BM_SqliteIngest/<batch>        insert_events() into a WAL file database, one thread; items/s = events/s
//                                  by wall clock, cpu_events_per_s by the thread's CPU time; 5 repetitions.
//   BM_SqliteIngestRawFloor        the same rows into a bare table (id primary key only) with plain sqlite3:
//                                  the floor our indexes and the R*Tree are measured against.
//   BM_Evidence/<backend>          "what happened near this point in this window": events within 30 km of
//                                  a random point near the sites, in a random 7-day window, over
//                                  TW_BENCH_EVENTS (default 1,500,000) events; p50/p99 in counters (ms).
//   BM_EvidenceTimeIndexOnly       baseline for SQLite: the same query answered from the time index plus
//                                  exact distance, without the spatial index.
// Synthetic data: 200 sites spread over 34..40N, 123..116W (about 660 x 620 km), one year (2025), kinds
// weighted like a real network (heartbeats and counts dominate), events at their site (smoke/fire offset
// up to 20 km). Deterministic (fixed seed).
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "pg_server.hpp"
#include "process.hpp"
#include "tw/core/geo.hpp"
#include "tw/store/store.hpp"

namespace {

namespace fs = std::filesystem;
using tw::store::EventRecord;

constexpr std::int64_t kYearStart = 1735689600000;  // 2025-01-01T00:00:00Z
constexpr std::int64_t kYearMs = 365LL * 86400000;
constexpr double kRadiusKm = 30;
constexpr std::int64_t kWindowMs = 7LL * 86400000;

size_t total_events() {
  const char* e = std::getenv("TW_BENCH_EVENTS");
  return e ? static_cast<size_t>(std::strtoull(e, nullptr, 10)) : 1500000;
}

// One temp directory per process, removed at exit.
const fs::path& temp_dir() {
  static const tw::test::TempDir dir;
  return dir.path();
}

struct Site {
  std::string id;
  double lat, lon;
};

const std::vector<Site>& sites() {
  static std::vector<Site> s = [] {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> lat(34.0, 40.0), lon(-123.0, -116.0);
    std::vector<Site> v;
    for (int i = 0; i < 200; ++i) v.push_back({fmt::format("site-{:03d}", i), lat(rng), lon(rng)});
    return v;
  }();
  return s;
}

// Events in time order (as a hub ingests them), ids sortable like ULIDs.
std::vector<EventRecord> make_events(size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> ts(n);
  std::uniform_int_distribution<std::int64_t> t(kYearStart, kYearStart + kYearMs - 1);
  for (auto& x : ts) x = t(rng);
  std::sort(ts.begin(), ts.end());
  static const char* kKinds[] = {"heartbeat", "counts", "pick", "power", "smoke", "ground_motion", "fire"};
  std::discrete_distribution<int> kind({40, 25, 15, 10, 5, 4, 1});
  std::uniform_int_distribution<size_t> site(0, sites().size() - 1);
  std::uniform_real_distribution<double> az(0, 360), off(0, 20), val(0, 100);
  std::vector<EventRecord> out(n);
  for (size_t i = 0; i < n; ++i) {
    const Site& s = sites()[site(rng)];
    const int k = kind(rng);
    EventRecord& e = out[i];
    e.id = fmt::format("{:013d}{:013d}", ts[i], seed * 100000000 + i);
    e.site = s.id;
    e.kind = kKinds[k];
    e.ts_ms = ts[i];
    e.received_ms = ts[i] + 120;
    if (k == 4 || k == 6) {
      auto p = tw::destination({s.lat, s.lon}, az(rng), off(rng));
      e.lat = p.lat;
      e.lon = p.lon;
    } else {
      e.lat = s.lat;
      e.lon = s.lon;
    }
    e.payload = {{"value", val(rng)}, {"seq", i}, {"unit", "x"}};
  }
  return out;
}

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

void remove_db(const fs::path& path) {
  fs::remove(path);
  fs::remove(path.string() + "-wal");
  fs::remove(path.string() + "-shm");
}

// One repetition = a fresh database filled with n events in batches (n = 20,000 for batch 1, else 200,000).
void BM_SqliteIngest(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  const size_t n = batch == 1 ? 20000 : 200000;
  const auto events = make_events(n, 11);
  size_t done = 0;
  double cpu = 0;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto path = temp_dir() / fmt::format("ingest_{}_{}.db", batch, round++);
    auto st = tw::store::open_store("sqlite://" + path.string());
    if (!st) {
      state.SkipWithError(st.error().message.c_str());
      return;
    }
    state.ResumeTiming();
    const double c0 = thread_cpu_s();
    for (size_t i = 0; i < n; i += batch) {
      std::span<const EventRecord> b(events.data() + i, std::min(batch, n - i));
      auto r = (*st)->insert_events(b);
      if (!r) {
        state.SkipWithError(r.error().message.c_str());
        return;
      }
      done += *r;
    }
    cpu += thread_cpu_s() - c0;
    state.PauseTiming();
    st->reset();
    remove_db(path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["cpu_events_per_s"] = static_cast<double>(done) / cpu;
}
BENCHMARK(BM_SqliteIngest)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1)
    ->Repetitions(5)->ReportAggregatesOnly(true)->UseRealTime();

void BM_SqliteIngestRawFloor(benchmark::State& state) {
  const size_t n = 200000, batch = 1000;
  const auto events = make_events(n, 11);
  double cpu = 0;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto path = temp_dir() / fmt::format("raw_{}.db", round++);
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t(id TEXT PRIMARY KEY, "
                     "site TEXT, kind TEXT, ts INTEGER, rx INTEGER, lat REAL, lon REAL, payload TEXT)",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO t VALUES(?,?,?,?,?,?,?,?)", -1, &st, nullptr);
    state.ResumeTiming();
    const double c0 = thread_cpu_s();
    for (size_t i = 0; i < n; i += batch) {
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      for (size_t j = i; j < std::min(n, i + batch); ++j) {
        const auto& e = events[j];
        const std::string p = e.payload.dump();
        sqlite3_bind_text(st, 1, e.id.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e.site.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, e.kind.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, e.ts_ms);
        sqlite3_bind_int64(st, 5, e.received_ms);
        sqlite3_bind_double(st, 6, e.lat);
        sqlite3_bind_double(st, 7, e.lon);
        sqlite3_bind_text(st, 8, p.c_str(), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
      }
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    cpu += thread_cpu_s() - c0;
    state.PauseTiming();
    sqlite3_finalize(st);
    sqlite3_close(db);
    remove_db(path);
    state.ResumeTiming();
  }
  const auto total = n * static_cast<size_t>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  state.counters["cpu_events_per_s"] = static_cast<double>(total) / cpu;
}
BENCHMARK(BM_SqliteIngestRawFloor)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(5)
    ->ReportAggregatesOnly(true)->UseRealTime();

// ---- evidence query

struct Probe {
  double lat, lon;
  std::int64_t since;
};

std::vector<Probe> probes(size_t n) {
  std::mt19937_64 rng(99);
  std::uniform_int_distribution<size_t> site(0, sites().size() - 1);
  std::uniform_real_distribution<double> az(0, 360), off(0, 15);
  std::uniform_int_distribution<std::int64_t> t(kYearStart, kYearStart + kYearMs - kWindowMs);
  std::vector<Probe> v;
  for (size_t i = 0; i < n; ++i) {
    const Site& s = sites()[site(rng)];
    auto p = tw::destination({s.lat, s.lon}, az(rng), off(rng));
    v.push_back({p.lat, p.lon, t(rng)});
  }
  return v;
}

// Fills a store with total_events() events in batches; returns false with a message on failure.
bool fill(tw::store::Store& st, std::string& err) {
  const size_t total = total_events(), chunk = 100000, batch = 5000;
  for (size_t base = 0; base < total; base += chunk) {
    // Each chunk covers the whole year, like many sites reporting; ids stay unique through the seed.
    auto evs = make_events(std::min(chunk, total - base), 1000 + base / chunk);
    for (size_t i = 0; i < evs.size(); i += batch) {
      std::span<const EventRecord> b(evs.data() + i, std::min(batch, evs.size() - i));
      auto r = st.insert_events(b);
      if (!r) {
        err = r.error().message;
        return false;
      }
    }
  }
  return true;
}

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

// CPU time a process has spent running, from /proc/<pid>/schedstat (nanosecond resolution).
double process_cpu_ms(int pid) {
  std::FILE* f = std::fopen(fmt::format("/proc/{}/schedstat", pid).c_str(), "r");
  if (!f) return 0;
  unsigned long long ns = 0;
  if (std::fscanf(f, "%llu", &ns) != 1) ns = 0;
  std::fclose(f);
  return static_cast<double>(ns) / 1e6;
}

// server_pid: the PostgreSQL backend serving the store's connection (0 for SQLite), whose CPU time is
// added to the client's to give the work a query costs independent of how busy the machine is.
void run_evidence(benchmark::State& state, tw::store::Store& st, int server_pid = 0) {
  const auto ps = probes(static_cast<size_t>(state.max_iterations));
  std::vector<double> ms, cpu, server;
  size_t i = 0, rows = 0;
  for (auto _ : state) {
    const Probe& p = ps[i++ % ps.size()];
    const double c0 = thread_cpu_ms();
    const double s0 = server_pid ? process_cpu_ms(server_pid) : 0;
    tw::store::EventQuery q;
    q.near = tw::store::Near{p.lat, p.lon, kRadiusKm};
    q.since_ms = p.since;
    q.until_ms = p.since + kWindowMs;
    q.limit = 5000;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = st.query_events(q);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      return;
    }
    rows += r->size();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cpu.push_back(thread_cpu_ms() - c0);
    if (server_pid) {
      server.push_back(process_cpu_ms(server_pid) - s0);
      cpu.back() += server.back();
    }
  }
  state.counters["p50_ms"] = percentile(ms, 0.50);
  state.counters["p99_ms"] = percentile(ms, 0.99);
  // CPU time of the calling thread plus, for PostgreSQL, of its server backend.
  state.counters["cpu_p50_ms"] = percentile(cpu, 0.50);
  state.counters["cpu_p99_ms"] = percentile(cpu, 0.99);
  if (!server.empty()) state.counters["server_cpu_p50_ms"] = percentile(server, 0.50);
  state.counters["rows_per_query"] = static_cast<double>(rows) / static_cast<double>(ms.size());
  state.counters["events"] = static_cast<double>(total_events());
}

std::unique_ptr<tw::store::Store>& sqlite_big(std::string& err) {
  static std::string error;
  static std::unique_ptr<tw::store::Store> st = [] {
    // TW_BENCH_SQLITE_DB keeps the filled database between runs (reused when it holds the right count).
    const char* keep = std::getenv("TW_BENCH_SQLITE_DB");
    const fs::path path = keep ? fs::path(keep) : temp_dir() / "evidence.db";
    auto r = tw::store::open_store("sqlite://" + path.string());
    if (!r) {
      error = r.error().message;
      return std::unique_ptr<tw::store::Store>{};
    }
    if (auto n = (*r)->count_events(); n && static_cast<size_t>(*n) == total_events()) return std::move(*r);
    const auto t0 = std::chrono::steady_clock::now();
    if (!fill(**r, error)) return std::unique_ptr<tw::store::Store>{};
    fmt::print(stderr, "sqlite: filled {} events in {:.1f} s\n", total_events(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return std::move(*r);
  }();
  err = error;
  return st;
}

void BM_Evidence_sqlite(benchmark::State& state) {
  std::string err;
  auto& st = sqlite_big(err);
  if (!st) {
    state.SkipWithError(err.c_str());
    return;
  }
  run_evidence(state, *st);
}
BENCHMARK(BM_Evidence_sqlite)->Iterations(2000)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Other shapes the hub API issues (GET /api/v1/events?...), on the same 1.5M-event SQLite store:
// 0 = newest 100, 1 = newest 100 of a rare kind (fire, 1 %), 2 = newest 100 of one site (0.5 %),
// 3 = one kind (smoke) in a random 1-day window, limit 1000.
void BM_HubQuery_sqlite(benchmark::State& state) {
  std::string err;
  auto& st = sqlite_big(err);
  if (!st) {
    state.SkipWithError(err.c_str());
    return;
  }
  const auto shape = state.range(0);
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<size_t> site(0, sites().size() - 1);
  std::uniform_int_distribution<std::int64_t> day(kYearStart, kYearStart + kYearMs - 86400000);
  std::vector<double> ms;
  size_t rows = 0;
  for (auto _ : state) {
    tw::store::EventQuery q;
    if (shape == 1) q.kinds = {"fire"};
    if (shape == 2) q.sites = {sites()[site(rng)].id};
    if (shape == 3) {
      q.kinds = {"smoke"};
      q.since_ms = day(rng);
      q.until_ms = *q.since_ms + 86400000;
      q.limit = 1000;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto r = st->query_events(q);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      return;
    }
    rows += r->size();
  }
  state.counters["p50_ms"] = percentile(ms, 0.50);
  state.counters["p99_ms"] = percentile(ms, 0.99);
  state.counters["rows_per_query"] = static_cast<double>(rows) / static_cast<double>(ms.size());
}
BENCHMARK(BM_HubQuery_sqlite)->DenseRange(0, 3)->Iterations(200)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_EvidenceTimeIndexOnly_sqlite(benchmark::State& state) {
  std::string err;
  if (!sqlite_big(err)) {
    state.SkipWithError(err.c_str());
    return;
  }
  sqlite3* db = nullptr;
  const char* keep = std::getenv("TW_BENCH_SQLITE_DB");
  sqlite3_open_v2(keep ? keep : (temp_dir() / "evidence.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT id, site, kind, ts_ms, received_ms, lat, lon, payload FROM events INDEXED BY events_ts "
                     "WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms DESC",
                     -1, &st, nullptr);
  const auto ps = probes(static_cast<size_t>(state.max_iterations));
  std::vector<double> ms;
  size_t i = 0, rows = 0;
  for (auto _ : state) {
    const Probe& p = ps[i++ % ps.size()];
    const auto t0 = std::chrono::steady_clock::now();
    sqlite3_bind_int64(st, 1, p.since);
    sqlite3_bind_int64(st, 2, p.since + kWindowMs);
    std::vector<EventRecord> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const double lat = sqlite3_column_double(st, 5), lon = sqlite3_column_double(st, 6);
      if (tw::distance_km({p.lat, p.lon}, {lat, lon}) > kRadiusKm) continue;
      EventRecord e;
      e.id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      e.lat = lat;
      e.lon = lon;
      e.ts_ms = sqlite3_column_int64(st, 3);
      e.payload = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(st, 7)));
      out.push_back(std::move(e));
    }
    sqlite3_reset(st);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    rows += out.size();
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  state.counters["p50_ms"] = percentile(ms, 0.50);
  state.counters["p99_ms"] = percentile(ms, 0.99);
  state.counters["rows_per_query"] = static_cast<double>(rows) / static_cast<double>(ms.size());
}
BENCHMARK(BM_EvidenceTimeIndexOnly_sqlite)->Iterations(100)->Unit(benchmark::kMicrosecond)->UseRealTime();

// PID of the backend serving the connection tagged application_name=tw_bench_store.
int backend_pid(const std::string& url) {
  const auto q = url.find('?');
  PGconn* c = PQconnectdb(q == std::string::npos ? url.c_str() : url.substr(0, q).c_str());
  PGresult* r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE application_name = 'tw_bench_store'");
  int pid = (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) ? std::atoi(PQgetvalue(r, 0, 0)) : 0;
  PQclear(r);
  PQfinish(c);
  return pid;
}

void BM_Evidence_postgresql(benchmark::State& state) {
  static std::string error;
  static std::string used_url;
  static std::unique_ptr<tw::store::testing::PgServer> server;
  static std::unique_ptr<tw::store::Store> st = []() -> std::unique_ptr<tw::store::Store> {
    // TW_BENCH_PG_URL: use an existing server/database (filled on first use, reused when the count matches).
    if (const char* given = std::getenv("TW_BENCH_PG_URL")) {
      used_url = std::string(given) + "?application_name=tw_bench_store";
      auto r = tw::store::open_store(used_url);
      if (!r) {
        error = r.error().message;
        return nullptr;
      }
      if (auto n = (*r)->count_events(); n && static_cast<size_t>(*n) == total_events()) return std::move(*r);
      if (!fill(**r, error)) return nullptr;
      std::string cmd = fmt::format("psql -q -d '{}' -c 'VACUUM ANALYZE' >/dev/null 2>&1", given);
      if (std::system(cmd.c_str()) != 0) fmt::print(stderr, "warning: VACUUM ANALYZE failed\n");
      return std::move(*r);
    }
    auto s = tw::store::testing::PgServer::start();
    if (!s) {
      error = s.error().message;
      return nullptr;
    }
    server = std::move(*s);
    auto url = server->create_database();
    if (!url) {
      error = url.error().message;
      return nullptr;
    }
    used_url = *url + "?application_name=tw_bench_store";
    auto r = tw::store::open_store(used_url);
    if (!r) {
      error = r.error().message;
      return nullptr;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (!fill(**r, error)) return nullptr;
    fmt::print(stderr, "postgresql: filled {} events in {:.1f} s\n", total_events(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    // Planner statistics, as autovacuum would have gathered them on a live system.
    std::string cmd = fmt::format("psql -q -d '{}' -c 'VACUUM ANALYZE' >/dev/null 2>&1", *url);
    if (std::system(cmd.c_str()) != 0) fmt::print(stderr, "warning: VACUUM ANALYZE failed\n");
    return std::move(*r);
  }();
  if (!st) {
    state.SkipWithError(error.c_str());
    return;
  }
  run_evidence(state, *st, backend_pid(used_url));
  if (state.thread_index() == 0 && state.iterations() > 0) {
    // Stop the server here rather than in a static destructor at exit.
    st.reset();
    server.reset();
  }
}
BENCHMARK(BM_Evidence_postgresql)->Iterations(2000)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
