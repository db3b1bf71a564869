// The site agent hands what the hub sends the site to its sources, and only that.
#include <gtest/gtest.h>

#include "tw/edge/agent.hpp"

namespace {

class Recording : public tw::edge::Source {
 public:
  std::string name() const override { return "recording"; }
  void run(std::stop_token, tw::bus::Publisher&) override {}
  void on_downlink(const tw::Message& m) override { got.push_back(m); }
  std::vector<tw::Message> got;
};

TEST(EdgeAgent, DeliversDownlinkMessagesForItsSiteToEverySource) {
  tw::SiteConfig cfg;
  cfg.id = "tower-7";
  tw::bus::InProcessBus bus;
  tw::Metrics metrics;
  tw::edge::EdgeAgent agent(cfg, bus, metrics);
  auto a = std::make_unique<Recording>(), b = std::make_unique<Recording>();
  auto *ra = a.get(), *rb = b.get();
  agent.add_source(std::move(a));
  agent.add_source(std::move(b));

  const auto verdict = tw::make_message(
      "tower-7", "smoke_feedback", 1,
      {{"alert", "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, {"camera", "north"}, {"verdict", "confirmed"}});
  ASSERT_TRUE(agent.deliver(verdict));
  ASSERT_EQ(ra->got.size(), 1u);
  ASSERT_EQ(rb->got.size(), 1u);
  EXPECT_EQ(ra->got[0].id, verdict.id);

  // Another site's message, or a kind sites send rather than receive, goes nowhere.
  auto other = verdict;
  other.site = "tower-8";
  auto wrong_site = agent.deliver(other);
  ASSERT_FALSE(wrong_site);
  EXPECT_EQ(wrong_site.error().code, "bad_downlink");
  EXPECT_NE(wrong_site.error().message.find("smoke_feedback for site tower-8"), std::string::npos)
      << wrong_site.error().message;
  EXPECT_FALSE(agent.deliver(
      tw::make_message("tower-7", "smoke", 1, {{"camera", "north"}, {"score", 0.9}, {"bearing_deg", 3.0}})));
  EXPECT_EQ(ra->got.size(), 1u);
  const auto text = metrics.render_prometheus();
  EXPECT_NE(text.find("tw_downlink_received_total{kind=\"smoke_feedback\",result=\"delivered\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tw_downlink_received_total{kind=\"smoke_feedback\",result=\"rejected\"} 1"), std::string::npos);
  EXPECT_NE(text.find("tw_downlink_received_total{kind=\"smoke\",result=\"rejected\"} 1"), std::string::npos);
}

TEST(Inbox, KeepsTheNewestInOrderAndTellsWhenItDropped) {
  tw::edge::Inbox inbox(2);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto m = tw::make_message("tower-7", "smoke_feedback", i, {});
    ids.push_back(m.id);
    EXPECT_EQ(inbox.push(std::move(m)), i < 2) << i;
  }
  auto got = inbox.take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, ids[1]);
  EXPECT_EQ(got[1].id, ids[2]);
  EXPECT_TRUE(inbox.take().empty());
}

}  // namespace
