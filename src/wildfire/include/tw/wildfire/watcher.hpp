#pragma once
// Edge-facing and hub-facing wildfire APIs.
//
// Edge: one SmokeWatcher per camera. feed() scores a frame, runs the temporal logic of the current PTZ preset and
// returns `smoke` messages (docs/messages/smoke.md): camera, score, bearing with uncertainty, box, and a small
// JPEG snapshot that is face-redacted before it is encoded (no snapshot at all when redaction is unavailable).
//
//   auto w = tw::wildfire::SmokeWatcher::create(cfg, camera);
//   for (...) for (tw::Message& m : w->feed(frame, ts_ms)) outbox.put(m);
//   w->dismiss(alert_id, tw::wildfire::DismissReason::cloud);   // operator feedback teaches nuisance regions
//   w->apply_feedback(smoke_feedback_message);                   // the same, as the hub sends it to the site
//
// Hub: one FireLocator. on_smoke() keeps the latest bearing of each site and intersects bearings from two or more
// sites into a `fire` message (docs/messages/fire.md) with an error ellipse, updated as more views arrive.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/core/message.hpp"
#include "tw/core/result.hpp"
#include "tw/wildfire/geometry.hpp"
#include "tw/wildfire/smoke_model.hpp"
#include "tw/wildfire/temporal.hpp"

namespace tw::video {
class Redactor;
class Detector;
}  // namespace tw::video

namespace tw::wildfire {

enum class DismissReason { cloud, fog, dust, industrial_smoke, glare, other };
// "cloud" | "fog" | "dust" | "industrial_smoke" | "glare" | "other"; error bad_input otherwise.
Result<DismissReason> parse_dismiss_reason(const std::string& name);
const char* to_string(DismissReason r);

struct SnapshotConfig {
  bool enabled = true;
  int max_side = 640;              // the snapshot is downscaled so that its longer side is at most this
  int jpeg_quality = 70;
  std::size_t max_bytes = 48 * 1024;  // JPEG bytes (before base64); quality, then size, drop until it fits
  bool person_heads = true;        // also redact head regions of persons found by the YOLOX detector
};

struct CameraConfig {
  std::string site;
  std::string camera;
  CameraPose pose;
};

// Per-frame PTZ state when the camera reports it; fields left empty keep the configured pose.
struct FrameMeta {
  std::int64_t ts_ms = 0;
  std::string preset;                  // temporal state is kept per preset ("" = fixed camera)
  std::optional<double> pan_deg, tilt_deg, hfov_deg;
};

struct WatcherConfig {
  SmokeModelConfig model;
  TemporalConfig temporal;
  SnapshotConfig snapshot;
};

struct WatchAlert {  // what the last feed() raised, for callers that want more than the message
  TemporalAlert alert;
  Bearing bearing;
  std::string message_id;
  std::string preset;
};

class SmokeWatcher {
 public:
  // Errors: bad_config (camera pose, temporal config), model errors from make_smoke_model.
  static Result<std::unique_ptr<SmokeWatcher>> create(const WatcherConfig& config, const CameraConfig& camera);
  // Same with a model built by the caller (shared configuration, tests, the CLI).
  static Result<std::unique_ptr<SmokeWatcher>> create(const WatcherConfig& config, const CameraConfig& camera,
                                                      std::unique_ptr<SmokeModel> model);
  ~SmokeWatcher();

  std::vector<Message> feed(const cv::Mat& bgr, std::int64_t ts_ms);
  std::vector<Message> feed(const cv::Mat& bgr, const FrameMeta& meta);

  // Operator feedback by alert id (the smoke message id). Errors: unknown_alert.
  Status confirm(const std::string& alert_id);
  Status dismiss(const std::string& alert_id, DismissReason reason, std::int64_t ts_ms);
  // A `smoke_feedback` message from the hub (docs/messages/smoke_feedback.md) for this camera: confirm() or
  // dismiss() at the message's time. Errors: bad_input (another kind or camera, unknown verdict or label),
  // unknown_alert (not one of this watcher's recent alerts, e.g. raised before a restart).
  Status apply_feedback(const Message& feedback);

  // Whether a point (fractions of the frame) of a preset lies in a learned nuisance region at ts_ms.
  bool is_nuisance(const std::string& preset, float cx_frac, float cy_frac, std::int64_t ts_ms) const;

  // Alerts held back because their box had not changed since the region's first hit (TemporalConfig::min_change).
  std::int64_t unchanged_suppressed() const { return unchanged_suppressed_; }

  const SmokeResult& last_result() const { return last_; }
  const std::vector<WatchAlert>& last_alerts() const { return last_alerts_; }
  const FrameStats& last_stats() const { return stats_; }
  std::int64_t frames() const { return frames_; }

 private:
  SmokeWatcher() = default;
  TemporalFilter& filter(const std::string& preset);
  Result<nlohmann::json> snapshot(const cv::Mat& bgr, const SmokeBox& box);

  WatcherConfig cfg_;
  CameraConfig cam_;
  std::unique_ptr<SmokeModel> model_;
  std::map<std::string, TemporalFilter> filters_;
  struct AlertRef {
    std::string preset;
    SmokeBox box;
    int width = 0, height = 0;
  };
  std::map<std::string, AlertRef> alerts_;  // recent alerts by id, for operator feedback
  struct Thumb {
    std::int64_t ts_ms = 0;
    cv::Mat grey;  // 160x120
  };
  std::map<std::string, std::deque<Thumb>> thumbs_;  // per preset, the last `window` frames
  std::int64_t unchanged_suppressed_ = 0;
  std::unique_ptr<tw::video::Redactor> redactor_;
  std::unique_ptr<tw::video::Detector> persons_;
  SmokeResult last_;
  std::vector<WatchAlert> last_alerts_;
  FrameStats stats_;
  std::int64_t frames_ = 0;
};

// JPEG-encodes img (quality, then size, reduced until it fits max_bytes). Returns the bytes.
std::vector<unsigned char> encode_small_jpeg(const cv::Mat& img, int max_side, int quality, std::size_t max_bytes);
std::string base64_encode(const std::vector<unsigned char>& bytes);

struct LocatorConfig {
  std::int64_t window_ms = 30 * 60 * 1000;  // bearings older than this are forgotten
  double default_sigma_deg = 1.0;           // when a smoke message carries no bearing_sigma_deg
  double same_fire_km = 5.0;                // a new fix this close to a live fire updates it
  double gate_sigma = 3.0;                  // a bearing joins a fix when it passes within this many sigma
  TriangulationConfig triangulation;
};

struct FireState {
  std::string fire_id;
  Fix fix;
  int updates = 0;
  std::int64_t first_ms = 0, last_ms = 0;
  std::vector<std::string> smoke_ids;
};

class FireLocator {
 public:
  explicit FireLocator(LocatorConfig config = {});
  // A smoke message from `site` at site_position (the camera position in the payload, camera_lat/camera_lon,
  // wins when present). Returns a fire message when bearings from 2+ sites intersect. Errors are not thrown:
  // a malformed smoke message returns nothing and is counted in rejected().
  std::optional<Message> on_smoke(const Message& smoke, LatLon site_position);
  const std::vector<FireState>& fires() const { return fires_; }
  int rejected() const { return rejected_; }

 private:
  struct Obs {
    BearingObservation b;
    std::string site, camera, smoke_id;
    std::int64_t ts_ms = 0;
  };
  LocatorConfig cfg_;
  std::map<std::string, Obs> latest_;  // by site
  std::vector<FireState> fires_;
  int rejected_ = 0;
};

}  // namespace tw::wildfire
