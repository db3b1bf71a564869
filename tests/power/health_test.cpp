#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "test_data.hpp"
#include "tw/power/health.hpp"

using namespace tw::power;

TEST(LineFit, LadRecoversTheTrendDespiteRegenerationOutliers) {
  std::vector<double> x, y;
  for (int k = 1; k <= 60; ++k) {
    x.push_back(k);
    double v = 2.0 - 0.005 * k;
    if (k % 15 == 0) v += 0.1;  // capacity regeneration after a rest
    y.push_back(v);
  }
  auto f = fit_line_lad(x, y);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_NEAR(f->slope, -0.005, 1e-6);
  EXPECT_NEAR(f->intercept, 2.0, 1e-4);
  EXPECT_FALSE(fit_line_lad({1, 1, 1}, {1, 2, 3}));
  EXPECT_FALSE(fit_line_lad({1}, {1}));
}

TEST(CapacityCsv, ReadsNasaMetadataFieldByField) {
  auto t = load_capacity_csv(tw::power::test::nasa_metadata());
  ASSERT_TRUE(t) << t.error().message;
  // 2320 discharge rows, of which 25 have an empty capacity "[]".
  EXPECT_EQ(t->skipped_rows, 25u);
  std::size_t total = 0;
  for (const auto& [_, v] : t->by_battery) total += v.size();
  EXPECT_EQ(total, 2320u - 25u);
  const auto& b5 = t->by_battery.at("B0005");
  ASSERT_EQ(b5.size(), 168u);
  EXPECT_EQ(b5[0].test_id, 1);
  EXPECT_DOUBLE_EQ(b5[0].capacity_ah, 1.8564874208181574);
  EXPECT_EQ(b5[1].test_id, 3);
  EXPECT_DOUBLE_EQ(b5[1].capacity_ah, 1.846327249719927);
  EXPECT_EQ(t->by_battery.at("B0006").size(), 168u);
  EXPECT_DOUBLE_EQ(t->by_battery.at("B0045")[0].capacity_ah, 1.0819793880779518);
  EXPECT_DOUBLE_EQ(b5[0].ambient_c, 24.0);
  EXPECT_DOUBLE_EQ(t->by_battery.at("B0045")[0].ambient_c, 4.0);
  // The column is optional.
  auto n = parse_capacity_csv("type,battery_id,test_id,Capacity\ndischarge,B1,1,1.5\n", "m.csv");
  ASSERT_TRUE(n);
  EXPECT_TRUE(std::isnan(n->by_battery.at("B1")[0].ambient_c));
}

TEST(CapacityCsv, BadInputIsAnErrorNamingTheLine) {
  auto a = parse_capacity_csv("type,battery_id,test_id\n", "m.csv");
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("Capacity"), std::string::npos);
  auto b = parse_capacity_csv("type,battery_id,test_id,Capacity\ndischarge,B1,x,1.0\n", "m.csv");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("m.csv:2"), std::string::npos);
  auto c = parse_capacity_csv("type,battery_id,test_id,Capacity\ndischarge,B1,1\n", "m.csv");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("m.csv:2"), std::string::npos);
}

// Acceptance: from the first half of each battery's discharges, the cycle at which capacity falls
// below 1.4 Ah (30 % fade of 2 Ah). Goal <= 10 cycles; B0006 misses it (measured 15, see docs/power.md).
TEST(EndOfLife, NasaB0005AndB0006FromTheFirstHalf) {
  auto t = load_capacity_csv(tw::power::test::nasa_metadata());
  ASSERT_TRUE(t);
  struct Expect {
    const char* battery;
    int true_eol;
    int predicted;
  };
  for (const auto& e : {Expect{"B0005", 125, 131}, Expect{"B0006", 109, 94}}) {
    const auto& recs = t->by_battery.at(e.battery);
    std::vector<double> caps;
    for (const auto& r : recs) caps.push_back(r.capacity_ah);
    int truth = 0;
    for (std::size_t k = 0; k < caps.size(); ++k)
      if (caps[k] < 1.4) { truth = static_cast<int>(k) + 1; break; }
    EXPECT_EQ(truth, e.true_eol) << e.battery;
    caps.resize(caps.size() / 2);
    auto p = predict_eol_cycle(caps, 1.4);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(*p, e.predicted) << e.battery;
    EXPECT_LE(std::abs(*p - truth), 15) << e.battery;
  }
}

// The same acceptance with the population of the other cells in the file as references. B0006 finds
// B0005 within 3 sigma of its recent trajectory (-7 instead of -15); for B0005 no other cell is similar
// enough, so it keeps its own LAD line (131).
TEST(EndOfLife, PopulationPriorFromTheOtherCells) {
  auto t = load_capacity_csv(tw::power::test::nasa_metadata());
  ASSERT_TRUE(t);
  for (const auto& [battery, truth, predicted] :
       {std::tuple{"B0005", 125, 131}, std::tuple{"B0006", 109, 102}}) {
    const auto& recs = t->by_battery.at(battery);
    std::vector<CapacityRecord> given(recs.begin(), recs.begin() + static_cast<long>(recs.size() / 2));
    std::vector<const std::vector<CapacityRecord>*> refs;
    for (const auto& [id, r] : t->by_battery)
      if (id != battery) refs.push_back(&r);
    auto p = predict_eol_cycle_population(given, 1.4, refs);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(*p, predicted) << battery;
    EXPECT_LE(std::abs(*p - truth), 10) << battery;
  }
}

TEST(EndOfLife, PopulationFollowsASimilarReferenceAndFallsBackOtherwise) {
  // Reference: fast fade to cycle 60, then slower (a shape no straight line through the start predicts).
  auto curve = [](int k) { return k <= 60 ? 2.0 - 0.008 * k : 1.52 - 0.003 * (k - 60); };
  std::vector<CapacityRecord> ref, same, other_temp;
  for (int k = 1; k <= 150; ++k) {
    ref.push_back({k, curve(k), 24.0});
    other_temp.push_back({k, curve(k), 4.0});
  }
  // The cell follows the same curve 10 cycles later; 40 cycles are known (+-3 mAh wiggle as noise).
  for (int k = 1; k <= 40; ++k) same.push_back({k, curve(std::max(1, k - 10)) + (k % 2 ? 0.003 : -0.003), 24.0});
  std::vector<double> caps;
  for (const auto& r : same) caps.push_back(r.capacity_ah);
  const int own = *predict_eol_cycle(caps, 1.4);
  // Reference below 1.4 from cycle 101 (1.52 - 0.003 * 41 = 1.397); the cell is 10 cycles behind it.
  auto p = predict_eol_cycle_population(same, 1.4, {&ref});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_NEAR(*p, 111, 1);
  EXPECT_LT(own, 100);  // the straight line misses the slow-down
  // No references, or only ones at another ambient temperature: the cell's own line.
  EXPECT_EQ(*predict_eol_cycle_population(same, 1.4, {}), own);
  EXPECT_EQ(*predict_eol_cycle_population(same, 1.4, {&other_temp}), own);
  const std::vector<CapacityRecord> empty;
  EXPECT_EQ(*predict_eol_cycle_population(same, 1.4, {&empty}), own);
  // A reference fading eight times as slowly is not similar (beyond 3 sigma): ignored.
  std::vector<CapacityRecord> slow;
  for (int k = 1; k <= 700; ++k) slow.push_back({k, 2.0 - 0.001 * k, 24.0});
  EXPECT_EQ(*predict_eol_cycle_population(same, 1.4, {&slow}), own);
  EXPECT_EQ(predict_eol_cycle_population({{1, 2.0, 24.0}}, 1.4, {&ref}).error().code, "too_few_cycles");
}

TEST(EndOfLife, ErrorsAndEdgeCases) {
  EXPECT_EQ(predict_eol_cycle({2, 1.9, 1.8}, 1.4).error().code, "too_few_cycles");
  EXPECT_EQ(predict_eol_cycle({2, 2, 2.01, 2, 2.02, 2.03}, 1.4).error().code, "no_fade");
  // Already below: the first cycle under the threshold.
  EXPECT_EQ(*predict_eol_cycle({1.6, 1.5, 1.45, 1.39, 1.35, 1.3}, 1.4), 4);
  // Exact line: 2 - 0.01 k crosses 1.4 at k = 60; the first cycle below is 61.
  std::vector<double> c;
  for (int k = 1; k <= 30; ++k) c.push_back(2.0 - 0.01 * k);
  EXPECT_EQ(*predict_eol_cycle(c, 1.4), 61);
}

TEST(CapacityHistory, SohAndProjectedEndOfLifeDate) {
  CapacityHistory h(100.0);
  EXPECT_FALSE(h.soh());
  const std::int64_t day = 86400000;
  // 0.1 Ah lost per day from 98 Ah, one outlier measurement.
  for (int d = 0; d < 30; ++d) h.add(d * day, d == 10 ? 60.0 : 98.0 - 0.1 * d);
  EXPECT_NEAR(*h.soh(), (98.0 - 0.1 * 28) / 100.0, 1e-9);  // median of the last three
  auto eol = h.projected_eol_ms(0.8);
  ASSERT_TRUE(eol);
  EXPECT_NEAR(static_cast<double>(*eol) / day, 180.0, 0.5);  // 98 - 0.1 d = 80 at d = 180
}
