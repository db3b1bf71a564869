// The store contract on PostgreSQL + PostGIS, against a real server started for this process
// (integration). Missing PostgreSQL binaries make every test fail with the reason.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "../../src/store/postgres/pg_store.hpp"
#include "contract.hpp"
#include "pg_server.hpp"

namespace {

using tw::store::testing::PgServer;

std::unique_ptr<PgServer> g_server;
std::string g_error;

class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto s = PgServer::start();
    if (s.ok())
      g_server = std::move(*s);
    else
      g_error = s.error().message;
  }
  void TearDown() override { g_server.reset(); }
};

struct PgBackend {
  static std::string name() { return "postgresql"; }
  static tw::Result<std::string> new_url() {
    if (!g_server) return tw::make_error("pg_server", "PostgreSQL test server did not start: " + g_error);
    return g_server->create_database();
  }
};

// Runs one SQL query on a fresh connection and returns the first value.
std::string scalar(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0)
                                                                             : std::string("ERROR: ") +
                                                                                   PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  return out;
}

}  // namespace

namespace tw::store::contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContract, ::testing::Types<PgBackend>);
}

namespace {

TEST(PgStore, ServerStarted) { ASSERT_NE(g_server, nullptr) << g_error; }

TEST(PgStore, EventsArePartitionedByMonthWithAGeographyIndex) {
  auto url = PgBackend::new_url();
  ASSERT_TRUE(url.ok()) << url.error().message;
  auto st = tw::store::open_store(*url);
  ASSERT_TRUE(st.ok()) << st.error().message;
  using tw::store::contract::ev;
  // 2024-01-31 23:59:59.999, 2024-02-01 00:00:00.000, 2024-02-29 12:00, 2024-03-01 00:00
  std::vector<tw::store::EventRecord> in = {ev("p1", "s", "k", 1706745599999, 1, 1), ev("p2", "s", "k", 1706745600000, 1, 1),
                                            ev("p3", "s", "k", 1709208000000, 1, 1), ev("p4", "s", "k", 1709251200000)};
  ASSERT_EQ(*(*st)->insert_events(in), 4u);
  EXPECT_EQ(scalar(*url, "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i "
                         "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"),
            "events_y2024m01,events_y2024m02,events_y2024m03");
  EXPECT_EQ(scalar(*url, "SELECT count(*) FROM events_y2024m02"), "2");
  EXPECT_EQ(scalar(*url, "SELECT indexdef LIKE '%USING gist (geog, ts_ms)%' FROM pg_indexes "
                         "WHERE tablename = 'events_y2024m02' AND indexdef LIKE '%gist%'"),
            "t");
  EXPECT_EQ(scalar(*url, "SELECT round(ST_Distance(geog, 'SRID=4326;POINT(1 2)'::geography)) FROM events "
                         "WHERE id = 'p1'"),
            "110575");  // one degree of latitude at the equator on WGS84, metres
  EXPECT_EQ(scalar(*url, "SELECT geog IS NULL FROM events WHERE id = 'p4'"), "t");
  EXPECT_EQ(scalar(*url, "SELECT MAX(version) FROM schema_version"), "1");
}

TEST(PgPartition, MonthBoundaries) {
  auto p = tw::store::pg::partition_for(1706745600000);  // 2024-02-01T00:00:00Z
  EXPECT_EQ(p.name, "events_y2024m02");
  EXPECT_EQ(p.from_ms, 1706745600000);
  EXPECT_EQ(p.to_ms, 1709251200000);  // 2024-03-01 (leap year)
  auto q = tw::store::pg::partition_for(1706745599999);
  EXPECT_EQ(q.name, "events_y2024m01");
  EXPECT_EQ(q.to_ms, 1706745600000);
  auto r = tw::store::pg::partition_for(0);
  EXPECT_EQ(r.name, "events_y1970m01");
  EXPECT_EQ(r.from_ms, 0);
  auto d = tw::store::pg::partition_for(1733011200000);  // 2024-12-01
  EXPECT_EQ(d.name, "events_y2024m12");
  EXPECT_EQ(d.to_ms, 1735689600000);  // 2025-01-01
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new PgEnvironment);
  return RUN_ALL_TESTS();
}
