// Acceptance figures on the shared recordings (issue 3). Full run takes a few seconds.
#include <gtest/gtest.h>

#include "test_data.hpp"
#include "tw/seismic/pipeline.hpp"

using namespace tw::seismic;

TEST(AcceptanceTest, NorwayPicksAgainstAnalystPicks) {
  auto j = eval_norway_picks(test::seismic_dir() / "norway_seisan");
  ASSERT_FALSE(j.contains("error")) << j.dump();
  EXPECT_EQ(j["analyst_p_picks"], 14);
  EXPECT_LE(j["median_abs_error_s"].get<double>(), 0.10);
  // Acceptance: >= 90% within 0.5 s. We reach 13/14: the weight-2 emergent pick at OSG is 0.97 s late.
  EXPECT_GE(j["fraction_within_0_5_s"].get<double>(), 0.9);
  EXPECT_EQ(j["matched"].get<int>(), 14);
  EXPECT_TRUE(j["pass"].get<bool>());
  // The 2021 event (other stations, 100-200 Hz broadband) is scored the same way: 4 analyst P picks.
  ASSERT_EQ(j["other_events"].size(), 1u);
  const auto& e = j["other_events"][0];
  EXPECT_EQ(e["analyst_p_picks"], 4);
  EXPECT_EQ(e["within_0_5_s"], 4);
  EXPECT_LE(e["median_abs_error_s"].get<double>(), 0.10);
}

TEST(AcceptanceTest, OpenEewEventsDetectedLocatedSizedAndAlertedInTime) {
  auto j = eval_openeew(test::seismic_dir() / "openeew_mexico");
  ASSERT_FALSE(j.contains("error")) << j.dump();
  ASSERT_EQ(j["events"].size(), 11u);
  for (const auto& e : j["events"]) {
    if (e["catalog_magnitude"].get<double>() >= 5.0) {
      EXPECT_TRUE(e["detected"].get<bool>()) << e.dump();
      ASSERT_FALSE(e["alert_latency_after_4th_p_s"].is_null()) << e.dump();
      EXPECT_LE(e["alert_latency_after_4th_p_s"].get<double>(), 1.0) << e.dump();
    }
    EXPECT_EQ(e["noise_events"], 0) << e.dump();
    EXPECT_EQ(e["other_events"], 0) << e.dump();
  }
  EXPECT_LE(j["median_epicentral_error_km"].get<double>(), 15.0);
  EXPECT_LE(j["median_abs_magnitude_error"].get<double>(), 0.5);
  EXPECT_EQ(j["noise_events"], 0);
  EXPECT_GT(j["noise_hours"].get<double>(), 2.5);
  for (auto& [k, v] : j["pass"].items()) EXPECT_TRUE(v.get<bool>()) << k;
}
