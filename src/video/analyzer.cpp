#include "tw/video/analyzer.hpp"

#include <algorithm>

#include <fmt/core.h>
#include <opencv2/imgproc.hpp>

namespace tw::video {

bool MotionGate::should_detect(const cv::Mat& bgr) {
  if (!cfg_.enabled || bgr.empty()) return true;
  const int w = std::min(cfg_.width, bgr.cols);
  const int h = std::max(1, static_cast<int>(static_cast<long>(bgr.rows) * w / std::max(1, bgr.cols)));
  cv::Mat small, grey;
  cv::resize(bgr, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  if (small.channels() == 3) {
    cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  } else if (small.channels() == 4) {
    cv::cvtColor(small, grey, cv::COLOR_BGRA2GRAY);
  } else {
    grey = small;
  }
  cv::GaussianBlur(grey, cur_, cv::Size(3, 3), 0);
  if (ref_.empty() || ref_.size() != cur_.size() || skipped_ >= cfg_.max_skip) {
    last_fraction_ = 1;
    return true;
  }
  cv::Mat diff;
  cv::absdiff(cur_, ref_, diff);
  const int changed = cv::countNonZero(diff > cfg_.pixel_threshold);
  last_fraction_ = static_cast<double>(changed) / static_cast<double>(diff.total());
  if (last_fraction_ > cfg_.min_changed_fraction) return true;
  ++skipped_;
  return false;
}

void MotionGate::mark_detected() {
  cur_.copyTo(ref_);
  skipped_ = 0;
}

Result<std::unique_ptr<CameraAnalyzer>> CameraAnalyzer::create(AnalyzerConfig config,
                                                               std::shared_ptr<Detector> detector) {
  if (!(config.interval_s > 0))
    return make_error("bad_config", fmt::format("interval_s: {} must be positive", config.interval_s));
  if (config.counter.min_track_hits < 0 || config.counter.zone_min_frames < 1 || config.counter.hysteresis_px < 0)
    return make_error("bad_config", "counter: min_track_hits >= 0, zone_min_frames >= 1, hysteresis_px >= 0");
  for (auto& c : config.classes) c = canonical_class_name(c);
  if (!detector) {
    config.detector.classes = config.classes;
    auto d = make_detector(config.detector);
    if (!d) return d.error();
    detector = std::move(*d);
  } else {
    for (const auto& c : config.classes)
      if (std::find(detector->class_names().begin(), detector->class_names().end(), c) ==
          detector->class_names().end())
        return make_error("bad_config", fmt::format("classes: the detector has no class '{}'", c));
  }
  return std::unique_ptr<CameraAnalyzer>(new CameraAnalyzer(std::move(config), std::move(detector)));
}

CameraAnalyzer::CameraAnalyzer(AnalyzerConfig config, std::shared_ptr<Detector> detector)
    : cfg_(std::move(config)), detector_(std::move(detector)), tracker_(cfg_.tracker),
      counter_(cfg_.lines, cfg_.zones, cfg_.counter), gate_(cfg_.motion) {}

Message CameraAnalyzer::make_counts(std::int64_t end_ms) {
  auto snap = counter_.take_interval();
  const double secs = static_cast<double>(end_ms - interval_start_) / 1000.0;
  auto payload = counts_payload(cfg_.camera, secs, interval_start_, end_ms, snap, counter_.lines(), counter_.zones());
  ++stats_.messages;
  return make_message(cfg_.site, "counts", end_ms, std::move(payload));
}

std::vector<Message> CameraAnalyzer::feed(const cv::Mat& bgr, std::int64_t ts_ms) {
  std::vector<Message> out;
  if (interval_start_ < 0) interval_start_ = ts_ms;
  const auto period = static_cast<std::int64_t>(cfg_.interval_s * 1000.0);
  while (ts_ms >= interval_start_ + period) {
    const std::int64_t end = interval_start_ + period;
    Message m = make_counts(end);
    interval_start_ = end;
    if (cfg_.emit_empty || dirty_) out.push_back(std::move(m));
    dirty_ = false;
  }
  ++stats_.frames;
  last_.detected = false;
  last_.tracks.clear();
  if (bgr.empty()) return out;
  if (!gate_.should_detect(bgr)) {
    ++stats_.skipped;
    return out;
  }
  gate_.mark_detected();
  ++stats_.detector_calls;
  last_.detected = true;
  const auto dets = detector_->detect(bgr);
  std::vector<TrackInput> in;
  in.reserve(dets.size());
  for (const auto& d : dets) in.push_back(TrackInput{Box{d.x0, d.y0, d.x1, d.y1}, d.score, d.class_id});
  const auto& names = detector_->class_names();
  auto tracks = tracker_.update(in);
  for (int id : tracker_.removed()) counter_.remove_track(id);
  // The counter sees every track matched in this frame, tentative ones included, so that a crossing in a
  // track's first frames is not lost; its min_track_hits keeps fragments from counting.
  std::vector<ObjectObservation> obs;
  obs.reserve(tracker_.tracks().size());
  for (const auto& t : tracks)
    if (t.hits == std::max(1, cfg_.tracker.min_hits)) ++stats_.tracks_started;  // first confirmed update
  for (const auto& t : tracker_.tracks()) {
    if (t.det_index < 0) continue;
    const std::string label = t.class_id >= 0 && static_cast<size_t>(t.class_id) < names.size()
                                  ? names[static_cast<size_t>(t.class_id)]
                                  : fmt::format("class{}", t.class_id);
    // Detections are clipped to the frame but the filtered box can overshoot it by a fraction of a pixel; the
    // reference point is clipped too, so that a line drawn to the frame edge still meets a person cut by it.
    const Point ref{std::clamp(0.5 * (t.box.x0 + t.box.x1), 0.0, static_cast<double>(bgr.cols)),
                    std::clamp(static_cast<double>(t.box.y1), 0.0, static_cast<double>(bgr.rows))};
    obs.push_back(ObjectObservation{t.id, label, ref, t.hits, static_cast<double>(t.box.height())});
  }
  counter_.update(obs);
  dirty_ = true;
  last_.tracks = std::move(tracks);
  return out;
}

std::vector<Message> CameraAnalyzer::flush(std::int64_t ts_ms) {
  std::vector<Message> out;
  if (interval_start_ < 0 || (!dirty_ && ts_ms <= interval_start_)) return out;
  out.push_back(make_counts(std::max(ts_ms, interval_start_)));
  interval_start_ = ts_ms;
  dirty_ = false;
  return out;
}

Result<AnalyzerConfig> analyzer_config_for(const std::string& site, const CameraConfig& camera) {
  AnalyzerConfig c;
  c.site = site;
  c.camera = camera.id;
  if (!camera.classes.empty()) c.classes = camera.classes;
  auto text = [](const std::vector<double>& v) {
    std::string s;
    for (double d : v) s += (s.empty() ? "" : ",") + fmt::format("{}", d);
    return s;
  };
  for (size_t i = 0; i < camera.lines.size(); ++i) {
    const auto& l = camera.lines[i];
    auto p = parse_line(text(l.points));
    if (!p) return make_error("bad_config", fmt::format("camera '{}' line {} ('{}'): {}", camera.id, i + 1, l.name,
                                                        p.error().message));
    if (!l.name.empty()) p->name = l.name;
    c.lines.push_back(*p);
  }
  for (size_t i = 0; i < camera.zones.size(); ++i) {
    const auto& z = camera.zones[i];
    auto p = parse_zone(text(z.points));
    if (!p) return make_error("bad_config", fmt::format("camera '{}' zone {} ('{}'): {}", camera.id, i + 1, z.name,
                                                        p.error().message));
    if (!z.name.empty()) p->name = z.name;
    c.zones.push_back(*p);
  }
  return c;
}

SourceConfig source_config_for(const std::string& site, const CameraConfig& camera) {
  SourceConfig s;
  s.site = site;
  s.camera = camera.id;
  s.url = camera.url;
  s.analysis_fps = camera.analysis_fps;
  s.policy = DropPolicy::drop_oldest;
  return s;
}

cv::Mat redacted_snapshot(const cv::Mat& bgr, Redactor& redactor, Detector* detector, RedactStats* stats) {
  cv::Mat copy = bgr.clone();
  RedactStats st = detector ? redactor.redact(copy, *detector) : redactor.redact(copy);
  if (stats) *stats = std::move(st);
  return copy;
}

}  // namespace tw::video
