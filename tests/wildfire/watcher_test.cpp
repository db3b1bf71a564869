// Edge (SmokeWatcher on composited smoke with a known onset) and hub (FireLocator on known geometry).
#include <filesystem>

#include <GeographicLib/Geodesic.hpp>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tw/core/paths.hpp"
#include "tw/wildfire/composite.hpp"
#include "tw/wildfire/watcher.hpp"

namespace fs = std::filesystem;
using namespace tw::wildfire;

namespace {

std::vector<unsigned char> base64_decode(const std::string& s) {
  std::vector<unsigned char> out;
  int val = 0, bits = -8;
  for (char c : s) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+') d = 62;
    else if (c == '/') d = 63;
    else break;
    val = (val << 6) + d;
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<unsigned char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

tw::Message smoke_msg(const std::string& site, tw::LatLon pos, double bearing, double sigma, std::int64_t ts) {
  return tw::make_message(site, "smoke", ts,
                          {{"camera", "c1"}, {"score", 0.9}, {"bearing_deg", bearing}, {"bearing_sigma_deg", sigma},
                           {"camera_lat", pos.lat}, {"camera_lon", pos.lon}});
}

double true_bearing(tw::LatLon from, tw::LatLon to) { return tw::azimuth_deg(from, to); }

}  // namespace

TEST(Snapshot, Base64AndSmallJpeg) {
  EXPECT_EQ(base64_encode({'M', 'a', 'n'}), "TWFu");
  EXPECT_EQ(base64_encode({'M', 'a'}), "TWE=");
  EXPECT_EQ(base64_encode({'M'}), "TQ==");
  EXPECT_EQ(base64_encode({}), "");
  cv::Mat noise(720, 1280, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));  // worst case for JPEG
  auto jpg = encode_small_jpeg(noise, 640, 90, 30 * 1024);
  EXPECT_LE(jpg.size(), 30u * 1024);
  cv::Mat dec = cv::imdecode(jpg, cv::IMREAD_COLOR);
  ASSERT_FALSE(dec.empty());
  EXPECT_LE(dec.cols, 640);
  EXPECT_EQ(dec.cols * 9, dec.rows * 16);  // aspect kept
}

TEST(SmokeWatcher, CompositedPlumeAlertsAfterOnsetOnly) {
  const fs::path bg_path = tw::data_dir() / "wildfire/hpwren_smoke/no_smoke_probable/ck0k9fufs4li70794mw8kd24d.jpeg";
  cv::Mat bg = cv::imread(bg_path.string());
  ASSERT_FALSE(bg.empty());
  auto sprite = load_sprite((tw::data_dir() / "wildfire/pyronear_synthetic/test_smoke.mp4").string());
  ASSERT_TRUE(sprite) << sprite.error().message;
  EXPECT_EQ(sprite->size(), 180u);
  WatcherConfig wc;
  CameraConfig cam{"tower-7", "north", {}};
  cam.pose.position = {32.85, -116.42};
  cam.pose.azimuth_deg = 200;
  cam.pose.hfov_deg = 60;
  auto w = SmokeWatcher::create(wc, cam);
  ASSERT_TRUE(w) << w.error().message;
  const int onset = 6, frames = 20;
  SpriteSpec spec{0.5f, 0.6f, 0.35f, 0.9f};
  int alert_frame = -1;
  tw::Message alert;
  cv::Rect truth;
  for (int i = 0; i < frames && alert_frame < 0; ++i) {
    cv::Mat f = bg.clone();
    if (i >= onset) truth = blend_sprite(f, (*sprite)[static_cast<size_t>(1 + (i - onset) * 5)], sprite->front().size(), spec);
    auto msgs = (*w)->feed(f, 1'700'000'000'000 + i * 30'000LL);
    if (i < onset) {
      EXPECT_TRUE(msgs.empty()) << "alert before onset at frame " << i;
    }
    if (!msgs.empty()) {
      alert_frame = i;
      alert = msgs.front();
    }
  }
  ASSERT_GE(alert_frame, onset + 3) << "4 of 8 votes need at least 4 frames with smoke";
  const auto& p = alert.payload;
  EXPECT_EQ(alert.kind, "smoke");
  EXPECT_EQ(alert.site, "tower-7");
  EXPECT_TRUE(tw::validate_payload("smoke", p));
  EXPECT_EQ(p["camera"], "north");
  EXPECT_GE(p["score"].get<double>(), kShippedThreshold);
  EXPECT_EQ(p["votes"].get<int>(), 4);
  // Box overlaps the composited plume; the bearing is that of the box's bottom centre.
  const auto& b = p["box"];
  const double x0 = b["x0"], x1 = b["x1"], y0 = b["y0"], y1 = b["y1"];
  EXPECT_TRUE(x0 < truth.x + truth.width && truth.x < x1 && y0 < truth.y + truth.height && truth.y < y1)
      << "box " << b.dump() << " plume " << truth;
  const Bearing expect = pixel_bearing(cam.pose, bg.cols, bg.rows, (x0 + x1) / 2, y1, (x1 - x0) / 2);
  // The watcher computes the bearing from the float box; the payload box is re-read here as double.
  EXPECT_NEAR(p["bearing_deg"].get<double>(), expect.azimuth_deg, 1e-5);
  EXPECT_NEAR(p["bearing_sigma_deg"].get<double>(), expect.sigma_deg, 1e-5);
  EXPECT_NEAR(p["bearing_deg"].get<double>(), 200.0, 8.0);  // plume base near the centre of a camera facing 200
  // Snapshot: redacted, small, a decodable JPEG.
  ASSERT_TRUE(p.contains("snapshot")) << p.value("snapshot_error", "");
  const auto& s = p["snapshot"];
  EXPECT_EQ(s["mime"], "image/jpeg");
  EXPECT_TRUE(s["redacted"].get<bool>());
  const auto jpg = base64_decode(s["data_b64"].get<std::string>());
  EXPECT_EQ(jpg.size(), s["bytes"].get<size_t>());
  EXPECT_LE(jpg.size(), wc.snapshot.max_bytes);
  cv::Mat dec = cv::imdecode(jpg, cv::IMREAD_COLOR);
  ASSERT_FALSE(dec.empty());
  EXPECT_EQ(dec.cols, 640);
  EXPECT_LT(alert.to_json().size(), 80u * 1024);
  // Operator feedback as the hub sends it: a dismissal makes the alert's spot a nuisance region (the alert
  // counts once, the dismissal twice: nuisance_after = 3), a confirmation there clears it.
  const float cx = static_cast<float>((x0 + x1) / 2 / bg.cols), cy = static_cast<float>((y0 + y1) / 2 / bg.rows);
  EXPECT_FALSE((*w)->is_nuisance("", cx, cy, alert.ts_ms));
  auto verdict = [&](nlohmann::json payload) {
    return (*w)->apply_feedback(
        tw::make_message("tower-7", "smoke_feedback", alert.ts_ms + 60'000, std::move(payload)));
  };
  auto wrong_camera = verdict({{"alert", alert.id}, {"camera", "south"}, {"verdict", "dismissed"}, {"label", "fog"}});
  ASSERT_FALSE(wrong_camera);
  EXPECT_EQ(wrong_camera.error().code, "bad_input");
  auto no_label = verdict({{"alert", alert.id}, {"camera", "north"}, {"verdict", "dismissed"}});
  ASSERT_FALSE(no_label);
  EXPECT_NE(no_label.error().message.find("dismiss reason '' is not cloud"), std::string::npos) << no_label.error().message;
  auto bad_verdict = verdict({{"alert", alert.id}, {"camera", "north"}, {"verdict", "maybe"}});
  ASSERT_FALSE(bad_verdict);
  EXPECT_NE(bad_verdict.error().message.find("verdict 'maybe'"), std::string::npos);
  EXPECT_FALSE((*w)->is_nuisance("", cx, cy, alert.ts_ms + 60'000));  // nothing applied so far
  ASSERT_TRUE(verdict({{"alert", alert.id}, {"camera", "north"}, {"verdict", "dismissed"}, {"label", "cloud"}}));
  EXPECT_TRUE((*w)->is_nuisance("", cx, cy, alert.ts_ms + 60'000));
  EXPECT_FALSE((*w)->is_nuisance("", 1 - cx, 0.05f, alert.ts_ms + 60'000));  // elsewhere in the view
  ASSERT_TRUE(verdict({{"alert", alert.id}, {"camera", "north"}, {"verdict", "confirmed"}}));
  EXPECT_FALSE((*w)->is_nuisance("", cx, cy, alert.ts_ms + 60'000));
  auto bad = verdict({{"alert", "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, {"camera", "north"}, {"verdict", "confirmed"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "unknown_alert");
  EXPECT_TRUE((*w)->dismiss(alert.id, DismissReason::cloud, alert.ts_ms));
  EXPECT_TRUE(parse_dismiss_reason("industrial_smoke"));
  EXPECT_FALSE(parse_dismiss_reason("aliens"));
}

// A plume that never changes (a still image, a frozen stream) is held back; the same frames alert when the
// change check is off.
TEST(SmokeWatcher, UnchangingPlumeIsHeldBack) {
  cv::Mat f = cv::imread(
      (tw::data_dir() / "wildfire/hpwren_smoke/no_smoke_probable/ck0k9fufs4li70794mw8kd24d.jpeg").string());
  ASSERT_FALSE(f.empty());
  auto sprite = load_sprite((tw::data_dir() / "wildfire/pyronear_synthetic/test_smoke.mp4").string());
  ASSERT_TRUE(sprite) << sprite.error().message;
  blend_sprite(f, (*sprite)[100], sprite->front().size(), SpriteSpec{0.5f, 0.6f, 0.35f, 0.9f});
  CameraConfig cam{"tower-7", "north", {}};
  cam.pose.azimuth_deg = 200;
  cam.pose.hfov_deg = 60;
  auto alerts_with = [&](float min_change, std::int64_t& held_back) {
    WatcherConfig wc;
    wc.snapshot.enabled = false;
    wc.temporal.min_change = min_change;
    auto w = SmokeWatcher::create(wc, cam);
    EXPECT_TRUE(w) << w.error().message;
    size_t n = 0;
    for (int i = 0; i < 8; ++i) n += (*w)->feed(f, 1'700'000'000'000 + i * 30'000LL).size();
    held_back = (*w)->unchanged_suppressed();
    return n;
  };
  std::int64_t held = 0;
  EXPECT_EQ(alerts_with(0.f, held), 1u);
  EXPECT_EQ(held, 0);
  EXPECT_EQ(alerts_with(0.5f, held), 0u);
  EXPECT_EQ(held, 1);
  WatcherConfig bad;
  bad.temporal.min_change = -1;
  auto w = SmokeWatcher::create(bad, cam);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("smoke.min_change"), std::string::npos);
}

// The demo's scene (src/app) must raise the smoke alarm it is there to show, at the plume, after it appears.
TEST(SmokeWatcher, DemoPlumeCycleAlertsWhileThePlumeRises) {
  auto scene = load_plume_cycle(tw::data_dir().string());
  ASSERT_TRUE(scene) << scene.error().message;
  EXPECT_EQ(scene->background.size(), cv::Size(640, 480));  // the HPWREN view, not the fallback clip
  CameraConfig cam{"demo", "ridge", {}};
  cam.pose.position = {19.4, -99.2};
  cam.pose.azimuth_deg = 300;
  cam.pose.hfov_deg = 60;
  auto w = SmokeWatcher::create(WatcherConfig{}, cam);
  ASSERT_TRUE(w) << w.error().message;
  constexpr int kCycle = PlumeCycle::kClearFrames + PlumeCycle::kSmokeFrames;
  int first_alert = -1;
  tw::Message alert;
  for (int i = 0; i < kCycle; ++i) {
    EXPECT_EQ(scene->smoke(i), i >= PlumeCycle::kClearFrames) << i;
    const cv::Mat f = scene->frame(i);
    if (!scene->smoke(i)) {
      EXPECT_EQ(cv::norm(f, scene->background, cv::NORM_INF), 0.0) << i;
    }
    auto msgs = (*w)->feed(f, 1'700'000'000'000 + i * 10'000LL);
    if (!msgs.empty() && first_alert < 0) {
      first_alert = i;
      alert = msgs.front();
    }
  }
  EXPECT_FALSE(scene->smoke(kCycle));  // the cycle repeats
  EXPECT_TRUE(scene->smoke(kCycle + PlumeCycle::kClearFrames));
  ASSERT_GE(first_alert, PlumeCycle::kClearFrames + 3) << "no alert during the demo's plume";
  EXPECT_NEAR(alert.payload["bearing_deg"].get<double>(), 300.0, 5.0);  // composited at the centre column
}

TEST(SmokeWatcher, RejectsBadCameraConfig) {
  WatcherConfig wc;
  CameraConfig cam{"s", "c", {}};
  cam.pose.hfov_deg = 200;
  auto w = SmokeWatcher::create(wc, cam);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("hfov_deg"), std::string::npos);
  cam.pose.hfov_deg = 60;
  wc.temporal.votes = 20;
  w = SmokeWatcher::create(wc, cam);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("smoke.votes"), std::string::npos);
}

TEST(FireLocator, TwoThenThreeTowersConvergeOnTheFire) {
  const tw::LatLon fire{33.05, -116.60};
  const tw::LatLon a{32.85, -116.42}, b{33.30, -116.45}, c{33.10, -116.90};
  FireLocator loc;
  const std::int64_t t0 = 1'700'000'000'000;
  // One tower alone gives no location.
  EXPECT_FALSE(loc.on_smoke(smoke_msg("A", a, true_bearing(a, fire) + 0.3, 0.5, t0), a));
  // A second tower: a fix near the fire, inside its ellipse.
  auto f1 = loc.on_smoke(smoke_msg("B", b, true_bearing(b, fire) - 0.4, 0.5, t0 + 60'000), b);
  ASSERT_TRUE(f1);
  EXPECT_EQ(f1->kind, "fire");
  EXPECT_TRUE(tw::validate_payload("fire", f1->payload));
  EXPECT_EQ(f1->payload["n_sites"], 2);
  EXPECT_EQ(f1->payload["update"], 1);
  ASSERT_EQ(loc.fires().size(), 1u);
  EXPECT_LE(loc.fires()[0].fix.mahalanobis2(fire), 5.991);
  const double err1 = tw::distance_km({f1->payload["lat"], f1->payload["lon"]}, fire);
  EXPECT_LT(err1, 1.0);
  const double area1 = f1->payload["ellipse"]["semi_major_m"].get<double>() * f1->payload["ellipse"]["semi_minor_m"].get<double>();
  // A third tower updates the same fire, with a smaller ellipse that still holds the truth.
  auto f2 = loc.on_smoke(smoke_msg("C", c, true_bearing(c, fire) + 0.2, 0.5, t0 + 120'000), c);
  ASSERT_TRUE(f2);
  EXPECT_EQ(f2->payload["fire_id"], f1->payload["fire_id"]);
  EXPECT_EQ(f2->payload["update"], 2);
  EXPECT_EQ(f2->payload["n_sites"], 3);
  EXPECT_EQ(f2->payload["bearings"].size(), 3u);
  EXPECT_LE(loc.fires()[0].fix.mahalanobis2(fire), 5.991);
  const double area2 = f2->payload["ellipse"]["semi_major_m"].get<double>() * f2->payload["ellipse"]["semi_minor_m"].get<double>();
  EXPECT_LT(area2, area1);
}

TEST(FireLocator, IgnoresStaleInconsistentAndMalformedBearings) {
  const tw::LatLon fire{33.05, -116.60};
  const tw::LatLon a{32.85, -116.42}, b{33.30, -116.45}, c{33.10, -116.90};
  LocatorConfig cfg;
  cfg.window_ms = 10 * 60 * 1000;
  FireLocator loc(cfg);
  const std::int64_t t0 = 1'700'000'000'000;
  EXPECT_FALSE(loc.on_smoke(smoke_msg("A", a, true_bearing(a, fire), 0.5, t0), a));
  // B reports 20 minutes later: A's bearing is stale, no fix.
  EXPECT_FALSE(loc.on_smoke(smoke_msg("B", b, true_bearing(b, fire), 0.5, t0 + 20 * 60'000), b));
  // A again: fix with B.
  auto f = loc.on_smoke(smoke_msg("A", a, true_bearing(a, fire), 0.5, t0 + 21 * 60'000), a);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload["n_sites"], 2);
  EXPECT_LT(tw::distance_km({f->payload["lat"], f->payload["lon"]}, fire), 0.1);
  // C looks at something else 30 degrees away: it crosses A or B, but A and B agree with each other and
  // C joins neither, so C's report yields no fire and the fire keeps A and B.
  EXPECT_FALSE(loc.on_smoke(smoke_msg("C", c, true_bearing(c, fire) + 30, 0.5, t0 + 22 * 60'000), c));
  ASSERT_EQ(loc.fires().size(), 1u);
  EXPECT_LT(tw::distance_km(loc.fires()[0].fix.position, fire), 0.1);
  // Malformed: no bearing.
  auto bad = tw::make_message("D", "smoke", t0, {{"camera", "x"}, {"score", 0.9}});
  EXPECT_FALSE(loc.on_smoke(bad, a));
  EXPECT_EQ(loc.rejected(), 1);
}
