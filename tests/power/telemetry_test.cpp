#include <gtest/gtest.h>

#include <filesystem>

#include "tw/core/message.hpp"
#include "tw/power/telemetry.hpp"

using namespace tw::power;

TEST(PowerTelemetry, ParsesEveryFieldOfAFullPayload) {
  auto j = nlohmann::json::parse(R"({"mains_v":0,"dc_bus_v":49.87,"battery_a":-31.25,"battery_temp_c":27.5,
    "block_v":[3.83,3.84,3.82],"door_open":true,"generator":"running","battery_connected":false,
    "soc":0.61,"runtime_s":5400,"soh":0.93})");
  auto s = parse_power_payload(j, 1767225600000);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->ts_ms, 1767225600000);
  EXPECT_DOUBLE_EQ(s->mains_v, 0);
  EXPECT_DOUBLE_EQ(s->dc_bus_v, 49.87);
  EXPECT_DOUBLE_EQ(s->battery_a, -31.25);
  EXPECT_DOUBLE_EQ(*s->battery_temp_c, 27.5);
  ASSERT_EQ(s->block_v.size(), 3u);
  EXPECT_DOUBLE_EQ(s->block_v[2], 3.82);
  EXPECT_EQ(s->door_open, std::optional<bool>(true));
  EXPECT_EQ(s->generator, Generator::running);
  EXPECT_EQ(s->battery_connected, std::optional<bool>(false));
  EXPECT_DOUBLE_EQ(*s->soc, 0.61);
  EXPECT_DOUBLE_EQ(*s->runtime_s, 5400);
  EXPECT_DOUBLE_EQ(*s->soh, 0.93);
  // Round trip through the payload and the core message schema.
  auto again = parse_power_payload(to_payload(*s), s->ts_ms);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *s);
  auto msg = tw::make_message("site-7", "power", s->ts_ms, to_payload(*s));
  auto parsed = tw::parse_message(msg.to_json(), msg.topic());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parse_power_payload(parsed->payload, parsed->ts_ms), *s);
}

TEST(PowerTelemetry, MinimalPayloadLeavesOptionalsUnset) {
  auto s = parse_power_payload(nlohmann::json{{"mains_v", 231.0}, {"dc_bus_v", 54.0}, {"battery_a", 0.4}});
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->battery_temp_c);
  EXPECT_TRUE(s->block_v.empty());
  EXPECT_FALSE(s->door_open);
  EXPECT_EQ(s->generator, Generator::absent);
  EXPECT_FALSE(s->soc);
  EXPECT_EQ(to_payload(*s).size(), 3u);
}

TEST(PowerTelemetry, RejectsMalformedWithACountedReason) {
  struct Case {
    const char* json;
    const char* reason;
    const char* names;  // the message must name this
  };
  const Case cases[] = {
      {R"([1,2])", "not_object", "object"},
      {R"({"dc_bus_v":54,"battery_a":0})", "missing_field", "mains_v"},
      {R"({"mains_v":230,"battery_a":0})", "missing_field", "dc_bus_v"},
      {R"({"mains_v":"230","dc_bus_v":54,"battery_a":0})", "bad_type", "mains_v"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"door_open":"yes"})", "bad_type", "door_open"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"block_v":12.1})", "bad_type", "block_v"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"block_v":[12.1,"x"]})", "bad_type", "block_v[1]"},
      {R"({"mains_v":-1,"dc_bus_v":54,"battery_a":0})", "out_of_range", "mains_v"},
      {R"({"mains_v":230,"dc_bus_v":540,"battery_a":0})", "out_of_range", "dc_bus_v"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":3.4e38})", "out_of_range", "battery_a"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"soc":1.5})", "out_of_range", "soc"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"battery_temp_c":400})", "out_of_range", "battery_temp_c"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"block_v":[12.1,-3]})", "out_of_range", "block_v[1]"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"generator":"on"})", "out_of_range", "generator"},
      {R"({"mains_v":230,"dc_bus_v":54,"battery_a":0,"mains_hz":50})", "unknown_field", "mains_hz"},
  };
  RejectCounter counter;
  for (const auto& c : cases) {
    auto s = parse_power_payload(nlohmann::json::parse(c.json));
    ASSERT_FALSE(s) << c.json;
    EXPECT_EQ(s.error().code, c.reason) << c.json;
    EXPECT_NE(s.error().message.find(c.names), std::string::npos) << s.error().message;
    counter.count(s.error());
  }
  EXPECT_EQ(counter.total(), std::size(cases));
  EXPECT_EQ(counter.count_of("out_of_range"), 7u);
  EXPECT_EQ(counter.count_of("bad_type"), 4u);
  EXPECT_EQ(counter.count_of("missing_field"), 2u);
  EXPECT_EQ(counter.count_of("unknown_field"), 1u);
  EXPECT_EQ(counter.count_of("not_object"), 1u);
}

TEST(PowerTelemetry, CsvRoundTrip) {
  std::vector<PowerSample> v(2);
  v[0].ts_ms = 1000;
  v[0].mains_v = 229.5;
  v[0].dc_bus_v = 53.95;
  v[0].battery_a = 0.12;
  v[0].block_v = {4.15, 4.149};
  v[0].door_open = false;
  v[0].battery_connected = true;
  v[1].ts_ms = 61000;
  v[1].dc_bus_v = 48.1;
  v[1].battery_a = -30.5;
  v[1].battery_temp_c = 26.25;
  v[1].generator = Generator::fault;
  v[1].soc = 0.5;
  v[1].runtime_s = 7200;
  auto path = std::filesystem::temp_directory_path() / "tw_power_roundtrip.csv";
  ASSERT_TRUE(write_telemetry_csv(path, v));
  auto back = read_telemetry_csv(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0], v[0]);
  EXPECT_EQ((*back)[1], v[1]);
}

TEST(PowerTelemetry, CsvAcceptsIsoTimesAndNamesBadLines) {
  auto ok = parse_telemetry_csv("ts,mains_v,dc_bus_v,battery_a\n2026-01-01T00:01:00Z,230,54,0\n", "t.csv");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)[0].ts_ms, 1767225660000);

  auto missing = parse_telemetry_csv("ts,mains_v,battery_a\n1,230,0\n", "t.csv");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("'dc_bus_v'"), std::string::npos);
  auto bad_num = parse_telemetry_csv("ts,mains_v,dc_bus_v,battery_a\n1,230,54,0\n2,230,fifty,0\n", "t.csv");
  ASSERT_FALSE(bad_num);
  EXPECT_NE(bad_num.error().message.find("t.csv:3"), std::string::npos) << bad_num.error().message;
  auto range = parse_telemetry_csv("ts,mains_v,dc_bus_v,battery_a\n1,230,54,9999\n", "t.csv");
  ASSERT_FALSE(range);
  EXPECT_EQ(range.error().code, "out_of_range");
  EXPECT_NE(range.error().message.find("t.csv:2"), std::string::npos);
  auto cells = parse_telemetry_csv("ts,mains_v,dc_bus_v,battery_a\n1,230,54\n", "t.csv");
  ASSERT_FALSE(cells);
  EXPECT_EQ(cells.error().code, "bad_csv");
  auto unknown = parse_telemetry_csv("ts,mains_v,dc_bus_v,battery_a,fuel\n", "t.csv");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("fuel"), std::string::npos);
  EXPECT_FALSE(read_telemetry_csv("/nonexistent/x.csv"));
}

TEST(PowerTelemetry, ArbitraryJsonNeverCrashesAndIsCountedOrAccepted) {
  // Every field replaced in turn by values of every JSON type.
  const nlohmann::json base = nlohmann::json::parse(R"({"mains_v":230,"dc_bus_v":54,"battery_a":-1,
    "battery_temp_c":25,"block_v":[4.1,4.1],"door_open":false,"generator":"off","battery_connected":true,
    "soc":0.5,"runtime_s":100,"soh":1})");
  const nlohmann::json values[] = {nullptr, true, -1, 0, 1e300, "x", nlohmann::json::array(),
                                   nlohmann::json::array({1, "a"}), nlohmann::json::object()};
  RejectCounter counter;
  int accepted = 0;
  for (const auto& [key, _] : base.items()) {
    for (const auto& v : values) {
      auto p = base;
      p[key] = v;
      auto s = parse_power_payload(p);
      if (s) ++accepted;
      else counter.count(s.error());
    }
  }
  EXPECT_EQ(accepted + counter.total(), base.size() * std::size(values));
  // Accepted: 0 for the required numbers (and -1 for battery_a), null for every optional field, and the
  // values that fit: temperature -1/0, block_v [], door/battery_connected true, soc/runtime_s/soh 0.
  EXPECT_EQ(accepted, 20);
  EXPECT_EQ(counter.count_of("out_of_range"), 13u);
  EXPECT_EQ(counter.count_of("bad_type"), 66u);
  EXPECT_EQ(counter.count_of("missing_field"), 0u);  // null on a required field is a bad type, not missing
}
