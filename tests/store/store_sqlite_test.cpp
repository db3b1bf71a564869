// The store contract on SQLite, plus SQLite-specific checks (URLs, WAL, migrations, corrupt files).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "../../src/store/common.hpp"
#include "contract.hpp"
#include "process.hpp"

namespace {

namespace fs = std::filesystem;

// One temp directory per process, removed at exit.
const fs::path& temp_dir() {
  static const tw::test::TempDir dir;
  return dir.path();
}

std::string fresh_file(const char* stem) {
  static int n = 0;
  return (temp_dir() / (std::string(stem) + std::to_string(n++) + ".db")).string();
}

struct SqliteBackend {
  static std::string name() { return "sqlite"; }
  static tw::Result<std::string> new_url() { return "sqlite://" + fresh_file("contract"); }
};

}  // namespace

namespace tw::store::contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Types<SqliteBackend>);
}

namespace {

using tw::store::open_store;

TEST(StoreUrl, BadUrlsGiveClearErrors) {
  struct Case {
    std::string url;
    std::string code;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {"", "bad_url", "no scheme"},
      {"just-a-path.db", "bad_url", "no scheme"},
      {"mysql://db/x", "bad_url", "mysql"},
      {"sqlite://", "bad_url", "no database path"},
      {"sqlite:///tmp/x.db?mode=ro", "bad_url", "options"},
      {"postgresql://", "bad_url", "no server"},
      {"sqlite:///nonexistent-dir-tw/sub/x.db", "store_open", "nonexistent-dir-tw"},
  };
  for (const auto& c : cases) {
    auto r = open_store(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.error().code, c.code) << c.url << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << r.error().message;
  }
}

TEST(StoreUrl, UnreachablePostgresIsAnErrorNotACrash) {
  // Port 1 on loopback refuses connections.
  auto r = open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "store_unavailable");
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos) << r.error().message;
}

TEST(SqliteStore, MemoryUrlWorks) {
  auto r = open_store("sqlite://:memory:");
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<tw::store::EventRecord> in = {tw::store::contract::ev("m1", "s", "k", 1, 2, 3)};
  EXPECT_EQ(*(*r)->insert_events(in), 1u);
  EXPECT_EQ(*(*r)->count_events(), 1);
}

TEST(SqliteStore, RelativeAndAbsoluteUrlsCreateTheFileInWalMode) {
  const std::string path = fresh_file("wal");
  {
    auto r = open_store("sqlite://" + path);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  ASSERT_TRUE(fs::exists(path));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  // sqlite://relative/path is relative to the working directory.
  const auto cwd = fs::current_path();
  fs::current_path(temp_dir());
  auto rel = open_store("sqlite://relative.db");
  fs::current_path(cwd);
  ASSERT_TRUE(rel.ok()) << rel.error().message;
  EXPECT_TRUE(fs::exists(temp_dir() / "relative.db"));
}

TEST(SqliteStore, NewerSchemaIsRefused) {
  const std::string path = fresh_file("newer");
  { ASSERT_TRUE(open_store("sqlite://" + path).ok()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES(99, 0)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto r = open_store("sqlite://" + path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "store_schema");
  EXPECT_NE(r.error().message.find("99"), std::string::npos) << r.error().message;
}

TEST(SqliteStore, CorruptFileIsAnError) {
  const std::string path = fresh_file("corrupt");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 7919) & 0xff));
  }
  auto r = open_store("sqlite://" + path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "store_corrupt") << r.error().message;
  EXPECT_NE(r.error().message.find("not a database"), std::string::npos) << r.error().message;
}

TEST(SqliteStore, CorruptPayloadIsReportedWithTheEventId) {
  const std::string path = fresh_file("badjson");
  {
    auto r = open_store("sqlite://" + path);
    ASSERT_TRUE(r.ok());
    std::vector<tw::store::EventRecord> in = {tw::store::contract::ev("j1", "s", "k", 1)};
    ASSERT_EQ(*(*r)->insert_events(in), 1u);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE events SET payload='{broken' WHERE id='j1'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto r = open_store("sqlite://" + path);
  ASSERT_TRUE(r.ok());
  auto e = (*r)->event("j1");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, "store_corrupt");
  EXPECT_NE(e.error().message.find("j1"), std::string::npos) << e.error().message;
}

// The prefilter box must contain every point within the radius: probe points on the circle.
TEST(BoundingBox, ContainsTheWholeGeodesicCircle) {
  using tw::store::Near;
  for (double lat : {0.0, 35.0, -60.0, 80.0, 89.5}) {
    for (double r : {0.1, 10.0, 250.0, 2000.0}) {
      Near n{lat, 179.0, r};
      auto b = tw::store::detail::bounding_box(n);
      for (int az = 0; az < 360; az += 3) {
        auto p = tw::destination({n.lat, n.lon}, az, r * 0.999999);
        EXPECT_GE(p.lat, b.min_lat) << lat << " " << r << " " << az;
        EXPECT_LE(p.lat, b.max_lat) << lat << " " << r << " " << az;
        bool in1 = p.lon >= b.min_lon1 && p.lon <= b.max_lon1;
        bool in2 = b.has_second && p.lon >= b.min_lon2 && p.lon <= b.max_lon2;
        EXPECT_TRUE(in1 || in2) << "lat " << lat << " r " << r << " az " << az << " lon " << p.lon;
      }
    }
  }
  // And it is not absurdly large: at 45 degrees, 10 km is about 0.09 deg of latitude.
  auto b = tw::store::detail::bounding_box(Near{45, 7, 10});
  EXPECT_NEAR(b.max_lat - 45, 0.0905, 0.001);
  EXPECT_NEAR(b.max_lon1 - 7, 0.128, 0.002);
  EXPECT_FALSE(b.has_second);
}

// The fast filter must give exactly the geodesic answer, including right at the edge of the circle.
TEST(NearFilter, AgreesWithTheExactGeodesic) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> lat(-89.0, 89.0), lon(-180.0, 180.0), az(0, 360), rad(0.05, 800),
      frac(0.97, 1.03);
  size_t edge_cases = 0, inside = 0;
  for (int i = 0; i < 20000; ++i) {
    tw::store::Near n{lat(rng), lon(rng), rad(rng)};
    const tw::store::detail::NearFilter f(n);
    const double d = n.radius_km * (i % 4 == 0 ? frac(rng) * 0.5 : frac(rng));
    auto p = tw::destination({n.lat, n.lon}, az(rng), d);
    const bool exact = tw::store::detail::within(n, p.lat, p.lon);
    ASSERT_EQ(f.contains(p.lat, p.lon), exact) << n.lat << "," << n.lon << " r=" << n.radius_km << " p=" << p.lat
                                               << "," << p.lon;
    edge_cases += std::abs(d - n.radius_km) < 0.01 * n.radius_km;
    inside += exact;
  }
  EXPECT_GT(edge_cases, 1000u);  // the sample really probes the edge
  EXPECT_GT(inside, 5000u);
  EXPECT_LT(inside, 15000u);
}

}  // namespace
