#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "tw/wildfire/temporal.hpp"

using namespace tw::wildfire;

namespace {

SmokeResult one_box(float score, float x0 = 100, float y0 = 100, float x1 = 160, float y1 = 150) {
  SmokeResult r;
  r.score = score;
  if (score > 0) r.boxes.push_back({x0, y0, x1, y1, score});
  return r;
}

constexpr std::int64_t kStep = 30'000;  // one frame every 30 s

}  // namespace

TEST(Temporal, FourOfEightVote) {
  TemporalFilter f;  // defaults: 4 of 8, threshold kShippedThreshold (0.963)
  // Hits on frames 0, 2, 4 (alternating with misses) then the 4th hit on frame 6 raises the alert.
  for (int i = 0; i < 6; ++i) {
    auto a = f.update(i % 2 == 0 ? one_box(0.99f) : one_box(0.f), 640, 480, i * kStep);
    EXPECT_TRUE(a.empty()) << "frame " << i;
  }
  auto a = f.update(one_box(0.98f, 104, 98, 166, 152), 640, 480, 6 * kStep);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].votes, 4);
  EXPECT_FLOAT_EQ(a[0].score, 0.99f);  // best of the region in the window
  EXPECT_FLOAT_EQ(a[0].box.x0, 104.f);  // latest box
  EXPECT_EQ(a[0].first_seen_ms, 0);
  // The same region keeps scoring: no second alert within the cooldown.
  for (int i = 7; i < 20; ++i) EXPECT_TRUE(f.update(one_box(0.99f), 640, 480, i * kStep).empty());
}

TEST(Temporal, HitsOutsideTheWindowDoNotCount) {
  TemporalFilter f;
  // 3 hits, then 6 misses, then hits again: the old ones fall out of the 8-frame window.
  int frame = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(f.update(one_box(0.99f), 640, 480, kStep * frame++).empty());
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(f.update(one_box(0.f), 640, 480, kStep * frame++).empty());
  EXPECT_TRUE(f.update(one_box(0.99f), 640, 480, kStep * frame++).empty());
  EXPECT_TRUE(f.update(one_box(0.99f), 640, 480, kStep * frame++).empty());
  EXPECT_TRUE(f.update(one_box(0.99f), 640, 480, kStep * frame++).empty());
  EXPECT_EQ(f.update(one_box(0.99f), 640, 480, kStep * frame++).size(), 1u);
}

TEST(Temporal, SeparateRegionsVoteSeparately) {
  TemporalFilter f;
  // Two plumes far apart alternate: each has its own votes, 4 hits at frames 0,2,4,6 and 1,3,5,7.
  for (int i = 0; i < 6; ++i) {
    auto r = i % 2 == 0 ? one_box(0.99f, 10, 10, 60, 60) : one_box(0.99f, 500, 300, 560, 350);
    EXPECT_TRUE(f.update(r, 640, 480, i * kStep).empty()) << i;
  }
  auto a = f.update(one_box(0.99f, 10, 10, 60, 60), 640, 480, 6 * kStep);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_FLOAT_EQ(a[0].box.x0, 10.f);
  a = f.update(one_box(0.99f, 500, 300, 560, 350), 640, 480, 7 * kStep);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_FLOAT_EQ(a[0].box.x0, 500.f);
  EXPECT_NE(a[0].region_id, 1);
}

TEST(Temporal, ThresholdSizeMaskAndPersistence) {
  TemporalConfig c;
  c.window = 3;
  c.votes = 2;
  c.min_box_fraction = 0.01f;  // 3072 px^2 at 640x480
  c.masks = {{0.0f, 0.0f, 0.3f, 0.3f}};
  c.min_persistence_ms = 60'000;
  TemporalFilter f(c);
  auto r = f.update(one_box(0.4f, 300, 300, 400, 400), 640, 480, 0);
  EXPECT_EQ(f.last_rejections()[0], Rejection::below_threshold);
  r = f.update(one_box(0.99f, 300, 300, 320, 320), 640, 480, 0);
  EXPECT_EQ(f.last_rejections()[0], Rejection::too_small);
  r = f.update(one_box(0.99f, 50, 50, 150, 120), 640, 480, 0);  // centre (100, 85) = (0.16, 0.18): masked
  EXPECT_EQ(f.last_rejections()[0], Rejection::masked);
  f.reset();
  // Persistence: 2 votes at t=0 and t=30 s are not enough, the 3rd at 60 s alerts.
  EXPECT_TRUE(f.update(one_box(0.99f, 300, 300, 400, 400), 640, 480, 0).empty());
  EXPECT_TRUE(f.update(one_box(0.99f, 300, 300, 400, 400), 640, 480, 30'000).empty());
  EXPECT_EQ(f.update(one_box(0.99f, 300, 300, 400, 400), 640, 480, 60'000).size(), 1u);
}

TEST(Temporal, NightPolicies) {
  TemporalConfig c;
  c.window = 1;
  c.votes = 1;
  c.score_threshold = 0.5f;  // below the night threshold, whatever the shipped operating point
  FrameStats night;
  night.night = true;
  {
    TemporalFilter f(c);  // raise: 0.7 passes by day, not at night (0.99)
    EXPECT_TRUE(f.update(one_box(0.7f), 640, 480, 0, night).empty());
    EXPECT_EQ(f.last_rejections()[0], Rejection::night);
    EXPECT_TRUE(f.update(one_box(0.9f), 640, 480, kStep, night).empty());  // a day alert, not a night one
    auto a = f.update(one_box(0.995f), 640, 480, 2 * kStep, night);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(a[0].night);
  }
  c.night_policy = NightPolicy::suppress;
  {
    TemporalFilter f(c);
    EXPECT_TRUE(f.update(one_box(0.99f), 640, 480, 0, night).empty());
    EXPECT_EQ(f.last_rejections()[0], Rejection::night);
    EXPECT_EQ(f.update(one_box(0.99f), 640, 480, kStep).size(), 1u);  // by day it alerts
  }
}

TEST(Temporal, LearnedNuisanceRegionAndOperatorFeedback) {
  TemporalConfig c;
  c.window = 1;
  c.votes = 1;
  c.cooldown_ms = 0;
  c.nuisance_after = 3;
  TemporalFilter f(c);
  const SmokeResult glare = one_box(0.99f, 400, 50, 440, 90);
  std::int64_t t = 0;
  // A spot that keeps triggering without confirmation: 3 alerts, then it is a nuisance region.
  for (int i = 0; i < 3; ++i) {
    t += 60'000;
    EXPECT_EQ(f.update(glare, 640, 480, t).size(), 1u) << i;
  }
  t += 60'000;
  EXPECT_TRUE(f.update(glare, 640, 480, t).empty());
  EXPECT_EQ(f.last_rejections()[0], Rejection::nuisance);
  EXPECT_TRUE(f.is_nuisance(420.f / 640, 70.f / 480, t));
  // Elsewhere still alerts.
  EXPECT_EQ(f.update(one_box(0.99f, 100, 300, 160, 360), 640, 480, t + 1).size(), 1u);
  // An operator confirms smoke there: the cell is cleared.
  f.confirm(glare.boxes[0], 640, 480);
  EXPECT_FALSE(f.is_nuisance(420.f / 640, 70.f / 480, t));
  // A dismissal counts twice: one dismissal + one alert make it a nuisance again.
  f.dismiss(glare.boxes[0], 640, 480, t);
  EXPECT_FALSE(f.is_nuisance(420.f / 640, 70.f / 480, t));
  EXPECT_EQ(f.update(glare, 640, 480, t + 2).size(), 1u);
  EXPECT_TRUE(f.is_nuisance(420.f / 640, 70.f / 480, t + 2));
  // Memory: 3 days later the cell is forgiven.
  EXPECT_FALSE(f.is_nuisance(420.f / 640, 70.f / 480, t + 2 + c.nuisance_memory_ms));
}

TEST(Temporal, ValidateNamesTheKey) {
  auto key_of = [](TemporalConfig c) { return validate(c).error().message; };
  TemporalConfig c;
  EXPECT_TRUE(validate(c));
  c.votes = 9;
  EXPECT_NE(key_of(c).find("smoke.votes"), std::string::npos);
  c = {};
  c.window = 0;
  EXPECT_NE(key_of(c).find("smoke.window"), std::string::npos);
  c = {};
  c.score_threshold = 1.5f;
  EXPECT_NE(key_of(c).find("smoke.score_threshold"), std::string::npos);
  c = {};
  c.masks = {{0.5f, 0.5f, 0.4f, 0.6f}};
  EXPECT_NE(key_of(c).find("smoke.masks[0]"), std::string::npos);
  c = {};
  c.nuisance_after = 0;
  EXPECT_NE(key_of(c).find("smoke.nuisance_after"), std::string::npos);
  c = {};
  c.min_box_fraction = -0.1f;
  EXPECT_NE(key_of(c).find("smoke.min_box_fraction"), std::string::npos);
  c = {};
  c.night_luma = 300;
  EXPECT_NE(key_of(c).find("smoke.night_luma"), std::string::npos);
  EXPECT_FALSE(parse_night_policy("dark"));
  EXPECT_TRUE(parse_night_policy("suppress"));
}

TEST(Temporal, FrameStatsDayNightInfrared) {
  cv::Mat day(120, 160, CV_8UC3, cv::Scalar(200, 150, 90));  // blue-ish sky, BGR
  auto s = frame_stats(day, 40);
  EXPECT_FALSE(s.night);
  EXPECT_FALSE(s.infrared);
  EXPECT_NEAR(s.mean_luma, 0.114 * 200 + 0.587 * 150 + 0.299 * 90, 1.0);
  cv::Mat ir(120, 160, CV_8UC3, cv::Scalar(25, 25, 25));
  s = frame_stats(ir, 40);
  EXPECT_TRUE(s.night);
  EXPECT_TRUE(s.infrared);
}
