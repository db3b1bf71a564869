// Hub -> real mosquitto -> site: an operator dismisses a smoke alarm over the hub's API, and the verdict reaches
// the site that raised it (the site side is the library code the edge process runs, tw/app/downlink.hpp).
#include <gtest/gtest.h>

#include <httplib.h>

#include <mutex>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "tw/app/downlink.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/tenants.hpp"

using namespace std::chrono_literals;
using tw::test::Process;

namespace {

const std::string kKey = "e2e-forestry-key-0123456789";

class Recording : public tw::edge::Source {
 public:
  std::string name() const override { return "recording"; }
  void run(std::stop_token, tw::bus::Publisher&) override {}
  void on_downlink(const tw::Message& m) override {
    std::lock_guard lock(mu);
    got.push_back(m);
  }
  std::vector<tw::Message> received() {
    std::lock_guard lock(mu);
    return got;
  }
  std::mutex mu;
  std::vector<tw::Message> got;
};

nlohmann::json get_json(int port, const std::string& path) {
  auto r = tw::test::http_get(port, path, kKey);
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

}  // namespace

TEST(DownlinkEndToEnd, SmokeDismissalReachesTheCameraSiteThroughTheBroker) {
  tw::test::TempDir dir;
  tw::test::Mosquitto broker;
  broker.start();
  const int http_port = tw::test::free_port();
  tw::test::write_file(dir.file("hub.toml"),
                       tw::test::hub_toml(dir, http_port, broker.url(), "tw-hub-downlink",
                                          {"forestry", "operator", R"(["wildfire"])", tw::hub::hash_api_key(kKey)}));
  Process hub = Process::spawn({TW_BIN, "hub", "--config", dir.file("hub.toml")}, dir.file("hub.log"));

  // The site: its MQTT client, subscribed to its downlink topic, and an agent whose source records verdicts.
  tw::SiteConfig site;
  site.id = "ridge-3";
  site.lat = 32.85;
  site.lon = -116.42;
  tw::bus::InProcessBus unused;
  tw::Metrics metrics;
  tw::edge::EdgeAgent agent(site, unused, metrics);
  auto rec = std::make_unique<Recording>();
  Recording* recording = rec.get();
  agent.add_source(std::move(rec));
  tw::bus::MqttOptions o;
  o.broker.url = broker.url();
  o.broker.client_id = "tw-edge-downlink";
  o.broker.reconnect_min_ms = 100;
  o.clean_session = true;
  auto client = tw::bus::MqttClient::create(o);
  ASSERT_TRUE(client) << client.error().message;
  tw::app::receive_downlink(**client, agent);
  ASSERT_TRUE((*client)->start());
  ASSERT_TRUE(tw::test::wait_until([&] { return (*client)->connected(); }, 20s));
  ASSERT_TRUE(tw::test::wait_until([&] { return get_json(http_port, "/api/v1/alarms").is_object(); }, 20s))
      << tw::test::read_file(dir.file("hub.log"));

  // The site reports smoke; the hub raises the camera's alarm.
  auto publish = [&](const tw::Message& m) { return static_cast<bool>((*client)->publish(m.topic(), m.to_json())); };
  ASSERT_TRUE(publish(tw::edge::make_status_message(site, true)));
  const auto smoke =
      tw::make_message(site.id, "smoke", tw::now_ms(), {{"camera", "north"}, {"score", 0.93}, {"bearing_deg", 201.5}});
  ASSERT_TRUE(publish(smoke));
  std::int64_t alarm = 0;
  ASSERT_TRUE(tw::test::wait_until(
      [&] {
        auto j = get_json(http_port, "/api/v1/alarms?active=true");
        if (!j.is_object()) return false;
        for (const auto& a : j["alarms"])
          if (a["type"] == "smoke" && a["source"] == "ridge-3/north") alarm = a["id"].get<std::int64_t>();
        return alarm != 0;
      },
      20s))
      << tw::test::read_file(dir.file("hub.log"));
  // A site cannot pass a verdict off as its own report: the hub rejects it on the uplink topic.
  const auto forged = tw::make_message(site.id, "smoke_feedback", tw::now_ms(),
                                       {{"alert", smoke.id}, {"camera", "north"}, {"verdict", "confirmed"}});
  ASSERT_TRUE(publish(forged));

  // The operator dismisses it as glare; the verdict arrives at the site within moments.
  httplib::Client http("127.0.0.1", http_port);
  auto res = http.Post(("/api/v1/alarms/" + std::to_string(alarm) + "/clear").c_str(),
                       httplib::Headers{{"Authorization", "Bearer " + kKey}}, R"({"label":"glare"})",
                       "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  ASSERT_TRUE(tw::test::wait_until([&] { return !recording->received().empty(); }, 20s))
      << tw::test::read_file(dir.file("hub.log"));
  const auto got = recording->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].site, "ridge-3");
  EXPECT_EQ(got[0].kind, "smoke_feedback");
  EXPECT_EQ(got[0].payload,
            (nlohmann::json{{"alert", smoke.id}, {"camera", "north"}, {"verdict", "dismissed"}, {"label", "glare"}}));
  auto rejected = tw::test::http_get(http_port, "/metrics");
  ASSERT_TRUE(rejected);
  EXPECT_NE(rejected->body.find("tw_messages_rejected_total{reason=\"topic_mismatch\"} 1"), std::string::npos)
      << rejected->body;
  EXPECT_NE(rejected->body.find("tw_downlink_total{kind=\"smoke_feedback\",result=\"sent\"} 1"), std::string::npos);
  (*client)->stop();
  EXPECT_EQ(hub.stop(), 0) << tw::test::read_file(dir.file("hub.log"));
}
