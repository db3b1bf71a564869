#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>

#include "test_data.hpp"
#include "tw/change/watcher.hpp"
#include "tw/core/message.hpp"
#include "tw/core/time.hpp"

using namespace tw::change;
using namespace tw::change::test;

namespace {
constexpr std::int64_t kDay = 86'400'000;
const std::int64_t kT0 = tw::parse_iso8601_ms("2024-03-01T10:00:00Z").value();

// Marks the redaction so the test can see it ran on what leaves the process.
Redactor marking_redactor(int* calls) {
  return [calls](cv::Mat& bgr) {
    ++*calls;
    bgr.setTo(cv::Scalar(0, 0, 255));
  };
}
}  // namespace

TEST(ChangeWatcher, NewBuildingsAlertAfterThreeDaysWithCrops) {
  const char* name = "test_7_0256_0512.png";
  cv::Mat before = load(levir() / "A" / name), after = load(levir() / "B" / name);
  WatchConfig cfg;
  cfg.site = "tower-17";
  cfg.camera = "cam-north";
  cfg.preset = "p2";
  cfg.zones = {parse_zone("0,0,256,0,256,256,0,256", "parcel-9").value()};
  int redactions = 0;
  auto w = ChangeWatcher::create(cfg, {}, marking_redactor(&redactions));
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto& watcher = *w.value();
  auto m0 = watcher.feed(before, kT0);
  ASSERT_TRUE(m0.ok());
  EXPECT_TRUE(m0->empty());
  ASSERT_NE(watcher.reference(), nullptr);
  EXPECT_EQ(watcher.reference()->ts_ms, kT0);
  // Day 1 and 2: candidate, no alert. A second capture on day 2 does not count as another day.
  for (std::int64_t t : {kT0 + kDay, kT0 + 2 * kDay, kT0 + 2 * kDay + 3'600'000}) {
    auto m = watcher.feed(after, t);
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(m->empty()) << "alert too early at " << tw::format_iso8601_ms(t);
  }
  auto m3 = watcher.feed(after, kT0 + 3 * kDay);
  ASSERT_TRUE(m3.ok());
  ASSERT_EQ(m3->size(), 1u);
  const tw::Message& a = m3->front();
  EXPECT_EQ(a.kind, "change");
  EXPECT_EQ(a.site, "tower-17");
  EXPECT_EQ(a.ts_ms, kT0 + 3 * kDay);
  EXPECT_TRUE(tw::validate_payload("change", a.payload).ok());
  EXPECT_EQ(a.payload["camera"], "cam-north");
  EXPECT_EQ(a.payload["preset"], "p2");
  EXPECT_EQ(a.payload["zone"], "parcel-9");
  EXPECT_EQ(a.payload["first_seen"], "2024-03-02");
  EXPECT_EQ(a.payload["first_seen_ts"], kT0 + kDay);
  EXPECT_EQ(a.payload["days_seen"], 3);
  EXPECT_EQ(a.payload["reference_ts"], kT0);
  // The head outlines the new houses (the label marks 25 % of this pair; buildings seen on all three days count).
  EXPECT_GT(a.payload["area_px"].get<double>(), 0.1 * 256 * 256);
  EXPECT_TRUE(a.payload["redacted"].get<bool>());
  EXPECT_EQ(redactions, 2);  // reference and current frames, before cropping
  // Both crops are attached (base64 JPEG of the redacted frames).
  for (const char* k : {"before_jpeg", "after_jpeg"}) {
    ASSERT_TRUE(a.payload.contains(k));
    EXPECT_GT(a.payload[k].get<std::string>().size(), 100u);
  }
  // The message round-trips through the wire format and stays under the size limit.
  auto parsed = tw::parse_message(a.to_json(), a.topic());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_LT(a.to_json().size(), tw::kMaxMessageBytes);
  // No second alert for the same change.
  auto m4 = watcher.feed(after, kT0 + 4 * kDay);
  ASSERT_TRUE(m4.ok());
  EXPECT_TRUE(m4->empty());
}

TEST(ChangeWatcher, TransientChangeThatGoesAwayNeverAlerts) {
  const char* name = "val_27_0000_0256.png";
  cv::Mat before = load(levir() / "A" / name), after = load(levir() / "B" / name);
  WatchConfig cfg;
  cfg.max_missed = 0;
  auto w = ChangeWatcher::create(cfg);
  ASSERT_TRUE(w.ok());
  auto& watcher = *w.value();
  std::vector<cv::Mat> seq{before, after, after, before, after, before, after, after};
  size_t alerts = 0;
  for (size_t i = 0; i < seq.size(); ++i) {
    auto m = watcher.feed(seq[i], kT0 + static_cast<std::int64_t>(i) * kDay);
    ASSERT_TRUE(m.ok());
    alerts += m->size();
  }
  EXPECT_EQ(alerts, 0u);
}

TEST(ChangeWatcher, WebcamSequenceRaisesNoAlertAndReportsVisibility) {
  // stlouis: day frames, then a dusk frame (not comparable), then day again.
  WatchConfig cfg;
  cfg.camera = "stlouis";
  auto w = ChangeWatcher::create(cfg);
  ASSERT_TRUE(w.ok());
  auto& watcher = *w.value();
  std::vector<std::string> states;
  size_t alerts = 0;
  int i = 0;
  for (const char* f : {"20120502_122839.png", "20120503_235840.png", "20120525_212859.png", "20120621_132846.png",
                        "20120725_152937.png", "20120802_142845.png"}) {
    auto m = watcher.feed(load(webcam("stlouis") / f), kT0 + (i++) * kDay);
    ASSERT_TRUE(m.ok()) << f;
    for (const auto& msg : *m) {
      if (msg.kind == "change") ++alerts;
      if (msg.kind == "camera_status") {
        EXPECT_TRUE(tw::validate_payload("camera_status", msg.payload).ok());
        states.push_back(msg.payload["state"]);
      }
    }
  }
  EXPECT_EQ(alerts, 0u);
  EXPECT_EQ(states, (std::vector<std::string>{"low_visibility", "ok"}));
}

TEST(ChangeWatcher, ReferenceIsRefreshedAndKeptInHistory) {
  WatchConfig cfg;
  cfg.reference_refresh_days = 2;
  cfg.history_size = 2;
  cfg.reference_time_min = 10 * 60;  // 10:00 UTC
  cfg.reference_tolerance_min = 30;
  auto w = ChangeWatcher::create(cfg);
  ASSERT_TRUE(w.ok());
  auto& watcher = *w.value();
  cv::Mat img = load(webcam("chamonix") / "20130502_071500.png");
  ASSERT_TRUE(watcher.feed(img, kT0).ok());
  ASSERT_TRUE(watcher.feed(img, kT0 + kDay).ok());                 // too young
  EXPECT_EQ(watcher.history().size(), 1u);
  ASSERT_TRUE(watcher.feed(img, kT0 + 2 * kDay + 5 * 3'600'000).ok());  // 15:00: outside the reference window
  EXPECT_EQ(watcher.history().size(), 1u);
  ASSERT_TRUE(watcher.feed(img, kT0 + 2 * kDay).ok());
  EXPECT_EQ(watcher.history().size(), 2u);
  EXPECT_EQ(watcher.reference()->ts_ms, kT0 + 2 * kDay);
  ASSERT_TRUE(watcher.feed(img, kT0 + 4 * kDay).ok());
  ASSERT_EQ(watcher.history().size(), 2u);  // bounded
  EXPECT_EQ(watcher.history().front().ts_ms, kT0 + 2 * kDay);
}

TEST(ChangeWatcher, RejectsBadInputAndConfig) {
  WatchConfig cfg;
  cfg.persist_days = 0;
  auto bad = ChangeWatcher::create(cfg);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "bad_config");
  EXPECT_NE(bad.error().message.find("persist_days"), std::string::npos);
  cfg = WatchConfig{};
  cfg.compare.threshold = 3;
  auto bad2 = ChangeWatcher::create(cfg);
  ASSERT_FALSE(bad2.ok());
  EXPECT_EQ(bad2.error().code, "bad_option");

  auto w = ChangeWatcher::create(WatchConfig{});
  ASSERT_TRUE(w.ok());
  auto e = w.value()->feed(cv::Mat(), kT0);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, "empty_image");
  ASSERT_TRUE(w.value()->feed(load(levir() / "A" / "test_2_0000_0000.png"), kT0).ok());
  auto s = w.value()->feed(load(webcam("chamonix") / "20130502_071500.png"), kT0 + kDay);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "size_mismatch");

  // A zone outside the image is reported when the first capture fixes the size.
  WatchConfig zc;
  zc.zones = {parse_zone("0,0,900,0,900,10", "far").value()};
  auto wz = ChangeWatcher::create(zc);
  ASSERT_TRUE(wz.ok());
  auto r = wz.value()->feed(load(levir() / "A" / "test_2_0000_0000.png"), kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_zone");
  EXPECT_EQ(tw::change::utc_day(kT0), 19783);
  EXPECT_EQ(tw::change::utc_day(-1), -1);
}

TEST(ChangeWatcher, ConfigFromSiteCamera) {
  tw::SiteConfig site;
  site.file = "site.toml";
  site.id = "tower-17";
  tw::CameraConfig cam;
  cam.id = "cam-north";
  cam.analytics = {"count", "change"};
  cam.zones = {{"parcel-9", {10, 10, 200, 10, 200, 150, 10, 150}}};
  auto w = watch_config_for(site, cam);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->site, "tower-17");
  EXPECT_EQ(w->camera, "cam-north");
  ASSERT_EQ(w->zones.size(), 1u);
  EXPECT_EQ(w->zones[0].name, "parcel-9");
  ASSERT_EQ(w->zones[0].points.size(), 4u);
  EXPECT_DOUBLE_EQ(w->zones[0].points[2].x, 200.0);
  EXPECT_DOUBLE_EQ(w->zones[0].points[2].y, 150.0);
  EXPECT_EQ(w->persist_days, 3);  // the defaults of [cameras.change]
  EXPECT_EQ(w->reference_time_min, -1);

  cam.change.persist_days = 5;
  cam.change.refresh_days = 10;
  cam.change.reference_minute = 690;
  auto t = watch_config_for(site, cam);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->persist_days, 5);
  EXPECT_EQ(t->reference_refresh_days, 10);
  EXPECT_EQ(t->reference_time_min, 690);
  cam.change.head_model = "no/such/head.onnx";
  auto h = watch_config_for(site, cam);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("change.head_model no/such/head.onnx is not a file"), std::string::npos)
      << h.error().message;
  cam.change = {};

  cam.zones = {{"bad", {1, 2, 3, 4, 5}}};
  auto b = watch_config_for(site, cam);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, "bad_config");
  EXPECT_NE(b.error().message.find("site.toml: camera cam-north zone 'bad'"), std::string::npos) << b.error().message;
  cam.analytics = {"count"};
  auto n = watch_config_for(site, cam);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("change"), std::string::npos);
}

TEST(ChangeWatcher, StateSurvivesARestart) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "tw_change_state_test";
  fs::remove_all(dir);
  const char* name = "test_7_0256_0512.png";
  cv::Mat before = load(levir() / "A" / name), after = load(levir() / "B" / name);
  WatchConfig cfg;
  cfg.history_size = 3;
  {
    auto w = ChangeWatcher::create(cfg);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w.value()->feed(before, kT0).ok());
    ASSERT_TRUE(w.value()->feed(after, kT0 + kDay).ok());
    ASSERT_TRUE(w.value()->feed(after, kT0 + 2 * kDay).ok());
    ASSERT_FALSE(w.value()->candidates().empty());
    auto st = w.value()->save_state(dir.string());
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  auto w2 = ChangeWatcher::create(cfg);
  ASSERT_TRUE(w2.ok());
  auto st = w2.value()->load_state(dir.string());
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_NE(w2.value()->reference(), nullptr);
  EXPECT_EQ(w2.value()->reference()->ts_ms, kT0);
  EXPECT_EQ(cv::norm(w2.value()->reference()->image, before, cv::NORM_INF), 0.0);  // lossless
  // The restarted watcher continues the count: the third day alerts.
  auto m = w2.value()->feed(after, kT0 + 3 * kDay);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ(m->front().payload["first_seen"], "2024-03-02");

  // Damaged state files give clear errors.
  { std::ofstream(dir / "state.json") << "{\"version\":1,\"references\":[{\"ts_ms\":\"x\"}]}"; }
  auto bad = w2.value()->load_state(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "bad_state");
  EXPECT_NE(bad.error().message.find("state.json"), std::string::npos);
  { std::ofstream(dir / "state.json") << "not json"; }
  EXPECT_EQ(w2.value()->load_state(dir.string()).error().code, "bad_state");
  fs::remove_all(dir);
  EXPECT_EQ(w2.value()->load_state(dir.string()).error().code, "not_found");
}
