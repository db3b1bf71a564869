#include "tw/video/mot.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <fmt/core.h>

#include "tw/video/tracker.hpp"

namespace tw::video {
namespace {

Box to_box(const MotBox& b) {
  return Box{static_cast<float>(b.x), static_cast<float>(b.y), static_cast<float>(b.x + b.w),
             static_cast<float>(b.y + b.h)};
}

}  // namespace

Result<std::vector<MotBox>> load_mot(const std::string& path, double scale, bool skip_inactive) {
  std::ifstream in(path);
  if (!in) return make_error("not_found", fmt::format("{}: cannot open MOT file", path));
  std::vector<MotBox> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<double> v;
    std::stringstream ss(line);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
      char* end = nullptr;
      const double d = std::strtod(tok.c_str(), &end);
      if (end == tok.c_str() || !std::isfinite(d))
        return make_error("bad_mot", fmt::format("{}:{}: '{}' is not a number", path, lineno, tok));
      v.push_back(d);
    }
    if (v.size() < 6)
      return make_error("bad_mot", fmt::format("{}:{}: expected at least 6 columns, got {}", path, lineno, v.size()));
    if (skip_inactive && v.size() >= 7 && v[6] == 0) continue;
    if (v[0] < 1 || v[4] < 0 || v[5] < 0)
      return make_error("bad_mot", fmt::format("{}:{}: frame must be >= 1 and sizes >= 0", path, lineno));
    MotBox b;
    b.frame = static_cast<int>(v[0]);
    b.id = static_cast<int>(v[1]);
    b.x = v[2] * scale;
    b.y = v[3] * scale;
    b.w = v[4] * scale;
    b.h = v[5] * scale;
    out.push_back(b);
  }
  return out;
}

MotMetrics evaluate_mot(const std::vector<MotBox>& gt, const std::vector<MotBox>& hyp, double iou_threshold) {
  MotMetrics m;
  std::map<int, std::vector<const MotBox*>> gf, hf;
  std::set<int> gids, hids;
  for (const auto& b : gt) gf[b.frame].push_back(&b), gids.insert(b.id);
  for (const auto& b : hyp) hf[b.frame].push_back(&b), hids.insert(b.id);
  m.gt = static_cast<std::int64_t>(gt.size());
  m.hyp = static_cast<std::int64_t>(hyp.size());
  m.gt_ids = static_cast<int>(gids.size());
  m.hyp_ids = static_cast<int>(hids.size());
  std::set<int> frames;
  for (const auto& [f, v] : gf) frames.insert(f);
  for (const auto& [f, v] : hf) frames.insert(f);

  // id overlap counts for IDF1
  std::map<std::pair<int, int>, std::int64_t> overlap;
  std::map<int, int> last_match;  // gt id -> hyp id of its last match
  double iou_sum = 0;
  static const std::vector<const MotBox*> kNone;
  for (int f : frames) {
    const auto& g = gf.count(f) ? gf[f] : kNone;
    const auto& h = hf.count(f) ? hf[f] : kNone;
    for (const auto* a : g)
      for (const auto* b : h)
        if (box_iou(to_box(*a), to_box(*b)) >= iou_threshold) ++overlap[{a->id, b->id}];
    // CLEAR-MOT: keep last frame's correspondences that are still valid.
    std::vector<int> gmatch(g.size(), -1);
    std::vector<char> hused(h.size(), 0);
    for (size_t i = 0; i < g.size(); ++i) {
      auto it = last_match.find(g[i]->id);
      if (it == last_match.end()) continue;
      for (size_t j = 0; j < h.size(); ++j) {
        if (hused[j] || h[j]->id != it->second) continue;
        if (box_iou(to_box(*g[i]), to_box(*h[j])) >= iou_threshold) {
          gmatch[i] = static_cast<int>(j);
          hused[j] = 1;
        }
        break;
      }
    }
    std::vector<int> gi, hj;
    for (size_t i = 0; i < g.size(); ++i)
      if (gmatch[i] < 0) gi.push_back(static_cast<int>(i));
    for (size_t j = 0; j < h.size(); ++j)
      if (!hused[j]) hj.push_back(static_cast<int>(j));
    if (!gi.empty() && !hj.empty()) {
      std::vector<double> cost(gi.size() * hj.size(), std::numeric_limits<double>::infinity());
      for (size_t a = 0; a < gi.size(); ++a)
        for (size_t b = 0; b < hj.size(); ++b) {
          const double iou = box_iou(to_box(*g[static_cast<size_t>(gi[a])]), to_box(*h[static_cast<size_t>(hj[b])]));
          if (iou >= iou_threshold) cost[a * hj.size() + b] = 1.0 - iou;
        }
      auto asg = linear_assignment(cost, static_cast<int>(gi.size()), static_cast<int>(hj.size()), 1.0);
      for (size_t a = 0; a < gi.size(); ++a) {
        const int b = asg[a];
        if (b < 0 || !std::isfinite(cost[a * hj.size() + static_cast<size_t>(b)])) continue;
        gmatch[static_cast<size_t>(gi[a])] = hj[static_cast<size_t>(b)];
        hused[static_cast<size_t>(hj[static_cast<size_t>(b)])] = 1;
      }
    }
    for (size_t i = 0; i < g.size(); ++i) {
      if (gmatch[i] < 0) {
        ++m.fn;
        continue;
      }
      const MotBox* hb = h[static_cast<size_t>(gmatch[i])];
      ++m.matches;
      iou_sum += box_iou(to_box(*g[i]), to_box(*hb));
      auto it = last_match.find(g[i]->id);
      if (it != last_match.end() && it->second != hb->id) ++m.idsw;
      last_match[g[i]->id] = hb->id;
    }
    for (size_t j = 0; j < h.size(); ++j)
      if (!hused[j]) ++m.fp;
  }
  m.mota = m.gt > 0 ? 1.0 - static_cast<double>(m.fn + m.fp + m.idsw) / static_cast<double>(m.gt) : 0.0;
  m.motp_iou = m.matches > 0 ? iou_sum / static_cast<double>(m.matches) : 0.0;

  // IDF1: one-to-one mapping of gt ids to hyp ids maximising the frames they share.
  std::vector<int> gv(gids.begin(), gids.end()), hv(hids.begin(), hids.end());
  if (!gv.empty() && !hv.empty()) {
    std::int64_t maxw = 0;
    for (const auto& [k, c] : overlap) maxw = std::max(maxw, c);
    std::vector<double> cost(gv.size() * hv.size());
    for (size_t a = 0; a < gv.size(); ++a)
      for (size_t b = 0; b < hv.size(); ++b) {
        auto it = overlap.find({gv[a], hv[b]});
        cost[a * hv.size() + b] = static_cast<double>(maxw - (it == overlap.end() ? 0 : it->second));
      }
    auto asg = linear_assignment(cost, static_cast<int>(gv.size()), static_cast<int>(hv.size()),
                                 static_cast<double>(maxw));
    for (size_t a = 0; a < gv.size(); ++a) {
      if (asg[a] < 0) continue;
      auto it = overlap.find({gv[a], hv[static_cast<size_t>(asg[a])]});
      if (it != overlap.end()) m.idtp += it->second;
    }
  }
  m.idfn = m.gt - m.idtp;
  m.idfp = m.hyp - m.idtp;
  m.idf1 = (m.gt + m.hyp) > 0 ? 2.0 * static_cast<double>(m.idtp) / static_cast<double>(m.gt + m.hyp) : 0.0;
  m.idp = m.hyp > 0 ? static_cast<double>(m.idtp) / static_cast<double>(m.hyp) : 0.0;
  m.idr = m.gt > 0 ? static_cast<double>(m.idtp) / static_cast<double>(m.gt) : 0.0;
  return m;
}

std::vector<DirCounts> count_crossings(const std::vector<MotBox>& boxes, const std::vector<LineSpec>& lines) {
  std::vector<DirCounts> out(lines.size());
  std::map<int, std::vector<const MotBox*>> by_id;
  for (const auto& b : boxes) by_id[b.id].push_back(&b);
  for (auto& [id, v] : by_id) {
    std::stable_sort(v.begin(), v.end(), [](const MotBox* a, const MotBox* b) { return a->frame < b->frame; });
    for (size_t k = 1; k < v.size(); ++k) {
      const Point p{v[k - 1]->x + 0.5 * v[k - 1]->w, v[k - 1]->y + v[k - 1]->h};
      const Point q{v[k]->x + 0.5 * v[k]->w, v[k]->y + v[k]->h};
      for (size_t i = 0; i < lines.size(); ++i) {
        const double s0 = side_value(lines[i], p), s1 = side_value(lines[i], q);
        if (!segments_intersect(p, q, lines[i].a, lines[i].b)) continue;
        if (s0 < 0 && s1 > 0) ++out[i].pos;
        if (s0 > 0 && s1 < 0) ++out[i].neg;
      }
    }
  }
  return out;
}

}  // namespace tw::video
