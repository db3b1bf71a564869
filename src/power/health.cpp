#include "tw/power/health.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "text_util.hpp"

namespace tw::power {

Result<LineFit> fit_line_lad(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) return make_error("bad_fit", "a line needs two or more points");
  auto wls = [&](const std::vector<double>& w) -> std::optional<LineFit> {
    double sw = 0, sx = 0, sy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) { sw += w[i]; sx += w[i] * x[i]; sy += w[i] * y[i]; }
    double mx = sx / sw, my = sy / sw, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      sxx += w[i] * (x[i] - mx) * (x[i] - mx);
      sxy += w[i] * (x[i] - mx) * (y[i] - my);
    }
    if (sxx <= 0) return std::nullopt;
    LineFit f;
    f.slope = sxy / sxx;
    f.intercept = my - f.slope * mx;
    return f;
  };
  std::vector<double> w(x.size(), 1.0);
  auto f = wls(w);
  if (!f) return make_error("bad_fit", "all points share the same x");
  // Residual floor: small relative to the data scale so the weights stay bounded.
  double scale = 0;
  for (double v : y) scale = std::max(scale, std::abs(v));
  const double eps = std::max(1e-9, 1e-6 * scale);
  for (int it = 0; it < 100; ++it) {
    for (std::size_t i = 0; i < x.size(); ++i) w[i] = 1.0 / std::max(eps, std::abs(f->at(x[i]) - y[i]));
    auto g = wls(w);
    if (!g) break;
    bool done = std::abs(g->slope - f->slope) < 1e-12 && std::abs(g->intercept - f->intercept) < 1e-12;
    f = g;
    if (done) break;
  }
  return *f;
}

Result<CapacityTable> parse_capacity_csv(std::string_view text, std::string_view name) {
  auto lines = detail::split_lines(text);
  if (lines.empty()) return make_error("bad_csv", fmt::format("{}: empty file", name));
  // Header names the columns; the start_time column holds a bracketed vector with spaces but no commas.
  auto header = detail::split(detail::trim(lines[0]), ',');
  int c_type = -1, c_id = -1, c_test = -1, c_cap = -1, c_amb = -1;
  for (std::size_t i = 0; i < header.size(); ++i) {
    auto h = detail::trim(header[i]);
    if (h == "type") c_type = static_cast<int>(i);
    if (h == "battery_id") c_id = static_cast<int>(i);
    if (h == "test_id") c_test = static_cast<int>(i);
    if (h == "Capacity") c_cap = static_cast<int>(i);
    if (h == "ambient_temperature") c_amb = static_cast<int>(i);  // optional
  }
  if (c_type < 0 || c_id < 0 || c_test < 0 || c_cap < 0)
    return make_error("bad_csv", fmt::format("{}:1: header needs columns type, battery_id, test_id, Capacity", name));
  CapacityTable t;
  for (std::size_t li = 1; li < lines.size(); ++li) {
    auto line = detail::trim(lines[li]);
    if (line.empty()) continue;
    auto cells = detail::split(line, ',');
    if (cells.size() != header.size())
      return make_error("bad_csv", fmt::format("{}:{}: {} cells, the header has {}", name, li + 1, cells.size(),
                                               header.size()));
    if (detail::trim(cells[static_cast<std::size_t>(c_type)]) != "discharge") continue;
    auto test = detail::parse_double(cells[static_cast<std::size_t>(c_test)]);
    if (!test)
      return make_error("bad_csv", fmt::format("{}:{}: test_id '{}' is not a number", name, li + 1,
                                               cells[static_cast<std::size_t>(c_test)]));
    auto cap = detail::parse_double(cells[static_cast<std::size_t>(c_cap)]);
    if (!cap || !std::isfinite(*cap) || *cap < 0) {
      ++t.skipped_rows;
      continue;
    }
    CapacityRecord rec{static_cast<int>(*test), *cap};
    if (c_amb >= 0)
      if (auto a = detail::parse_double(cells[static_cast<std::size_t>(c_amb)]); a && std::isfinite(*a))
        rec.ambient_c = *a;
    t.by_battery[std::string(detail::trim(cells[static_cast<std::size_t>(c_id)]))].push_back(rec);
  }
  for (auto& [_, v] : t.by_battery)
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.test_id < b.test_id; });
  return t;
}

Result<CapacityTable> load_capacity_csv(const std::filesystem::path& path) {
  auto text = detail::read_file(path);
  if (!text) return text.error();
  return parse_capacity_csv(*text, path.string());
}

Result<int> predict_eol_cycle(const std::vector<double>& caps, double eol_ah, int max_cycles) {
  if (caps.size() < 5)
    return make_error("too_few_cycles", fmt::format("need at least 5 discharge cycles, got {}", caps.size()));
  std::vector<double> x(caps.size());
  for (std::size_t i = 0; i < caps.size(); ++i) x[i] = static_cast<double>(i + 1);
  auto f = fit_line_lad(x, caps);
  if (!f) return f.error();
  const int n = static_cast<int>(caps.size());
  // Already there: the trend at the last observed cycle is below the threshold.
  if (f->at(n) < eol_ah) {
    for (int k = 1; k <= n; ++k)
      if (caps[static_cast<std::size_t>(k - 1)] < eol_ah) return k;
    return n;
  }
  if (f->slope >= 0)
    return make_error("no_fade", fmt::format("capacity does not fade over the {} cycles given (trend {:+.5f} Ah/cycle)",
                                             n, f->slope));
  double k = (eol_ah - f->intercept) / f->slope;  // trend == eol_ah
  int cycle = std::max(n + 1, static_cast<int>(std::floor(k)) + 1);
  if (cycle > max_cycles)
    return make_error("no_fade", fmt::format("trend reaches {} Ah only after cycle {}", eol_ah, cycle));
  return cycle;
}

namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// A discharge is usable when its capacity is within 0.5..1.5 x the median of the series (drops out the
// aborted or differently loaded runs, "several discharge runs where the capacity was very low").
std::vector<bool> usable_cycles(const std::vector<CapacityRecord>& recs) {
  std::vector<double> caps;
  for (const auto& r : recs) caps.push_back(r.capacity_ah);
  const double med = median_of(caps);
  std::vector<bool> ok(recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i) ok[i] = caps[i] > 0.5 * med && caps[i] < 1.5 * med;
  return ok;
}

bool same_ambient(double a, double b) { return std::isnan(a) || std::isnan(b) || a == b; }

}  // namespace

Result<int> predict_eol_cycle_population(const std::vector<CapacityRecord>& given, double eol_ah,
                                         const std::vector<const std::vector<CapacityRecord>*>& references,
                                         int max_cycles) {
  std::vector<double> caps;
  for (const auto& r : given) caps.push_back(r.capacity_ah);
  auto own_line = [&] { return predict_eol_cycle(caps, eol_ah, max_cycles); };
  if (caps.size() < 5) return own_line();
  const int n = static_cast<int>(caps.size());
  const auto ok_t = usable_cycles(given);
  // State: LAD line over the most recent quarter of the cycles given.
  const int w = std::max(5, static_cast<int>(std::lround(n / 4.0)));
  std::vector<double> x, y;
  for (int k = n - w + 1; k <= n; ++k)
    if (ok_t[static_cast<std::size_t>(k - 1)]) {
      x.push_back(k);
      y.push_back(caps[static_cast<std::size_t>(k - 1)]);
    }
  auto line = fit_line_lad(x, y);
  if (!line) return own_line();
  const double level = line->at(n);
  if (level < eol_ah) return own_line();
  std::vector<double> res;
  for (std::size_t i = 0; i < x.size(); ++i) res.push_back(std::abs(y[i] - line->at(x[i])));
  const double sigma = std::max(1e-3, 1.4826 * median_of(res));
  const double ambient = given.back().ambient_c;

  struct Candidate {
    double distance;
    int eol;
  };
  std::vector<Candidate> found;
  for (const auto* ref : references) {
    const auto& r = *ref;
    auto ok = usable_cycles(r);
    for (std::size_t j = 0; j < r.size(); ++j) ok[j] = ok[j] && same_ambient(r[j].ambient_c, ambient);
    std::vector<std::size_t> idx;
    for (std::size_t j = 0; j < r.size(); ++j)
      if (ok[j]) idx.push_back(j);
    if (idx.size() < 10) continue;
    // Running median of 5 usable cycles: regeneration spikes and single bad runs do not make a crossing.
    std::vector<double> smooth(r.size(), 0.0);
    for (std::size_t m = 0; m < idx.size(); ++m) {
      std::vector<double> v;
      for (std::size_t q = m >= 2 ? m - 2 : 0; q <= std::min(idx.size() - 1, m + 2); ++q)
        v.push_back(r[idx[q]].capacity_ah);
      smooth[idx[m]] = median_of(v);
    }
    std::size_t peak = idx.front();
    for (auto j : idx)
      if (smooth[j] > smooth[peak]) peak = j;
    auto first_below = [&](std::size_t from, double level_ah) -> std::optional<std::size_t> {
      for (auto j : idx)
        if (j >= from && smooth[j] < level_ah) return j;
      return std::nullopt;
    };
    auto k_level = first_below(peak, level);
    if (!k_level) continue;
    auto k_eol = first_below(*k_level, eol_ah);
    if (!k_eol) continue;
    double sum = 0;
    int count = 0;
    for (int i = 0; i < w && static_cast<int>(*k_level) - i >= 0; ++i) {
      const auto t = static_cast<std::size_t>(n - 1 - i), q = *k_level - static_cast<std::size_t>(i);
      if (ok_t[t] && ok[q]) {
        sum += std::abs(caps[t] - r[q].capacity_ah);
        ++count;
      }
    }
    if (2 * count < w) continue;
    const double d = sum / count;
    if (d > 3 * sigma) continue;
    found.push_back({d, n + static_cast<int>(*k_eol - *k_level)});
  }
  if (found.empty()) return own_line();
  double d_min = found.front().distance;
  for (const auto& c : found) d_min = std::min(d_min, c.distance);
  double sw = 0, swp = 0;
  for (const auto& c : found) {
    const double wgt = std::exp(-(c.distance - d_min) / sigma);
    sw += wgt;
    swp += wgt * c.eol;
  }
  const int cycle = std::max(n + 1, static_cast<int>(std::lround(swp / sw)));
  if (cycle > max_cycles)
    return make_error("no_fade", fmt::format("similar cells reach {} Ah only after cycle {}", eol_ah, cycle));
  return cycle;
}

void CapacityHistory::add(std::int64_t ts_ms, double capacity_ah) { points_.emplace_back(ts_ms, capacity_ah); }

std::optional<double> CapacityHistory::capacity_ah() const {
  if (points_.empty()) return std::nullopt;
  std::vector<double> last;
  for (std::size_t i = points_.size() >= 3 ? points_.size() - 3 : 0; i < points_.size(); ++i)
    last.push_back(points_[i].second);
  std::sort(last.begin(), last.end());
  return last[last.size() / 2];
}

std::optional<double> CapacityHistory::soh() const {
  auto c = capacity_ah();
  if (!c || rated_ah_ <= 0) return std::nullopt;
  return *c / rated_ah_;
}

std::optional<std::int64_t> CapacityHistory::projected_eol_ms(double eol_fraction) const {
  if (points_.size() < 3) return std::nullopt;
  const double t0 = static_cast<double>(points_.front().first);
  std::vector<double> x, y;
  for (const auto& [t, c] : points_) {
    x.push_back((static_cast<double>(t) - t0) / 86400000.0);  // days
    y.push_back(c);
  }
  auto f = fit_line_lad(x, y);
  if (!f || f->slope >= 0) return std::nullopt;
  double day = (eol_fraction * rated_ah_ - f->intercept) / f->slope;
  day = std::max(day, x.back());
  return static_cast<std::int64_t>(t0 + day * 86400000.0);
}

}  // namespace tw::power
