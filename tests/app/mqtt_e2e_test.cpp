// Edge -> real mosquitto -> hub, with the broker stopped for 5 s and the edge SIGKILLed once:
// the hub must end with exactly the 10,000 messages, none lost and none twice.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "tw/hub/tenants.hpp"

using namespace std::chrono_literals;
using tw::test::Process;

namespace {

std::int64_t metric(int port, const std::string& name) {
  auto r = tw::test::http_get(port, "/metrics");
  if (!r || r->status != 200) return -1;
  auto pos = r->body.find("\n" + name + " ");
  if (pos == std::string::npos) return 0;
  return std::stoll(r->body.substr(pos + name.size() + 2));
}

}  // namespace

const std::string kKey = "e2e-operator-key-0123456789";

TEST(MqttEndToEnd, NoMessageLostOrDuplicatedAcrossBrokerRestartAndEdgeKill) {
  constexpr int kCount = 10000;
  tw::test::TempDir dir;
  tw::test::Mosquitto broker;
  broker.start();
  const int http_port = tw::test::free_port();

  tw::test::write_file(dir.file("hub.toml"),
                       tw::test::hub_toml(dir, http_port, broker.url(), "tw-hub-e2e",
                                          {"ops", "admin", R"(["site"])", tw::hub::hash_api_key(kKey)}));
  tw::test::write_file(dir.file("site.toml"),
                       "[site]\nid = \"e2e\"\nlat = 19.4\nlon = -99.1\nheartbeat_s = 2\n\n[broker]\nurl = \"" +
                           broker.url() + "\"\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n\n[outbox]\npath = \"" +
                           dir.file("outbox.db") + "\"\n");

  Process hub = Process::spawn({TW_BIN, "hub", "--config", dir.file("hub.toml")}, dir.file("hub.log"));
  ASSERT_TRUE(tw::test::wait_until([&] { return metric(http_port, "tw_messages_in_total") >= 0; }, 20s))
      << tw::test::read_file(dir.file("hub.log"));

  const std::vector<std::string> edge_cmd = {TW_BIN,      "edge",   "--config",           dir.file("site.toml"),
                                             "--synthetic", "10000", "--rate", "500", "--exit-when-drained"};
  Process edge = Process::spawn(edge_cmd, dir.file("edge.log"));

  // 1. Broker down for 5 s in the middle of the stream.
  ASSERT_TRUE(tw::test::wait_until([&] { return metric(http_port, "tw_messages_stored_total") >= 2000; }, 60s));
  broker.stop();
  std::this_thread::sleep_for(5s);
  broker.start();

  // 2. The edge is killed outright once, and restarted.
  ASSERT_TRUE(edge.running());
  ASSERT_TRUE(tw::test::wait_until([&] { return metric(http_port, "tw_messages_stored_total") >= 6000; }, 60s))
      << tw::test::read_file(dir.file("edge.log"));
  edge.signal(SIGKILL);
  ASSERT_EQ(edge.wait(5s), -SIGKILL);
  edge = Process::spawn(edge_cmd, dir.file("edge.log"));

  auto rc = edge.wait(120s);
  ASSERT_TRUE(rc.has_value()) << "edge did not finish: " << tw::test::read_file(dir.file("edge.log"));
  EXPECT_EQ(*rc, 0);

  // 3. Every message exactly once in the hub's store.
  std::set<std::int64_t> seqs;
  std::set<std::string> ids;
  size_t rows = 0;
  ASSERT_TRUE(tw::test::wait_until(
      [&] {
        auto r = tw::test::http_get(http_port, "/api/v1/events?kind=test&limit=10000&order=asc", kKey);
        if (!r || r->status != 200) return false;
        auto j = nlohmann::json::parse(r->body);
        seqs.clear();
        ids.clear();
        rows = j["events"].size();
        for (const auto& e : j["events"]) {
          seqs.insert(e["payload"]["seq"].get<std::int64_t>());
          ids.insert(e["id"].get<std::string>());
        }
        return rows >= kCount;
      },
      30s));
  EXPECT_EQ(rows, static_cast<size_t>(kCount));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCount));
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(*seqs.begin(), 0);
  EXPECT_EQ(*seqs.rbegin(), kCount - 1);
  EXPECT_EQ(hub.stop(), 0) << tw::test::read_file(dir.file("hub.log"));
}
