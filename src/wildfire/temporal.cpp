#include "tw/wildfire/temporal.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/core.h>
#include <opencv2/imgproc.hpp>

namespace tw::wildfire {
namespace {

bool grown_overlap(const SmokeBox& a, const SmokeBox& b, float grow) {
  const float ga = grow * std::max(a.width(), a.height()), gb = grow * std::max(b.width(), b.height());
  return a.x0 - ga < b.x1 + gb && b.x0 - gb < a.x1 + ga && a.y0 - ga < b.y1 + gb && b.y0 - gb < a.y1 + ga;
}

float overlap_area(const SmokeBox& a, const SmokeBox& b) {
  const float w = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
  const float h = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0.f;
}

}  // namespace

Result<NightPolicy> parse_night_policy(const std::string& name) {
  if (name == "raise") return NightPolicy::raise;
  if (name == "suppress") return NightPolicy::suppress;
  if (name == "ignore") return NightPolicy::ignore;
  return make_error("bad_config", fmt::format("smoke.night_policy: '{}' is not raise, suppress or ignore", name));
}

Status validate(const TemporalConfig& c) {
  auto bad = [](std::string m) { return make_error("bad_config", std::move(m)); };
  if (!(c.score_threshold >= 0 && c.score_threshold <= 1))
    return bad(fmt::format("smoke.score_threshold: {} outside [0, 1]", c.score_threshold));
  if (c.window < 1 || c.window > 32) return bad(fmt::format("smoke.window: {} outside [1, 32]", c.window));
  if (c.votes < 1 || c.votes > c.window)
    return bad(fmt::format("smoke.votes: {} outside [1, window={}]", c.votes, c.window));
  if (!(c.min_box_fraction >= 0 && c.min_box_fraction < 1))
    return bad(fmt::format("smoke.min_box_fraction: {} outside [0, 1)", c.min_box_fraction));
  if (c.min_persistence_ms < 0) return bad("smoke.min_persistence_ms: must be >= 0");
  if (c.cooldown_ms < 0) return bad("smoke.cooldown_ms: must be >= 0");
  if (!(c.match_grow >= 0 && c.match_grow <= 4)) return bad("smoke.match_grow: outside [0, 4]");
  for (size_t i = 0; i < c.masks.size(); ++i) {
    const auto& m = c.masks[i];
    if (!(m.x0 >= 0 && m.y0 >= 0 && m.x1 <= 1 && m.y1 <= 1 && m.x0 < m.x1 && m.y0 < m.y1))
      return bad(fmt::format("smoke.masks[{}]: [{}, {}, {}, {}] is not a rectangle inside [0, 1]", i, m.x0, m.y0,
                             m.x1, m.y1));
  }
  if (c.nuisance_grid_cols < 1 || c.nuisance_grid_rows < 1 || c.nuisance_grid_cols > 256 || c.nuisance_grid_rows > 256)
    return bad("smoke.nuisance_grid: columns and rows must be in [1, 256]");
  if (!(c.min_change >= 0 && c.min_change <= 255)) return bad("smoke.min_change: outside [0, 255]");
  if (c.nuisance_after < 1) return bad(fmt::format("smoke.nuisance_after: {} must be >= 1", c.nuisance_after));
  if (c.nuisance_memory_ms <= 0) return bad("smoke.nuisance_memory_ms: must be > 0");
  if (!(c.night_luma >= 0 && c.night_luma <= 255)) return bad("smoke.night_luma: outside [0, 255]");
  if (!(c.night_score_threshold >= 0 && c.night_score_threshold <= 1))
    return bad("smoke.night_score_threshold: outside [0, 1]");
  return {};
}

FrameStats frame_stats(const cv::Mat& bgr, float night_luma) {
  FrameStats s;
  if (bgr.empty()) return s;
  cv::Mat small;
  cv::resize(bgr, small, cv::Size(64, 48), 0, 0, cv::INTER_AREA);
  if (small.channels() == 1) {
    s.mean_luma = static_cast<float>(cv::mean(small)[0]);
    s.mean_saturation = 0;
  } else {
    cv::Mat hsv, gray;
    cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(small, hsv, cv::COLOR_BGR2HSV);
    s.mean_luma = static_cast<float>(cv::mean(gray)[0]);
    s.mean_saturation = static_cast<float>(cv::mean(hsv)[1]);
  }
  s.infrared = s.mean_saturation < 4.f;
  s.night = s.mean_luma < night_luma;
  return s;
}

TemporalFilter::TemporalFilter(TemporalConfig config) : cfg_(std::move(config)) {
  cell_alerts_.resize(static_cast<size_t>(cfg_.nuisance_grid_cols * cfg_.nuisance_grid_rows));
}

void TemporalFilter::reset() {
  regions_.clear();
  for (auto& c : cell_alerts_) c.clear();
  rejections_.clear();
}

int TemporalFilter::cell_of(float cx, float cy) const {
  const int c = std::clamp(static_cast<int>(cx * static_cast<float>(cfg_.nuisance_grid_cols)), 0, cfg_.nuisance_grid_cols - 1);
  const int r = std::clamp(static_cast<int>(cy * static_cast<float>(cfg_.nuisance_grid_rows)), 0, cfg_.nuisance_grid_rows - 1);
  return r * cfg_.nuisance_grid_cols + c;
}

bool TemporalFilter::is_nuisance(float cx, float cy, std::int64_t ts_ms) const {
  const auto& q = cell_alerts_[static_cast<size_t>(cell_of(cx, cy))];
  int n = 0;
  for (auto t : q)
    if (ts_ms - t < cfg_.nuisance_memory_ms) ++n;
  return n >= cfg_.nuisance_after;
}

void TemporalFilter::note_alert(const SmokeBox& b, int w, int h, std::int64_t ts_ms, int weight) {
  const float fw = static_cast<float>(w), fh = static_cast<float>(h);
  const float cx = (b.x0 + b.x1) / 2 / fw, cy = (b.y0 + b.y1) / 2 / fh;
  auto& q = cell_alerts_[static_cast<size_t>(cell_of(cx, cy))];
  for (int i = 0; i < weight; ++i) q.push_back(ts_ms);
  while (!q.empty() && ts_ms - q.front() >= cfg_.nuisance_memory_ms) q.pop_front();
}

void TemporalFilter::confirm(const SmokeBox& b, int w, int h) {
  const float cx = (b.x0 + b.x1) / 2 / static_cast<float>(w), cy = (b.y0 + b.y1) / 2 / static_cast<float>(h);
  cell_alerts_[static_cast<size_t>(cell_of(cx, cy))].clear();
}

void TemporalFilter::dismiss(const SmokeBox& b, int w, int h, std::int64_t ts_ms) { note_alert(b, w, h, ts_ms, 2); }

std::vector<TemporalAlert> TemporalFilter::update(const SmokeResult& r, int width, int height, std::int64_t ts_ms,
                                                  const FrameStats& stats) {
  std::vector<TemporalAlert> alerts;
  rejections_.assign(r.boxes.size(), Rejection::none);
  const std::uint32_t window_mask = cfg_.window >= 32 ? 0xffffffffu : ((1u << cfg_.window) - 1u);
  for (auto& reg : regions_) reg.history = (reg.history << 1) & window_mask;

  float threshold = cfg_.score_threshold;
  bool suppressed = false;
  if (stats.night) {
    if (cfg_.night_policy == NightPolicy::raise) threshold = std::max(threshold, cfg_.night_score_threshold);
    if (cfg_.night_policy == NightPolicy::suppress) suppressed = true;
  }
  const float frame_area = static_cast<float>(width) * static_cast<float>(height);
  for (size_t i = 0; i < r.boxes.size(); ++i) {
    const SmokeBox& b = r.boxes[i];
    if (suppressed) { rejections_[i] = Rejection::night; continue; }
    if (b.score < threshold) {
      rejections_[i] = stats.night && b.score >= cfg_.score_threshold ? Rejection::night : Rejection::below_threshold;
      continue;
    }
    if (frame_area <= 0 || b.area() < cfg_.min_box_fraction * frame_area) { rejections_[i] = Rejection::too_small; continue; }
    const float cx = (b.x0 + b.x1) / 2 / static_cast<float>(width), cy = (b.y0 + b.y1) / 2 / static_cast<float>(height);
    if (std::any_of(cfg_.masks.begin(), cfg_.masks.end(), [&](const NormRect& m) { return m.contains(cx, cy); })) {
      rejections_[i] = Rejection::masked;
      continue;
    }
    if (is_nuisance(cx, cy, ts_ms)) { rejections_[i] = Rejection::nuisance; continue; }
    // Match to the region it overlaps most (after growing), else start a region.
    Region* best = nullptr;
    float best_ov = -1;
    for (auto& reg : regions_) {
      if ((reg.history & 1u) || !grown_overlap(reg.box, b, cfg_.match_grow)) continue;
      const float ov = overlap_area(reg.box, b);
      if (ov > best_ov) { best_ov = ov; best = &reg; }
    }
    if (!best) {
      regions_.push_back(Region{next_id_++, b, 0, ts_ms, ts_ms, -1, 0});
      best = &regions_.back();
    }
    best->history |= 1u;
    best->box = b;
    best->last_ms = ts_ms;
    // Best score over the window: reset when the region was empty for a whole window.
    best->best = std::max(best->best, b.score);
  }
  for (auto& reg : regions_) {
    if (!(reg.history & 1u)) continue;
    const int votes = std::popcount(reg.history);
    const bool cooling = reg.alerted_ms >= 0 && ts_ms - reg.alerted_ms < cfg_.cooldown_ms;
    if (votes >= cfg_.votes && ts_ms - reg.first_ms >= cfg_.min_persistence_ms && !cooling) {
      reg.alerted_ms = ts_ms;
      alerts.push_back(TemporalAlert{reg.box, reg.best, votes, reg.first_ms, stats.night, reg.id});
      note_alert(reg.box, width, height, ts_ms, 1);
    }
  }
  // Regions without any hit in the window are forgotten (unless still cooling down after an alert).
  std::erase_if(regions_, [&](const Region& reg) {
    return reg.history == 0 && (reg.alerted_ms < 0 || ts_ms - reg.alerted_ms >= cfg_.cooldown_ms);
  });
  return alerts;
}

}  // namespace tw::wildfire
