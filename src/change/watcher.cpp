#include "tw/change/watcher.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/core.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tw/core/time.hpp"

namespace tw::change {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;

std::string base64(const std::vector<uchar>& in) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned(in[i]) << 16) | (unsigned(in[i + 1]) << 8) | unsigned(in[i + 2]);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = unsigned(in[i]) << 16;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned(in[i]) << 16) | (unsigned(in[i + 1]) << 8);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

double overlap_of_smaller(const cv::Rect& a, const cv::Rect& b) {
  double inter = (a & b).area();
  double m = std::min(a.area(), b.area());
  return m > 0 ? inter / m : 0;
}

cv::Mat as_bgr(const cv::Mat& img) {
  if (img.channels() == 3) return img;
  cv::Mat out;
  if (img.channels() == 1) cv::cvtColor(img, out, cv::COLOR_GRAY2BGR);
  else if (img.channels() == 4) cv::cvtColor(img, out, cv::COLOR_BGRA2BGR);
  return out;
}

}  // namespace

std::int64_t utc_day(std::int64_t ts_ms) {
  return ts_ms >= 0 ? ts_ms / kDayMs : -((-ts_ms + kDayMs - 1) / kDayMs);
}

Status validate(const WatchConfig& c) {
  auto bad = [](const char* key, const std::string& why) {
    return make_error("bad_config", fmt::format("change watch {}: {}", key, why));
  };
  if (c.camera.empty()) return bad("camera", "must not be empty");
  if (c.persist_days < 1 || c.persist_days > 365) return bad("persist_days", "must be in 1..365");
  if (c.max_missed < 0 || c.max_missed > 30) return bad("max_missed", "must be in 0..30");
  if (!(c.match_overlap > 0 && c.match_overlap <= 1)) return bad("match_overlap", "must be in (0,1]");
  if (!(c.min_zone_area_px >= 0)) return bad("min_zone_area_px", "must be >= 0");
  if (c.reference_refresh_days < 1 || c.reference_refresh_days > 3650)
    return bad("reference_refresh_days", "must be in 1..3650");
  if (c.reference_time_min < -1 || c.reference_time_min >= 1440)
    return bad("reference_time_min", "must be -1 (any) or 0..1439");
  if (c.reference_tolerance_min < 0 || c.reference_tolerance_min > 720)
    return bad("reference_tolerance_min", "must be in 0..720");
  if (c.history_size < 1) return bad("history_size", "must be at least 1");
  if (c.crop_max_side < 16 || c.crop_max_side > 2048) return bad("crop_max_side", "must be in 16..2048");
  if (c.jpeg_quality < 10 || c.jpeg_quality > 100) return bad("jpeg_quality", "must be in 10..100");
  if (!(c.crop_margin >= 0 && c.crop_margin <= 2)) return bad("crop_margin", "must be in 0..2");
  for (const auto& z : c.zones)
    if (z.points.size() < 3) return bad("zones", fmt::format("zone '{}' needs at least 3 points", z.name));
  if (auto st = validate(c.compare); !st) return st;
  return {};
}

Result<WatchConfig> watch_config_for(const tw::SiteConfig& site, const tw::CameraConfig& cam) {
  if (std::find(cam.analytics.begin(), cam.analytics.end(), "change") == cam.analytics.end())
    return make_error("bad_config", fmt::format("{}: camera {}: analytics does not include \"change\"", site.file, cam.id));
  WatchConfig w;
  w.site = site.id;
  w.camera = cam.id;
  for (const auto& z : cam.zones) {
    if (z.points.size() < 6 || z.points.size() % 2 != 0)
      return make_error("bad_config", fmt::format("{}: camera {} zone '{}': needs x,y pairs of at least 3 points "
                                                  "(got {} values)", site.file, cam.id, z.name, z.points.size()));
    Zone zone;
    zone.name = z.name;
    for (size_t i = 0; i < z.points.size(); i += 2) zone.points.emplace_back(z.points[i], z.points[i + 1]);
    w.zones.push_back(std::move(zone));
  }
  w.persist_days = cam.change.persist_days;
  w.reference_refresh_days = cam.change.refresh_days;
  w.reference_time_min = cam.change.reference_minute;
  if (!cam.change.head_model.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(cam.change.head_model, ec))
      return make_error("bad_config", fmt::format("{}: camera {}: change.head_model {} is not a file", site.file,
                                                  cam.id, cam.change.head_model));
    w.compare.head_model = cam.change.head_model;
  }
  if (auto st = validate(w); !st) return st.error();
  return w;
}

Result<std::unique_ptr<ChangeWatcher>> ChangeWatcher::create(WatchConfig cfg, TransientMasker masker,
                                                             Redactor redactor) {
  if (auto st = validate(cfg); !st) return st.error();
  std::unique_ptr<ChangeWatcher> w(new ChangeWatcher());
  w->cfg_ = std::move(cfg);
  w->masker_ = std::move(masker);
  w->redactor_ = std::move(redactor);
  return w;
}

bool ChangeWatcher::near_reference_time(std::int64_t ts_ms) const {
  if (cfg_.reference_time_min < 0) return true;
  std::int64_t minute = (ts_ms - utc_day(ts_ms) * kDayMs) / 60'000;
  std::int64_t d = std::abs(minute - cfg_.reference_time_min);
  d = std::min<std::int64_t>(d, 1440 - d);
  return d <= cfg_.reference_tolerance_min;
}

void ChangeWatcher::push_reference(const cv::Mat& bgr, std::int64_t ts_ms) {
  history_.push_back({ts_ms, bgr.clone()});
  while (history_.size() > cfg_.history_size) history_.erase(history_.begin());
}

Status ChangeWatcher::set_reference(const cv::Mat& img, std::int64_t ts_ms) {
  if (img.empty()) return make_error("empty_image", fmt::format("camera {}: empty reference image", cfg_.camera));
  cv::Mat bgr = as_bgr(img);
  if (bgr.empty() || bgr.depth() != CV_8U)
    return make_error("bad_image", fmt::format("camera {}: reference must be 8-bit grey, BGR or BGRA", cfg_.camera));
  if (!history_.empty() && bgr.size() != history_.back().image.size())
    return make_error("size_mismatch", fmt::format("camera {}: reference {}x{} differs from the view's {}x{}",
                                                   cfg_.camera, bgr.cols, bgr.rows, history_.back().image.cols,
                                                   history_.back().image.rows));
  if (zone_masks_.empty()) {
    for (const auto& z : cfg_.zones) {
      if (auto st = check_zone(z, bgr.size()); !st) return st;
      zone_masks_.push_back(zone_mask(z, bgr.size()));
    }
    zones_mask_ = cfg_.zones.empty() ? cv::Mat() : zones_mask(cfg_.zones, bgr.size());
  }
  push_reference(bgr, ts_ms);
  candidates_.clear();
  return {};
}

Message ChangeWatcher::alert_message(const std::vector<Candidate*>& group, const cv::Mat& current,
                                     std::int64_t ts_ms) {
  const ReferenceEntry& ref = history_.back();
  cv::Rect box = group.front()->box;
  double area = 0, score = 0;
  std::int64_t first = group.front()->first_seen_ms;
  size_t days = 0;
  nlohmann::json regions = nlohmann::json::array();
  for (const Candidate* c : group) {
    box |= c->box;
    area += c->area_px;
    score = std::max(score, c->score);
    first = std::min(first, c->first_seen_ms);
    days = std::max(days, c->days.size());
    regions.push_back({{"x0", c->box.x}, {"y0", c->box.y}, {"x1", c->box.x + c->box.width},
                       {"y1", c->box.y + c->box.height}, {"area_px", c->area_px},
                       {"first_seen", format_iso8601_ms(c->first_seen_ms).substr(0, 10)}});
  }
  const std::string& zone_name = group.front()->zone;
  nlohmann::json p;
  p["camera"] = cfg_.camera;
  if (!cfg_.preset.empty()) p["preset"] = cfg_.preset;
  p["zone"] = zone_name;
  p["area_px"] = area;
  double zone_px = static_cast<double>(current.total());
  for (size_t i = 0; i < cfg_.zones.size(); ++i)
    if (cfg_.zones[i].name == zone_name) zone_px = cv::countNonZero(zone_masks_[i]);
  p["area_fraction"] = zone_px > 0 ? area / zone_px : 0.0;
  p["box"] = {{"x0", box.x}, {"y0", box.y}, {"x1", box.x + box.width}, {"y1", box.y + box.height}};
  p["regions"] = regions;
  p["score"] = score;
  p["first_seen"] = format_iso8601_ms(first).substr(0, 10);
  p["first_seen_ts"] = first;
  p["days_seen"] = static_cast<int>(days);
  p["reference_ts"] = ref.ts_ms;
  p["image_width"] = current.cols;
  p["image_height"] = current.rows;
  if (redactor_) {
    int mx = static_cast<int>(box.width * cfg_.crop_margin), my = static_cast<int>(box.height * cfg_.crop_margin);
    cv::Rect crop(box.x - mx, box.y - my, box.width + 2 * mx, box.height + 2 * my);
    crop &= cv::Rect(0, 0, current.cols, current.rows);
    auto encode = [&](const cv::Mat& full) {
      cv::Mat red = full.clone();
      redactor_(red);  // redact the whole frame first: faces are found better with context
      cv::Mat part = red(crop).clone();
      double s = std::min(1.0, static_cast<double>(cfg_.crop_max_side) / std::max(part.cols, part.rows));
      if (s < 1) cv::resize(part, part, cv::Size(), s, s, cv::INTER_AREA);
      std::vector<uchar> buf;
      cv::imencode(".jpg", part, buf, {cv::IMWRITE_JPEG_QUALITY, cfg_.jpeg_quality});
      return base64(buf);
    };
    p["before_jpeg"] = encode(ref.image);
    p["after_jpeg"] = encode(current);
    p["crop"] = {{"x0", crop.x}, {"y0", crop.y}, {"x1", crop.x + crop.width}, {"y1", crop.y + crop.height}};
    p["redacted"] = true;
  } else {
    p["redacted"] = false;  // no redactor configured: no image leaves the process
  }
  return make_message(cfg_.site, "change", ts_ms, std::move(p));
}

Result<std::vector<Message>> ChangeWatcher::feed(const cv::Mat& img, std::int64_t ts_ms) {
  std::vector<Message> out;
  if (img.empty()) return make_error("empty_image", fmt::format("camera {}: empty capture", cfg_.camera));
  cv::Mat bgr = as_bgr(img);
  if (bgr.empty() || bgr.depth() != CV_8U)
    return make_error("bad_image", fmt::format("camera {}: capture must be 8-bit grey, BGR or BGRA", cfg_.camera));
  if (history_.empty()) {
    if (auto st = set_reference(bgr, ts_ms); !st) return st.error();
    last_capture_ms_ = ts_ms;
    return out;
  }
  const ReferenceEntry& ref = history_.back();
  if (bgr.size() != ref.image.size())
    return make_error("size_mismatch", fmt::format("camera {}: capture {}x{} differs from the reference {}x{}",
                                                   cfg_.camera, bgr.cols, bgr.rows, ref.image.cols, ref.image.rows));
  auto r = compare(ref.image, bgr, cfg_.compare, zones_mask_, masker_);
  if (!r) return r.error();
  last_ = std::move(r.value());
  last_capture_ms_ = std::max(last_capture_ms_, ts_ms);

  std::string state = to_string(last_.status);
  if (state != camera_state_) {
    nlohmann::json p{{"camera", cfg_.camera}, {"state", state}, {"analysis", "change"}};
    if (!cfg_.preset.empty()) p["preset"] = cfg_.preset;
    p["registration_correlation"] = last_.registration.correlation;
    out.push_back(make_message(cfg_.site, "camera_status", ts_ms, std::move(p)));
    camera_state_ = state;
  }
  if (last_.status != CompareStatus::ok) return out;  // neither evidence for nor against a candidate

  const std::int64_t day = utc_day(ts_ms);
  std::vector<char> matched(candidates_.size(), 0);
  if (last_.changed) {
    for (const auto& reg : last_.regions) {
      if (reg.area_px < cfg_.min_zone_area_px) continue;
      cv::Rect box(reg.x0, reg.y0, reg.x1 - reg.x0, reg.y1 - reg.y0);
      if (box.area() <= 0) continue;
      // Zone holding most of the region's changed pixels.
      std::string zone = "view";
      if (!cfg_.zones.empty()) {
        int best = 0;
        zone.clear();
        for (size_t i = 0; i < cfg_.zones.size(); ++i) {
          int n = cv::countNonZero(last_.mask(box) & zone_masks_[i](box));
          if (n > best) {
            best = n;
            zone = cfg_.zones[i].name;
          }
        }
        if (zone.empty()) continue;
      }
      size_t best_i = candidates_.size();
      double best_o = cfg_.match_overlap;
      for (size_t i = 0; i < candidates_.size(); ++i) {
        if (candidates_[i].zone != zone) continue;
        double o = overlap_of_smaller(candidates_[i].box, box);
        if (o >= best_o) {
          best_o = o;
          best_i = i;
        }
      }
      if (best_i == candidates_.size()) {
        Candidate c;
        c.box = box;
        c.zone = zone;
        c.first_seen_ms = ts_ms;
        candidates_.push_back(c);
        matched.push_back(0);
      }
      Candidate& c = candidates_[best_i];
      if (!matched[best_i]) c.area_px = 0;
      c.box = matched[best_i] ? (c.box | box) : box;
      c.area_px += reg.area_px;
      c.score = std::max(matched[best_i] ? c.score : 0.0, reg.score);
      c.last_seen_ms = ts_ms;
      c.days.insert(day);
      c.missed = 0;
      matched[best_i] = 1;
    }
  }
  std::vector<Candidate> kept;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    Candidate& c = candidates_[i];
    if (!matched[i] && ++c.missed > cfg_.max_missed) continue;
    kept.push_back(std::move(c));
  }
  candidates_ = std::move(kept);
  // One alert per zone and capture, gathering every candidate of the zone that became persistent now.
  std::vector<std::string> zone_order;
  for (const auto& c : candidates_)
    if (c.last_seen_ms == ts_ms && !c.alerted && static_cast<int>(c.days.size()) >= cfg_.persist_days &&
        std::find(zone_order.begin(), zone_order.end(), c.zone) == zone_order.end())
      zone_order.push_back(c.zone);
  for (const auto& z : zone_order) {
    std::vector<Candidate*> group;
    for (auto& c : candidates_)
      if (c.zone == z && c.last_seen_ms == ts_ms && !c.alerted && static_cast<int>(c.days.size()) >= cfg_.persist_days)
        group.push_back(&c);
    out.push_back(alert_message(group, bgr, ts_ms));
    for (auto* c : group) c->alerted = true;
  }

  // Reference refresh: a clean capture, old enough reference, near the configured time of day.
  if (!last_.changed && candidates_.empty() && ts_ms - history_.back().ts_ms >= cfg_.reference_refresh_days * kDayMs &&
      near_reference_time(ts_ms))
    push_reference(bgr, ts_ms);
  return out;
}

Status ChangeWatcher::save_state(const std::string& dir) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("io", fmt::format("{}: cannot create folder ({})", dir, ec.message()));
  nlohmann::json j;
  j["version"] = 1;
  j["camera"] = cfg_.camera;
  j["preset"] = cfg_.preset;
  j["camera_state"] = camera_state_;
  j["last_capture_ms"] = last_capture_ms_;
  j["references"] = nlohmann::json::array();
  for (const auto& r : history_) {
    std::string name = fmt::format("ref_{}.png", r.ts_ms);
    fs::path path = fs::path(dir) / name;
    if (!fs::exists(path)) {
      fs::path tmp = fs::path(dir) / (name + ".tmp.png");
      bool ok = false;
      try {
        ok = cv::imwrite(tmp.string(), r.image);
      } catch (const cv::Exception&) {
        ok = false;
      }
      if (!ok) return make_error("io", fmt::format("{}: cannot write reference image", tmp.string()));
      fs::rename(tmp, path, ec);
      if (ec) return make_error("io", fmt::format("{}: {}", path.string(), ec.message()));
    }
    j["references"].push_back({{"ts_ms", r.ts_ms}, {"file", name}});
  }
  j["candidates"] = nlohmann::json::array();
  for (const auto& c : candidates_)
    j["candidates"].push_back({{"x", c.box.x}, {"y", c.box.y}, {"w", c.box.width}, {"h", c.box.height},
                               {"zone", c.zone}, {"area_px", c.area_px}, {"score", c.score},
                               {"first_seen_ms", c.first_seen_ms}, {"last_seen_ms", c.last_seen_ms},
                               {"days", std::vector<std::int64_t>(c.days.begin(), c.days.end())},
                               {"missed", c.missed}, {"alerted", c.alerted}});
  fs::path tmp = fs::path(dir) / "state.json.tmp", path = fs::path(dir) / "state.json";
  {
    std::ofstream out(tmp);
    out << j.dump(1);
    if (!out) return make_error("io", fmt::format("{}: cannot write", tmp.string()));
  }
  fs::rename(tmp, path, ec);
  if (ec) return make_error("io", fmt::format("{}: {}", path.string(), ec.message()));
  // Reference images no longer in the history are removed.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("ref_", 0) != 0) continue;
    bool used = false;
    for (const auto& r : j["references"]) used = used || r["file"] == n;
    if (!used) fs::remove(e.path(), ec);
  }
  return {};
}

Status ChangeWatcher::load_state(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path path = fs::path(dir) / "state.json";
  std::ifstream in(path);
  if (!in) return make_error("not_found", fmt::format("{}: no saved state", path.string()));
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("bad_state", fmt::format("{}: not valid JSON", path.string()));
  auto bad = [&](const std::string& what) { return make_error("bad_state", fmt::format("{}: {}", path.string(), what)); };
  std::vector<ReferenceEntry> hist;
  std::vector<Candidate> cands;
  try {
    if (j.value("version", 0) != 1) return bad("unsupported version");
    for (const auto& r : j.at("references")) {
      ReferenceEntry e;
      e.ts_ms = r.at("ts_ms").get<std::int64_t>();
      std::string file = r.at("file").get<std::string>();
      if (file.find('/') != std::string::npos || file.find("..") != std::string::npos) return bad("bad reference file name " + file);
      e.image = cv::imread((fs::path(dir) / file).string(), cv::IMREAD_COLOR);
      if (e.image.empty()) return bad("reference " + file + " is missing or unreadable");
      if (!hist.empty() && e.image.size() != hist.front().image.size())
        return make_error("size_mismatch", fmt::format("{}: reference {} differs in size", path.string(), file));
      hist.push_back(std::move(e));
    }
    for (const auto& c : j.at("candidates")) {
      Candidate k;
      k.box = cv::Rect(c.at("x").get<int>(), c.at("y").get<int>(), c.at("w").get<int>(), c.at("h").get<int>());
      k.zone = c.at("zone").get<std::string>();
      k.area_px = c.at("area_px").get<double>();
      k.score = c.at("score").get<double>();
      k.first_seen_ms = c.at("first_seen_ms").get<std::int64_t>();
      k.last_seen_ms = c.at("last_seen_ms").get<std::int64_t>();
      for (const auto& d : c.at("days")) k.days.insert(d.get<std::int64_t>());
      k.missed = c.at("missed").get<int>();
      k.alerted = c.at("alerted").get<bool>();
      cands.push_back(std::move(k));
    }
    camera_state_ = j.value("camera_state", std::string("ok"));
    last_capture_ms_ = j.value("last_capture_ms", std::int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("missing or ill-typed field (") + e.what() + ")");
  }
  history_.clear();
  candidates_.clear();
  zone_masks_.clear();
  if (!hist.empty()) {
    // Re-derives the zone masks for the references' size.
    ReferenceEntry last = hist.back();
    hist.pop_back();
    if (auto st = set_reference(last.image, last.ts_ms); !st) return st;
    hist.push_back(std::move(history_.back()));
    history_ = std::move(hist);
  }
  candidates_ = std::move(cands);
  return {};
}

}  // namespace tw::change
