#include <gtest/gtest.h>

#include "common.hpp"
#include "tw/video/analyzer.hpp"
#include "tw/video/eval.hpp"
#include "tw/video/source.hpp"

using namespace tw::video;

TEST(MotionGate, SkipsStaticScenesAndForcesPeriodicCalls) {
  MotionGateConfig mc;
  mc.max_skip = 10;
  MotionGate g(mc);
  cv::Mat a(360, 480, CV_8UC3, cv::Scalar(60, 90, 120));
  int calls = 0;
  for (int i = 0; i < 23; ++i) {
    if (g.should_detect(a)) {
      g.mark_detected();
      ++calls;
    }
  }
  EXPECT_EQ(calls, 3);  // frame 0, then forced after 10 skipped frames twice
  cv::Mat b = a.clone();
  b(cv::Rect(100, 100, 20, 40)).setTo(cv::Scalar(255, 255, 255));  // a "person" appears
  EXPECT_TRUE(g.should_detect(b));
  EXPECT_GT(g.last_changed_fraction(), 0.001);
}

// The analyzer on the first 150 frames of PETS09 (every frame): counts match the ground truth's crossings over
// the same frames closely, and counts messages come out per interval.
TEST(CameraAnalyzer, PetsFirstFramesCountsAndMessages) {
  AnalyzerConfig cfg;
  cfg.site = "site-a";
  cfg.camera = "pets";
  cfg.classes = {"person"};
  cfg.interval_s = 5;
  for (const char* l : {"0,144,480,144", "0,216,480,216", "0,288,480,288", "160,0,160,360", "320,0,320,360",
                        "40,340,440,40"})
    cfg.lines.push_back(*parse_line(l));
  cfg.zones.push_back(*parse_zone("0,0,240,0,240,360,0,360"));
  auto a = CameraAnalyzer::create(cfg);
  ASSERT_TRUE(a) << a.error().message;
  std::vector<tw::Message> msgs;
  const int kFrames = 150;
  auto n = for_each_frame(tw::video::testing::pets_video(), [&](const cv::Mat& f, std::int64_t i) {
    if (i >= kFrames) return false;
    for (auto& m : (*a)->feed(f, 1700000000000 + i * 100)) msgs.push_back(std::move(m));
    return true;
  });
  ASSERT_TRUE(n);
  for (auto& m : (*a)->flush(1700000000000 + kFrames * 100)) msgs.push_back(std::move(m));
  // 15 s of video: three 5-second intervals.
  ASSERT_EQ(msgs.size(), 3u);
  std::int64_t sum_pos = 0;
  for (size_t k = 0; k < msgs.size(); ++k) {
    const auto& m = msgs[k];
    EXPECT_EQ(m.kind, "counts");
    EXPECT_EQ(m.site, "site-a");
    EXPECT_TRUE(tw::validate_payload("counts", m.payload).ok()) << m.payload.dump();
    EXPECT_DOUBLE_EQ(m.payload["interval_s"].get<double>(), 5.0);
    EXPECT_EQ(m.ts_ms, 1700000000000 + static_cast<std::int64_t>(k + 1) * 5000);
    EXPECT_EQ(m.payload["lines"].size(), 6u);
    for (const auto& l : m.payload["lines"])
      if (l["counts"].contains("person")) sum_pos += l["counts"]["person"]["pos"].get<std::int64_t>();
  }
  // Interval messages add up to the totals.
  std::int64_t tot_pos = 0;
  for (const auto& l : (*a)->totals().lines)
    if (l.count("person")) tot_pos += l.at("person").pos;
  EXPECT_EQ(sum_pos, tot_pos);

  // Ground truth crossings over the same 200 frames.
  auto gt = load_mot(tw::video::testing::pets_gt(), 0.625);
  ASSERT_TRUE(gt);
  std::vector<MotBox> used;
  for (const auto& b : *gt)
    if (b.frame <= kFrames) used.push_back(b);
  auto truth = count_crossings(used, cfg.lines);
  std::int64_t err = 0, total = 0;
  for (size_t i = 0; i < cfg.lines.size(); ++i) {
    DirCounts got;
    if ((*a)->totals().lines[i].count("person")) got = (*a)->totals().lines[i].at("person");
    err += std::abs(got.pos - truth[i].pos) + std::abs(got.neg - truth[i].neg);
    total += truth[i].pos + truth[i].neg;
  }
  // 19 true crossings in these frames; the errors left are tracking failures in the crowd around the lamp post.
  EXPECT_EQ(total, 19);
  EXPECT_LE(err, 4) << "count error " << err << " of " << total;
  EXPECT_EQ((*a)->stats().frames, kFrames);
  EXPECT_GT((*a)->stats().tracks_started, 4);
}

TEST(CameraAnalyzer, ConfigFromSiteCamera) {
  tw::CameraConfig cam;
  cam.id = "north";
  cam.url = "rtsp://10.0.0.5/stream1";
  cam.analysis_fps = 5;
  cam.classes = {"person", "motorbike"};
  cam.lines.push_back({"entrance", {0, 144, 480, 144}});
  cam.zones.push_back({"", {0, 0, 100, 0, 100, 100}});
  auto c = analyzer_config_for("tower-7", cam);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->camera, "north");
  EXPECT_EQ(c->site, "tower-7");
  ASSERT_EQ(c->lines.size(), 1u);
  EXPECT_EQ(c->lines[0].name, "entrance");
  EXPECT_DOUBLE_EQ(c->lines[0].b.x, 480);
  EXPECT_EQ(c->zones[0].name, "0,0,100,0,100,100");
  auto a = CameraAnalyzer::create(*c);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ((*a)->config().classes[1], "motorcycle");
  auto s = source_config_for("tower-7", cam);
  EXPECT_EQ(s.url, cam.url);
  EXPECT_DOUBLE_EQ(s.analysis_fps, 5);
  cam.lines.push_back({"bad", {1, 2, 1, 2}});
  auto bad = analyzer_config_for("tower-7", cam);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("camera 'north' line 2 ('bad')"), std::string::npos) << bad.error().message;
}

namespace {
// Replays one scripted list of boxes per frame.
class ScriptedDetector final : public Detector {
 public:
  explicit ScriptedDetector(std::vector<std::vector<Detection>> frames) : frames_(std::move(frames)) {}
  std::vector<Detection> detect(const cv::Mat&) override {
    return next_ < frames_.size() ? frames_[next_++] : std::vector<Detection>{};
  }
  std::string name() const override { return "scripted"; }
  const std::vector<std::string>& class_names() const override { return names_; }

 private:
  std::vector<std::vector<Detection>> frames_;
  std::vector<std::string> names_{"person"};
  size_t next_ = 0;
};
}  // namespace

// A person walking out of the bottom edge of the frame (its detections clipped there) crosses a vertical line
// drawn down to that edge: it is counted once, although the filtered box reaches past the frame edge.
TEST(CameraAnalyzer, CountsAPersonCutByTheFrameEdge) {
  std::vector<std::vector<Detection>> frames;
  for (int i = 0; i < 20; ++i) {
    const float x = 360.f - 8.f * static_cast<float>(i), top = 250.f + 5.f * static_cast<float>(i);
    frames.push_back({Detection{x, top, x + 40, std::min(360.f, top + 90), 0.9f, 0, "person"}});
  }
  AnalyzerConfig cfg;
  cfg.classes = {"person"};
  cfg.motion.enabled = false;
  cfg.lines.push_back(*parse_line("320,0,320,360"));
  auto a = CameraAnalyzer::create(cfg, std::make_shared<ScriptedDetector>(frames));
  ASSERT_TRUE(a) << a.error().message;
  const cv::Mat frame(360, 480, CV_8UC3, cv::Scalar(80, 80, 80));
  for (size_t i = 0; i < frames.size(); ++i) (void)(*a)->feed(frame, static_cast<std::int64_t>(i) * 100);
  ASSERT_TRUE((*a)->totals().lines[0].count("person"));
  EXPECT_EQ((*a)->totals().lines[0].at("person").pos, 1);
  EXPECT_EQ((*a)->totals().lines[0].at("person").neg, 0);
}
