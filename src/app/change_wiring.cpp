// Land-use change: one watcher per camera with "change" analytics, fed one capture of the view per
// `capture_every_s`. Its state (reference history, candidates) is kept next to the outbox so that a restart
// neither forgets a building in progress nor alerts twice.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "domains.hpp"
#include "tw/change/captures.hpp"
#include "tw/change/transients.hpp"
#include "tw/change/watcher.hpp"
#include "tw/core/time.hpp"
#include "tw/video/source.hpp"

namespace fs = std::filesystem;

namespace tw::app {
namespace {

// One capture: the next file of a folder replay (capture time from its name), or the first frame the
// camera's stream or file delivers now.
struct Capture {
  cv::Mat bgr;
  std::int64_t ts_ms = 0;
  std::string from;
};

class ChangeCameraSource : public edge::Source {
 public:
  ChangeCameraSource(const SiteConfig& site, CameraConfig cam) : site_(site), cam_(std::move(cam)) {}
  std::string name() const override { return "change-" + cam_.id; }

  void run(std::stop_token stop, bus::Publisher& out) override {
    auto cfg = change::watch_config_for(site_, cam_);
    if (!cfg) return fail(cfg.error().message);
    change::TransientMasker masker;
    if (auto m = change::make_detector_masker()) {
      masker = std::move(*m);
    } else {
      spdlog::warn("edge {}: change camera {}: no transient masking ({})", site_.id, cam_.id,
                   m.error().message);
    }
    change::Redactor redactor;
    if (auto r = change::make_video_redactor()) {
      redactor = std::move(*r);
    } else {
      spdlog::warn("edge {}: change camera {}: alerts carry no crops ({})", site_.id, cam_.id,
                   r.error().message);
    }
    auto watcher = change::ChangeWatcher::create(*cfg, masker, redactor);
    if (!watcher) return fail(watcher.error().message);
    auto& w = **watcher;
    const fs::path state = state_dir();
    std::error_code ec;
    if (fs::exists(state / "state.json", ec)) {
      if (auto st = w.load_state(state.string()); !st)
        spdlog::error("edge {}: change camera {}: state not restored, starting afresh: {}", site_.id, cam_.id,
                      st.error().message);
    }
    const bool replay = fs::is_directory(cam_.url, ec);
    const auto files = replay ? change::capture_files(cam_.url) : std::vector<fs::path>{};
    if (replay && files.empty()) return fail("url " + cam_.url + ": a folder without images");
    // A replay resumes after the last capture the restored state has seen.
    size_t next = 0;
    if (replay && w.reference()) {
      while (next < files.size() && change::capture_time(files[next], next) <= w.last_capture_ms()) ++next;
    }
    const auto period = std::chrono::duration<double>(cam_.capture_every_s);
    // Alerts go to the (durable) outbox before the state is saved: a crash in between may repeat an alert,
    // which the hub folds into the same alarm, but never loses one.
    while (!replay || next < files.size()) {
      auto cap = replay ? read_file(files[next], next) : grab();
      ++next;
      if (cap) {
        auto msgs = w.feed(cap->bgr, cap->ts_ms);
        if (!msgs) {
          spdlog::error("edge {}: change camera {}: {}: {}", site_.id, cam_.id, cap->from,
                        msgs.error().message);
        } else {
          for (const auto& m : *msgs) (void)out.publish(m);
          if (auto st = w.save_state(state.string()); !st)
            spdlog::error("edge {}: change camera {}: {}", site_.id, cam_.id, st.error().message);
        }
      } else {
        spdlog::warn("edge {}: change camera {}: no capture: {}", site_.id, cam_.id, cap.error().message);
      }
      if (replay && next >= files.size()) return;
      if (!tw::sleep_for(stop, period)) return;
    }
  }

 private:
  void fail(const std::string& why) const {
    spdlog::error("edge {}: change camera {}: {}", site_.id, cam_.id, why);
  }

  fs::path state_dir() const { return fs::path(site_.outbox_path).parent_path() / "change" / cam_.id; }

  static Result<Capture> read_file(const fs::path& file, size_t index) {
    auto img = change::load_image(file.string());
    if (!img) return img.error();
    return Capture{std::move(*img), change::capture_time(file, index), file.string()};
  }

  Result<Capture> grab() const {
    auto reader = video::open_video(cam_.url);
    if (!reader) return reader.error();
    Capture c;
    if (!(*reader)->read(c.bgr) || c.bgr.empty())
      return make_error("no_frame", cam_.url + ": delivered no frame");
    c.ts_ms = tw::now_ms();
    c.from = cam_.url;
    return c;
  }

  SiteConfig site_;
  CameraConfig cam_;
};

}  // namespace

void add_change_demo_sources(edge::EdgeAgent& agent, const std::string& data_dir, double speed) {
  // A farmland parcel watched by a tower camera: the recorded before/after tiles of a LEVIR-CD pair (new
  // houses on a field) replayed as four daily captures ending now, one every 20 s of demo time.
  const fs::path pair = fs::path(data_dir) / "change" / "levir_cd_samples";
  const std::string tile = "test_2_0000_0000.png";
  std::error_code ec;
  if (!fs::exists(pair / "A" / tile, ec) || !fs::exists(pair / "B" / tile, ec)) {
    spdlog::warn("demo: {} not found; land-use change off", (pair / "A" / tile).string());
    return;
  }
  const fs::path captures = fs::path(agent.config().outbox_path).parent_path() / "change-captures";
  fs::create_directories(captures, ec);
  const std::int64_t now = tw::now_ms();
  for (int day = 3; day >= 0; --day) {
    // Named like a time-lapse camera names its files: YYYYMMDD_HHMMSS (UTC).
    std::string iso = format_iso8601_ms(now - day * 86'400'000LL);
    std::string stamp = iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2) + "_" + iso.substr(11, 2) +
                        iso.substr(14, 2) + iso.substr(17, 2);
    fs::copy_file(pair / (day == 3 ? "A" : "B") / tile, captures / (stamp + ".png"),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) {
      spdlog::warn("demo: land-use captures in {}: {}", captures.string(), ec.message());
      return;
    }
  }
  CameraConfig cam;
  cam.id = "fields";
  cam.url = captures.string();
  cam.analytics = {"change"};
  cam.capture_every_s = 20.0 / std::max(speed, 0.01);
  cam.zones = {{"ejido-parcel", {0, 0, 256, 0, 256, 256, 0, 256}}};
  agent.add_source(std::make_unique<ChangeCameraSource>(agent.config(), cam));
}

void add_change_sources(edge::EdgeAgent& agent) {
  for (const auto& cam : agent.config().cameras) {
    if (std::find(cam.analytics.begin(), cam.analytics.end(), "change") == cam.analytics.end()) continue;
    agent.add_source(std::make_unique<ChangeCameraSource>(agent.config(), cam));
  }
}

}  // namespace tw::app
