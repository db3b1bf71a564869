// Wildfire: smoke watchers on the site's smoke cameras; bearings from several towers triangulated at the hub.
#include <spdlog/spdlog.h>

#include "domains.hpp"
#include "tw/video/source.hpp"
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

class SmokeCameraSource : public edge::Source {
 public:
  SmokeCameraSource(const SiteConfig& site, CameraConfig cam, Metrics& metrics)
      : site_(site), cam_(std::move(cam)), metrics_(metrics) {}
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

}  // namespace

void add_wildfire_processors(hub::Hub& hub) { hub.add_processor(std::make_unique<FireProcessor>()); }

void add_wildfire_sources(edge::EdgeAgent& agent) {
  for (const auto& cam : agent.config().cameras) {
    if (std::find(cam.analytics.begin(), cam.analytics.end(), "smoke") == cam.analytics.end()) continue;
    agent.add_source(std::make_unique<SmokeCameraSource>(agent.config(), cam, agent.metrics()));
  }
}

}  // namespace tw::app
