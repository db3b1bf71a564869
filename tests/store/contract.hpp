#pragma once
// The store contract: every backend must pass these typed tests. A backend trait B provides
//   static std::string name();            // "sqlite" | "postgresql"
//   static Result<std::string> new_url(); // URL of a fresh, empty database (opened more than once in some tests)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tw/core/geo.hpp"
#include "tw/store/store.hpp"

namespace tw::store::contract {

inline EventRecord ev(std::string id, std::string site, std::string kind, std::int64_t ts, double lat = kNoCoord,
                      double lon = kNoCoord, nlohmann::json payload = nlohmann::json::object()) {
  EventRecord e;
  e.id = std::move(id);
  e.site = std::move(site);
  e.kind = std::move(kind);
  e.ts_ms = ts;
  e.received_ms = ts + 250;
  e.lat = lat;
  e.lon = lon;
  e.payload = std::move(payload);
  return e;
}

inline void expect_same_double(double a, double b, const char* what) {
  if (std::isnan(a) || std::isnan(b))
    EXPECT_TRUE(std::isnan(a) && std::isnan(b)) << what << ": " << a << " vs " << b;
  else
    EXPECT_EQ(a, b) << what;
}

inline void expect_event_eq(const EventRecord& got, const EventRecord& want) {
  SCOPED_TRACE("event " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.site, want.site);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.ts_ms, want.ts_ms);
  EXPECT_EQ(got.received_ms, want.received_ms);
  expect_same_double(got.lat, want.lat, "lat");
  expect_same_double(got.lon, want.lon, "lon");
  EXPECT_EQ(got.payload, want.payload) << got.payload.dump() << " vs " << want.payload.dump();
}

inline std::vector<std::string> ids_of(const std::vector<EventRecord>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.id);
  return out;
}

template <class B>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    auto u = B::new_url();
    ASSERT_TRUE(u.ok()) << "cannot prepare a " << B::name() << " database: " << u.error().message;
    url_ = *u;
    store_ = open_ok(url_);
    ASSERT_NE(store_, nullptr);
  }
  static std::unique_ptr<Store> open_ok(const std::string& url) {
    auto r = open_store(url);
    EXPECT_TRUE(r.ok()) << url << ": " << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return nullptr;
    return std::move(*r);
  }
  std::vector<EventRecord> query(const EventQuery& q) {
    auto r = store_->query_events(q);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : std::vector<EventRecord>{};
  }
  std::string url_;
  std::unique_ptr<Store> store_;
};

TYPED_TEST_SUITE_P(StoreContract);

TYPED_TEST_P(StoreContract, ReportsItsBackend) { EXPECT_EQ(this->store_->backend(), TypeParam::name()); }

TYPED_TEST_P(StoreContract, SiteRoundTripUpsertAndStatus) {
  auto& s = *this->store_;
  SiteRecord a;
  a.id = "site-b";
  a.name = "Hill tower \"B\"";
  a.lat = 37.8719;
  a.lon = -122.2585;
  a.height_m = 182.5;
  a.status = "online";
  a.last_seen_ms = 1700000000123;
  a.info = {{"cameras", {{{"id", "cam1"}, {"azimuth", 45.5}}}}, {"sensors", {"accel"}}};
  SiteRecord b;
  b.id = "site-a";
  b.name = "Valley";
  b.lat = -33.45;
  b.lon = -70.66;
  ASSERT_TRUE(s.upsert_site(a).ok());
  ASSERT_TRUE(s.upsert_site(b).ok());
  auto one = s.site("site-b");
  ASSERT_TRUE(one.ok() && one->has_value());
  const SiteRecord& g = **one;
  EXPECT_EQ(g.id, a.id);
  EXPECT_EQ(g.name, a.name);
  EXPECT_EQ(g.lat, a.lat);
  EXPECT_EQ(g.lon, a.lon);
  EXPECT_EQ(g.height_m, a.height_m);
  EXPECT_EQ(g.status, "online");
  EXPECT_EQ(g.last_seen_ms, a.last_seen_ms);
  EXPECT_EQ(g.info, a.info);
  auto all = s.sites();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "site-a");  // ordered by id
  EXPECT_EQ((*all)[0].status, "unknown");
  EXPECT_EQ((*all)[1].id, "site-b");
  // Upsert replaces the descriptive fields.
  a.name = "Hill tower B2";
  a.height_m = 190;
  ASSERT_TRUE(s.upsert_site(a).ok());
  EXPECT_EQ((*s.site("site-b"))->name, "Hill tower B2");
  EXPECT_EQ((*s.site("site-b"))->height_m, 190);
  EXPECT_EQ(s.sites()->size(), 2u);
  // Status: last_seen only moves forward.
  ASSERT_TRUE(s.set_site_status("site-b", "offline", 1700000000000).ok());
  EXPECT_EQ((*s.site("site-b"))->status, "offline");
  EXPECT_EQ((*s.site("site-b"))->last_seen_ms, 1700000000123);
  ASSERT_TRUE(s.set_site_status("site-b", "online", 1700000009999).ok());
  EXPECT_EQ((*s.site("site-b"))->last_seen_ms, 1700000009999);
  // Errors.
  auto missing = s.set_site_status("nope", "online", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "not_found");
  auto bad = s.set_site_status("site-b", "sleeping", 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "bad_argument");
  SiteRecord c = b;
  c.lat = 91;
  EXPECT_FALSE(s.upsert_site(c).ok());
  auto none = s.site("nope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TYPED_TEST_P(StoreContract, EventRoundTripFieldByField) {
  auto& s = *this->store_;
  nlohmann::json payload = {
      {"pga", 0.123456789012345},   {"n", 42},          {"neg", -7},
      {"big", 9007199254740993LL},  {"tiny", 1e-300},   {"s", "Z\u00fcrich \u2013 \u6771\u4eac \"q\" \\ b"},
      {"arr", {1, 2.5, nullptr, true}}, {"nested", {{"a", {{"b", nlohmann::json::array()}}}}},
      {"empty", nlohmann::json::object()}};
  std::vector<EventRecord> in = {
      ev("01HZX0000000000000000000A1", "site-1", "ground_motion", 1718000000123, 37.87191234567, -122.25851234567,
         payload),
      ev("01HZX0000000000000000000A2", "site-1", "heartbeat", 1718000000124),  // no location
      ev("01HZX0000000000000000000A3", "site-2", "smoke", 1718000000125, -45.000001, 179.999999,
         {{"bearing_deg", 271.25}}),
  };
  auto n = s.insert_events(in);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 3u);
  for (const auto& e : in) {
    auto got = s.event(e.id);
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_TRUE(got->has_value()) << e.id;
    expect_event_eq(**got, e);
  }
  auto none = s.event("does-not-exist");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EventQuery q;
  q.newest_first = false;
  auto all = this->query(q);
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 0; i < 3; ++i) expect_event_eq(all[i], in[i]);
  EXPECT_EQ(*s.count_events(), 3);
}

TYPED_TEST_P(StoreContract, InsertsAreIdempotentByMessageId) {
  auto& s = *this->store_;
  std::vector<EventRecord> first;
  for (int i = 0; i < 100; ++i)
    first.push_back(ev(fmt::format("ev-{:04d}", i), "site-1", "pick", 1700000000000 + i, 10.0 + i * 0.01, 20.0,
                       {{"i", i}}));
  ASSERT_EQ(*s.insert_events(first), 100u);
  ASSERT_EQ(*s.insert_events(first), 0u);
  // Overlapping batch: 50 old (with a different payload, which must not overwrite) + 50 new, one new id twice.
  std::vector<EventRecord> second;
  for (int i = 50; i < 150; ++i)
    second.push_back(ev(fmt::format("ev-{:04d}", i), "site-1", "pick", 1700000000000 + i, 10.0, 20.0,
                        {{"i", i}, {"second", true}}));
  second.push_back(second.back());
  auto n = s.insert_events(second);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 50u);
  EXPECT_EQ(*s.count_events(), 150);
  auto old = s.event("ev-0060");
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->payload, (nlohmann::json{{"i", 60}}));  // first write wins
  expect_event_eq(**old, first[60]);
  auto fresh = s.event("ev-0120");
  ASSERT_TRUE(fresh.ok() && fresh->has_value());
  EXPECT_EQ((*fresh)->payload.at("second"), true);
  EXPECT_EQ(*s.insert_events(std::span<const EventRecord>{}), 0u);
}

TYPED_TEST_P(StoreContract, InsertReportsWhichEventsWereNew) {
  auto& s = *this->store_;
  std::vector<EventRecord> first{ev("flag-a", "site-1", "pick", 1700000000000, 10.0, 20.0, {{"i", 0}}),
                                 ev("flag-b", "site-1", "pick", 1700000000001, 10.0, 20.0, {{"i", 1}})};
  std::vector<bool> flags;
  ASSERT_EQ(*s.insert_events(first, &flags), 2u);
  EXPECT_EQ(flags, (std::vector<bool>{true, true}));
  // Old, new, the new one again inside the batch, old.
  std::vector<EventRecord> second{first[1], ev("flag-c", "site-2", "pick", 1700000000002, 11.0, 21.0, {{"i", 2}}),
                                  ev("flag-c", "site-2", "pick", 1700000000002, 11.0, 21.0, {{"i", 3}}), first[0]};
  ASSERT_EQ(*s.insert_events(second, &flags), 1u);
  EXPECT_EQ(flags, (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ((*s.event("flag-c"))->payload, (nlohmann::json{{"i", 2}}));
}

TYPED_TEST_P(StoreContract, InvalidEventRejectsTheWholeBatch) {
  auto& s = *this->store_;
  std::vector<EventRecord> batch = {ev("ok-1", "site-1", "pick", 1000, 1, 1), ev("bad-2", "site-1", "pick", 1000, 91, 1)};
  auto r = s.insert_events(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_argument");
  EXPECT_NE(r.error().message.find("event[1]"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("bad-2"), std::string::npos) << r.error().message;
  EXPECT_EQ(*s.count_events(), 0);
  for (auto bad : {ev("", "s", "k", 1), ev("x", "", "k", 1), ev("x", "s", "", 1), ev("x", "s", "k", -5),
                   ev("x", "s", "k", 1, 10, kNoCoord), ev("x", "s", "k", 1, 10, 181)}) {
    std::vector<EventRecord> one = {bad};
    auto e = s.insert_events(one);
    ASSERT_FALSE(e.ok()) << "accepted id='" << bad.id << "' site='" << bad.site << "'";
    EXPECT_EQ(e.error().code, "bad_argument");
  }
  EXPECT_EQ(*s.count_events(), 0);
}

TYPED_TEST_P(StoreContract, QueryFiltersByTimeKindAndSite) {
  auto& s = *this->store_;
  const std::int64_t t0 = 1735689600000;  // 2025-01-01
  const char* kinds[] = {"pick", "smoke", "power"};
  std::vector<EventRecord> in;
  for (int i = 0; i < 30; ++i)
    in.push_back(ev(fmt::format("e{:02d}", i), i % 2 ? "site-odd" : "site-even", kinds[i % 3], t0 + i * 1000,
                    45.0, 7.0));
  ASSERT_EQ(*s.insert_events(in), 30u);
  auto expect_ids = [&](EventQuery q, std::vector<int> want) {
    q.newest_first = false;
    std::vector<std::string> w;
    for (int i : want) w.push_back(fmt::format("e{:02d}", i));
    EXPECT_EQ(ids_of(this->query(q)), w);
  };
  EventQuery q;
  q.since_ms = t0 + 5000;  // inclusive
  q.until_ms = t0 + 10000;  // exclusive
  expect_ids(q, {5, 6, 7, 8, 9});
  q = {};
  q.kinds = {"smoke"};
  expect_ids(q, {1, 4, 7, 10, 13, 16, 19, 22, 25, 28});
  q.kinds = {"smoke", "power"};
  q.since_ms = t0 + 20000;
  expect_ids(q, {20, 22, 23, 25, 26, 28, 29});
  q = {};
  q.sites = {"site-odd"};
  q.until_ms = t0 + 9000;
  expect_ids(q, {1, 3, 5, 7});
  q.sites = {"site-odd", "site-even"};
  q.kinds = {"pick"};
  expect_ids(q, {0, 3, 6});
  q = {};
  q.kinds = {"quake"};
  expect_ids(q, {});
  q = {};
  q.sites = {"site-none", "x' OR '1'='1"};  // hostile text is data, never SQL
  expect_ids(q, {});
  q = {};
  q.since_ms = t0 + 29000;
  q.until_ms = t0 + 29000;
  expect_ids(q, {});
}

TYPED_TEST_P(StoreContract, OrderingTieBreakAndLimit) {
  auto& s = *this->store_;
  std::vector<EventRecord> in = {ev("b", "s", "k", 2000), ev("a", "s", "k", 2000), ev("c", "s", "k", 2000),
                                 ev("z", "s", "k", 1000), ev("y", "s", "k", 3000)};
  ASSERT_EQ(*s.insert_events(in), 5u);
  EventQuery q;
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"y", "c", "b", "a", "z"}));
  q.newest_first = false;
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"z", "a", "b", "c", "y"}));
  q.limit = 2;
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"z", "a"}));
  q.newest_first = true;
  q.limit = 3;
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"y", "c", "b"}));
}

TYPED_TEST_P(StoreContract, NearQueryUsesGeodesicDistance) {
  auto& s = *this->store_;
  const LatLon c{35.6895, 139.6917};
  // Points at known geodesic distances (km) and azimuths from the centre.
  const std::vector<std::pair<double, double>> placed = {{0.0, 0},   {4.0, 45},  {9.9, 90},  {10.1, 135},
                                                         {14.9, 200}, {15.2, 300}, {30.0, 10}};
  std::vector<EventRecord> in;
  for (size_t i = 0; i < placed.size(); ++i) {
    LatLon p = destination(c, placed[i].second, placed[i].first);
    ASSERT_NEAR(distance_km(c, p), placed[i].first, 1e-6);
    in.push_back(ev(fmt::format("p{}", i), "tokyo", i % 2 ? "smoke" : "quake", 1700000000000 + static_cast<int>(i) * 60000,
                    p.lat, p.lon));
  }
  in.push_back(ev("nowhere", "tokyo", "quake", 1700000000000));  // no location: never "near"
  ASSERT_EQ(*s.insert_events(in), in.size());
  auto near_ids = [&](double km, EventQuery q = {}) {
    q.near = Near{c.lat, c.lon, km};
    q.newest_first = false;
    return ids_of(this->query(q));
  };
  EXPECT_EQ(near_ids(10), (std::vector<std::string>{"p0", "p1", "p2"}));
  EXPECT_EQ(near_ids(15), (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4"}));
  EXPECT_EQ(near_ids(100), (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}));
  EXPECT_EQ(near_ids(0.5), (std::vector<std::string>{"p0"}));
  EXPECT_EQ(near_ids(2000), (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}));  // wide area
  // Combined with time window, kind, limit and order.
  EventQuery q;
  q.since_ms = 1700000000000 + 60000;
  q.until_ms = 1700000000000 + 5 * 60000;
  EXPECT_EQ(near_ids(15, q), (std::vector<std::string>{"p1", "p2", "p3", "p4"}));
  q.kinds = {"quake"};
  EXPECT_EQ(near_ids(15, q), (std::vector<std::string>{"p2", "p4"}));
  q = {};
  q.near = Near{c.lat, c.lon, 15};
  q.limit = 2;
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"p4", "p3"}));
  // Ties at the limit are broken by id, as without near.
  std::vector<EventRecord> tied = {ev("t-b", "tokyo", "smoke", 1800000000000, c.lat, c.lon),
                                   ev("t-c", "tokyo", "smoke", 1800000000000, c.lat, c.lon),
                                   ev("t-a", "tokyo", "smoke", 1800000000000, c.lat, c.lon)};
  ASSERT_EQ(*s.insert_events(tied), 3u);
  q = {};
  q.near = Near{c.lat, c.lon, 1};
  q.limit = 2;
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"t-c", "t-b"}));
  q.newest_first = false;
  q.since_ms = 1800000000000;
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"t-a", "t-b"}));
  // Far away: nothing.
  EventQuery far;
  far.near = Near{-33.0, -70.0, 500};
  EXPECT_TRUE(this->query(far).empty());
}

TYPED_TEST_P(StoreContract, NearQueryAcrossAntimeridianAndPole) {
  auto& s = *this->store_;
  std::vector<EventRecord> in = {
      ev("east", "fiji", "k", 1, -17.7, 179.98), ev("west", "fiji", "k", 2, -17.7, -179.95),
      ev("edge+", "fiji", "k", 3, -17.7, 180.0), ev("edge-", "fiji", "k", 4, -17.7, -180.0),
      ev("far", "fiji", "k", 5, -17.7, 179.6),   ev("pole-a", "arctic", "k", 6, 89.95, 0.0),
      ev("pole-b", "arctic", "k", 7, 89.95, 180.0), ev("pole-far", "arctic", "k", 8, 89.0, 90.0)};
  ASSERT_EQ(*s.insert_events(in), in.size());
  // Distances from (-17.7, 179.99): east 1.06 km, edge 1.06 km, west 6.4 km, far 41 km.
  ASSERT_LT(distance_km({-17.7, 179.99}, {-17.7, -179.95}), 6.5);
  ASSERT_GT(distance_km({-17.7, 179.99}, {-17.7, 179.6}), 40);
  EventQuery q;
  q.newest_first = false;
  q.near = Near{-17.7, 179.99, 10};
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"east", "west", "edge+", "edge-"}));
  q.near = Near{-17.7, -179.99, 3.5};  // the other side of the line: east 3.2 km, west 4.2 km
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"east", "edge+", "edge-"}));
  // Across the pole: (89.95, 0) and (89.95, 180) are 11.2 km apart.
  ASSERT_NEAR(distance_km({89.95, 0}, {89.95, 180}), 11.17, 0.01);
  q.near = Near{89.95, 0.0, 12};
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"pole-a", "pole-b"}));
  q.near = Near{89.95, 0.0, 11};
  EXPECT_EQ(ids_of(this->query(q)), (std::vector<std::string>{"pole-a"}));
}

TYPED_TEST_P(StoreContract, BadQueriesAreRejectedWithReasons) {
  auto& s = *this->store_;
  auto expect_bad = [&](EventQuery q, const char* what) {
    auto r = s.query_events(q);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code, "bad_argument") << what;
    EXPECT_FALSE(r.error().message.empty());
  };
  EventQuery q;
  q.limit = 0;
  expect_bad(q, "limit 0");
  q.limit = 100000000;
  expect_bad(q, "huge limit");
  q = {};
  q.since_ms = 10;
  q.until_ms = 5;
  expect_bad(q, "until before since");
  q = {};
  q.near = Near{10, 10, -1};
  expect_bad(q, "negative radius");
  q.near = Near{std::nan(""), 10, 5};
  expect_bad(q, "NaN lat");
  q.near = Near{95, 10, 5};
  expect_bad(q, "lat 95");
  q.near = Near{10, 10, INFINITY};
  expect_bad(q, "infinite radius");
  AlarmQuery aq;
  aq.limit = 0;
  EXPECT_FALSE(s.alarms(aq).ok());
}

inline AlarmRecord alarm(std::string source, std::string type, std::string severity, std::int64_t ts,
                         std::string service = "site") {
  AlarmRecord a;
  a.source = std::move(source);
  a.type = std::move(type);
  a.severity = std::move(severity);
  a.service = std::move(service);
  a.site = "site-1";
  a.lat = 46.2;
  a.lon = 6.15;
  a.start_ms = ts;
  a.update_ms = ts;
  a.message = "raised at " + std::to_string(ts);
  a.details = {{"ts", ts}};
  return a;
}

TYPED_TEST_P(StoreContract, AlarmLifecycleOneActivePerSourceAndType) {
  auto& s = *this->store_;
  auto r1 = s.raise_alarm(alarm("site-1", "site_offline", "major", 1000));
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  const std::int64_t id = r1->id;
  EXPECT_GT(id, 0);
  EXPECT_EQ(r1->status, "active_unack");
  EXPECT_EQ(r1->count, 1);
  EXPECT_EQ(r1->start_ms, 1000);
  EXPECT_EQ(r1->update_ms, 1000);
  EXPECT_EQ(r1->ack_ms, 0);
  EXPECT_EQ(r1->clear_ms, 0);
  EXPECT_EQ(r1->severity, "major");
  EXPECT_EQ(r1->service, "site");
  EXPECT_EQ(r1->site, "site-1");
  EXPECT_EQ(r1->lat, 46.2);
  EXPECT_EQ(r1->lon, 6.15);
  EXPECT_EQ(r1->details, (nlohmann::json{{"ts", 1000}}));
  // Raising again updates the same alarm.
  auto r2 = s.raise_alarm(alarm("site-1", "site_offline", "critical", 2000));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->id, id);
  EXPECT_EQ(r2->count, 2);
  EXPECT_EQ(r2->severity, "critical");
  EXPECT_EQ(r2->start_ms, 1000);
  EXPECT_EQ(r2->update_ms, 2000);
  EXPECT_EQ(r2->message, "raised at 2000");
  EXPECT_EQ(r2->details, (nlohmann::json{{"ts", 2000}}));
  // Another type from the same source is another alarm.
  auto other = s.raise_alarm(alarm("site-1", "mains_outage", "minor", 2100, "power"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->id, id);
  // Acknowledge, then raise again: stays acknowledged, count grows.
  auto ack = s.acknowledge_alarm(id, 3000, "op-anna");
  ASSERT_TRUE(ack.ok() && ack->has_value());
  EXPECT_EQ((*ack)->status, "active_ack");
  EXPECT_EQ((*ack)->ack_ms, 3000);
  auto ack2 = s.acknowledge_alarm(id, 3500, "op-bob");  // already acknowledged: unchanged
  ASSERT_TRUE(ack2.ok() && ack2->has_value());
  EXPECT_EQ((*ack2)->ack_ms, 3000);
  auto r3 = s.raise_alarm(alarm("site-1", "site_offline", "critical", 4000));
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->id, id);
  EXPECT_EQ(r3->count, 3);
  EXPECT_EQ(r3->status, "active_ack");
  // Assign and comment.
  auto as = s.assign_alarm(id, "field-team-3", 4500, "op-anna");
  ASSERT_TRUE(as.ok() && as->has_value());
  EXPECT_EQ((*as)->assignee, "field-team-3");
  ASSERT_TRUE(s.comment_alarm(id, "generator dispatched", 4600, "op-anna").ok());
  // Clear by (source, type).
  auto cl = s.clear_alarm("site-1", "site_offline", 5000, "hub");
  ASSERT_TRUE(cl.ok() && cl->has_value());
  EXPECT_EQ((*cl)->id, id);
  EXPECT_EQ((*cl)->status, "cleared_ack");
  EXPECT_EQ((*cl)->clear_ms, 5000);
  auto cl_again = s.clear_alarm("site-1", "site_offline", 5100, "hub");  // nothing active
  ASSERT_TRUE(cl_again.ok());
  EXPECT_FALSE(cl_again->has_value());
  // A new raise after clearing starts a new alarm.
  auto r4 = s.raise_alarm(alarm("site-1", "site_offline", "warning", 6000));
  ASSERT_TRUE(r4.ok());
  EXPECT_NE(r4->id, id);
  EXPECT_EQ(r4->count, 1);
  EXPECT_EQ(r4->status, "active_unack");
  // Clear by id while unacknowledged, then acknowledge the cleared alarm.
  auto cl2 = s.clear_alarm_by_id(r4->id, 7000, "op-bob");
  ASSERT_TRUE(cl2.ok() && cl2->has_value());
  EXPECT_EQ((*cl2)->status, "cleared_unack");
  auto cl2b = s.clear_alarm_by_id(r4->id, 7100, "op-bob");  // already cleared: unchanged
  ASSERT_TRUE(cl2b.ok() && cl2b->has_value());
  EXPECT_EQ((*cl2b)->clear_ms, 7000);
  auto ack3 = s.acknowledge_alarm(r4->id, 7200, "op-bob");
  ASSERT_TRUE(ack3.ok() && ack3->has_value());
  EXPECT_EQ((*ack3)->status, "cleared_ack");
  // The stored record matches what the calls returned.
  auto stored = s.alarm(id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const AlarmRecord& a = **stored;
  EXPECT_EQ(a.status, "cleared_ack");
  EXPECT_EQ(a.count, 3);
  EXPECT_EQ(a.start_ms, 1000);
  EXPECT_EQ(a.update_ms, 4000);
  EXPECT_EQ(a.ack_ms, 3000);
  EXPECT_EQ(a.clear_ms, 5000);
  EXPECT_EQ(a.assignee, "field-team-3");
  EXPECT_EQ(a.severity, "critical");
  // History, in order.
  auto h = s.alarm_history(id);
  ASSERT_TRUE(h.ok()) << h.error().message;
  std::vector<std::string> actions;
  for (const auto& e : *h) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"raised", "updated", "acknowledged", "updated", "assigned",
                                               "commented", "cleared"}));
  ASSERT_EQ(h->size(), 7u);
  EXPECT_EQ((*h)[0].ts_ms, 1000);
  EXPECT_EQ((*h)[2].user, "op-anna");
  EXPECT_EQ((*h)[2].ts_ms, 3000);
  EXPECT_EQ((*h)[4].text, "field-team-3");
  EXPECT_EQ((*h)[5].text, "generator dispatched");
  EXPECT_EQ((*h)[5].user, "op-anna");
  EXPECT_EQ((*h)[6].user, "hub");
  EXPECT_EQ((*h)[6].ts_ms, 5000);
  // Unknown ids and bad input.
  EXPECT_FALSE(s.acknowledge_alarm(999999, 1, "x")->has_value());
  EXPECT_FALSE(s.clear_alarm_by_id(999999, 1, "x")->has_value());
  EXPECT_FALSE(s.assign_alarm(999999, "x", 1, "x")->has_value());
  EXPECT_FALSE(s.alarm(999999)->has_value());
  auto c404 = s.comment_alarm(999999, "hello", 1, "x");
  ASSERT_FALSE(c404.ok());
  EXPECT_EQ(c404.error().code, "not_found");
  auto h404 = s.alarm_history(999999);
  ASSERT_FALSE(h404.ok());
  EXPECT_EQ(h404.error().code, "not_found");
  EXPECT_FALSE(s.comment_alarm(id, "", 1, "x").ok());
  auto bad = alarm("s", "t", "apocalyptic", 1);
  auto rb = s.raise_alarm(bad);
  ASSERT_FALSE(rb.ok());
  EXPECT_EQ(rb.error().code, "bad_argument");
  EXPECT_FALSE(s.raise_alarm(alarm("", "t", "minor", 1)).ok());
  EXPECT_FALSE(s.raise_alarm(alarm("s", "", "minor", 1)).ok());
}

TYPED_TEST_P(StoreContract, AlarmQueriesFilterAndOrder) {
  auto& s = *this->store_;
  auto a1 = alarm("site-1", "site_offline", "major", 1000, "site");
  auto a2 = alarm("quake-42", "quake", "critical", 2000, "quake");
  a2.site = "";
  a2.lat = 35.0;
  a2.lon = 139.0;
  auto a3 = alarm("site-2/cam1", "smoke", "major", 3000, "wildfire");
  a3.site = "site-2";
  a3.lat = 46.25;  // 5.6 km north of a1's location
  a3.lon = 6.15;
  auto a4 = alarm("site-3", "site_offline", "minor", 4000, "site");
  a4.site = "site-3";
  a4.lat = kNoCoord;
  a4.lon = kNoCoord;
  std::vector<std::int64_t> ids;
  for (const auto& a : {a1, a2, a3, a4}) {
    auto r = s.raise_alarm(a);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ids.push_back(r->id);
  }
  ASSERT_TRUE(s.clear_alarm_by_id(ids[0], 5000, "x")->has_value());
  auto got = [&](AlarmQuery q) {
    std::vector<std::int64_t> out;
    auto r = s.alarms(q);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (r.ok())
      for (const auto& a : *r) out.push_back(a.id);
    return out;
  };
  AlarmQuery q;  // newest update first
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[3], ids[2], ids[1], ids[0]}));
  q.active_only = true;
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[3], ids[2], ids[1]}));
  q.services = {"quake", "wildfire"};
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[2], ids[1]}));
  q = {};
  q.site = "site-2";
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[2]}));
  q = {};
  q.near = Near{46.2, 6.15, 1};
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[0]}));
  q.near = Near{46.2, 6.15, 6};
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[2], ids[0]}));
  q.limit = 1;
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[2]}));
  q = {};
  q.limit = 2;
  EXPECT_EQ(got(q), (std::vector<std::int64_t>{ids[3], ids[2]}));
  // Field-by-field read back of a listed alarm.
  q = {};
  q.services = {"quake"};
  auto r = s.alarms(q);
  ASSERT_TRUE(r.ok() && r->size() == 1);
  const AlarmRecord& g = r->front();
  EXPECT_EQ(g.source, "quake-42");
  EXPECT_EQ(g.type, "quake");
  EXPECT_EQ(g.severity, "critical");
  EXPECT_EQ(g.site, "");
  EXPECT_EQ(g.lat, 35.0);
  EXPECT_EQ(g.lon, 139.0);
  EXPECT_EQ(g.message, "raised at 2000");
}

TYPED_TEST_P(StoreContract, ConcurrentRaisesKeepOneActiveAlarm) {
  // Two stores (two connections) on the same database, two threads each.
  auto other = this->open_ok(this->url_);
  ASSERT_NE(other, nullptr);
  constexpr int kPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Store& st = t % 2 ? *other : *this->store_;
      for (int i = 0; i < kPerThread; ++i)
        if (!st.raise_alarm(alarm("site-9", "site_offline", "major", 1000 + t * 100 + i)).ok()) ++failures;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  AlarmQuery q;
  q.active_only = true;
  auto act = this->store_->alarms(q);
  ASSERT_TRUE(act.ok());
  ASSERT_EQ(act->size(), 1u);
  EXPECT_EQ(act->front().count, 4 * kPerThread);
  const std::int64_t start = act->front().start_ms;  // the first raise of whichever thread came first
  EXPECT_TRUE(start == 1000 || start == 1100 || start == 1200 || start == 1300) << start;
  EXPECT_EQ(act->front().update_ms, 1300 + kPerThread - 1);  // update time never moves backwards
  auto h = this->store_->alarm_history(act->front().id);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), static_cast<size_t>(4 * kPerThread));
  EXPECT_EQ(std::count_if(h->begin(), h->end(), [](const auto& e) { return e.action == "raised"; }), 1);
}

TYPED_TEST_P(StoreContract, ConcurrentOverlappingInsertsStoreEachIdOnce) {
  auto other = this->open_ok(this->url_);
  ASSERT_NE(other, nullptr);
  std::atomic<size_t> added{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Store& st = t % 2 ? *other : *this->store_;
      for (int b = 0; b < 10; ++b) {
        // Batches of 50 ids with heavy overlap between threads: ids 0..299 overall.
        std::vector<EventRecord> batch;
        for (int i = 0; i < 50; ++i) {
          int id = (b * 25 + t * 7 + i) % 300;
          batch.push_back(ev(fmt::format("c{:03d}", id), "site-1", "pick", 1700000000000 + id, 1.0, 2.0));
        }
        auto r = st.insert_events(batch);
        if (r.ok())
          added += *r;
        else
          ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto n = this->store_->count_events();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(static_cast<size_t>(*n), added.load());
  std::set<std::string> distinct;
  EventQuery q;
  q.limit = 1000;
  for (const auto& e : this->query(q)) distinct.insert(e.id);
  EXPECT_EQ(distinct.size(), static_cast<size_t>(*n));
}

TYPED_TEST_P(StoreContract, ReopenKeepsDataAndSchema) {
  std::vector<EventRecord> in = {ev("keep-1", "s", "k", 5, 1, 1)};
  ASSERT_EQ(*this->store_->insert_events(in), 1u);
  ASSERT_TRUE(this->store_->raise_alarm(alarm("s", "t", "minor", 5)).ok());
  this->store_.reset();
  auto again = this->open_ok(this->url_);  // migrations are idempotent
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again->count_events(), 1);
  auto e = again->event("keep-1");
  ASSERT_TRUE(e.ok() && e->has_value());
  expect_event_eq(**e, in[0]);
  AlarmQuery q;
  EXPECT_EQ(again->alarms(q)->size(), 1u);
}

TYPED_TEST_P(StoreContract, HostileTextIsDataNotACrash) {
  auto& s = *this->store_;
  // Invalid UTF-8 inside a payload string is stored with U+FFFD instead of throwing.
  std::vector<EventRecord> in = {ev("u1", "s", "k", 1, 1, 1, {{"note", std::string("bad \xff byte")}}),
                                 ev("u2'; DROP TABLE events; --", "s\"", "k", 2)};
  ASSERT_EQ(*s.insert_events(in), 2u);
  auto u1 = s.event("u1");
  ASSERT_TRUE(u1.ok() && u1->has_value());
  EXPECT_EQ((*u1)->payload.at("note"), "bad \xef\xbf\xbd byte");
  auto u2 = s.event("u2'; DROP TABLE events; --");
  ASSERT_TRUE(u2.ok() && u2->has_value());
  EXPECT_EQ((*u2)->site, "s\"");
  EXPECT_EQ(*s.count_events(), 2);
  // Invalid UTF-8 or NUL in keys and filters is a bad argument.
  std::vector<EventRecord> bad = {ev("u3", std::string("s\xc3"), "k", 3)};
  auto r = s.insert_events(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_argument");
  bad = {ev(std::string("u4\0x", 4), "s", "k", 3)};
  EXPECT_FALSE(s.insert_events(bad).ok());
  EventQuery q;
  q.kinds = {std::string("\xff")};
  auto qr = s.query_events(q);
  ASSERT_FALSE(qr.ok());
  EXPECT_EQ(qr.error().code, "bad_argument");
  SiteRecord site;
  site.id = "x";
  site.name = std::string("\xfe");
  EXPECT_FALSE(s.upsert_site(site).ok());
  auto a = alarm("src", "t", "minor", 1);
  a.message = std::string("\xc0\x80");  // overlong NUL
  EXPECT_FALSE(s.raise_alarm(a).ok());
}

REGISTER_TYPED_TEST_SUITE_P(StoreContract, HostileTextIsDataNotACrash, ReportsItsBackend, SiteRoundTripUpsertAndStatus,
                            EventRoundTripFieldByField, InsertsAreIdempotentByMessageId, InsertReportsWhichEventsWereNew,
                            InvalidEventRejectsTheWholeBatch, QueryFiltersByTimeKindAndSite,
                            OrderingTieBreakAndLimit, NearQueryUsesGeodesicDistance,
                            NearQueryAcrossAntimeridianAndPole, BadQueriesAreRejectedWithReasons,
                            AlarmLifecycleOneActivePerSourceAndType, AlarmQueriesFilterAndOrder,
                            ConcurrentRaisesKeepOneActiveAlarm, ConcurrentOverlappingInsertsStoreEachIdOnce,
                            ReopenKeepsDataAndSchema);

}  // namespace tw::store::contract
