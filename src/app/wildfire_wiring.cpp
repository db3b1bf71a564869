// Wildfire: smoke watchers on the site's smoke cameras; bearings from several towers triangulated at the hub.
#include <spdlog/spdlog.h>

#include "domains.hpp"
#include "tw/core/geo.hpp"
#include "tw/core/time.hpp"
#include "tw/video/source.hpp"
#include "tw/wildfire/composite.hpp"
#include "tw/wildfire/watcher.hpp"

namespace tw::app {
namespace {

// Smoke messages -> fire locations (a `fire` message per new or updated triangulation).
class FireProcessor : public hub::Processor {
 public:
  std::string name() const override { return "fire"; }
  void on_message(const Message& m, hub::HubContext& ctx) override {
    if (m.kind != "smoke") return;
    auto site = ctx.site(m.site);
    if (!site) return;
    if (auto fire = locator_.on_smoke(m, LatLon{site->lat, site->lon})) ctx.emit(std::move(*fire));
  }

 private:
  wildfire::FireLocator locator_;
};

// A camera with a smoke watcher. Operator verdicts on its alerts (smoke_feedback from the hub) arrive on the
// transport's thread; they wait here until the camera's thread applies them between two frames.
class SmokeSource : public edge::Source {
 public:
  explicit SmokeSource(std::string camera) : camera_(std::move(camera)) {}
  void on_downlink(const Message& m) override {
    auto cam = m.payload.find("camera");
    if (m.kind != "smoke_feedback" || cam == m.payload.end() || *cam != camera_) return;
    if (!inbox_.push(m)) spdlog::warn("smoke camera {}: too much feedback waiting; the oldest was dropped", camera_);
  }

 protected:
  void apply_feedback(wildfire::SmokeWatcher& watcher) {
    for (const auto& m : inbox_.take()) {
      if (auto st = watcher.apply_feedback(m); !st)
        spdlog::warn("smoke camera {}: feedback {}: {}", camera_, m.id, st.error().message);
      else
        spdlog::info("smoke camera {}: alert {} {}", camera_, m.payload.at("alert").get<std::string>(),
                     m.payload.at("verdict").get<std::string>());
    }
  }

 private:
  std::string camera_;
  edge::Inbox inbox_;
};

class SmokeCameraSource : public SmokeSource {
 public:
  SmokeCameraSource(const SiteConfig& site, CameraConfig cam, Metrics& metrics)
      : SmokeSource(cam.id), site_(site), cam_(std::move(cam)), metrics_(metrics) {}
  std::string name() const override { return "smoke-" + cam_.id; }

  void run(std::stop_token stop, bus::Publisher& out) override {
    wildfire::CameraConfig wc;
    wc.site = site_.id;
    wc.camera = cam_.id;
    wc.pose.position = LatLon{site_.lat, site_.lon};
    wc.pose.azimuth_deg = cam_.azimuth_deg;
    wc.pose.hfov_deg = cam_.hfov_deg;
    wc.pose.tilt_deg = cam_.tilt_deg;
    auto watcher = wildfire::SmokeWatcher::create(wildfire::WatcherConfig{}, wc);
    if (!watcher) {
      spdlog::error("edge {}: smoke camera {}: {}", site_.id, cam_.id, watcher.error().message);
      return;
    }
    video::SourceConfig src;
    src.camera = cam_.id;
    src.site = site_.id;
    src.url = cam_.url;
    src.analysis_fps = cam_.analysis_fps;
    video::CameraWorker worker(src, &metrics_, [&out](Message m) { (void)out.publish(m); });
    worker.start();
    video::Frame frame;
    while (!stop.stop_requested() && !worker.finished()) {
      apply_feedback(**watcher);
      if (!worker.next(frame, 200)) continue;
      for (auto& m : (*watcher)->feed(frame.bgr, frame.ts_ms)) (void)out.publish(m);
    }
    worker.stop();
  }

 private:
  SiteConfig site_;
  CameraConfig cam_;
  Metrics& metrics_;
};

// Demo: a smoke plume composited onto a recorded mountain view, seen by the tower camera that looks towards
// it. Each cycle shows the empty view, then the plume rising for a few minutes of demo time, then clears.
class DemoSmokeSource : public SmokeSource {
 public:
  DemoSmokeSource(wildfire::CameraConfig cam, wildfire::PlumeCycle scene, double speed)
      : SmokeSource(cam.camera), cam_(std::move(cam)), scene_(std::move(scene)), speed_(std::max(speed, 0.01)) {}
  std::string name() const override { return "smoke-demo-" + cam_.camera; }

  void run(std::stop_token stop, bus::Publisher& out) override {
    auto watcher = wildfire::SmokeWatcher::create(wildfire::WatcherConfig{}, cam_);
    if (!watcher) {
      spdlog::warn("demo: smoke camera {}: {}; wildfire off", cam_.camera, watcher.error().message);
      return;
    }
    // One frame every 10 s of demo time: a 4-minute cycle.
    const auto period = std::chrono::duration<double>(10.0 / speed_);
    for (int i = 0; !stop.stop_requested(); ++i) {
      apply_feedback(**watcher);
      for (auto& m : (*watcher)->feed(scene_.frame(i), tw::now_ms())) (void)out.publish(m);
      if (!tw::sleep_for(stop, period)) return;
    }
  }

 private:
  wildfire::CameraConfig cam_;
  wildfire::PlumeCycle scene_;
  double speed_;
};

}  // namespace

void add_wildfire_demo_sources(edge::EdgeAgent& agent, const std::string& data_dir, double speed) {
  // A fire in the hills north-west of Mexico City, between two demo towers whose cameras look at it.
  static const LatLon kFire{19.55, -99.40};
  auto scene = wildfire::load_plume_cycle(data_dir);
  if (!scene) {
    spdlog::warn("demo: {}; wildfire off", scene.error().message);
    return;
  }
  const auto& site = agent.config();
  wildfire::CameraConfig cam;
  cam.site = site.id;
  cam.camera = "ridge";
  cam.pose.position = LatLon{site.lat, site.lon};
  cam.pose.azimuth_deg =
      azimuth_deg(cam.pose.position, kFire);  // the plume is composited at the centre column
  cam.pose.hfov_deg = 60;
  agent.add_source(std::make_unique<DemoSmokeSource>(std::move(cam), std::move(*scene), speed));
}

void add_wildfire_processors(hub::Hub& hub) { hub.add_processor(std::make_unique<FireProcessor>()); }

void add_wildfire_sources(edge::EdgeAgent& agent) {
  for (const auto& cam : agent.config().cameras) {
    if (std::find(cam.analytics.begin(), cam.analytics.end(), "smoke") == cam.analytics.end()) continue;
    agent.add_source(std::make_unique<SmokeCameraSource>(agent.config(), cam, agent.metrics()));
  }
}

}  // namespace tw::app
