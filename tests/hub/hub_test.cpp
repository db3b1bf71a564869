#include <httplib.h>

#include <gtest/gtest.h>

#include "process.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/http.hpp"
#include "tw/hub/hub.hpp"
#include "tw/hub/tenants.hpp"

namespace {

struct HubFixture : ::testing::Test {
  tw::test::TempDir dir;
  std::unique_ptr<tw::hub::Hub> hub;
  void SetUp() override {
    tw::HubConfig cfg;
    cfg.store = "sqlite://" + dir.file("hub.db");
    cfg.offline_after_s = 30;
    auto store = tw::store::open_store(cfg.store);
    ASSERT_TRUE(store) << store.error().message;
    hub = std::make_unique<tw::hub::Hub>(cfg, std::move(*store));
  }
  tw::Message status(const std::string& site, const std::string& state) {
    return tw::make_message(site, "status", tw::now_ms(),
                            {{"state", state}, {"name", site}, {"lat", 19.0}, {"lon", -99.0}});
  }
  std::uint64_t counter(const std::string& name, tw::Labels labels = {}) {
    return hub->metrics().counter(name, "", std::move(labels)).value();
  }
};

class Recorder : public tw::hub::Processor {
 public:
  explicit Recorder(std::vector<std::string>* seen) : seen_(seen) {}
  std::string name() const override { return "recorder"; }
  void on_message(const tw::Message& m, tw::hub::HubContext& ctx) override {
    seen_->push_back(m.kind);
    if (m.kind == "test") ctx.emit(tw::make_message(m.site, "heartbeat", m.ts_ms, {{"uptime_s", 1}, {"outbox_depth", 0}}));
  }

 private:
  std::vector<std::string>* seen_;
};

}  // namespace

TEST_F(HubFixture, StoresOnceAndDropsDuplicates) {
  auto m = tw::make_message("s1", "test", 1000, {{"seq", 1}});
  ASSERT_TRUE(hub->ingest_raw(m.topic(), m.to_json()));
  ASSERT_TRUE(hub->ingest_raw(m.topic(), m.to_json()));
  EXPECT_EQ(hub->store().count_events().value(), 1);
  EXPECT_EQ(counter("tw_messages_in_total"), 2u);
  EXPECT_EQ(counter("tw_duplicates_dropped_total"), 1u);
  auto e = hub->store().event(m.id);
  ASSERT_TRUE(e && *e);
  EXPECT_EQ((*e)->payload["seq"], 1);
}

TEST_F(HubFixture, RejectsMalformedWithCountedReasonAndKeepsServing) {
  EXPECT_FALSE(hub->ingest_raw("tw/v1/s1/test", "{broken"));
  EXPECT_FALSE(hub->ingest_raw("tw/v1/s1/test", std::string(300 * 1024, 'x')));
  auto m = tw::make_message("s1", "test", 1, {{"seq", 1}});
  EXPECT_FALSE(hub->ingest_raw("tw/v1/s2/test", m.to_json()));
  EXPECT_EQ(counter("tw_messages_rejected_total", {{"reason", "bad_json"}}), 1u);
  EXPECT_EQ(counter("tw_messages_rejected_total", {{"reason", "oversized"}}), 1u);
  EXPECT_EQ(counter("tw_messages_rejected_total", {{"reason", "topic_mismatch"}}), 1u);
  EXPECT_TRUE(hub->ingest_raw(m.topic(), m.to_json()));
  EXPECT_EQ(hub->store().count_events().value(), 1);
}

TEST_F(HubFixture, BatchStoresInOrderInOneGoAndSkipsRejectsAndDuplicates) {
  auto a = tw::make_message("s1", "test", 1000, {{"seq", 1}});
  auto b = tw::make_message("s1", "heartbeat", 1001, {{"uptime_s", 5}, {"outbox_depth", 0}});
  auto c = tw::make_message("s2", "test", 1002, {{"seq", 3}});
  ASSERT_TRUE(hub->ingest_raw(a.topic(), a.to_json()));  // stored before: a duplicate in the batch
  std::vector<std::string> seen;
  hub->add_processor(std::make_unique<Recorder>(&seen));
  std::vector<tw::RawMessage> batch{{a.topic(), a.to_json()},
                                    {"tw/v1/s1/test", "{broken"},
                                    {b.topic(), b.to_json()},
                                    {c.topic(), c.to_json()},
                                    {c.topic(), c.to_json()}};
  hub->ingest_raw_batch(batch);
  // a (from before), b, c and the heartbeat the recorder emitted for c; the broken one and repeats left out.
  EXPECT_EQ(hub->store().count_events().value(), 4);
  EXPECT_EQ(seen, (std::vector<std::string>{"heartbeat", "test", "heartbeat"}));
  EXPECT_EQ(counter("tw_messages_rejected_total", {{"reason", "bad_json"}}), 1u);
  EXPECT_EQ(counter("tw_duplicates_dropped_total"), 2u);
  EXPECT_EQ(counter("tw_messages_stored_total"), 4u);
  EXPECT_EQ(counter("tw_messages_in_total"), 7u);
  ASSERT_TRUE(hub->store().event(b.id).value());
  ASSERT_TRUE(hub->store().event(c.id).value());
}

TEST_F(HubFixture, RegistersSitesAndRaisesAndClearsOfflineAlarms) {
  ASSERT_TRUE(hub->ingest(status("t1", "online")));
  auto s = hub->store().site("t1");
  ASSERT_TRUE(s && *s);
  EXPECT_EQ((*s)->status, "online");
  EXPECT_DOUBLE_EQ((*s)->lat, 19.0);
  // Silent for longer than offline_after_s: offline alarm.
  hub->check_presence(tw::now_ms() + 31000);
  tw::store::AlarmQuery active;
  active.active_only = true;
  auto alarms = hub->store().alarms(active);
  ASSERT_TRUE(alarms);
  ASSERT_EQ(alarms->size(), 1u);
  EXPECT_EQ((*alarms)[0].type, "site_offline");
  EXPECT_EQ((*alarms)[0].source, "t1");
  EXPECT_EQ((*hub->store().site("t1"))->status, "offline");
  // Checking again does not duplicate it.
  hub->check_presence(tw::now_ms() + 32000);
  EXPECT_EQ(hub->store().alarms(active)->size(), 1u);
  // Any message from the site brings it back and clears the alarm.
  ASSERT_TRUE(hub->ingest(tw::make_message("t1", "heartbeat", tw::now_ms(), {{"uptime_s", 5}, {"outbox_depth", 0}})));
  EXPECT_EQ(hub->store().alarms(active)->size(), 0u);
  EXPECT_EQ((*hub->store().site("t1"))->status, "online");
  // A last-will status goes offline at once.
  ASSERT_TRUE(hub->ingest(status("t1", "offline")));
  EXPECT_EQ(hub->store().alarms(active)->size(), 1u);
}

TEST_F(HubFixture, ProcessorsSeeStoredMessagesAndMayEmit) {
  std::vector<std::string> seen;
  hub->add_processor(std::make_unique<Recorder>(&seen));
  auto m = tw::make_message("s1", "test", 1000, {{"seq", 1}});
  ASSERT_TRUE(hub->ingest(m));
  ASSERT_TRUE(hub->ingest(m));  // duplicate: not processed again
  EXPECT_EQ(seen, (std::vector<std::string>{"test", "heartbeat"}));
  EXPECT_EQ(hub->store().count_events().value(), 2);
}

TEST_F(HubFixture, HttpApiAnswersAndRejectsBadRequests) {
  auto repo = tw::hub::open_sqlite_tenant_repo(dir.file("tenants.db"));
  ASSERT_TRUE(repo);
  tw::TenantConfig admin;
  admin.id = "ops";
  admin.role = "admin";
  admin.services = {"site", "quake"};
  admin.api_key_hash = tw::hub::hash_api_key("test-admin-key-0123456789");
  ASSERT_TRUE(tw::hub::bootstrap_tenants(**repo, {admin}, 1));
  tw::hub::HttpServer http(*hub, **repo);
  ASSERT_TRUE(http.start("127.0.0.1:0"));
  const int port = http.port();
  auto http_get = [port](int, const std::string& path) -> std::optional<tw::test::HttpReply> {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get(path.c_str(), {{"Authorization", "Bearer test-admin-key-0123456789"}});
    if (!r) return std::nullopt;
    return tw::test::HttpReply{r->status, r->body};
  };
  ASSERT_TRUE(hub->ingest(status("t1", "online")));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(hub->ingest(tw::make_message("t1", "test", 1000 + i, {{"seq", i}})));

  auto health = tw::test::http_get(port, "/api/v1/health");  // open, without a key
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(nlohmann::json::parse(health->body)["status"], "ok");
  EXPECT_EQ(tw::test::http_get(port, "/api/v1/sites")->status, 401);

  auto sites = http_get(port, "/api/v1/sites");
  ASSERT_EQ(sites->status, 200);
  EXPECT_EQ(nlohmann::json::parse(sites->body)["sites"][0]["id"], "t1");

  auto ev = http_get(port, "/api/v1/events?kind=test&since=1001&until=1004&limit=2&order=asc");
  ASSERT_EQ(ev->status, 200);
  auto j = nlohmann::json::parse(ev->body);
  ASSERT_EQ(j["events"].size(), 2u);
  EXPECT_EQ(j["events"][0]["payload"]["seq"], 1);
  EXPECT_EQ(j["events"][1]["payload"]["seq"], 2);

  auto near = http_get(port, "/api/v1/events?kind=test&near=19.0,-99.0,1&limit=10");
  EXPECT_EQ(nlohmann::json::parse(near->body)["events"].size(), 5u);
  auto far = http_get(port, "/api/v1/events?kind=test&near=40.0,3.0,100&limit=10");
  EXPECT_EQ(nlohmann::json::parse(far->body)["events"].size(), 0u);

  for (const std::string bad : {"/api/v1/events?limit=100000000", "/api/v1/events?limit=-1",
                                "/api/v1/events?since=yesterday", "/api/v1/events?near=1,2",
                                "/api/v1/events?near=91,0,1", "/api/v1/events?kind=test%27%3B%20DROP%20TABLE%20events",
                                "/api/v1/events?site=a%27%20OR%201%3D1", "/api/v1/events?bogus=1",
                                "/api/v1/alarms?active=maybe"}) {
    auto r = http_get(port, bad);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad << " -> " << r->body;
    EXPECT_FALSE(nlohmann::json::parse(r->body)["reason"].get<std::string>().empty());
  }
  EXPECT_EQ(hub->store().count_events().value(), 6);  // nothing was dropped by the injection attempts

  auto metrics = tw::test::http_get(port, "/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("tw_messages_stored_total 6"), std::string::npos);
  http.stop();
}
