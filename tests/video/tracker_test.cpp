#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "common.hpp"
#include "tw/video/mot.hpp"
#include "tw/video/tracker.hpp"

using namespace tw::video;

TEST(Assignment, Golden) {
  // Classic 3x3: optimum 0->1, 1->0, 2->2 with cost 1 + 2 + 2 = 5.
  std::vector<double> c{4, 1, 3, 2, 0, 5, 3, 2, 2};
  auto m = linear_assignment(c, 3, 3, 100);
  EXPECT_EQ(m, (std::vector<int>{1, 0, 2}));
  // Rectangular, and a gate: row 1 has nothing under max_cost.
  std::vector<double> r{0.1, 0.9, 0.95, 0.99, 0.97, 0.98};
  auto m2 = linear_assignment(r, 2, 3, 0.5);
  EXPECT_EQ(m2, (std::vector<int>{0, -1}));
  // Infinity means forbidden.
  std::vector<double> f{INFINITY, 0.2, 0.1, INFINITY};
  EXPECT_EQ(linear_assignment(f, 2, 2, 1.0), (std::vector<int>{1, 0}));
  EXPECT_TRUE(linear_assignment({}, 0, 3, 1).empty());
}

TEST(Kalman, ConstantVelocityConverges) {
  KalmanBoxFilter kf;
  kf.init(Box{0, 0, 20, 40});
  for (int i = 1; i <= 20; ++i) {
    kf.predict();
    const float fi = static_cast<float>(i);
    kf.update(Box{3.f * fi, 1.f * fi, 3.f * fi + 20, 1.f * fi + 40});
  }
  kf.predict();  // frame 21 predicted
  Box b = kf.box();
  EXPECT_NEAR(b.x0, 63, 0.5);
  EXPECT_NEAR(b.y0, 21, 0.5);
  EXPECT_NEAR(b.width(), 20, 0.2);
  EXPECT_NEAR(b.height(), 40, 0.2);
  EXPECT_NEAR(kf.state()[4], 3, 0.05);  // vx
  EXPECT_NEAR(kf.state()[5], 1, 0.05);  // vy
}

TEST(Tracker, TwoObjectsCrossingKeepIds) {
  Tracker t;
  std::map<int, int> first_id;  // object -> track id
  for (int f = 0; f < 40; ++f) {
    // Object 0 moves right, object 1 moves left; they pass each other vertically separated by 30 px.
    const float ff = static_cast<float>(f);
    std::vector<TrackInput> d{{Box{10.f + 5 * ff, 100, 40.f + 5 * ff, 160}, 0.9f, 0},
                              {Box{210.f - 5 * ff, 130, 240.f - 5 * ff, 190}, 0.9f, 0}};
    auto out = t.update(d);
    if (f == 0) {
      EXPECT_TRUE(out.empty());  // tentative until min_hits = 2
      continue;
    }
    ASSERT_EQ(out.size(), 2u) << "frame " << f;
    for (const auto& tr : out) {
      ASSERT_GE(tr.det_index, 0);
      if (!first_id.count(tr.det_index)) first_id[tr.det_index] = tr.id;
      EXPECT_EQ(first_id[tr.det_index], tr.id) << "id switch at frame " << f;
    }
  }
  EXPECT_EQ(first_id.size(), 2u);
  EXPECT_NE(first_id[0], first_id[1]);
}

TEST(Tracker, OcclusionGapAndLowScoreStage) {
  TrackerConfig cfg;
  cfg.max_lost_frames = 10;
  Tracker t(cfg);
  int id = 0;
  for (int f = 0; f < 30; ++f) {
    std::vector<TrackInput> d;
    const float ff = static_cast<float>(f);
    const Box b{100.f + 4 * ff, 50, 130.f + 4 * ff, 110};
    if (f < 10 || f >= 16) {
      d.push_back({b, 0.9f, 0});
    } else if (f < 13) {
      d.push_back({b, 0.3f, 0});  // weak detections: second stage keeps the track
    }  // 13..15: nothing at all
    auto out = t.update(d);
    if (f == 2) {
      ASSERT_EQ(out.size(), 1u);
      id = out[0].id;
    }
    if (f >= 2 && f < 13) {
      ASSERT_EQ(out.size(), 1u) << f;
      EXPECT_EQ(out[0].id, id);
    }
    if (f >= 13 && f < 16) {
      EXPECT_TRUE(out.empty());
      ASSERT_EQ(t.tracks().size(), 1u);
      EXPECT_EQ(t.tracks()[0].state, TrackState::lost);
    }
    if (f >= 16) {
      ASSERT_EQ(out.size(), 1u) << f;
      EXPECT_EQ(out[0].id, id) << "re-found after the gap with its id";
    }
  }
  // Lost for longer than max_lost_frames: removed and reported.
  bool removed = false;
  for (int f = 0; f < 12; ++f) {
    (void)t.update({});
    for (int r : t.removed()) removed = removed || r == id;
  }
  EXPECT_TRUE(removed);
  EXPECT_TRUE(t.tracks().empty());
}

TEST(Tracker, ClassAwareAndLowScoreNeverStartsTracks) {
  Tracker t;
  for (int f = 0; f < 5; ++f) {
    auto out = t.update({{Box{0, 0, 10, 10}, 0.4f, 0}});  // below new_track_threshold
    EXPECT_TRUE(out.empty());
  }
  EXPECT_TRUE(t.tracks().empty());
  for (int f = 0; f < 5; ++f) (void)t.update({{Box{0, 0, 10, 10}, 0.9f, 2}});
  auto out = t.update({{Box{0, 0, 10, 10}, 0.9f, 7}});  // same place, other class: a new track
  ASSERT_EQ(out.size(), 0u);
  ASSERT_EQ(t.tracks().size(), 2u);
}

// Golden: the tracker fed with the ground-truth boxes of PETS09 (first 300 frames) as detections reproduces
// the ground truth almost perfectly (values measured once and pinned).
TEST(Tracker, GroundTruthBoxesGolden) {
  auto gt = load_mot(tw::video::testing::pets_gt(), 0.625);
  ASSERT_TRUE(gt) << gt.error().message;
  EXPECT_EQ(load_mot(tw::video::testing::pets_gt(), 0.625, false)->size(), 4650u);  // PROVENANCE: 4,650 boxes
  EXPECT_EQ(gt->size(), 4476u);  // of which 174 are flagged inactive (7th column 0)
  std::map<int, std::vector<MotBox>> frames;
  std::vector<MotBox> used;
  for (const auto& b : *gt)
    if (b.frame <= 300) frames[b.frame].push_back(b), used.push_back(b);
  Tracker t;
  std::vector<MotBox> hyp;
  for (int f = 1; f <= 300; ++f) {
    std::vector<TrackInput> d;
    for (const auto& b : frames[f]) d.push_back({Box{float(b.x), float(b.y), float(b.x + b.w), float(b.y + b.h)}, 0.9f, 0});
    for (const auto& tr : t.update(d)) hyp.push_back(MotBox{f, tr.id, tr.box.x0, tr.box.y0, tr.box.width(), tr.box.height()});
  }
  MotMetrics m = evaluate_mot(used, hyp);
  // Pinned: MOTA 0.9918 (12 misses while tracks are tentative), 2 id switches where people pass closely,
  // IDF1 0.9197 because people who leave for more than max_lost_frames come back with a new id (12 vs 10).
  EXPECT_NEAR(m.mota, 0.9918, 0.002);
  EXPECT_NEAR(m.idf1, 0.9197, 0.002);
  EXPECT_EQ(m.idsw, 2);
  EXPECT_EQ(m.fp, 0);
  EXPECT_EQ(m.fn, 12);
  EXPECT_EQ(m.gt_ids, 10);
  EXPECT_EQ(m.hyp_ids, 12);
  EXPECT_EQ(m.gt, static_cast<std::int64_t>(used.size()));
}

TEST(MotMetrics, HandComputed) {
  // gt: id 1 over frames 1-4; hyp: id 7 frames 1-2, id 8 frames 3-4 (one switch), plus one false positive.
  std::vector<MotBox> gt{{1, 1, 0, 0, 10, 10}, {2, 1, 1, 0, 10, 10}, {3, 1, 2, 0, 10, 10}, {4, 1, 3, 0, 10, 10}};
  std::vector<MotBox> hyp{{1, 7, 0, 0, 10, 10}, {2, 7, 1, 0, 10, 10}, {3, 8, 2, 0, 10, 10},
                          {4, 8, 3, 0, 10, 10}, {4, 9, 50, 50, 10, 10}};
  MotMetrics m = evaluate_mot(gt, hyp);
  EXPECT_EQ(m.matches, 4);
  EXPECT_EQ(m.fp, 1);
  EXPECT_EQ(m.fn, 0);
  EXPECT_EQ(m.idsw, 1);
  EXPECT_DOUBLE_EQ(m.mota, 1.0 - 2.0 / 4.0);
  EXPECT_EQ(m.idtp, 2);  // id 1 maps to 7 (or 8): 2 frames
  EXPECT_DOUBLE_EQ(m.idf1, 2.0 * 2 / (4 + 5));
  EXPECT_DOUBLE_EQ(m.motp_iou, 1.0);
}

TEST(MotFile, Errors) {
  auto r = load_mot("/nonexistent/gt.txt", 1.0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "not_found");
}

TEST(Kalman, GatingDistanceWidensWhileLost) {
  KalmanBoxFilter kf;
  kf.init(Box{100, 100, 120, 150});
  for (int i = 1; i <= 10; ++i) {
    kf.predict();
    const float fi = static_cast<float>(i);
    kf.update(Box{100 + 3 * fi, 100, 120 + 3 * fi, 150});
  }
  kf.predict();
  const Box p = kf.box();
  EXPECT_LT(kf.gating_distance(p), 0.01);  // the predicted box itself
  // 15 px (0.3 box heights) off, IoU 0.14: outside the 95% gate right after a match ...
  EXPECT_GT(kf.gating_distance(Box{p.x0 + 15, p.y0, p.x1 + 15, p.y1}), 9.4877);
  for (int i = 0; i < 3; ++i) kf.predict();  // ... inside it after three frames unobserved
  const Box p4 = kf.box();
  EXPECT_LT(kf.gating_distance(Box{p4.x0 + 15, p4.y0, p4.x1 + 15, p4.y1}), 9.4877);
  EXPECT_GT(kf.gating_distance(Box{p4.x0, p4.y0 - 25, p4.x1, p4.y1}), 9.4877);  // a box 1.5 times as tall is not
}

// A walker hidden for three frames comes back 15 px (0.3 box heights) away from where the constant-velocity
// prediction puts it, too far for any IoU stage: the Kalman-gated recovery stage gives it back its id instead
// of starting a fragment; with the stage off it gets a new track.
TEST(Tracker, RecoversBrieflyHiddenTrackByKalmanGate) {
  for (int recover : {5, -1}) {
    TrackerConfig cfg;
    cfg.recover_max_lost_frames = recover;
    Tracker t(cfg);
    int id = 0;
    std::vector<Track> out;
    for (int f = 0; f < 14; ++f) {
      const float ff = static_cast<float>(f);
      const float x = 100 + 3 * ff + (f >= 10 ? 15.f : 0.f);  // 7..9 hidden; back displaced by 15 px
      std::vector<TrackInput> d;
      if (f < 7 || f >= 10) d.push_back({Box{x, 100, x + 20, 150}, 0.9f, 0});
      out = t.update(d);
      if (f == 6) {
        ASSERT_EQ(out.size(), 1u);
        id = out[0].id;
      }
    }
    ASSERT_EQ(out.size(), 1u);
    if (recover >= 0) {
      EXPECT_EQ(out[0].id, id);
    } else {
      EXPECT_NE(out[0].id, id);
    }
  }
}

// A lost track keeps its size (ByteTrack zeroes the height velocity of lost tracks): a person walking away,
// whose box shrank 2 px a frame, is predicted at its last height while unobserved, not ever smaller.
TEST(Tracker, LostTrackKeepsItsSize) {
  Tracker t;
  float h = 0;
  for (int f = 0; f < 10; ++f) {
    const float ff = static_cast<float>(f);
    (void)t.update({{Box{100 + 2 * ff, 100 + 2 * ff, 130 + 2 * ff, 180}, 0.9f, 0}});
    h = t.tracks().at(0).box.height();
  }
  for (int f = 0; f < 8; ++f) {
    (void)t.update({});
    ASSERT_EQ(t.tracks().size(), 1u);
    EXPECT_EQ(t.tracks()[0].state, TrackState::lost);
    EXPECT_NEAR(t.tracks()[0].box.height(), h, 2.0) << "unobserved frame " << f + 1;
  }
}
