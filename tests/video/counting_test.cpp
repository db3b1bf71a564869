#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "tw/core/message.hpp"
#include "tw/video/counting.hpp"
#include "tw/video/mot.hpp"

using namespace tw::video;

namespace {
CounterConfig counter_config(double hysteresis_px, int min_hits, int zone_frames) {
  CounterConfig c;
  c.hysteresis_px = hysteresis_px;
  c.hysteresis_frac = 0;
  c.min_track_hits = min_hits;
  c.zone_min_frames = zone_frames;
  return c;
}
}  // namespace

TEST(Parse, LinesAndZones) {
  auto l = parse_line("40,340,440,40");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->name, "40,340,440,40");
  EXPECT_DOUBLE_EQ(l->a.x, 40);
  EXPECT_DOUBLE_EQ(l->b.y, 40);
  EXPECT_TRUE(parse_line(" 0.5, 1 ,2,3"));
  EXPECT_EQ(parse_line("1,2,3").error().code, "bad_line");
  EXPECT_NE(parse_line("1,2,x,4").error().message.find("'x'"), std::string::npos);
  EXPECT_FALSE(parse_line("1,2,1,2"));
  EXPECT_FALSE(parse_line("1,,3,4"));
  auto z = parse_zone("0,0,10,0,10,10,0,10");
  ASSERT_TRUE(z);
  EXPECT_EQ(z->polygon.size(), 4u);
  EXPECT_EQ(parse_zone("0,0,10,0,10").error().code, "bad_zone");
  EXPECT_FALSE(parse_zone("0,0,1,1,2,2"));  // no area
}

TEST(Geometry, SideConventionAndIntersection) {
  LineSpec h = *parse_line("0,144,480,144");  // A->B pointing right
  EXPECT_GT(side_value(h, {100, 200}), 0);    // below in image coordinates: positive
  EXPECT_LT(side_value(h, {100, 100}), 0);
  EXPECT_TRUE(segments_intersect({10, 100}, {10, 200}, h.a, h.b));
  EXPECT_FALSE(segments_intersect({-10, 100}, {-10, 200}, h.a, h.b));  // beyond the segment's end
  EXPECT_TRUE(point_in_polygon({{0, 0}, {10, 0}, {10, 10}, {0, 10}}, {5, 5}));
  EXPECT_FALSE(point_in_polygon({{0, 0}, {10, 0}, {10, 10}, {0, 10}}, {15, 5}));
}

// The crossing counts of the ground-truth trajectories reproduce line_crossings.json exactly.
TEST(Counting, GroundTruthReproducesReferenceCounts) {
  std::ifstream in(tw::video::testing::pets_dir() + "/line_crossings.json");
  ASSERT_TRUE(in);
  nlohmann::json ref;
  in >> ref;
  auto gt = load_mot(tw::video::testing::pets_gt(), 0.625);
  ASSERT_TRUE(gt);
  std::vector<LineSpec> lines;
  for (const auto& [k, v] : ref["lines"].items()) lines.push_back(*parse_line(k));
  ASSERT_EQ(lines.size(), 6u);
  auto c = count_crossings(*gt, lines);
  // The streaming counter with no hysteresis and no minimum age gives the same numbers.
  CounterConfig cc;
  cc.hysteresis_px = 0;
  cc.hysteresis_frac = 0;
  cc.min_track_hits = 0;
  LineZoneCounter counter(lines, {}, cc);
  std::map<int, std::vector<ObjectObservation>> by_frame;
  for (const auto& b : *gt) by_frame[b.frame].push_back({b.id, "person", {b.x + 0.5 * b.w, b.y + b.h}, 100});
  for (const auto& [f, obs] : by_frame) counter.update(obs);
  std::int64_t total = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& want = ref["lines"][lines[i].name];
    EXPECT_EQ(c[i].pos, want["pos"].get<std::int64_t>()) << lines[i].name;
    EXPECT_EQ(c[i].neg, want["neg"].get<std::int64_t>()) << lines[i].name;
    EXPECT_EQ(counter.totals().lines[i].at("person").pos, c[i].pos) << lines[i].name;
    EXPECT_EQ(counter.totals().lines[i].at("person").neg, c[i].neg) << lines[i].name;
    total += c[i].pos + c[i].neg;
  }
  EXPECT_EQ(total, 134);
}

TEST(Counting, HysteresisSuppressesJitter) {
  LineSpec l = *parse_line("0,100,200,100");
  LineZoneCounter c({l}, {}, counter_config(2.0, 1, 2));
  // Walks down to the line, jitters +-1.5 px around it, then really crosses.
  const double ys[] = {90, 95, 98.5, 101.5, 98.5, 101.5, 98.5, 101.5, 98.5, 105, 110, 104, 99, 95};
  for (double y : ys) c.update({{1, "person", {50, y}, 5}});
  const auto& t = c.totals().lines[0].at("person");
  EXPECT_EQ(t.pos, 1);  // 98.5 -> 105: one crossing to positive (downwards)
  EXPECT_EQ(t.neg, 1);  // 104 -> 95: back up
  // Without hysteresis the jitter counts every time.
  LineZoneCounter raw({l}, {}, counter_config(0.0, 1, 2));
  for (double y : ys) raw.update({{1, "person", {50, y}, 5}});
  EXPECT_EQ(raw.totals().lines[0].at("person").pos, 4);
  EXPECT_EQ(raw.totals().lines[0].at("person").neg, 4);
}

TEST(Counting, HysteresisScalesWithBoxHeight) {
  LineSpec l = *parse_line("0,100,200,100");
  CounterConfig cfg = counter_config(2.0, 1, 2);
  cfg.hysteresis_frac = 0.05;
  LineZoneCounter c({l}, {}, cfg);
  // A 100 px tall box: band is 5 px; moving from 96 to 104 stays inside it, 94 -> 106 crosses.
  for (double y : {90.0, 96.0, 104.0, 96.0, 104.0}) c.update({{1, "person", {50, y}, 5, 100}});
  EXPECT_TRUE(c.totals().lines[0].empty());
  c.update({{1, "person", {50, 106}, 6, 100}});
  EXPECT_EQ(c.totals().lines[0].at("person").pos, 1);
  // A 20 px box uses the 2 px floor.
  c.update({{2, "person", {150, 97}, 5, 20}});
  c.update({{2, "person", {150, 103}, 6, 20}});
  EXPECT_EQ(c.totals().lines[0].at("person").pos, 2);
}

TEST(Counting, MinimumTrackAgeHoldsCrossings) {
  LineSpec l = *parse_line("100,0,100,200");
  LineZoneCounter c({l}, {}, counter_config(2.0, 3, 2));
  // A fragment of two hits crossing: not counted.
  c.update({{5, "car", {90, 50}, 1}});
  c.update({{5, "car", {110, 50}, 2}});
  c.remove_track(5);
  EXPECT_TRUE(c.totals().lines[0].empty());
  // A track crossing on its second hit: held, then released when it reaches three hits.
  c.update({{6, "car", {90, 60}, 1}});
  c.update({{6, "car", {110, 60}, 2}});
  EXPECT_TRUE(c.totals().lines[0].empty());
  c.update({{6, "car", {120, 60}, 3}});
  // A->B points down (+y); moving right (+x) gives s = (0)(..) - (200)(Px-100): negative: "neg".
  EXPECT_EQ(c.totals().lines[0].at("car").neg, 1);
  EXPECT_EQ(c.totals().lines[0].at("car").pos, 0);
  auto iv = c.take_interval();
  EXPECT_EQ(iv.lines[0].at("car").neg, 1);
  EXPECT_TRUE(c.take_interval().lines[0].empty());
  EXPECT_EQ(c.totals().lines[0].at("car").neg, 1);  // totals persist
}

TEST(Counting, ZonesOccupancyEntriesExits) {
  ZoneSpec z = *parse_zone("0,0,100,0,100,100,0,100");
  LineZoneCounter c({}, {z}, counter_config(2.0, 1, 2));
  c.update({{1, "person", {50, 50}, 3}, {2, "person", {150, 50}, 3}});
  EXPECT_EQ(c.totals().zones[0].at("person").occupancy, 1);
  EXPECT_EQ(c.totals().zones[0].at("person").entries, 0);  // was inside when first seen
  // Track 2 enters; one frame inside is not enough (zone_min_frames = 2).
  c.update({{1, "person", {50, 50}, 4}, {2, "person", {90, 50}, 4}});
  EXPECT_EQ(c.totals().zones[0].at("person").entries, 0);
  c.update({{1, "person", {150, 50}, 5}, {2, "person", {80, 50}, 5}});
  EXPECT_EQ(c.totals().zones[0].at("person").entries, 1);
  c.update({{1, "person", {160, 50}, 6}, {2, "person", {80, 50}, 6}});
  EXPECT_EQ(c.totals().zones[0].at("person").exits, 1);
  EXPECT_EQ(c.totals().zones[0].at("person").occupancy, 1);
  c.remove_track(2);
  c.update({});
  EXPECT_EQ(c.totals().zones[0].at("person").occupancy, 0);
}

TEST(Counting, PayloadIsAValidCountsMessage) {
  LineSpec l = *parse_line("0,100,200,100");
  ZoneSpec z = *parse_zone("0,0,50,0,50,50");
  LineZoneCounter c({l}, {z}, counter_config(0.0, 0, 1));
  c.update({{1, "bus", {10, 90}, 1}});
  c.update({{1, "bus", {10, 110}, 2}});
  auto j = counts_payload("cam1", 60, 1700000000000, 1700000060000, c.totals(), c.lines(), c.zones());
  EXPECT_TRUE(tw::validate_payload("counts", j).ok());
  EXPECT_EQ(j["camera"], "cam1");
  EXPECT_EQ(j["start"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(j["lines"][0]["line"], "0,100,200,100");
  EXPECT_EQ(j["lines"][0]["counts"]["bus"]["pos"], 1);
  EXPECT_EQ(j["lines"][0]["counts"]["bus"]["neg"], 0);
  EXPECT_EQ(j["zones"][0]["zone"], "0,0,50,0,50,50");
  // Nothing that could follow an object: no track ids, no coordinates of objects.
  const std::string s = j.dump();
  EXPECT_EQ(s.find("track"), std::string::npos);
  EXPECT_EQ(s.find("box"), std::string::npos);
}
