#pragma once
// Edge-facing land-use change watcher for one view (a fixed camera, or one PTZ preset of a camera).
//
//   tw::change::WatchConfig cfg; cfg.site = "tower-17"; cfg.camera = "cam1"; cfg.zones = {...};
//   auto w = tw::change::ChangeWatcher::create(cfg, masker, redactor);   // masker/redactor optional hooks
//   for each daily capture: std::vector<tw::Message> out = w->feed(bgr, ts_ms);
//
// feed() compares the capture with the view's reference; change regions inside the zones become candidates,
// matched from capture to capture by overlap; candidates seen on `persist_days` different days (allowing
// `max_missed` captures without them) raise one `change` message per zone and capture, with redacted
// before/after crops, the zone, the area, the regions and the first day they were seen. Captures whose view moved or that are not comparable (night, fog)
// produce a `camera_status` message when the state changes and never count for or against a candidate.
// The reference is replaced by a capture that shows no candidate when the reference is older than
// `reference_refresh_days` (and, if set, the capture is near the configured time of day); replaced references
// are kept in a bounded history.
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "tw/change/compare.hpp"
#include "tw/change/zone.hpp"
#include "tw/core/config.hpp"
#include "tw/core/message.hpp"
#include "tw/core/result.hpp"

namespace tw::change {

// Blurs faces/people in place before an image leaves the process. Must be set for crops to be attached.
using Redactor = std::function<void(cv::Mat& bgr)>;

struct WatchConfig {
  std::string site = "site";
  std::string camera = "camera";
  std::string preset;                 // PTZ preset name; empty for a fixed camera
  std::vector<Zone> zones;            // farmland polygons; empty = the whole view, zone name "view"
  CompareOptions compare;
  int persist_days = 3;               // distinct days a candidate must be seen on before it alerts
  int max_missed = 1;                 // comparable captures without the candidate before it is dropped
  double match_overlap = 0.3;         // intersection over the smaller box for matching a region to a candidate
  double min_zone_area_px = 0;        // candidates smaller than this (input pixels) are ignored
  int reference_refresh_days = 7;     // a clean capture this much newer than the reference replaces it
  int reference_time_min = -1;        // minutes after midnight UTC for reference captures; -1 = any time
  int reference_tolerance_min = 90;
  size_t history_size = 30;           // references kept
  int crop_max_side = 320;            // before/after crops are scaled down to this
  int jpeg_quality = 80;
  double crop_margin = 0.25;          // crops grow by this fraction of the box on each side
};

// Checks every field; error bad_config naming it.
Status validate(const WatchConfig& cfg);

struct ReferenceEntry {
  std::int64_t ts_ms = 0;
  cv::Mat image;
};

struct Candidate {
  cv::Rect box;                    // input pixels (union of the matched regions)
  std::string zone;
  double area_px = 0;              // latest area
  double score = 0;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::set<std::int64_t> days;     // UTC day numbers on which it was seen
  int missed = 0;
  bool alerted = false;
};

class ChangeWatcher {
 public:
  static Result<std::unique_ptr<ChangeWatcher>> create(WatchConfig cfg, TransientMasker masker = {},
                                                       Redactor redactor = {});

  // Feeds one capture; returns the messages it raised (change alerts, camera_status on a state change).
  // Errors: empty_image, size_mismatch (a capture of another size than the reference), bad_image.
  Result<std::vector<Message>> feed(const cv::Mat& bgr, std::int64_t ts_ms);

  const WatchConfig& config() const { return cfg_; }
  const ReferenceEntry* reference() const { return history_.empty() ? nullptr : &history_.back(); }
  const std::vector<ReferenceEntry>& history() const { return history_; }  // oldest first, current last
  const std::vector<Candidate>& candidates() const { return candidates_; }
  const CompareResult& last_result() const { return last_; }
  // Time of the latest capture fed (0 before any); kept in the saved state.
  std::int64_t last_capture_ms() const { return last_capture_ms_; }
  // Makes `bgr` the reference now (e.g. after an operator acknowledged a change).
  Status set_reference(const cv::Mat& bgr, std::int64_t ts_ms);

  // Durable state across restarts: the reference history as lossless PNGs (ref_<ts>.png) and state.json
  // (history, candidates, camera state) in `dir`, written to a temporary file and renamed.
  // Errors: io (names the path). load_state() errors: not_found, bad_state (names the file and field),
  // size_mismatch (references of different sizes).
  Status save_state(const std::string& dir) const;
  Status load_state(const std::string& dir);

 private:
  ChangeWatcher() = default;
  bool near_reference_time(std::int64_t ts_ms) const;
  Message alert_message(const std::vector<Candidate*>& group, const cv::Mat& current, std::int64_t ts_ms);
  void push_reference(const cv::Mat& bgr, std::int64_t ts_ms);

  WatchConfig cfg_;
  TransientMasker masker_;
  Redactor redactor_;
  cv::Mat zones_mask_;
  std::vector<cv::Mat> zone_masks_;
  std::vector<ReferenceEntry> history_;
  std::vector<Candidate> candidates_;
  CompareResult last_;
  std::string camera_state_ = "ok";
  std::int64_t last_capture_ms_ = 0;
};

// Watch configuration for a camera of a site config (analytics must include "change"): site and camera ids,
// and the camera's [[zones]] as farmland polygons. Errors: bad_config (no "change" analytics, or a zone whose
// points are not x,y pairs of at least 3 points), naming the camera and zone.
Result<WatchConfig> watch_config_for(const tw::SiteConfig& site, const tw::CameraConfig& camera);

// UTC day number (days since 1970-01-01) of a timestamp.
std::int64_t utc_day(std::int64_t ts_ms);

}  // namespace tw::change
