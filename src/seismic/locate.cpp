#include "tw/seismic/locate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <numbers>
#include <sstream>

#include <fmt/format.h>

namespace tw::seismic {

VelocityModel VelocityModel::default_crust() {
  VelocityModel m;
  m.layers = {{0, 5.8, 3.36}, {20, 6.5, 3.75}, {35, 8.04, 4.47}, {120, 8.05, 4.50}};
  return m;
}

Result<VelocityModel> parse_velocity_model(const std::string& text, const std::string& name, double vp_vs) {
  std::istringstream in(text);
  std::string line;
  std::size_t lineno = 0;
  int cz = -1, cp = -1, cs = -1;
  VelocityModel m;
  auto split = [](const std::string& l) {
    std::vector<std::string> f;
    std::stringstream ss(l);
    std::string item;
    while (std::getline(ss, item, ',')) {
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.pop_back();
      std::size_t i = 0;
      while (i < item.size() && std::isspace(static_cast<unsigned char>(item[i]))) ++i;
      f.push_back(item.substr(i));
    }
    return f;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line);
    if (cz < 0) {
      for (std::size_t i = 0; i < f.size(); ++i) {
        std::string h = f[i];
        for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (h == "top_depth_km" || h == "depth" || h == "depth_km" || h == "top_km") cz = static_cast<int>(i);
        else if (h == "vp_km_s" || h == "vp") cp = static_cast<int>(i);
        else if (h == "vs_km_s" || h == "vs") cs = static_cast<int>(i);
      }
      if (cz < 0 || cp < 0)
        return make_error("bad_model", fmt::format("{}:{}: header needs a depth and a vp column", name, lineno));
      continue;
    }
    auto num = [&](int col, double& out) -> bool {
      if (col < 0 || static_cast<std::size_t>(col) >= f.size() || f[static_cast<std::size_t>(col)].empty()) return false;
      char* end = nullptr;
      out = std::strtod(f[static_cast<std::size_t>(col)].c_str(), &end);
      return end != f[static_cast<std::size_t>(col)].c_str() && std::isfinite(out);
    };
    Layer l;
    if (!num(cz, l.top_km) || !num(cp, l.vp))
      return make_error("bad_model", fmt::format("{}:{}: bad depth or vp value", name, lineno));
    if (!num(cs, l.vs)) l.vs = l.vp / vp_vs;
    if (!(l.vp > 0.1 && l.vp < 20) || !(l.vs > 0.05 && l.vs < l.vp))
      return make_error("bad_model", fmt::format("{}:{}: velocities out of range", name, lineno));
    if (!m.layers.empty() && l.top_km <= m.layers.back().top_km)
      return make_error("bad_model", fmt::format("{}:{}: depths must increase", name, lineno));
    m.layers.push_back(l);
  }
  if (m.layers.empty()) return make_error("bad_model", name + ": no layers");
  // Layers above sea level (negative depth, e.g. -3 km): shift so the first top is 0.
  if (m.layers[0].top_km != 0) {
    const double shift = m.layers[0].top_km;
    for (auto& l : m.layers) l.top_km -= shift;
  }
  return m;
}

Result<VelocityModel> read_velocity_model(const std::filesystem::path& file, double vp_vs) {
  std::ifstream in(file);
  if (!in) return make_error("not_found", file.string() + ": cannot open velocity model");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_velocity_model(ss.str(), file.string(), vp_vs);
}

TravelTimeTable::TravelTimeTable(const VelocityModel& model, Phase phase, double max_dist_km, double max_depth_km,
                                 double dx_km, double dz_km)
    : dx_(dx_km), dz_(dz_km), max_x_(max_dist_km), max_z_(max_depth_km) {
  nx_ = static_cast<std::size_t>(max_dist_km / dx_km) + 1;
  nz_ = static_cast<std::size_t>(max_depth_km / dz_km) + 1;
  t_.assign(nx_ * nz_, 0.0);
  std::vector<double> top, v;
  for (const auto& l : model.layers) {
    top.push_back(l.top_km);
    v.push_back(phase == Phase::P ? l.vp : l.vs);
  }
  vmin_ = *std::min_element(v.begin(), v.end());
  const std::size_t nl = v.size();
  std::vector<double> xs(nx_);
  for (std::size_t i = 0; i < nx_; ++i) xs[i] = static_cast<double>(i) * dx_;
  std::vector<double> best(nx_);
  for (std::size_t iz = 0; iz < nz_; ++iz) {
    const double z = static_cast<double>(iz) * dz_;
    // thickness of each layer between the surface and the source
    std::vector<double> h(nl, 0.0);
    std::size_t src_layer = 0;
    for (std::size_t k = 0; k < nl; ++k) {
      const double bot = k + 1 < nl ? top[k + 1] : std::numeric_limits<double>::infinity();
      if (z >= top[k]) src_layer = k;
      h[k] = std::clamp(std::min(z, bot) - top[k], 0.0, std::numeric_limits<double>::infinity());
    }
    std::fill(best.begin(), best.end(), std::numeric_limits<double>::infinity());
    // Direct upgoing rays: sweep the ray parameter.
    double vmax = 0;
    for (std::size_t k = 0; k <= src_layer; ++k) vmax = std::max(vmax, v[k]);
    const int np = 4000;
    double px = 0, pt = z / v[0];
    if (z <= 0) {
      for (std::size_t i = 0; i < nx_; ++i) best[i] = xs[i] / v[0];
    } else {
      std::size_t ix = 0;
      double prev_x = 0, prev_t = 0;
      bool first = true;
      for (int s = 0; s < np && ix < nx_; ++s) {
        const double u = static_cast<double>(s) / np;
        const double p = (1.0 - (1.0 - u) * (1.0 - u)) / vmax * 0.999999;
        double X = 0, T = 0;
        for (std::size_t k = 0; k <= src_layer; ++k) {
          if (h[k] <= 0) continue;
          const double q = std::sqrt(std::max(1e-12, 1.0 - p * p * v[k] * v[k]));
          X += h[k] * p * v[k] / q;
          T += h[k] / (v[k] * q);
        }
        if (first) {
          prev_x = X, prev_t = T, first = false;
          px = X, pt = T;
          while (ix < nx_ && xs[ix] <= X) best[ix++] = T;
          continue;
        }
        while (ix < nx_ && xs[ix] <= X) {
          const double f = X > prev_x ? (xs[ix] - prev_x) / (X - prev_x) : 0;
          best[ix] = prev_t + f * (T - prev_t);
          ++ix;
        }
        prev_x = X, prev_t = T;
      }
      for (; ix < nx_; ++ix) best[ix] = prev_t + (xs[ix] - prev_x) / vmax;  // beyond the sweep: horizontal ray
      (void)px;
      (void)pt;
    }
    // Head waves along the top of each deeper, faster layer.
    for (std::size_t n = src_layer + 1; n < nl; ++n) {
      const double vn = v[n];
      bool valid = true;
      for (std::size_t k = 0; k < n; ++k)
        if (v[k] >= vn) valid = false;
      if (!valid) continue;
      double tint = 0, xc = 0;
      for (std::size_t k = 0; k < n; ++k) {
        const double thick = top[k + 1] - top[k];
        const double down = std::clamp(top[k + 1] - std::max(z, top[k]), 0.0, thick);  // source leg
        const double sum = thick + down;
        const double ratio = v[k] / vn;
        tint += sum * std::sqrt(1.0 / (v[k] * v[k]) - 1.0 / (vn * vn));
        xc += sum * ratio / std::sqrt(1 - ratio * ratio);
      }
      for (std::size_t i = 0; i < nx_; ++i)
        if (xs[i] >= xc) best[i] = std::min(best[i], xs[i] / vn + tint);
    }
    std::copy(best.begin(), best.end(), t_.begin() + static_cast<std::ptrdiff_t>(iz * nx_));
  }
}

double TravelTimeTable::time(double dist_km, double depth_km) const {
  const double x = std::clamp(dist_km, 0.0, max_x_) / dx_;
  const double z = std::clamp(depth_km, 0.0, max_z_) / dz_;
  auto ix = static_cast<std::size_t>(x);
  auto iz = static_cast<std::size_t>(z);
  if (ix >= nx_ - 1) ix = nx_ - 2;
  if (iz >= nz_ - 1) iz = nz_ - 2;
  const double fx = x - static_cast<double>(ix), fz = z - static_cast<double>(iz);
  const double* r0 = &t_[iz * nx_ + ix];
  const double* r1 = r0 + nx_;
  return (1 - fz) * ((1 - fx) * r0[0] + fx * r0[1]) + fz * ((1 - fx) * r1[0] + fx * r1[1]);
}

double fast_distance_km(double lat1, double lon1, double lat2, double lon2) {
  constexpr double k = 111.195;
  const double dlat = (lat2 - lat1) * k;
  const double dlon = (lon2 - lon1) * k * std::cos((lat1 + lat2) * 0.5 * std::numbers::pi / 180.0);
  return std::sqrt(dlat * dlat + dlon * dlon);
}

namespace {

struct Local {
  double lat0, lon0, kx, ky;
  Local(double la, double lo) : lat0(la), lon0(lo) {
    ky = 111.195;
    kx = 111.195 * std::cos(la * std::numbers::pi / 180.0);
  }
  double x(double lon) const { return (lon - lon0) * kx; }
  double y(double lat) const { return (lat - lat0) * ky; }
  double lon(double x) const { return lon0 + x / kx; }
  double lat(double y) const { return lat0 + y / ky; }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const auto m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  double hi = v[m];
  if (v.size() % 2 == 1) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m));
  return 0.5 * (lo + hi);
}

// Solves A x = b for a small symmetric system (Gaussian elimination with partial pivoting).
bool solve4(std::array<std::array<double, 4>, 4> a, std::array<double, 4> b, std::array<double, 4>& x, int n) {
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)]) > std::fabs(a[static_cast<std::size_t>(p)][static_cast<std::size_t>(c)])) p = r;
    if (std::fabs(a[static_cast<std::size_t>(p)][static_cast<std::size_t>(c)]) < 1e-12) return false;
    std::swap(a[static_cast<std::size_t>(p)], a[static_cast<std::size_t>(c)]);
    std::swap(b[static_cast<std::size_t>(p)], b[static_cast<std::size_t>(c)]);
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)] / a[static_cast<std::size_t>(c)][static_cast<std::size_t>(c)];
      for (int k = c; k < n; ++k) a[static_cast<std::size_t>(r)][static_cast<std::size_t>(k)] -= f * a[static_cast<std::size_t>(c)][static_cast<std::size_t>(k)];
      b[static_cast<std::size_t>(r)] -= f * b[static_cast<std::size_t>(c)];
    }
  }
  for (int c = 0; c < n; ++c) x[static_cast<std::size_t>(c)] = b[static_cast<std::size_t>(c)] / a[static_cast<std::size_t>(c)][static_cast<std::size_t>(c)];
  return true;
}

}  // namespace

Hypocentre locate(const std::vector<Observation>& obs, const TravelTimeTable& tt, const LocatorConfig& cfg) {
  Hypocentre h;
  const std::size_t n = obs.size();
  if (n < 3) return h;
  // reference: earliest observation
  std::size_t first = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (obs[i].time_us < obs[first].time_us) first = i;
  const Local L(obs[first].lat, obs[first].lon);
  const std::int64_t t0_us = obs[first].time_us;
  std::vector<double> sx(n), sy(n), st(n), w(n);
  for (std::size_t i = 0; i < n; ++i) {
    sx[i] = L.x(obs[i].lon);
    sy[i] = L.y(obs[i].lat);
    st[i] = static_cast<double>(obs[i].time_us - t0_us) * 1e-6;
    w[i] = 1.0 / std::max(obs[i].sigma_s, 0.02);
  }
  const double zmax = std::min(cfg.max_depth_km, tt.max_depth_km());
  std::vector<double> tmp(n);
  // L1 misfit with the origin time at the median of (t - tt)
  auto misfit = [&](double x, double y, double z, double& ot) {
    for (std::size_t i = 0; i < n; ++i) tmp[i] = st[i] - tt.time(std::hypot(x - sx[i], y - sy[i]), z);
    ot = median(tmp);
    double m = 0;
    for (std::size_t i = 0; i < n; ++i) m += w[i] * std::fabs(tmp[i] - ot);
    return m;
  };
  double bx = 0, by = 0, bz = cfg.coarse_depths_km.empty() ? 10 : cfg.coarse_depths_km[0], bt = 0;
  double best = std::numeric_limits<double>::infinity();
  auto grid = [&](double cx, double cy, double radius, double step, const std::vector<double>& depths) {
    const int k = static_cast<int>(std::ceil(radius / step));
    for (int i = -k; i <= k; ++i)
      for (int j = -k; j <= k; ++j) {
        const double x = cx + i * step, y = cy + j * step;
        for (double z : depths) {
          if (z < cfg.min_depth_km || z > zmax) continue;
          double ot = 0;
          const double m = misfit(x, y, z, ot);
          if (m < best) best = m, bx = x, by = y, bz = z, bt = ot;
        }
      }
  };
  const bool fixed_depth = static_cast<int>(n) < cfg.free_depth_min_obs;
  if (fixed_depth) bz = std::clamp(cfg.fixed_depth_km, cfg.min_depth_km, zmax);
  grid(0, 0, cfg.search_radius_km, cfg.coarse_step_km,
       fixed_depth ? std::vector<double>{bz} : cfg.coarse_depths_km);
  for (double step : {cfg.coarse_step_km / 4, cfg.coarse_step_km / 16}) {
    std::vector<double> depths;
    if (fixed_depth) depths.push_back(bz);
    else
      for (int d = -4; d <= 4; ++d) depths.push_back(bz + d * step);
    grid(bx, by, step * 5, step, depths);
  }
  // Gauss-Newton refinement (weighted least squares) from the grid optimum.
  double x = bx, y = by, z = bz, t = bt;
  auto residuals = [&](double xx, double yy, double zz, double tt0, std::vector<double>& r) {
    r.resize(n);
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = st[i] - (tt0 + tt.time(std::hypot(xx - sx[i], yy - sy[i]), zz));
      s += w[i] * w[i] * r[i] * r[i];
    }
    return s;
  };
  std::vector<double> r;
  double cost = residuals(x, y, z, t, r);
  const bool free_depth = !fixed_depth && n >= 5;
  const int np = free_depth ? 4 : 3;
  std::array<std::array<double, 4>, 4> nn{};
  auto jacobian_row = [&](std::size_t i, double xx, double yy, double zz, std::array<double, 4>& g) {
    const double e = 0.5;
    const double d0 = std::hypot(xx - sx[i], yy - sy[i]);
    const double tx1 = tt.time(std::hypot(xx + e - sx[i], yy - sy[i]), zz);
    const double tx0 = tt.time(std::hypot(xx - e - sx[i], yy - sy[i]), zz);
    const double ty1 = tt.time(std::hypot(xx - sx[i], yy + e - sy[i]), zz);
    const double ty0 = tt.time(std::hypot(xx - sx[i], yy - e - sy[i]), zz);
    const double tz1 = tt.time(d0, std::min(zz + e, zmax));
    const double tz0 = tt.time(d0, std::max(zz - e, 0.0));
    g = {1.0, (tx1 - tx0) / (2 * e), (ty1 - ty0) / (2 * e), (tz1 - tz0) / (std::min(zz + e, zmax) - std::max(zz - e, 0.0))};
  };
  for (int it = 0; it < cfg.gauss_newton_iterations; ++it) {
    std::array<std::array<double, 4>, 4> a{};
    std::array<double, 4> b{};
    for (std::size_t i = 0; i < n; ++i) {
      std::array<double, 4> g{};
      jacobian_row(i, x, y, z, g);
      const double ww = w[i] * w[i];
      for (int p = 0; p < np; ++p) {
        b[static_cast<std::size_t>(p)] += ww * g[static_cast<std::size_t>(p)] * r[i];
        for (int q = 0; q < np; ++q) a[static_cast<std::size_t>(p)][static_cast<std::size_t>(q)] += ww * g[static_cast<std::size_t>(p)] * g[static_cast<std::size_t>(q)];
      }
    }
    for (int p = 0; p < np; ++p) a[static_cast<std::size_t>(p)][static_cast<std::size_t>(p)] *= 1.05;  // light damping
    std::array<double, 4> dx{};
    if (!solve4(a, b, dx, np)) break;
    double lambda = 1.0;
    bool improved = false;
    for (int ls = 0; ls < 5; ++ls, lambda *= 0.5) {
      const double nx = x + lambda * dx[1], ny = y + lambda * dx[2];
      const double nz = free_depth ? std::clamp(z + lambda * dx[3], cfg.min_depth_km, zmax) : z;
      const double nt = t + lambda * dx[0];
      std::vector<double> nr;
      const double c = residuals(nx, ny, nz, nt, nr);
      if (c < cost) {
        x = nx, y = ny, z = nz, t = nt, cost = c, r = nr;
        improved = true;
        break;
      }
    }
    if (!improved) break;
  }
  // Covariance at the solution.
  std::array<std::array<double, 4>, 4> a{};
  for (std::size_t i = 0; i < n; ++i) {
    std::array<double, 4> g{};
    jacobian_row(i, x, y, z, g);
    for (int p = 0; p < 4; ++p)
      for (int q = 0; q < 4; ++q) a[static_cast<std::size_t>(p)][static_cast<std::size_t>(q)] += g[static_cast<std::size_t>(p)] * g[static_cast<std::size_t>(q)];
  }
  double ss = 0;
  for (double v : r) ss += v * v;
  h.rms_s = std::sqrt(ss / static_cast<double>(n));
  const double dof = static_cast<double>(n) > 4 ? static_cast<double>(n) - 4 : 1.0;
  double sigma = std::max(std::sqrt(ss / dof), cfg.min_sigma_s);
  for (const auto& o : obs) sigma = std::max(sigma, std::min(o.sigma_s, 1.0) * 0.5);
  std::array<double, 4> var{};
  for (int p = 0; p < 4; ++p) {
    std::array<double, 4> e{}, col{};
    e[static_cast<std::size_t>(p)] = 1;
    for (int q = 0; q < 4; ++q) a[static_cast<std::size_t>(q)][static_cast<std::size_t>(q)] += 1e-9;
    if (solve4(a, e, col, 4)) var[static_cast<std::size_t>(p)] = std::fabs(col[static_cast<std::size_t>(p)]);
    else var[static_cast<std::size_t>(p)] = 1e6;
  }
  h.err_t_s = sigma * std::sqrt(var[0]);
  h.err_h_km = std::min(999.0, sigma * std::sqrt(var[1] + var[2]));
  h.err_z_km = std::min(999.0, sigma * std::sqrt(var[3]));
  h.lat = L.lat(y);
  h.lon = L.lon(x);
  h.depth_km = z;
  h.origin_us = t0_us + static_cast<std::int64_t>(std::llround(t * 1e6));
  h.residuals_s = r;
  // azimuthal gap
  std::vector<double> az;
  for (std::size_t i = 0; i < n; ++i) az.push_back(std::atan2(sx[i] - x, sy[i] - y) * 180.0 / std::numbers::pi);
  std::sort(az.begin(), az.end());
  double gap = 0;
  for (std::size_t i = 0; i < az.size(); ++i) {
    const double nxt = i + 1 < az.size() ? az[i + 1] : az[0] + 360;
    gap = std::max(gap, nxt - az[i]);
  }
  h.gap_deg = gap;
  h.ok = std::isfinite(h.lat) && std::isfinite(h.lon);
  (void)nn;
  return h;
}

}  // namespace tw::seismic
