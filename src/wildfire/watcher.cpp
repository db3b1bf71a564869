#include "tw/wildfire/watcher.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tw/video/detector.hpp"
#include "tw/video/redact.hpp"

namespace tw::wildfire {

Result<DismissReason> parse_dismiss_reason(const std::string& n) {
  if (n == "cloud") return DismissReason::cloud;
  if (n == "fog") return DismissReason::fog;
  if (n == "dust") return DismissReason::dust;
  if (n == "industrial_smoke") return DismissReason::industrial_smoke;
  if (n == "glare") return DismissReason::glare;
  if (n == "other") return DismissReason::other;
  return make_error("bad_input",
                    fmt::format("dismiss reason '{}' is not cloud, fog, dust, industrial_smoke, glare or other", n));
}

const char* to_string(DismissReason r) {
  switch (r) {
    case DismissReason::cloud: return "cloud";
    case DismissReason::fog: return "fog";
    case DismissReason::dust: return "dust";
    case DismissReason::industrial_smoke: return "industrial_smoke";
    case DismissReason::glare: return "glare";
    case DismissReason::other: return "other";
  }
  return "other";
}

std::string base64_encode(const std::vector<unsigned char>& in) {
  static constexpr char kTab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned{in[i]} << 16) | (unsigned{in[i + 1]} << 8) | in[i + 2];
    out += kTab[(v >> 18) & 63];
    out += kTab[(v >> 12) & 63];
    out += kTab[(v >> 6) & 63];
    out += kTab[v & 63];
  }
  if (i < in.size()) {
    unsigned v = unsigned{in[i]} << 16;
    if (i + 1 < in.size()) v |= unsigned{in[i + 1]} << 8;
    out += kTab[(v >> 18) & 63];
    out += kTab[(v >> 12) & 63];
    out += i + 1 < in.size() ? kTab[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::vector<unsigned char> encode_small_jpeg(const cv::Mat& img, int max_side, int quality, std::size_t max_bytes) {
  std::vector<unsigned char> buf;
  if (img.empty()) return buf;
  cv::Mat cur = img;
  const int side = std::max(img.cols, img.rows);
  if (max_side > 0 && side > max_side) {
    const double s = static_cast<double>(max_side) / side;
    cv::resize(img, cur, cv::Size(), s, s, cv::INTER_AREA);
  }
  int q = std::clamp(quality, 10, 100);
  for (int attempt = 0; attempt < 24; ++attempt) {
    cv::imencode(".jpg", cur, buf, {cv::IMWRITE_JPEG_QUALITY, q});
    if (buf.size() <= max_bytes || max_bytes == 0) break;
    if (q > 30) {
      q = std::max(30, q - 15);
    } else if (std::min(cur.cols, cur.rows) > 48) {
      cv::resize(cur, cur, cv::Size(), 0.75, 0.75, cv::INTER_AREA);
    } else {
      break;  // smallest we go; the caller checks the size
    }
  }
  return buf;
}

SmokeWatcher::~SmokeWatcher() = default;

Result<std::unique_ptr<SmokeWatcher>> SmokeWatcher::create(const WatcherConfig& config, const CameraConfig& camera) {
  auto m = make_smoke_model(config.model);
  if (!m) return m.error();
  return create(config, camera, std::move(*m));
}

Result<std::unique_ptr<SmokeWatcher>> SmokeWatcher::create(const WatcherConfig& config, const CameraConfig& camera,
                                                           std::unique_ptr<SmokeModel> model) {
  if (auto s = validate(camera.pose); !s) return s.error();
  if (auto s = validate(config.temporal); !s) return s.error();
  if (camera.camera.empty()) return make_error("bad_config", "camera: the camera name is empty");
  if (!model) return make_error("bad_config", "smoke model: none given");
  if (config.snapshot.max_side < 32 || config.snapshot.jpeg_quality < 10 || config.snapshot.jpeg_quality > 100)
    return make_error("bad_config", "smoke.snapshot: max_side must be >= 32 and jpeg_quality in [10, 100]");
  std::unique_ptr<SmokeWatcher> w(new SmokeWatcher());
  w->cfg_ = config;
  w->cam_ = camera;
  w->model_ = std::move(model);
  return w;
}

TemporalFilter& SmokeWatcher::filter(const std::string& preset) {
  auto it = filters_.find(preset);
  if (it == filters_.end()) it = filters_.emplace(preset, TemporalFilter(cfg_.temporal)).first;
  return it->second;
}

bool SmokeWatcher::is_nuisance(const std::string& preset, float cx_frac, float cy_frac, std::int64_t ts_ms) const {
  auto it = filters_.find(preset);
  return it != filters_.end() && it->second.is_nuisance(cx_frac, cy_frac, ts_ms);
}

Result<nlohmann::json> SmokeWatcher::snapshot(const cv::Mat& bgr, const SmokeBox& box) {
  if (!redactor_) {
    tw::video::RedactConfig rc;
    rc.person_heads = cfg_.snapshot.person_heads;
    auto r = tw::video::Redactor::create(rc);
    if (!r) return r.error();
    redactor_ = std::make_unique<tw::video::Redactor>(std::move(*r));
    if (cfg_.snapshot.person_heads) {
      tw::video::DetectorConfig dc;
      dc.classes = {"person"};
      auto d = tw::video::make_detector(dc);
      if (!d) return d.error();
      persons_ = std::move(*d);
    }
  }
  cv::Mat img = bgr.clone();
  if (img.channels() == 1) cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
  const auto stats = persons_ ? redactor_->redact(img, *persons_) : redactor_->redact(img);
  const int t = std::max(1, std::max(img.cols, img.rows) / 320);
  cv::rectangle(img, cv::Point(static_cast<int>(box.x0), static_cast<int>(box.y0)),
                cv::Point(static_cast<int>(box.x1), static_cast<int>(box.y1)), cv::Scalar(0, 0, 255), t);
  auto jpg = encode_small_jpeg(img, cfg_.snapshot.max_side, cfg_.snapshot.jpeg_quality, cfg_.snapshot.max_bytes);
  if (jpg.empty() || jpg.size() > cfg_.snapshot.max_bytes)
    return make_error("snapshot_too_large", fmt::format("snapshot is {} bytes (max {})", jpg.size(), cfg_.snapshot.max_bytes));
  return nlohmann::json{{"mime", "image/jpeg"},
                        {"bytes", jpg.size()},
                        {"redacted", true},
                        {"redacted_faces", stats.faces},
                        {"redacted_heads", stats.heads},
                        {"data_b64", base64_encode(jpg)}};
}

std::vector<Message> SmokeWatcher::feed(const cv::Mat& bgr, std::int64_t ts_ms) {
  FrameMeta m;
  m.ts_ms = ts_ms;
  return feed(bgr, m);
}

std::vector<Message> SmokeWatcher::feed(const cv::Mat& bgr, const FrameMeta& meta) {
  std::vector<Message> out;
  last_alerts_.clear();
  if (bgr.empty()) return out;
  ++frames_;
  last_ = model_->infer(bgr);
  stats_ = frame_stats(bgr, cfg_.temporal.night_luma);
  auto& f = filter(meta.preset);
  const auto alerts = f.update(last_, bgr.cols, bgr.rows, meta.ts_ms, stats_);
  // The change check (min_change > 0) keeps a 160x120 grey thumbnail of the last window's frames.
  const bool check_change = cfg_.temporal.min_change > 0;
  Thumb now{meta.ts_ms, {}};
  if (check_change) {
    cv::Mat grey;
    if (bgr.channels() == 1)
      grey = bgr;
    else
      cv::cvtColor(bgr, grey, bgr.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    cv::resize(grey, now.grey, cv::Size(160, 120), 0, 0, cv::INTER_AREA);
  }
  auto& history = thumbs_[meta.preset];
  // How much the box changed since the region's first hit (the oldest kept frame when that is older).
  auto changed = [&](const TemporalAlert& a) {
    if (history.empty()) return 255.0;
    auto ref = std::find_if(history.begin(), history.end(), [&](const Thumb& t) { return t.ts_ms >= a.first_seen_ms; });
    if (ref == history.end()) return 255.0;  // first hit in this frame: nothing to compare with
    const double sx = 160.0 / bgr.cols, sy = 120.0 / bgr.rows;
    const int x0 = std::clamp(static_cast<int>(std::floor(a.box.x0 * sx)), 0, 159);
    const int y0 = std::clamp(static_cast<int>(std::floor(a.box.y0 * sy)), 0, 119);
    const int x1 = std::clamp(static_cast<int>(std::ceil(a.box.x1 * sx)), x0 + 1, 160);
    const int y1 = std::clamp(static_cast<int>(std::ceil(a.box.y1 * sy)), y0 + 1, 120);
    const cv::Rect roi(x0, y0, x1 - x0, y1 - y0);
    cv::Mat diff;
    cv::absdiff(now.grey(roi), ref->grey(roi), diff);
    return cv::mean(diff)[0];
  };
  CameraPose pose = cam_.pose;
  if (meta.pan_deg) pose.pan_deg = *meta.pan_deg;
  if (meta.tilt_deg) pose.tilt_deg = *meta.tilt_deg;
  if (meta.hfov_deg) pose.hfov_deg = *meta.hfov_deg;
  for (const auto& a : alerts) {
    if (check_change && changed(a) < cfg_.temporal.min_change) {
      ++unchanged_suppressed_;  // a still image or a frozen stream: no rising plume
      continue;
    }
    const double cx = (a.box.x0 + a.box.x1) / 2.0;
    // The fire is at the base of the plume: take the bearing of the box's bottom centre.
    const Bearing b = pixel_bearing(pose, bgr.cols, bgr.rows, cx, a.box.y1, a.box.width() / 2.0);
    nlohmann::json p{
        {"camera", cam_.camera},
        {"score", a.score},
        {"bearing_deg", b.azimuth_deg},
        {"bearing_sigma_deg", b.sigma_deg},
        {"elevation_deg", b.elevation_deg},
        {"camera_lat", pose.position.lat},
        {"camera_lon", pose.position.lon},
        {"preset", meta.preset},
        {"box", {{"x0", a.box.x0}, {"y0", a.box.y0}, {"x1", a.box.x1}, {"y1", a.box.y1}}},
        {"frame_w", bgr.cols},
        {"frame_h", bgr.rows},
        {"votes", a.votes},
        {"window", cfg_.temporal.window},
        {"first_seen_ms", a.first_seen_ms},
        {"night", a.night},
        {"infrared", stats_.infrared},
        {"model", model_->name()},
    };
    if (cfg_.snapshot.enabled) {
      auto snap = snapshot(bgr, a.box);
      if (snap) {
        p["snapshot"] = std::move(*snap);
      } else {
        // Never an unredacted snapshot: report why there is none.
        p["snapshot_error"] = snap.error().message;
      }
    }
    Message msg = make_message(cam_.site, "smoke", meta.ts_ms, std::move(p));
    alerts_[msg.id] = AlertRef{meta.preset, a.box, bgr.cols, bgr.rows};
    while (alerts_.size() > 1000) alerts_.erase(alerts_.begin());  // ULIDs sort by time: drop the oldest
    last_alerts_.push_back(WatchAlert{a, b, msg.id, meta.preset});
    out.push_back(std::move(msg));
  }
  if (check_change) {
    history.push_back(std::move(now));
    while (history.size() > static_cast<size_t>(cfg_.temporal.window)) history.pop_front();
  }
  return out;
}

Status SmokeWatcher::confirm(const std::string& id) {
  auto it = alerts_.find(id);
  if (it == alerts_.end()) return make_error("unknown_alert", fmt::format("no recent smoke alert with id {}", id));
  filter(it->second.preset).confirm(it->second.box, it->second.width, it->second.height);
  return {};
}

Status SmokeWatcher::dismiss(const std::string& id, DismissReason, std::int64_t ts_ms) {
  auto it = alerts_.find(id);
  if (it == alerts_.end()) return make_error("unknown_alert", fmt::format("no recent smoke alert with id {}", id));
  filter(it->second.preset).dismiss(it->second.box, it->second.width, it->second.height, ts_ms);
  return {};
}

Status SmokeWatcher::apply_feedback(const Message& m) {
  auto text = [&m](const char* key) {
    auto it = m.payload.find(key);
    return it != m.payload.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  const auto camera = text("camera");
  if (m.kind != "smoke_feedback" || m.site != cam_.site || camera != cam_.camera)
    return make_error("bad_input", fmt::format("message {} ({} for {}/{}) is not smoke feedback for camera {}/{}", m.id,
                                               m.kind, m.site, camera, cam_.site, cam_.camera));
  const auto alert = text("alert");
  const auto verdict = text("verdict");
  if (verdict == "confirmed") return confirm(alert);
  if (verdict != "dismissed")
    return make_error("bad_input", fmt::format("smoke feedback {}: verdict '{}' is not confirmed or dismissed", m.id,
                                               verdict));
  auto reason = parse_dismiss_reason(text("label"));
  if (!reason) return make_error("bad_input", fmt::format("smoke feedback {}: {}", m.id, reason.error().message));
  return dismiss(alert, *reason, m.ts_ms);
}

}  // namespace tw::wildfire
