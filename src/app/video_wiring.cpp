// Traffic analytics: one analyser per counting camera; only counts and camera status leave the site.
#include <filesystem>

#include <spdlog/spdlog.h>

#include "domains.hpp"
#include "tw/video/analyzer.hpp"
#include "tw/video/source.hpp"

namespace tw::app {
namespace {

class CameraCountSource : public edge::Source {
 public:
  CameraCountSource(std::string site, CameraConfig cam, video::SourceConfig src, Metrics& metrics)
      : site_(std::move(site)), cam_(std::move(cam)), src_(std::move(src)), metrics_(metrics) {}
  std::string name() const override { return "camera-" + cam_.id; }

  void run(std::stop_token stop, bus::Publisher& out) override {
    auto cfg = video::analyzer_config_for(site_, cam_);
    if (!cfg) {
      spdlog::error("edge {}: camera {}: {}", site_, cam_.id, cfg.error().message);
      return;
    }
    auto analyzer = video::CameraAnalyzer::create(*cfg);
    if (!analyzer) {
      spdlog::error("edge {}: camera {}: {}", site_, cam_.id, analyzer.error().message);
      return;
    }
    video::CameraWorker worker(src_, &metrics_, [&out](Message m) { (void)out.publish(m); });
    worker.start();
    video::Frame frame;
    std::int64_t last_ts = 0;
    while (!stop.stop_requested() && !worker.finished()) {
      if (!worker.next(frame, 200)) continue;
      last_ts = frame.ts_ms;
      for (auto& m : (*analyzer)->feed(frame.bgr, frame.ts_ms)) (void)out.publish(m);
    }
    worker.stop();
    if (last_ts > 0)
      for (auto& m : (*analyzer)->flush(last_ts)) (void)out.publish(m);
  }

 private:
  std::string site_;
  CameraConfig cam_;
  video::SourceConfig src_;
  Metrics& metrics_;
};

bool counts(const CameraConfig& c) {
  return std::find(c.analytics.begin(), c.analytics.end(), "count") != c.analytics.end();
}

}  // namespace

void add_video_sources(edge::EdgeAgent& agent) {
  const auto& cfg = agent.config();
  for (const auto& cam : cfg.cameras) {
    if (!counts(cam)) continue;
    agent.add_source(std::make_unique<CameraCountSource>(cfg.id, cam, video::source_config_for(cfg.id, cam),
                                                         agent.metrics()));
  }
}

void add_video_demo_sources(edge::EdgeAgent& agent, const std::string& data_dir) {
  const auto clip = std::filesystem::path(data_dir) / "video" / "pets09_s2l1" / "pets09_s2l1_opencv_vtest_480x360.avi";
  if (!std::filesystem::exists(clip)) {
    spdlog::warn("demo: {} not found; traffic counting off", clip.string());
    return;
  }
  // A plaza camera replayed in a loop at its own frame rate; two of the recording's counting lines.
  CameraConfig cam;
  cam.id = "plaza";
  cam.url = clip.string();
  cam.analysis_fps = 7;
  cam.classes = {"person"};
  cam.lines = {{"north-south", {0, 144, 480, 144}}, {"east-west", {160, 0, 160, 360}}};
  cam.zones = {{"square", {100, 100, 380, 100, 380, 300, 100, 300}}};
  auto src = video::source_config_for(agent.config().id, cam);
  src.loop_file = true;
  src.realtime = true;
  agent.add_source(std::make_unique<CameraCountSource>(agent.config().id, cam, src, agent.metrics()));
}

}  // namespace tw::app
