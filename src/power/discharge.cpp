#include "tw/power/discharge.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "text_util.hpp"

namespace tw::power {

Result<DischargeCurve> parse_discharge_curve(std::string_view text, std::string_view name) {
  struct Row {
    double t, i, v, temp;
  };
  std::vector<Row> rows;
  DischargeCurve c;
  c.name = std::string(name);
  auto lines = detail::split_lines(text);
  for (std::size_t li = 0; li < lines.size(); ++li) {
    auto line = detail::trim(lines[li]);
    if (li == 0 && line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF) line.remove_prefix(3);
    if (line.empty()) continue;
    auto cells = detail::split(line, ',');
    if (cells.size() < 3)
      return make_error("bad_csv", fmt::format("{}:{}: {} columns, expected at least 3 (t_s, current_A, voltage_V)",
                                               name, li + 1, cells.size()));
    double vals[4] = {0, 0, 0, std::numeric_limits<double>::quiet_NaN()};
    for (std::size_t k = 0; k < std::min<std::size_t>(4, cells.size()); ++k) {
      auto v = detail::parse_double(cells[k]);
      if (!v)
        return make_error("bad_csv", fmt::format("{}:{}: column {} '{}' is not a number", name, li + 1, k + 1,
                                                 detail::trim(cells[k])));
      vals[k] = *v;
    }
    if (cells.size() >= 5) {
      if (auto t = detail::parse_double(cells[4])) vals[3] = *t;
    }
    if (!std::isfinite(vals[0]) || !std::isfinite(vals[1]) || !std::isfinite(vals[2]) || std::abs(vals[1]) > 1000 ||
        vals[2] < 0 || vals[2] > 10) {
      ++c.skipped_rows;  // logger overflow (3.4e38) or a non-physical reading
      continue;
    }
    if (!rows.empty() && vals[0] < rows.back().t)
      return make_error("bad_csv", fmt::format("{}:{}: time {} goes backwards (previous {})", name, li + 1, vals[0],
                                               rows.back().t));
    rows.push_back({vals[0], vals[1], vals[2], vals[3]});
  }
  // Median discharge current, then the first sample discharging at more than half of it.
  std::vector<double> dis;
  for (const auto& r : rows)
    if (r.i < -0.005) dis.push_back(-r.i);
  if (dis.size() < 10)
    return make_error("bad_curve", fmt::format("{}: only {} discharging samples, not a discharge curve", name,
                                               dis.size()));
  std::nth_element(dis.begin(), dis.begin() + static_cast<std::ptrdiff_t>(dis.size() / 2), dis.end());
  c.current_a = dis[dis.size() / 2];
  std::size_t start = 0;
  while (start < rows.size() && -rows[start].i < 0.5 * c.current_a) ++start;
  double q = 0;
  for (std::size_t k = start; k < rows.size(); ++k) {
    if (k > start && rows[k].i < 0 && rows[k - 1].i < 0) q += -(rows[k].i + rows[k - 1].i) * 0.5 * (rows[k].t - rows[k - 1].t) / 3600.0;
    c.q_ah.push_back(q);
    c.v.push_back(rows[k].v);
    c.temp_c.push_back(rows[k].temp);
  }
  c.capacity_ah = q;
  c.runtime_s = rows.back().t - rows[start].t;
  c.end_voltage = rows.back().v;
  return c;
}

Result<DischargeCurve> load_discharge_curve(const std::filesystem::path& path) {
  auto text = detail::read_file(path);
  if (!text) return text.error();
  return parse_discharge_curve(*text, path.string());
}

double PeukertFit::capacity_ah(double current_a) const { return ref_ah * std::pow(current_a / ref_a, 1.0 - k); }

Result<DischargeModel> DischargeModel::fit(std::vector<DischargeCurve> curves, std::optional<double> cutoff_v) {
  if (curves.size() < 2)
    return make_error("bad_fit", fmt::format("the discharge model needs curves at two or more currents, got {}",
                                             curves.size()));
  if (curves.size() > kMaxCurves)
    return make_error("bad_fit", fmt::format("at most {} curves, got {}", kMaxCurves, curves.size()));
  std::sort(curves.begin(), curves.end(), [](const auto& a, const auto& b) { return a.current_a < b.current_a; });
  for (std::size_t i = 0; i < curves.size(); ++i) {
    if (curves[i].current_a <= 0 || curves[i].q_ah.size() < 10 || curves[i].capacity_ah <= 0)
      return make_error("bad_fit", fmt::format("curve '{}' has no usable discharge", curves[i].name));
    if (i > 0 && curves[i].current_a < 1.05 * curves[i - 1].current_a)
      return make_error("bad_fit", fmt::format("curves '{}' and '{}' are at the same current ({:.3f} A, {:.3f} A)",
                                               curves[i - 1].name, curves[i].name, curves[i - 1].current_a,
                                               curves[i].current_a));
  }
  DischargeModel m;
  if (cutoff_v) {
    m.cutoff_v_ = *cutoff_v;
  } else {
    std::vector<double> ends;
    for (const auto& c : curves) ends.push_back(c.end_voltage);
    std::sort(ends.begin(), ends.end());
    m.cutoff_v_ = ends.size() % 2 ? ends[ends.size() / 2] : 0.5 * (ends[ends.size() / 2 - 1] + ends[ends.size() / 2]);
  }
  m.min_current_ = curves.front().current_a;
  m.max_current_ = curves.back().current_a;
  // Resample every curve on the common q grid.
  for (const auto& c : curves) {
    std::vector<double> g;
    std::size_t j = 0;
    for (std::size_t k = 0;; ++k) {
      double q = static_cast<double>(k) * kGridStep;
      if (q > c.q_ah.back()) break;
      while (j + 1 < c.q_ah.size() && c.q_ah[j + 1] < q) ++j;
      double v = c.v[j];
      if (j + 1 < c.q_ah.size() && c.q_ah[j + 1] > c.q_ah[j]) {
        double a = std::clamp((q - c.q_ah[j]) / (c.q_ah[j + 1] - c.q_ah[j]), 0.0, 1.0);
        v = c.v[j] + a * (c.v[j + 1] - c.v[j]);
      }
      g.push_back(v);
    }
    m.q_max_ = std::max(m.q_max_, c.q_ah.back());
    m.grid_v_.push_back(std::move(g));
  }
  // Open-circuit voltage: extrapolate the two lowest-rate curves to zero current, keep it monotone.
  const auto& g0 = m.grid_v_[0];
  const auto& g1 = m.grid_v_[1];
  double i0 = curves[0].current_a, i1 = curves[1].current_a;
  double last_r = 0;
  m.ocv_.resize(g0.size());
  for (std::size_t k = 0; k < g0.size(); ++k) {
    if (k < g1.size()) last_r = std::max(0.0, (g0[k] - g1[k]) / (i1 - i0));
    m.ocv_[k] = g0[k] + i0 * last_r;
    if (k > 0) m.ocv_[k] = std::min(m.ocv_[k], m.ocv_[k - 1]);
  }
  // Peukert (log-log least squares) and constant capacity, for comparison.
  double sx = 0, sy = 0, sxx = 0, sxy = 0, sum_c = 0;
  for (const auto& c : curves) {
    double x = std::log(c.current_a), y = std::log(c.capacity_ah);
    sx += x; sy += y; sxx += x * x; sxy += x * y; sum_c += c.capacity_ah;
  }
  double n = static_cast<double>(curves.size());
  double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  m.peukert_.k = 1.0 - slope;
  m.peukert_.ref_a = std::exp(sx / n);
  m.peukert_.ref_ah = std::exp(sy / n);
  m.const_ah_ = sum_c / n;
  m.curves_ = std::move(curves);
  // Capacity table over log-spaced currents.
  const std::size_t kTable = 256;
  double lo = std::log(m.min_current_ / 20.0), hi = std::log(m.max_current_ * 3.0);
  m.table_log_lo_ = lo;
  m.table_log_step_ = (hi - lo) / static_cast<double>(kTable - 1);
  m.table_ah_.resize(kTable);
  for (std::size_t i = 0; i < kTable; ++i)
    m.table_ah_[i] = m.capacity_ah_uncached(std::exp(lo + m.table_log_step_ * static_cast<double>(i)));
  return m;
}

std::optional<double> DischargeModel::voltage_at_index(std::size_t qi, double current_a) const {
  // Curves still covering this depth, in increasing current.
  std::size_t idx[kMaxCurves];
  std::size_t n = 0;
  for (std::size_t c = 0; c < grid_v_.size() && n < kMaxCurves; ++c)
    if (qi < grid_v_[c].size()) idx[n++] = c;
  if (n == 0) return std::nullopt;
  if (n == 1) return grid_v_[idx[0]][qi];
  std::size_t a = 0;
  if (current_a <= curves_[idx[0]].current_a) a = 0;
  else if (current_a >= curves_[idx[n - 1]].current_a) a = n - 2;
  else
    while (a + 2 < n && curves_[idx[a + 1]].current_a < current_a) ++a;
  double ia = curves_[idx[a]].current_a, ib = curves_[idx[a + 1]].current_a;
  double va = grid_v_[idx[a]][qi], vb = grid_v_[idx[a + 1]][qi];
  return va + (vb - va) * (current_a - ia) / (ib - ia);
}

std::optional<double> DischargeModel::voltage(double q_ah, double current_a) const {
  if (q_ah < 0) q_ah = 0;
  double x = q_ah / kGridStep;
  auto k = static_cast<std::size_t>(x);
  auto v0 = voltage_at_index(k, current_a);
  if (!v0) return std::nullopt;
  auto v1 = voltage_at_index(k + 1, current_a);
  if (!v1) return v0;
  return *v0 + (*v1 - *v0) * (x - static_cast<double>(k));
}

double DischargeModel::capacity_ah_uncached(double current_a) const {
  if (current_a <= 0) return curves_.front().capacity_ah;
  double prev_v = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t k = 0;; ++k) {
    double q = static_cast<double>(k) * kGridStep;
    // Curves that end before this depth.
    for (std::size_t c = 0; c < grid_v_.size(); ++c) {
      if (k != grid_v_[c].size()) continue;
      if (curves_[c].current_a <= current_a) return curves_[c].q_ah.back();  // a lower rate is already empty
      // A higher-rate curve ended: the answer lies between its capacity and that of the nearest
      // lower-rate curve; interpolate in current.
      for (std::size_t lo = c; lo-- > 0;) {
        if (curves_[lo].current_a <= current_a) {
          double t = (current_a - curves_[lo].current_a) / (curves_[c].current_a - curves_[lo].current_a);
          return curves_[lo].q_ah.back() + t * (curves_[c].q_ah.back() - curves_[lo].q_ah.back());
        }
      }
    }
    auto v = voltage_at_index(k, current_a);
    if (!v) return q;
    if (*v <= cutoff_v_) {
      if (k == 0 || !std::isfinite(prev_v) || prev_v <= *v) return q;
      return q - kGridStep * (cutoff_v_ - *v) / (prev_v - *v);
    }
    prev_v = *v;
  }
}

double DischargeModel::capacity_ah(double current_a) const {
  if (current_a <= 0 || table_ah_.empty()) return capacity_ah_uncached(current_a);
  double x = (std::log(current_a) - table_log_lo_) / table_log_step_;
  if (x < 0 || x >= static_cast<double>(table_ah_.size() - 1)) return capacity_ah_uncached(current_a);
  auto i = static_cast<std::size_t>(x);
  double f = x - static_cast<double>(i);
  return table_ah_[i] + f * (table_ah_[i + 1] - table_ah_[i]);
}

double DischargeModel::runtime_constant_power_s(double q_ah, double power_w, double soh) const {
  if (power_w <= 0 || soh <= 0) return 0;
  const double dq = 0.005 * rated_ah() * soh;
  double q = std::max(0.0, q_ah), t = 0;
  double i = power_w / ocv(q / soh);
  for (int step = 0; step < 100000; ++step) {
    for (int it = 0; it < 3; ++it) {
      auto v = voltage(q / soh, i);
      if (!v || *v <= 0) return t;
      i = power_w / *v;
    }
    double cap = capacity_ah(i) * soh;
    if (q >= cap) return t;
    double h = std::min(dq, cap - q);
    t += h * 3600.0 / i;
    q += h;
  }
  return t;
}

double DischargeModel::ocv(double q_ah) const {
  if (ocv_.empty()) return 0;
  double x = std::clamp(q_ah / kGridStep, 0.0, static_cast<double>(ocv_.size() - 1));
  auto k = static_cast<std::size_t>(x);
  if (k + 1 >= ocv_.size()) return ocv_.back();
  return ocv_[k] + (ocv_[k + 1] - ocv_[k]) * (x - static_cast<double>(k));
}

double DischargeModel::q_from_ocv(double v) const {
  if (ocv_.empty()) return 0;
  if (v >= ocv_.front()) return 0;
  if (v <= ocv_.back()) return static_cast<double>(ocv_.size() - 1) * kGridStep;
  // ocv_ is non-increasing: first index with ocv <= v.
  auto it = std::lower_bound(ocv_.begin(), ocv_.end(), v, [](double a, double b) { return a > b; });
  auto k = static_cast<std::size_t>(it - ocv_.begin());
  if (k == 0) return 0;
  double va = ocv_[k - 1], vb = ocv_[k];
  double f = va > vb ? (va - v) / (va - vb) : 0.0;
  return (static_cast<double>(k - 1) + f) * kGridStep;
}

double DischargeModel::ocv_slope(double q_ah) const {
  const double h = 0.02;
  double a = std::max(0.0, q_ah - h), b = std::min(q_max_, q_ah + h);
  if (b <= a) return 0;
  return (ocv(b) - ocv(a)) / (b - a);
}

}  // namespace tw::power
