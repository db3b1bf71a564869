#include "tw/video/counting.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/core.h>

#include "tw/core/time.hpp"

namespace tw::video {
namespace {

Result<std::vector<double>> parse_numbers(const std::string& text, const char* what) {
  std::vector<double> v;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    std::string tok = text.substr(i, j - i);
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.front()))) tok.erase(tok.begin());
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back()))) tok.pop_back();
    if (tok.empty()) return make_error(what, fmt::format("'{}': empty number at position {}", text, v.size() + 1));
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(tok.c_str(), &end);
    if (end == tok.c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(d))
      return make_error(what, fmt::format("'{}': '{}' is not a number (position {})", text, tok, v.size() + 1));
    v.push_back(d);
    i = j + 1;
  }
  return v;
}

double cross(Point o, Point a, Point b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

bool on_segment(Point p, Point q, Point r) {
  return std::min(p.x, r.x) <= q.x && q.x <= std::max(p.x, r.x) && std::min(p.y, r.y) <= q.y &&
         q.y <= std::max(p.y, r.y);
}

}  // namespace

Result<LineSpec> parse_line(const std::string& text) {
  auto v = parse_numbers(text, "bad_line");
  if (!v) return v.error();
  if (v->size() != 4)
    return make_error("bad_line", fmt::format("line '{}': expected 4 numbers x1,y1,x2,y2, got {}", text, v->size()));
  LineSpec l{text, {(*v)[0], (*v)[1]}, {(*v)[2], (*v)[3]}};
  if (l.a.x == l.b.x && l.a.y == l.b.y)
    return make_error("bad_line", fmt::format("line '{}': the two end points are the same", text));
  return l;
}

Result<ZoneSpec> parse_zone(const std::string& text) {
  auto v = parse_numbers(text, "bad_zone");
  if (!v) return v.error();
  if (v->size() < 6 || v->size() % 2 != 0)
    return make_error("bad_zone",
                      fmt::format("zone '{}': expected at least 3 x,y pairs (an even count >= 6), got {} numbers",
                                  text, v->size()));
  ZoneSpec z{text, {}};
  for (size_t i = 0; i < v->size(); i += 2) z.polygon.push_back({(*v)[i], (*v)[i + 1]});
  double area = 0;
  for (size_t i = 0; i < z.polygon.size(); ++i) {
    const Point& p = z.polygon[i];
    const Point& q = z.polygon[(i + 1) % z.polygon.size()];
    area += p.x * q.y - q.x * p.y;
  }
  if (std::abs(area) < 1e-9) return make_error("bad_zone", fmt::format("zone '{}': the polygon has no area", text));
  return z;
}

double side_value(const LineSpec& l, Point p) {
  return (l.b.x - l.a.x) * (p.y - l.a.y) - (l.b.y - l.a.y) * (p.x - l.a.x);
}

bool segments_intersect(Point p, Point q, Point a, Point b) {
  const double d1 = cross(a, b, p), d2 = cross(a, b, q), d3 = cross(p, q, a), d4 = cross(p, q, b);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  if (d1 == 0 && on_segment(a, p, b)) return true;
  if (d2 == 0 && on_segment(a, q, b)) return true;
  if (d3 == 0 && on_segment(p, a, q)) return true;
  if (d4 == 0 && on_segment(p, b, q)) return true;
  return false;
}

bool point_in_polygon(const std::vector<Point>& poly, Point p) {
  bool in = false;
  const size_t n = poly.size();
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const Point& a = poly[i];
    const Point& b = poly[j];
    if ((a.y > p.y) != (b.y > p.y)) {
      const double x = (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x;
      if (p.x < x) in = !in;
    }
  }
  return in;
}

LineZoneCounter::LineZoneCounter(std::vector<LineSpec> lines, std::vector<ZoneSpec> zones, CounterConfig config)
    : lines_(std::move(lines)), zones_(std::move(zones)), cfg_(config) {
  totals_.lines.resize(lines_.size());
  totals_.zones.resize(zones_.size());
  interval_.lines.resize(lines_.size());
  interval_.zones.resize(zones_.size());
}

void LineZoneCounter::add_line(size_t line, const std::string& label, int dir, int track_id) {
  if (log_) log_->push_back(CrossingEvent{track_id, line, dir, updates_});
  auto& t = totals_.lines[line][label];
  auto& iv = interval_.lines[line][label];
  if (dir > 0) {
    ++t.pos;
    ++iv.pos;
  } else {
    ++t.neg;
    ++iv.neg;
  }
}

void LineZoneCounter::update(const std::vector<ObjectObservation>& observations) {
  ++updates_;
  for (const auto& o : observations) {
    auto [it, fresh] = tracks_.try_emplace(o.track_id);
    TrackState& ts = it->second;
    if (fresh) {
      ts.lines.resize(lines_.size());
      ts.zones.resize(zones_.size());
    }
    ts.label = o.label;
    ts.hits = std::max(ts.hits, o.hits);
    const bool confirmed = ts.hits >= cfg_.min_track_hits;
    for (size_t i = 0; i < lines_.size(); ++i) {
      const LineSpec& l = lines_[i];
      const double len = std::hypot(l.b.x - l.a.x, l.b.y - l.a.y);
      const double d = side_value(l, o.ref) / len;  // signed distance in pixels
      if (std::abs(d) <= std::max(cfg_.hysteresis_px, cfg_.hysteresis_frac * o.height)) continue;
      const int sg = d > 0 ? 1 : -1;
      LineState& ls = ts.lines[i];
      if (ls.side != 0 && sg != ls.side && segments_intersect(ls.anchor, o.ref, l.a, l.b)) {
        const int dir = sg > 0 ? 1 : -1;  // negative -> positive is "pos"
        if (confirmed) {
          add_line(i, ts.label, dir, o.track_id);
        } else {
          ts.pending.emplace_back(i, dir);
        }
      }
      ls.side = sg;
      ls.anchor = o.ref;
    }
    if (confirmed && !ts.pending.empty()) {
      for (auto [line, dir] : ts.pending) add_line(line, ts.label, dir, o.track_id);
      ts.pending.clear();
    }
    for (size_t z = 0; z < zones_.size(); ++z) {
      ZoneState& zs = ts.zones[z];
      const bool in = point_in_polygon(zones_[z].polygon, o.ref);
      if (!zs.known) {
        zs.known = true;
        zs.inside = in;
        zs.streak = 0;
        continue;
      }
      if (in == zs.inside) {
        zs.streak = 0;
        continue;
      }
      if (++zs.streak >= cfg_.zone_min_frames) {
        zs.inside = in;
        zs.streak = 0;
        if (confirmed) {
          auto& t = totals_.zones[z][ts.label];
          auto& iv = interval_.zones[z][ts.label];
          if (in) {
            ++t.entries;
            ++iv.entries;
          } else {
            ++t.exits;
            ++iv.exits;
          }
        }
      }
    }
  }
  // Occupancy: confirmed tracks currently inside each zone.
  for (size_t z = 0; z < zones_.size(); ++z) {
    for (auto& [k, v] : totals_.zones[z]) v.occupancy = 0;
    for (const auto& [id, ts] : tracks_) {
      if (ts.hits < cfg_.min_track_hits || !ts.zones[z].known || !ts.zones[z].inside) continue;
      ++totals_.zones[z][ts.label].occupancy;
    }
    for (auto& [k, v] : totals_.zones[z]) interval_.zones[z][k].occupancy = v.occupancy;
  }
}

void LineZoneCounter::remove_track(int track_id) { tracks_.erase(track_id); }

CountSnapshot LineZoneCounter::take_interval() {
  CountSnapshot out = interval_;
  interval_.lines.assign(lines_.size(), {});
  interval_.zones.assign(zones_.size(), {});
  for (size_t z = 0; z < zones_.size(); ++z)
    for (const auto& [k, v] : totals_.zones[z]) interval_.zones[z][k].occupancy = v.occupancy;
  return out;
}

nlohmann::json counts_payload(const std::string& camera, double interval_s, std::int64_t start_ms,
                              std::int64_t end_ms, const CountSnapshot& snap, const std::vector<LineSpec>& lines,
                              const std::vector<ZoneSpec>& zones) {
  nlohmann::json j;
  j["camera"] = camera;
  j["interval_s"] = interval_s;
  j["start"] = format_iso8601_ms(start_ms);
  j["end"] = format_iso8601_ms(end_ms);
  j["lines"] = nlohmann::json::array();
  for (size_t i = 0; i < lines.size() && i < snap.lines.size(); ++i) {
    nlohmann::json c = nlohmann::json::object();
    for (const auto& [cls, d] : snap.lines[i]) c[cls] = {{"pos", d.pos}, {"neg", d.neg}};
    j["lines"].push_back({{"line", lines[i].name}, {"counts", c}});
  }
  j["zones"] = nlohmann::json::array();
  for (size_t i = 0; i < zones.size() && i < snap.zones.size(); ++i) {
    nlohmann::json c = nlohmann::json::object();
    for (const auto& [cls, d] : snap.zones[i])
      c[cls] = {{"occupancy", d.occupancy}, {"entries", d.entries}, {"exits", d.exits}};
    j["zones"].push_back({{"zone", zones[i].name}, {"counts", c}});
  }
  return j;
}

}  // namespace tw::video
