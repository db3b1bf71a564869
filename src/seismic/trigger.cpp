#include "tw/seismic/trigger.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tw::seismic {

RecursiveStaLta::RecursiveStaLta(double sta_s, double lta_s, double fs) {
  const auto nsta = std::max<std::int64_t>(1, static_cast<std::int64_t>(sta_s * fs));
  nlta_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(lta_s * fs));
  csta_ = 1.0 / static_cast<double>(nsta);
  clta_ = 1.0 / static_cast<double>(nlta_);
}

void RecursiveStaLta::apply(std::span<const double> x, std::span<double> cft) {
  const double cs = csta_, cl = clta_, ics = 1 - cs, icl = 1 - cl;
  double sta = sta_, lta = lta_;
  std::int64_t n = n_;
  const std::size_t len = x.size();
  for (std::size_t i = 0; i < len; ++i) {
    const double sq = x[i] * x[i];
    if (n == 0) {  // ObsPy starts its recursion at the second sample
      cft[i] = 0;
      ++n;
      continue;
    }
    sta = cs * sq + ics * sta;
    lta = cl * sq + icl * lta;
    cft[i] = n < nlta_ ? 0.0 : sta / lta;
    ++n;
  }
  sta_ = sta;
  lta_ = lta;
  n_ = n;
}

void RecursiveStaLta::reset() {
  sta_ = 0;
  lta_ = 1e-99;
  n_ = 0;
}

ClassicStaLta::ClassicStaLta(double sta_s, double lta_s, double fs)
    : nsta_(std::max<std::size_t>(1, static_cast<std::size_t>(sta_s * fs))),
      nlta_(std::max<std::size_t>(2, static_cast<std::size_t>(lta_s * fs))),
      ring_(nlta_, 0.0) {}

void ClassicStaLta::apply(std::span<const double> x, std::span<double> cft) {
  const std::size_t nl = nlta_, nsv = nsta_;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double sq = x[i] * x[i];
    // value leaving the STA window: nsta samples back
    const double old_sta = ring_[(pos_ + nl - nsv) % nl];
    const double old_lta = ring_[pos_];
    ssta_ += sq - old_sta;
    slta_ += sq - old_lta;
    ring_[pos_] = sq;
    pos_ = pos_ + 1 == nl ? 0 : pos_ + 1;
    ++n_;
    if ((n_ & 0xFFFF) == 0) {  // re-sum now and then to bound rounding drift
      double s = 0, l = 0;
      for (std::size_t k = 0; k < nl; ++k) {
        const double v = ring_[(pos_ + k) % nl];
        l += v;
        if (k >= nl - nsv) s += v;
      }
      ssta_ = s;
      slta_ = l;
    }
    const double lta = slta_ / static_cast<double>(nl);
    cft[i] = (n_ < static_cast<std::int64_t>(nl) || !(lta > 0)) ? 0.0
                                                                 : (ssta_ / static_cast<double>(nsv)) / lta;
  }
}

void ClassicStaLta::reset() {
  std::fill(ring_.begin(), ring_.end(), 0.0);
  pos_ = 0;
  ssta_ = slta_ = 0;
  n_ = 0;
}

void Trigger::feed(std::span<const double> cft, std::int64_t first, std::vector<TriggerWindow>& closed,
                   std::vector<std::int64_t>* opened) {
  for (std::size_t i = 0; i < cft.size(); ++i) {
    const double c = cft[i];
    const std::int64_t idx = first + static_cast<std::int64_t>(i);
    if (!active_) {
      if (c > on_) {
        active_ = true;
        cur_ = TriggerWindow{idx, idx, c};
        if (opened) opened->push_back(idx);
      }
    } else {
      if (c > off_) {
        cur_.off = idx;
        cur_.peak = std::max(cur_.peak, c);
      } else {
        active_ = false;
        closed.push_back(cur_);
      }
    }
  }
}

bool Trigger::finish(std::int64_t last, TriggerWindow& w) {
  if (!active_) return false;
  active_ = false;
  w = cur_;
  w.off = last;
  return true;
}

std::vector<TriggerWindow> trigger_onset(std::span<const double> cft, double on, double off) {
  Trigger t(on, off);
  std::vector<TriggerWindow> out;
  t.feed(cft, 0, out);
  TriggerWindow w;
  if (t.finish(static_cast<std::int64_t>(cft.size()) - 1, w)) out.push_back(w);
  return out;
}

std::vector<CoincidenceEvent> coincidence_trigger(std::vector<StationTrigger> triggers, double threshold_sum) {
  std::stable_sort(triggers.begin(), triggers.end(), [](const StationTrigger& a, const StationTrigger& b) {
    if (a.on_s != b.on_s) return a.on_s < b.on_s;
    return a.trace_id < b.trace_id;
  });
  std::vector<CoincidenceEvent> out;
  double last_off = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < triggers.size(); ++i) {
    const auto& t = triggers[i];
    CoincidenceEvent ev;
    ev.time_s = t.on_s;
    ev.stations.push_back(t.station);
    ev.trace_ids.push_back(t.trace_id);
    ev.coincidence_sum = 1;
    double off = t.off_s;
    for (std::size_t j = i + 1; j < triggers.size(); ++j) {
      const auto& o = triggers[j];
      if (std::find(ev.trace_ids.begin(), ev.trace_ids.end(), o.trace_id) != ev.trace_ids.end()) continue;
      if (o.on_s > off) break;
      ev.stations.push_back(o.station);
      ev.trace_ids.push_back(o.trace_id);
      ev.coincidence_sum += 1;
      off = std::max(off, o.off_s);
    }
    if (ev.coincidence_sum < threshold_sum) continue;
    if (off <= last_off) continue;  // subset of the previous coincidence (shares its end)
    ev.duration_s = off - t.on_s;
    out.push_back(ev);
    last_off = off;
  }
  return out;
}

AicResult aic_onset(std::span<const double> x, double delta) {
  AicResult r;
  const std::size_t n = x.size();
  if (n < 8) return r;
  // prefix sums of x and x^2 for O(n) variances; centre on the mean for numerical stability
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(n);
  std::vector<double> s1(n + 1, 0.0), s2(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double v = x[i] - mean;
    s1[i + 1] = s1[i] + v;
    s2[i + 1] = s2[i] + v * v;
  }
  auto var = [&](std::size_t a, std::size_t b) {  // [a, b)
    const double m = static_cast<double>(b - a);
    const double mu = (s1[b] - s1[a]) / m;
    return std::max((s2[b] - s2[a]) / m - mu * mu, 1e-30);
  };
  std::vector<double> aic(n, std::numeric_limits<double>::infinity());
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t k = 2; k + 2 < n; ++k) {
    const double a = static_cast<double>(k) * std::log(var(0, k)) +
                     static_cast<double>(n - k - 1) * std::log(var(k + 1, n));
    aic[k] = a;
    if (a < best) best = a, r.index = k;
  }
  if (!std::isfinite(best)) return r;
  std::size_t lo = r.index, hi = r.index;
  while (lo > 2 && aic[lo - 1] <= best + delta) --lo;
  while (hi + 3 < n && aic[hi + 1] <= best + delta) ++hi;
  r.half_width = static_cast<double>(hi - lo) / 2.0;
  r.ok = true;
  return r;
}

double onset_snr(std::span<const double> x, std::size_t onset) {
  double e1 = 0, e2 = 0;
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i) (i < onset ? e1 : e2) += x[i] * x[i];
  if (onset == 0 || onset >= n || !(e1 > 0)) return 0.0;
  return std::sqrt((e2 / static_cast<double>(n - onset)) / (e1 / static_cast<double>(onset)));
}

double pick_uncertainty_s(double half_width, double fs, double snr) {
  const double unc = std::clamp(half_width / fs * (1.0 + 2.0 / std::max(snr, 1.0)), 1.0 / fs, 1.0);
  return std::round(unc * 1000.0) / 1000.0;
}

std::vector<double> kurtosis_cf(std::span<const double> x, std::size_t n) {
  std::vector<double> k(x.size(), 0.0);
  if (n < 4 || x.size() < n) return k;
  for (std::size_t i = n - 1; i < x.size(); ++i) {
    const auto w = x.subspan(i + 1 - n, n);
    double mean = 0;
    for (double v : w) mean += v;
    mean /= static_cast<double>(n);
    double m2 = 0, m4 = 0;
    for (double v : w) {
      const double d2 = (v - mean) * (v - mean);
      m2 += d2;
      m4 += d2 * d2;
    }
    m2 /= static_cast<double>(n);
    m4 /= static_cast<double>(n);
    k[i] = m2 > 0 ? m4 / (m2 * m2) : 0.0;
  }
  return k;
}

}  // namespace tw::seismic
