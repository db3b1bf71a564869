#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "common.hpp"
#include "process.hpp"
#include "tw/video/source.hpp"

using namespace tw::video;

TEST(Source, ReadsRealFilesToTheEnd) {
  std::int64_t n_seen = 0;
  auto n = for_each_frame(tw::video::testing::tud_video(), [&](const cv::Mat& f, std::int64_t i) {
    EXPECT_EQ(f.cols, 640);
    EXPECT_EQ(f.rows, 480);
    EXPECT_EQ(i, n_seen);
    ++n_seen;
    return true;
  });
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 71);  // PROVENANCE: 71 frames
  auto r = open_video(tw::video::testing::pets_video());
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->info().width, 480);
  EXPECT_EQ((*r)->info().height, 360);
  EXPECT_EQ((*r)->info().frame_count, 795);
  // Stopping early is not an error.
  auto m = for_each_frame(tw::video::testing::pets_video(), [](const cv::Mat&, std::int64_t i) { return i < 9; });
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, 10);
}

TEST(Source, BrokenFilesGiveClearErrors) {
  tw::test::TempDir dir;
  auto r = open_video(dir.file("missing.mp4"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "not_found");
  EXPECT_NE(r.error().message.find("missing.mp4"), std::string::npos);

  tw::test::write_file(dir.file("empty.avi"), "");
  EXPECT_EQ(open_video(dir.file("empty.avi")).error().code, "empty_video");

  tw::test::write_file(dir.file("text.mp4"), std::string(5000, 'x'));
  r = open_video(dir.file("text.mp4"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code == "open_failed" || r.error().code == "empty_video") << r.error().code;
  EXPECT_NE(r.error().message.find("text.mp4"), std::string::npos);

  // The MP4 cut in half: its sample table is at the end or the data is missing; either way a clear error.
  std::ifstream in(tw::video::testing::tud_video(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(bytes.size(), 100000u);
  tw::test::write_file(dir.file("cut.mp4"), bytes.substr(0, bytes.size() / 2));
  auto n = for_each_frame(dir.file("cut.mp4"), [](const cv::Mat&, std::int64_t) { return true; });
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error().code == "truncated" || n.error().code == "open_failed") << n.error().code;
  EXPECT_NE(n.error().message.find("cut.mp4"), std::string::npos);

  // The AVI cut at 40%: decodes a part, then stops short of the announced frame count.
  std::ifstream in2(tw::video::testing::pets_video(), std::ios::binary);
  std::string avi((std::istreambuf_iterator<char>(in2)), {});
  tw::test::write_file(dir.file("cut.avi"), avi.substr(0, avi.size() * 4 / 10));
  n = for_each_frame(dir.file("cut.avi"), [](const cv::Mat&, std::int64_t) { return true; });
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error().code == "truncated" || n.error().code == "open_failed") << n.error().code;
  EXPECT_NE(n.error().message.find("cut.avi"), std::string::npos);
}

TEST(Source, ContainersThatMisstateTheirFrameCountAreReadToTheEnd) {
  // Recorded clips whose containers announce more frames than they decode, though the last frame's time
  // reaches the announced duration: an AVI at 50 fps holding 25 fps H.264 (341 of 682) and an MP4 with an
  // edit list (917 of 922). Neither is truncated.
  const auto video = tw::data_dir() / "video";
  for (const auto& [file, frames] : {std::pair{video / "plaza_topdown_unknown" / "plaza_topdown_1280x720.avi", 341},
                                     std::pair{video / "bridge_traffic_unknown" / "car_traffic_small.mp4", 917}}) {
    auto n = for_each_frame(file.string(), [](const cv::Mat&, std::int64_t) { return true; });
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(*n, frames) << file;
  }
}

TEST(Source, DropPolicyNames) {
  EXPECT_EQ(*parse_drop_policy("block"), DropPolicy::block);
  EXPECT_EQ(parse_drop_policy("random").error().code, "bad_config");
}

namespace {
// A fake stream: fails `fail_first` opens, then delivers `frames` frames per connection, `connections` times.
struct FakeStream {
  std::atomic<int> opens{0};
  int fail_first = 2;
  int frames = 10;
  int connections = 2;
  class Reader : public FrameReader {
   public:
    explicit Reader(int n) : n_(n) { info_.width = 8, info_.height = 8, info_.fps = 25; }
    const VideoInfo& info() const override { return info_; }
    bool read(cv::Mat& m) override {
      if (i_ >= n_) return false;
      m = cv::Mat(8, 8, CV_8UC3, cv::Scalar::all(i_++));
      return true;
    }
    VideoInfo info_;
    int n_, i_ = 0;
  };
  ReaderFactory factory() {
    return [this](const std::string& url) -> tw::Result<std::unique_ptr<FrameReader>> {
      const int k = opens++;
      if (k < fail_first || k >= fail_first + connections)
        return tw::make_error("open_failed", url + ": connection refused");
      return std::unique_ptr<FrameReader>(std::make_unique<Reader>(frames));
    };
  }
};
}  // namespace

TEST(CameraWorker, ReconnectsAndReportsStateChangesOnce) {
  FakeStream fake;
  std::mutex mu;
  std::vector<tw::Message> status;
  SourceConfig cfg;
  cfg.camera = "cam1";
  cfg.site = "site1";
  cfg.url = "rtsp://camera.invalid/stream";
  cfg.reconnect_min_ms = 20;
  cfg.reconnect_max_ms = 40;
  cfg.max_reconnects = 3;
  cfg.queue_size = 100;
  tw::Metrics metrics;
  CameraWorker w(cfg, &metrics, [&](tw::Message m) {
    std::lock_guard lk(mu);
    status.push_back(std::move(m));
  }, fake.factory());
  w.start();
  int got = 0;
  Frame f;
  while (!w.finished() || got < 20) {
    if (w.next(f, 2000)) {
      ++got;
    } else if (w.finished()) {
      break;
    }
  }
  w.stop();
  EXPECT_EQ(got, 20);  // two connections of 10 frames
  std::lock_guard lk(mu);
  std::vector<std::string> states;
  for (const auto& m : status) {
    EXPECT_EQ(m.kind, "camera_status");
    EXPECT_EQ(m.site, "site1");
    EXPECT_TRUE(tw::validate_payload("camera_status", m.payload).ok());
    states.push_back(m.payload["state"]);
  }
  // offline (2 failed opens, reported once), online, offline (stream dropped), online? no: the third
  // connection is refused 4 times (max_reconnects 3) -> ended.
  EXPECT_EQ(states, (std::vector<std::string>{"offline", "online", "offline", "online", "offline", "ended"}));
  ASSERT_GE(status.size(), 2u);
  EXPECT_GT(status[1].payload["gap_s"].get<double>(), 0.03);  // two backoffs of 20 and 40 ms
  EXPECT_EQ(status[1].payload["reason"], "reconnected");
  EXPECT_NE(status[0].payload["reason"].get<std::string>().find("connection refused"), std::string::npos);
  EXPECT_EQ(w.delivered(), 20u);
  EXPECT_EQ(w.dropped(), 0u);
}

TEST(CameraWorker, DropPolicyCountsDropsExactly) {
  for (auto policy : {DropPolicy::drop_oldest, DropPolicy::drop_newest}) {
    FakeStream fake;
    fake.fail_first = 0;
    fake.connections = 1;
    fake.frames = 10;
    SourceConfig cfg;
    cfg.camera = "c1";
    cfg.url = "/fake/file.mp4";  // a file: ends after one pass
    cfg.queue_size = 2;
    cfg.policy = policy;
    tw::Metrics metrics;
    CameraWorker w(cfg, &metrics, nullptr, fake.factory());
    w.start();
    ASSERT_TRUE(tw::test::wait_until([&] { return w.finished(); }, std::chrono::seconds(5)));
    EXPECT_EQ(w.dropped(), 8u);
    EXPECT_EQ(w.delivered(), 10u);
    Frame f;
    std::vector<int> values;
    while (w.next(f, 10)) values.push_back(f.bgr.at<cv::Vec3b>(0, 0)[0]);
    // drop_oldest keeps the newest two frames; drop_newest keeps the first two.
    EXPECT_EQ(values, policy == DropPolicy::drop_oldest ? (std::vector<int>{8, 9}) : (std::vector<int>{0, 1}));
    const std::string prom = metrics.render_prometheus();
    EXPECT_NE(prom.find("tw_video_frames_dropped_total{camera=\"c1\"} 8"), std::string::npos) << prom;
    w.stop();
  }
}

TEST(CameraWorker, BlockPolicyNeverDropsAndDecimates) {
  FakeStream fake;
  fake.fail_first = 0;
  fake.connections = 1;
  fake.frames = 50;  // 2 s at 25 fps
  SourceConfig cfg;
  cfg.camera = "c2";
  cfg.url = "/fake/file.mp4";
  cfg.queue_size = 1;
  cfg.policy = DropPolicy::block;
  cfg.analysis_fps = 5;
  cfg.file_start_ms = 1000000;
  CameraWorker w(cfg, nullptr, nullptr, fake.factory());
  w.start();
  std::vector<std::int64_t> ts;
  Frame f;
  while (w.next(f, 2000)) ts.push_back(f.ts_ms);
  w.stop();
  EXPECT_EQ(w.dropped(), 0u);
  ASSERT_EQ(ts.size(), 10u);  // every 5th frame
  for (size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(ts[i], 1000000 + static_cast<std::int64_t>(i) * 200);
}
