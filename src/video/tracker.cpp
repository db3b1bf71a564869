#include "tw/video/tracker.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tw::video {
namespace {

constexpr double kStdPos = 1.0 / 20.0;
constexpr double kStdVel = 1.0 / 160.0;
constexpr double kChi2Inv95Dof4 = 9.4877;  // chi-square 0.95 quantile, 4 degrees of freedom (DeepSORT's gate)

inline double& at(std::array<double, 64>& m, int r, int c) { return m[static_cast<size_t>(r * 8 + c)]; }
inline double at(const std::array<double, 64>& m, int r, int c) { return m[static_cast<size_t>(r * 8 + c)]; }

// Inverts a symmetric positive-definite 4x4 matrix by Gauss-Jordan with partial pivoting.
bool invert4(const double in[16], double out[16]) {
  double a[4][8];
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 8; ++c) a[r][c] = c < 4 ? in[r * 4 + c] : (c - 4 == r ? 1.0 : 0.0);
  for (int c = 0; c < 4; ++c) {
    int piv = c;
    for (int r = c + 1; r < 4; ++r)
      if (std::abs(a[r][c]) > std::abs(a[piv][c])) piv = r;
    if (std::abs(a[piv][c]) < 1e-300) return false;
    if (piv != c)
      for (int k = 0; k < 8; ++k) std::swap(a[c][k], a[piv][k]);
    const double d = a[c][c];
    for (int k = 0; k < 8; ++k) a[c][k] /= d;
    for (int r = 0; r < 4; ++r) {
      if (r == c) continue;
      const double f = a[r][c];
      if (f == 0) continue;
      for (int k = 0; k < 8; ++k) a[r][k] -= f * a[c][k];
    }
  }
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) out[r * 4 + c] = a[r][c + 4];
  return true;
}

std::array<double, 4> to_z(const Box& b) {
  const double w = std::max(1e-3f, b.x1 - b.x0), h = std::max(1e-3f, b.y1 - b.y0);
  return {0.5 * (b.x0 + b.x1), 0.5 * (b.y0 + b.y1), w / h, h};
}

}  // namespace

float box_iou(const Box& a, const Box& b) {
  const float ix = std::max(0.f, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const float iy = std::max(0.f, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  const float inter = ix * iy;
  const float u = std::max(0.f, a.width()) * std::max(0.f, a.height()) +
                  std::max(0.f, b.width()) * std::max(0.f, b.height()) - inter;
  return u > 0 ? inter / u : 0.f;
}

void KalmanBoxFilter::init(const Box& b) {
  const auto z = to_z(b);
  x_ = {z[0], z[1], z[2], z[3], 0, 0, 0, 0};
  p_.fill(0);
  const double h = z[3];
  const double sd[8] = {2 * kStdPos * h, 2 * kStdPos * h, 1e-2, 2 * kStdPos * h,
                        10 * kStdVel * h, 10 * kStdVel * h, 1e-5, 10 * kStdVel * h};
  for (int i = 0; i < 8; ++i) at(p_, i, i) = sd[i] * sd[i];
}

void KalmanBoxFilter::predict() {
  const double h = x_[3];
  const double q[8] = {kStdPos * h, kStdPos * h, 1e-2, kStdPos * h, kStdVel * h, kStdVel * h, 1e-5, kStdVel * h};
  for (int i = 0; i < 4; ++i) x_[static_cast<size_t>(i)] += x_[static_cast<size_t>(i + 4)];
  // P = F P F^T + Q with F = [I I; 0 I]
  std::array<double, 64> fp{};
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) at(fp, r, c) = at(p_, r, c) + (r < 4 ? at(p_, r + 4, c) : 0.0);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) at(p_, r, c) = at(fp, r, c) + (c < 4 ? at(fp, r, c + 4) : 0.0);
  for (int i = 0; i < 8; ++i) at(p_, i, i) += q[i] * q[i];
}

bool KalmanBoxFilter::innovation(const Box& b, double y[4], double s_inv[16]) const {
  const auto z = to_z(b);
  const double h = x_[3];
  const double rr[4] = {kStdPos * h, kStdPos * h, 1e-1, kStdPos * h};
  double s[16];
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) s[r * 4 + c] = at(p_, r, c) + (r == c ? rr[r] * rr[r] : 0.0);
  for (int i = 0; i < 4; ++i) y[i] = z[static_cast<size_t>(i)] - x_[static_cast<size_t>(i)];
  return invert4(s, s_inv);
}

double KalmanBoxFilter::gating_distance(const Box& b) const {
  double y[4], si[16];
  if (!innovation(b, y, si)) return std::numeric_limits<double>::infinity();
  double d2 = 0;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) d2 += y[r] * si[r * 4 + c] * y[c];
  return d2;
}

void KalmanBoxFilter::update(const Box& b) {
  double y[4], si[16];
  if (!innovation(b, y, si)) return;
  // K = P[:, 0:4] * S^-1  (8x4)
  double k[32];
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 4; ++c) {
      double acc = 0;
      for (int j = 0; j < 4; ++j) acc += at(p_, r, j) * si[j * 4 + c];
      k[r * 4 + c] = acc;
    }
  for (int r = 0; r < 8; ++r) {
    double acc = 0;
    for (int j = 0; j < 4; ++j) acc += k[r * 4 + j] * y[j];
    x_[static_cast<size_t>(r)] += acc;
  }
  // P = P - K * P[0:4, :]
  std::array<double, 64> np = p_;
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) {
      double acc = 0;
      for (int j = 0; j < 4; ++j) acc += k[r * 4 + j] * at(p_, j, c);
      at(np, r, c) -= acc;
    }
  p_ = np;
}

Box KalmanBoxFilter::box() const {
  const double h = x_[3], w = x_[2] * h;
  return Box{static_cast<float>(x_[0] - 0.5 * w), static_cast<float>(x_[1] - 0.5 * h),
             static_cast<float>(x_[0] + 0.5 * w), static_cast<float>(x_[1] + 0.5 * h)};
}

std::vector<int> linear_assignment(const std::vector<double>& cost, int rows, int cols, double max_cost) {
  std::vector<int> match(static_cast<size_t>(std::max(rows, 0)), -1);
  if (rows <= 0 || cols <= 0) return match;
  // Hungarian algorithm (shortest augmenting paths with potentials) on a square n x n matrix padded with a
  // "no match" cost just above max_cost, so that a forbidden pair is never preferred to leaving both free.
  const int n = std::max(rows, cols);
  const double big = max_cost + 1.0;
  auto c = [&](int i, int j) -> double {
    if (i >= rows || j >= cols) return big;
    const double v = cost[static_cast<size_t>(i * cols + j)];
    return (std::isfinite(v) && v <= max_cost) ? v : big * 2;
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(static_cast<size_t>(n + 1), 0), v(static_cast<size_t>(n + 1), 0);
  std::vector<int> p(static_cast<size_t>(n + 1), 0), way(static_cast<size_t>(n + 1), 0);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::vector<double> minv(static_cast<size_t>(n + 1), inf);
    std::vector<char> used(static_cast<size_t>(n + 1), 0);
    do {
      used[static_cast<size_t>(j0)] = 1;
      const int i0 = p[static_cast<size_t>(j0)];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= n; ++j) {
        if (used[static_cast<size_t>(j)]) continue;
        const double cur = c(i0 - 1, j - 1) - u[static_cast<size_t>(i0)] - v[static_cast<size_t>(j)];
        if (cur < minv[static_cast<size_t>(j)]) {
          minv[static_cast<size_t>(j)] = cur;
          way[static_cast<size_t>(j)] = j0;
        }
        if (minv[static_cast<size_t>(j)] < delta) {
          delta = minv[static_cast<size_t>(j)];
          j1 = j;
        }
      }
      for (int j = 0; j <= n; ++j) {
        if (used[static_cast<size_t>(j)]) {
          u[static_cast<size_t>(p[static_cast<size_t>(j)])] += delta;
          v[static_cast<size_t>(j)] -= delta;
        } else {
          minv[static_cast<size_t>(j)] -= delta;
        }
      }
      j0 = j1;
    } while (p[static_cast<size_t>(j0)] != 0);
    do {
      const int j1 = way[static_cast<size_t>(j0)];
      p[static_cast<size_t>(j0)] = p[static_cast<size_t>(j1)];
      j0 = j1;
    } while (j0 != 0);
  }
  for (int j = 1; j <= n; ++j) {
    const int i = p[static_cast<size_t>(j)] - 1;
    if (i < 0 || i >= rows || j - 1 >= cols) continue;
    if (c(i, j - 1) <= max_cost) match[static_cast<size_t>(i)] = j - 1;
  }
  return match;
}

Tracker::Tracker(TrackerConfig config) : cfg_(config) {}

void Tracker::reset() {
  slots_.clear();
  tracks_view_.clear();
  removed_.clear();
  next_id_ = 1;
}

std::vector<Track> Tracker::update(const std::vector<TrackInput>& dets) {
  removed_.clear();
  std::vector<int> high, low;
  for (size_t i = 0; i < dets.size(); ++i) {
    if (dets[i].score >= cfg_.high_threshold) {
      high.push_back(static_cast<int>(i));
    } else if (dets[i].score >= cfg_.low_threshold) {
      low.push_back(static_cast<int>(i));
    }
  }
  for (auto& s : slots_) {
    // As in ByteTrack's multi_predict: a lost track keeps its size (height velocity zeroed), so that its box
    // neither shrinks to nothing nor balloons while it is not observed.
    if (s.t.state == TrackState::lost) s.kf.hold_size();
    s.kf.predict();
    s.t.box = s.kf.box();
    s.t.det_index = -1;
    ++s.t.age;
  }
  std::vector<char> slot_matched(slots_.size(), 0);

  // Matches det indices `di` against slot indices `si` by minimum total cost; pair_cost(slot, det) is the cost of
  // a pair, infinite (or above max_cost) when the pair is not allowed. Returns the unmatched dets.
  auto associate = [&](const std::vector<int>& si, const std::vector<int>& di, double max_cost, auto&& pair_cost) {
    const int r = static_cast<int>(si.size()), c = static_cast<int>(di.size());
    std::vector<int> unmatched_dets;
    if (r == 0 || c == 0) return di;
    std::vector<double> cost(static_cast<size_t>(r * c), std::numeric_limits<double>::infinity());
    for (int a = 0; a < r; ++a) {
      const Slot& s = slots_[static_cast<size_t>(si[static_cast<size_t>(a)])];
      for (int b = 0; b < c; ++b) {
        const TrackInput& d = dets[static_cast<size_t>(di[static_cast<size_t>(b)])];
        if (cfg_.class_aware && d.class_id != s.t.class_id) continue;
        cost[static_cast<size_t>(a * c + b)] = pair_cost(s, d);
      }
    }
    auto m = linear_assignment(cost, r, c, max_cost);
    std::vector<char> det_used(static_cast<size_t>(c), 0);
    for (int a = 0; a < r; ++a) {
      const int b = m[static_cast<size_t>(a)];
      if (b < 0) continue;
      const size_t sidx = static_cast<size_t>(si[static_cast<size_t>(a)]);
      const int didx = di[static_cast<size_t>(b)];
      Slot& s = slots_[sidx];
      const TrackInput& d = dets[static_cast<size_t>(didx)];
      s.kf.update(d.box);
      s.t.box = s.kf.box();
      s.t.score = d.score;
      s.t.det_index = didx;
      ++s.t.hits;
      s.t.lost_frames = 0;
      if (s.t.state == TrackState::lost) s.t.state = TrackState::tracked;
      if (s.t.state == TrackState::tentative && s.t.hits >= cfg_.min_hits) s.t.state = TrackState::tracked;
      slot_matched[sidx] = 1;
      det_used[static_cast<size_t>(b)] = 1;
    }
    for (int b = 0; b < c; ++b)
      if (!det_used[static_cast<size_t>(b)]) unmatched_dets.push_back(di[static_cast<size_t>(b)]);
    return unmatched_dets;
  };
  // IoU cost (1 - IoU, or 1 - IoU x score when fused) with a minimum IoU.
  auto iou_cost = [](float min_iou, bool fuse) {
    return [min_iou, fuse](const Slot& s, const TrackInput& d) {
      const float iou = box_iou(s.t.box, d.box);
      if (iou < min_iou) return std::numeric_limits<double>::infinity();
      return 1.0 - (fuse ? static_cast<double>(iou) * d.score : static_cast<double>(iou));
    };
  };

  // Stage 1: confirmed tracks (tracked + lost) against high-score detections.
  std::vector<int> pool, tentative;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].t.state == TrackState::tentative) {
      tentative.push_back(static_cast<int>(i));
    } else {
      pool.push_back(static_cast<int>(i));
    }
  }
  std::vector<int> high_left = associate(pool, high, 1.0, iou_cost(cfg_.match_iou_first, cfg_.fuse_score));
  // Stage 2: tracks that were tracked last frame and are still unmatched, against low-score detections.
  std::vector<int> pool2;
  for (int i : pool)
    if (!slot_matched[static_cast<size_t>(i)] && slots_[static_cast<size_t>(i)].t.state == TrackState::tracked)
      pool2.push_back(i);
  (void)associate(pool2, low, 1.0, iou_cost(cfg_.match_iou_second, false));
  // Stage 3: tentative tracks against the high-score detections left.
  high_left = associate(tentative, high_left, 1.0, iou_cost(cfg_.match_iou_unconfirmed, cfg_.fuse_score));

  // Stage 4 (recovery): confirmed tracks still unmatched against the high-score detections left, before these
  // start new tracks. A track hidden for a few frames by a passer-by often comes back too far from its predicted
  // box for any IoU; the Kalman gate of SORT / DeepSORT (squared Mahalanobis distance under the innovation
  // covariance, below the chi-square 95% quantile for 4 degrees of freedom) grows with the time the track was
  // lost, so it re-attaches the same person instead of starting a fragment (which would lose a line crossing
  // made while hidden).
  if (cfg_.recover_max_lost_frames >= 0) {
    std::vector<int> pool4;
    for (int i : pool)
      if (!slot_matched[static_cast<size_t>(i)] &&
          slots_[static_cast<size_t>(i)].t.lost_frames <= cfg_.recover_max_lost_frames)
        pool4.push_back(i);
    high_left = associate(pool4, high_left, kChi2Inv95Dof4,
                          [](const Slot& s, const TrackInput& d) { return s.kf.gating_distance(d.box); });
  }

  // Unmatched tracks: tracked -> lost; tentative -> removed; lost too long -> removed.
  std::vector<Slot> keep;
  keep.reserve(slots_.size() + high_left.size());
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!slot_matched[i]) {
      ++s.t.lost_frames;
      if (s.t.state == TrackState::tentative || s.t.lost_frames > cfg_.max_lost_frames) {
        removed_.push_back(s.t.id);
        continue;
      }
      s.t.state = TrackState::lost;
    }
    keep.push_back(std::move(s));
  }
  // New tracks from confident unmatched detections.
  for (int di : high_left) {
    const TrackInput& d = dets[static_cast<size_t>(di)];
    if (d.score < cfg_.new_track_threshold) continue;
    Slot s;
    s.kf.init(d.box);
    s.t.id = next_id_++;
    s.t.box = s.kf.box();
    s.t.score = d.score;
    s.t.class_id = d.class_id;
    s.t.hits = 1;
    s.t.age = 1;
    s.t.det_index = di;
    s.t.state = cfg_.min_hits <= 1 ? TrackState::tracked : TrackState::tentative;
    keep.push_back(std::move(s));
  }
  slots_ = std::move(keep);

  std::vector<Track> out;
  tracks_view_.clear();
  for (const auto& s : slots_) {
    tracks_view_.push_back(s.t);
    if (s.t.state == TrackState::tracked && s.t.lost_frames == 0) out.push_back(s.t);
  }
  std::sort(out.begin(), out.end(), [](const Track& a, const Track& b) { return a.id < b.id; });
  return out;
}

}  // namespace tw::video
