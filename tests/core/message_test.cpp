#include <gtest/gtest.h>

#include "tw/core/message.hpp"

TEST(Message, RoundTripsThroughJson) {
  auto m = tw::make_message("site-1", "test", 1700000000000, {{"seq", 42}});
  EXPECT_EQ(m.topic(), "tw/v1/site-1/test");
  auto parsed = tw::parse_message(m.to_json(), m.topic());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->id, m.id);
  EXPECT_EQ(parsed->site, "site-1");
  EXPECT_EQ(parsed->kind, "test");
  EXPECT_EQ(parsed->ts_ms, 1700000000000);
  EXPECT_EQ(parsed->payload["seq"], 42);
}

TEST(Message, RejectsMalformedWithReason) {
  auto good = tw::make_message("s1", "test", 1, {{"seq", 1}});
  struct Case {
    std::string raw;
    std::string code;
  };
  std::vector<Case> cases = {
      {"{not json", "bad_json"},
      {"[1,2]", "bad_json"},
      {R"({"v":2,"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","site":"s","kind":"test","ts":1,"payload":{"seq":1}})",
       "bad_version"},
      {R"({"v":1,"id":"nope","site":"s","kind":"test","ts":1,"payload":{"seq":1}})", "bad_field"},
      {R"({"v":1,"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","site":"a/b","kind":"test","ts":1,"payload":{}})", "bad_field"},
      {R"({"v":1,"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","site":"s","kind":"test","ts":-5,"payload":{}})", "bad_field"},
      {R"({"v":1,"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","site":"s","kind":"test","ts":1,"payload":[]})", "bad_field"},
      {R"({"v":1,"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","site":"s","kind":"zzz","ts":1,"payload":{}})",
       "unknown_kind"},
      {R"({"v":1,"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","site":"s","kind":"test","ts":1,"payload":{}})",
       "bad_payload"},
      {R"({"v":1,"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","site":"s","kind":"test","ts":1,"payload":{"seq":"x"}})",
       "bad_payload"},
  };
  for (const auto& c : cases) {
    auto r = tw::parse_message(c.raw);
    ASSERT_FALSE(r) << c.raw;
    EXPECT_EQ(r.error().code, c.code) << c.raw << " -> " << r.error().message;
  }
  auto wrong_topic = tw::parse_message(good.to_json(), "tw/v1/other/test");
  ASSERT_FALSE(wrong_topic);
  EXPECT_EQ(wrong_topic.error().code, "topic_mismatch");
}

TEST(Message, RejectsOversized) {
  std::string big(tw::kMaxMessageBytes + 1, ' ');
  auto r = tw::parse_message(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "oversized");
  // Just under the limit is accepted when well-formed.
  auto m = tw::make_message("s1", "test", 1, {{"seq", 1}, {"pad", std::string(200000, 'x')}});
  EXPECT_TRUE(tw::parse_message(m.to_json()));
}

TEST(Message, SplitsTopics) {
  std::string site, kind;
  EXPECT_TRUE(tw::split_topic("tw/v1/tower-7/pick", site, kind));
  EXPECT_EQ(site, "tower-7");
  EXPECT_EQ(kind, "pick");
  EXPECT_FALSE(tw::split_topic("tw/v2/tower-7/pick", site, kind));
  EXPECT_FALSE(tw::split_topic("tw/v1/tower-7", site, kind));
}

// What the hub sends a site travels outside the hub's own subscription (tw/v1/+/+) and is accepted on its
// downlink topic only.
TEST(Message, DownlinkKindsTravelOnTheSiteDownlinkTopic) {
  EXPECT_EQ(tw::downlink_topic("tower-7", "smoke_feedback"), "tw/v1/to/tower-7/smoke_feedback");
  EXPECT_TRUE(tw::is_downlink_kind("smoke_feedback"));
  EXPECT_FALSE(tw::is_downlink_kind("smoke"));
  EXPECT_FALSE(tw::is_downlink_kind("no_such_kind"));
  std::string site, kind;
  EXPECT_FALSE(tw::split_topic(tw::downlink_topic("tower-7", "smoke_feedback"), site, kind));
  auto m = tw::make_message("tower-7", "smoke_feedback", 1,
                            {{"alert", "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, {"camera", "north"}, {"verdict", "dismissed"}});
  EXPECT_TRUE(tw::parse_message(m.to_json(), "tw/v1/to/tower-7/smoke_feedback"));
  auto uplink = tw::parse_message(m.to_json(), m.topic());  // a site cannot send it to the hub
  ASSERT_FALSE(uplink);
  EXPECT_EQ(uplink.error().code, "topic_mismatch");
  auto elsewhere = tw::parse_message(m.to_json(), "tw/v1/to/tower-8/smoke_feedback");
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().code, "topic_mismatch");
  m.payload.erase("verdict");
  auto missing = tw::parse_message(m.to_json(), "tw/v1/to/tower-7/smoke_feedback");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "bad_payload");
}
