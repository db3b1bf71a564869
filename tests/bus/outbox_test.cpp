#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <mutex>
#include <thread>

#include "process.hpp"
#include "tw/bus/bus.hpp"
#include "tw/bus/mqtt.hpp"
#include "tw/bus/outbox.hpp"

TEST(Outbox, AppendsFetchesRemovesAndSurvivesReopen) {
  tw::test::TempDir dir;
  std::vector<tw::Message> msgs;
  for (int i = 0; i < 5; ++i) msgs.push_back(tw::make_message("s1", "test", 1000 + i, {{"seq", i}}));
  {
    auto ob = tw::bus::Outbox::open(dir.file("o.db"));
    ASSERT_TRUE(ob) << ob.error().message;
    ASSERT_TRUE((*ob)->append(msgs, "gen", "5"));
    ASSERT_TRUE((*ob)->append(msgs[0]));  // same id again: ignored
    EXPECT_EQ((*ob)->depth().value(), 5);
  }
  auto ob = tw::bus::Outbox::open(dir.file("o.db"));
  ASSERT_TRUE(ob);
  EXPECT_EQ((*ob)->progress("gen").value().value(), "5");
  EXPECT_FALSE((*ob)->progress("other").value().has_value());
  auto rows = (*ob)->fetch(0, 3);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].id, msgs[0].id);
  EXPECT_EQ((*rows)[0].topic, "tw/v1/s1/test");
  auto parsed = tw::parse_message((*rows)[2].payload, (*rows)[2].topic);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->payload["seq"], 2);
  auto rest = (*ob)->fetch((*rows)[2].seq, 10);
  ASSERT_EQ(rest->size(), 2u);
  std::vector<std::int64_t> del = {(*rows)[0].seq, (*rows)[1].seq};
  ASSERT_TRUE((*ob)->remove(del));
  EXPECT_EQ((*ob)->depth().value(), 3);
  EXPECT_EQ((*ob)->fetch(0, 10)->front().id, msgs[2].id);
}

TEST(Outbox, ReportsUnopenablePath) {
  auto ob = tw::bus::Outbox::open("/nonexistent-dir/sub/o.db");
  ASSERT_FALSE(ob);
  EXPECT_NE(ob.error().message.find("/nonexistent-dir/sub/o.db"), std::string::npos);
}

TEST(InProcessBus, FansOutAndReturnsHandlerErrors) {
  tw::bus::InProcessBus bus;
  int a = 0, b = 0;
  bus.subscribe([&](const tw::Message&) { ++a; return tw::Status{}; });
  bus.subscribe([&](const tw::Message& m) -> tw::Status {
    ++b;
    if (m.kind == "status") return tw::make_error("nope", "rejected");
    return {};
  });
  EXPECT_TRUE(bus.publish(tw::make_message("s", "test", 1, {{"seq", 1}})));
  auto st = bus.publish(tw::make_message("s", "status", 1, {{"state", "online"}}));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "nope");
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 2);
}

TEST(MqttClient, PublishesThroughARealBrokerAndGetsAcknowledgements) {
  tw::test::Mosquitto broker;
  broker.start();
  tw::test::TempDir dir;
  auto ob = tw::bus::Outbox::open(dir.file("o.db"));
  ASSERT_TRUE(ob);
  tw::bus::MqttOptions sub_opts;
  sub_opts.broker.url = broker.url();
  sub_opts.broker.client_id = "sub";
  auto sub = tw::bus::MqttClient::create(sub_opts);
  ASSERT_TRUE(sub);
  std::mutex mu;
  std::vector<std::string> got;
  (*sub)->add_subscription("tw/v1/+/+", 1);
  (*sub)->on_message([&](std::string_view topic, std::string_view payload) {
    std::lock_guard lock(mu);
    got.emplace_back(std::string(topic) + " " + std::string(payload));
  });
  ASSERT_TRUE((*sub)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*sub)->connected(); }, std::chrono::seconds(10)));

  tw::bus::MqttOptions pub_opts;
  pub_opts.broker.url = broker.url();
  pub_opts.broker.client_id = "pub";
  auto pub = tw::bus::MqttClient::create(pub_opts);
  ASSERT_TRUE(pub);
  tw::Metrics metrics;
  tw::bus::OutboxPublisher out(**ob, **pub, metrics, 10);
  out.start();
  ASSERT_TRUE((*pub)->start());
  std::vector<tw::Message> msgs;
  for (int i = 0; i < 100; ++i) {
    msgs.push_back(tw::make_message("s1", "test", i, {{"seq", i}}));
    ASSERT_TRUE(out.publish(msgs.back()));
  }
  ASSERT_TRUE(tw::test::wait_until([&] { return (*ob)->depth().value() == 0; }, std::chrono::seconds(20)));
  ASSERT_TRUE(tw::test::wait_until([&] { std::lock_guard l(mu); return got.size() >= 100; }, std::chrono::seconds(10)));
  std::lock_guard lock(mu);
  EXPECT_EQ(got.size(), 100u);
  EXPECT_EQ(got[0], "tw/v1/s1/test " + msgs[0].to_json());
  EXPECT_EQ(metrics.counter("tw_outbox_acknowledged_total", "").value(), 100u);
  (*pub)->stop();  // the client's callbacks refer to the publisher: stop the client first
  out.stop();
}

TEST(MqttClient, DeliversWhatArrivedTogetherAsOneBatchInOrder) {
  tw::test::Mosquitto broker;
  broker.start();
  tw::bus::MqttOptions sub_opts;
  sub_opts.broker.url = broker.url();
  sub_opts.broker.client_id = "batch-sub";
  auto sub = tw::bus::MqttClient::create(sub_opts);
  ASSERT_TRUE(sub);
  std::mutex mu;
  std::vector<std::string> got;
  size_t largest = 0;
  (*sub)->add_subscription("tw/v1/+/+", 1);
  (*sub)->on_messages([&](std::span<const tw::RawMessage> batch) {
    {
      std::lock_guard lock(mu);
      for (const auto& m : batch) got.push_back(m.payload);
      largest = std::max(largest, batch.size());
    }
    // A slow consumer (a store commit): what arrives meanwhile waits on the socket for the next batch.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return true;
  });
  ASSERT_TRUE((*sub)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*sub)->connected(); }, std::chrono::seconds(10)));

  tw::bus::MqttOptions pub_opts;
  pub_opts.broker.url = broker.url();
  pub_opts.broker.client_id = "batch-pub";
  pub_opts.clean_session = true;
  auto pub = tw::bus::MqttClient::create(pub_opts);
  ASSERT_TRUE(pub);
  std::atomic<int> acked{0};
  (*pub)->on_published([&](int) { ++acked; });
  ASSERT_TRUE((*pub)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*pub)->connected(); }, std::chrono::seconds(10)));
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE((*pub)->publish("tw/v1/s1/test", std::to_string(i), 1));
  ASSERT_TRUE(tw::test::wait_until([&] { return acked.load() == kCount; }, std::chrono::seconds(20)));
  ASSERT_TRUE(tw::test::wait_until([&] { std::lock_guard l(mu); return got.size() >= kCount; }, std::chrono::seconds(20)));
  std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], std::to_string(i));
  EXPECT_GT(largest, 1u);
  EXPECT_LE(largest, tw::bus::MqttClient::kMaxBatch);
}

TEST(MqttClient, ConnectsOverTlsWithAPasswordAndIsRefusedWithAWrongOne) {
  tw::test::Mosquitto broker(0, {.tls = true, .username = "tower", .password = "s3cret-pass"});
  broker.start();
  auto options = [&](const std::string& id, const std::string& password) {
    tw::bus::MqttOptions o;
    o.broker.url = broker.url();
    o.broker.client_id = id;
    o.broker.ca_file = broker.ca_file();
    o.broker.username = "tower";
    o.broker.password = password;
    o.broker.reconnect_min_ms = 100;
    o.broker.reconnect_max_ms = 200;
    return o;
  };
  auto sub = tw::bus::MqttClient::create(options("tls-sub", "s3cret-pass"));
  ASSERT_TRUE(sub) << sub.error().message;
  std::mutex mu;
  std::vector<std::string> got;
  (*sub)->add_subscription("tw/v1/+/+", 1);
  (*sub)->on_messages([&](std::span<const tw::RawMessage> batch) {
    std::lock_guard lock(mu);
    for (const auto& m : batch) got.push_back(m.payload);
    return true;
  });
  auto intruder = tw::bus::MqttClient::create(options("tls-intruder", "wrong"));
  ASSERT_TRUE(intruder);
  ASSERT_TRUE((*intruder)->start());
  ASSERT_TRUE((*sub)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*sub)->connected(); }, std::chrono::seconds(10)));

  auto pub = tw::bus::MqttClient::create(options("tls-pub", "s3cret-pass"));
  ASSERT_TRUE(pub);
  ASSERT_TRUE((*pub)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*pub)->connected(); }, std::chrono::seconds(10)));
  for (int i = 0; i < 200; ++i) ASSERT_TRUE((*pub)->publish("tw/v1/s1/test", std::to_string(i), 1));
  ASSERT_TRUE(tw::test::wait_until([&] { std::lock_guard l(mu); return got.size() >= 200; }, std::chrono::seconds(20)));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(got.size(), 200u);
    EXPECT_EQ(got.front(), "0");
    EXPECT_EQ(got.back(), "199");
  }
  // The wrong password has been retried all along and never got in.
  EXPECT_FALSE((*intruder)->connected());
  EXPECT_FALSE((*intruder)->publish("tw/v1/s1/test", "x", 1));
}

TEST(MqttClient, ABatchRefusedByTheConsumerIsDeliveredAgain) {
  tw::test::Mosquitto broker;
  broker.start();
  tw::bus::MqttOptions sub_opts;
  sub_opts.broker.url = broker.url();
  sub_opts.broker.client_id = "refusing-sub";
  sub_opts.broker.reconnect_min_ms = 50;
  sub_opts.clean_session = false;  // the broker keeps what we did not acknowledge
  auto sub = tw::bus::MqttClient::create(sub_opts);
  ASSERT_TRUE(sub);
  std::mutex mu;
  std::vector<std::string> accepted;
  int refusals = 0;
  (*sub)->add_subscription("tw/v1/+/+", 1);
  (*sub)->on_messages([&](std::span<const tw::RawMessage> batch) {
    std::lock_guard lock(mu);
    // A store that fails twice (say, the database is down for a moment), then recovers.
    if (refusals < 2) {
      ++refusals;
      return false;
    }
    for (const auto& m : batch) accepted.push_back(m.payload);
    return true;
  });
  ASSERT_TRUE((*sub)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*sub)->connected(); }, std::chrono::seconds(10)));

  tw::bus::MqttOptions pub_opts;
  pub_opts.broker.url = broker.url();
  pub_opts.broker.client_id = "refused-pub";
  pub_opts.clean_session = true;
  auto pub = tw::bus::MqttClient::create(pub_opts);
  ASSERT_TRUE(pub);
  ASSERT_TRUE((*pub)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*pub)->connected(); }, std::chrono::seconds(10)));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE((*pub)->publish("tw/v1/s1/test", std::to_string(i), 1));
  ASSERT_TRUE(tw::test::wait_until(
      [&] {
        std::lock_guard l(mu);
        return std::set<std::string>(accepted.begin(), accepted.end()).size() >= 50;
      },
      std::chrono::seconds(20)));
  std::lock_guard lock(mu);
  EXPECT_EQ(refusals, 2);
  // Every message was accepted in the end, in publish order, none skipped.
  std::set<std::string> distinct(accepted.begin(), accepted.end());
  EXPECT_EQ(distinct.size(), 50u);
  EXPECT_EQ(accepted.front(), "0");
}
