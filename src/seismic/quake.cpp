#include "tw/seismic/quake.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "tw/core/time.hpp"

namespace tw::seismic {

double mmi_from_pga(double pga_cms2) {
  if (!(pga_cms2 > 0)) return 1.0;
  const double l = std::log10(pga_cms2);
  const double m = l <= 1.57 ? 1.78 + 1.55 * l : -1.60 + 3.70 * l;
  return std::clamp(m, 1.0, 10.0);
}

double mmi_from_pgv(double pgv_cms) {
  if (!(pgv_cms > 0)) return 1.0;
  const double l = std::log10(pgv_cms);
  const double m = l <= 0.53 ? 3.78 + 1.47 * l : 2.89 + 3.16 * l;
  return std::clamp(m, 1.0, 10.0);
}

double mmi_from_motion(double pga_cms2, double pgv_cms) {
  const double a = mmi_from_pga(pga_cms2);
  const double v = pgv_cms > 0 ? mmi_from_pgv(pgv_cms) : a;
  return (a >= 5.0 || v >= 5.0) ? v : a;
}

double gmm_pga_cms2(double m, double dist_km, double depth_km) {
  const double r = std::sqrt(dist_km * dist_km + depth_km * depth_km + 7.3 * 7.3);
  const double log_g = -1.02 + 0.249 * m - std::log10(r) - 0.00255 * r;
  return std::pow(10.0, log_g) * 980.665;
}

double gmm_pgv_cms(double m, double dist_km, double depth_km) {
  const double r = std::sqrt(dist_km * dist_km + depth_km * depth_km + 4.0 * 4.0);
  return std::pow(10.0, -0.67 + 0.489 * m - std::log10(r) - 0.00256 * r);
}

double magnitude_from_pd(double pd_cm, double hypo_km, const PdMagnitudeLaw& law) {
  if (!(pd_cm > 0) || !(hypo_km > 0)) return 0;
  return law.a * std::log10(pd_cm) + law.b * std::log10(std::max(hypo_km, 1.0)) + law.c;
}

Status validate(const QuakeConfig& c) {
  auto bad = [](const std::string& k, const std::string& w) { return make_error("bad_config", k + ": " + w); };
  if (c.min_stations < 3) return bad("min_stations", "must be >= 3");
  if (!(c.assoc_radius_km > 0)) return bad("assoc_radius_km", "must be positive");
  if (!(c.pick_slack_s >= 0)) return bad("pick_slack_s", "must be >= 0");
  if (!(c.pick_memory_s > 0)) return bad("pick_memory_s", "must be positive");
  if (!(c.max_residual_s > 0)) return bad("max_residual_s", "must be positive");
  if (!(c.max_rms_s > 0)) return bad("max_rms_s", "must be positive");
  if (!(c.event_active_s > 0)) return bad("event_active_s", "must be positive");
  if (!(c.alert_min_mmi >= 1 && c.alert_min_mmi <= 10)) return bad("alert_min_mmi", "must be in 1..10");
  if (c.max_intensity_sites < 0) return bad("max_intensity_sites", "must be >= 0");
  if (!(c.locator.search_radius_km > 0) || !(c.locator.coarse_step_km > 0))
    return bad("locator", "search radius and step must be positive");
  return {};
}

std::size_t QuakeEvent::stations() const {
  std::size_t n = 0;
  for (const auto& p : picks) n += p.used ? 1 : 0;
  return n;
}

nlohmann::json to_json(const QuakeEvent& e) {
  nlohmann::json picks = nlohmann::json::array();
  for (const auto& p : e.picks) {
    nlohmann::json j{{"station", p.station},   {"network", p.network}, {"time", format_iso8601_us(p.time_us)},
                     {"residual_s", p.residual_s}, {"used", p.used}};
    if (p.gm) {
      j["pd_cm"] = p.gm->pd_cm;
      j["pga_cms2"] = p.gm->pga_cms2;
      j["pgv_cms"] = p.gm->pgv_cms;
    }
    if (p.magnitude > 0) j["magnitude"] = p.magnitude;
    picks.push_back(std::move(j));
  }
  nlohmann::json inten = nlohmann::json::array();
  for (const auto& s : e.intensities)
    inten.push_back({{"site", s.site},
                     {"lat", s.lat},
                     {"lon", s.lon},
                     {"distance_km", std::round(s.distance_km * 10) / 10},
                     {"mmi", std::round(s.mmi * 10) / 10},
                     {"pga_cms2", s.pga_cms2},
                     {"pgv_cms", s.pgv_cms},
                     {"source", s.observed ? "observed" : "predicted"},
                     {"p_arrival", format_iso8601_ms(s.p_arrival_us / 1000)},
                     {"s_arrival", format_iso8601_ms(s.s_arrival_us / 1000)}});
  nlohmann::json j{{"event_id", e.event_id},
                   {"version", e.version},
                   {"origin_time", format_iso8601_ms(e.hypo.origin_us / 1000)},
                   {"lat", std::round(e.hypo.lat * 1e4) / 1e4},
                   {"lon", std::round(e.hypo.lon * 1e4) / 1e4},
                   {"depth_km", std::round(e.hypo.depth_km * 10) / 10},
                   {"magnitude", std::round(e.magnitude * 100) / 100},
                   {"magnitude_type", e.magnitude_type},
                   {"magnitude_stations", e.magnitude_stations},
                   {"stations", e.stations()},
                   {"rms_s", e.hypo.rms_s},
                   {"gap_deg", e.hypo.gap_deg},
                   {"errors", {{"horizontal_km", e.hypo.err_h_km}, {"depth_km", e.hypo.err_z_km}, {"time_s", e.hypo.err_t_s}}},
                   {"alert", e.alert},
                   {"max_mmi", std::round(e.max_mmi * 10) / 10},
                   {"data_time", format_iso8601_ms(e.updated_us / 1000)},
                   {"picks", std::move(picks)},
                   {"intensities", std::move(inten)}};
  if (e.first_alert_us) j["first_alert_time"] = format_iso8601_ms(*e.first_alert_us / 1000);
  return j;
}

QuakeService::QuakeService(std::vector<StationInfo> sites, VelocityModel model, QuakeConfig cfg)
    : sites_(std::move(sites)), model_(std::move(model)), cfg_(std::move(cfg)) {
  for (std::size_t i = 0; i < sites_.size(); ++i) site_index_[sites_[i].station] = i;
  active_.assign(sites_.size(), 1);
  tt_p_ = std::make_unique<TravelTimeTable>(model_, Phase::P);
  tt_s_ = std::make_unique<TravelTimeTable>(model_, Phase::S);
}
QuakeService::~QuakeService() = default;

void QuakeService::set_active_sites(const std::vector<std::string>& stations) {
  check_live_ = true;
  std::fill(active_.begin(), active_.end(), 0);
  for (const auto& s : stations)
    if (auto it = site_index_.find(s); it != site_index_.end()) active_[it->second] = 1;
}

bool QuakeService::enough_sites_picked(const Hypocentre& h, const std::vector<std::size_t>& cluster,
                                       std::int64_t now_us) const {
  if (!check_live_) return true;
  double reach = 0;
  for (auto i : cluster) reach = std::max(reach, fast_distance_km(h.lat, h.lon, picks_[i].lat, picks_[i].lon));
  std::size_t expected = 0, picked = 0;
  for (std::size_t si = 0; si < sites_.size(); ++si) {
    if (!active_[si]) continue;
    const auto& s = sites_[si];
    if (std::fabs(s.lat - h.lat) * 111.0 > reach) continue;
    const double d = fast_distance_km(h.lat, h.lon, s.lat, s.lon);
    if (d > reach) continue;
    const auto tp = h.origin_us + static_cast<std::int64_t>(tt_p_->time(d, h.depth_km) * 1e6);
    bool in_cluster = false;
    for (auto i : cluster) in_cluster = in_cluster || picks_[i].pick.station == s.station;
    if (in_cluster) {
      ++expected, ++picked;
      continue;
    }
    if (tp + static_cast<std::int64_t>(cfg_.pick_wait_s * 1e6) > now_us) continue;  // not reached yet
    ++expected;
    // any pick of this site near the predicted time counts
    const auto tol = static_cast<std::int64_t>(std::max(cfg_.max_residual_s, 2.0) * 1e6);
    auto it = cells_.find(cell_of(s.lat, s.lon));
    if (it == cells_.end()) continue;
    for (auto abs_idx : it->second) {
      const auto& sp = picks_[static_cast<std::size_t>(abs_idx - pick_base_)];
      if (sp.pick.station == s.station && std::llabs(sp.pick.time_us - tp) <= tol) {
        ++picked;
        break;
      }
    }
  }
  return expected == 0 || static_cast<double>(picked) >= cfg_.min_pick_fraction * static_cast<double>(expected);
}

QuakeService::CellKey QuakeService::cell_of(double lat, double lon) const {
  return {static_cast<int>(std::floor(lat / cell_deg_)), static_cast<int>(std::floor(lon / cell_deg_))};
}

void QuakeService::purge(std::int64_t now_us) {
  const auto limit = now_us - static_cast<std::int64_t>(cfg_.pick_memory_s * 1e6);
  std::size_t dropped = 0;
  while (!picks_.empty() && picks_.front().pick.time_us < limit) {
    picks_.pop_front();
    ++pick_base_;
    ++dropped;
  }
  if (dropped == 0) return;
  for (auto it = cells_.begin(); it != cells_.end();) {
    auto& v = it->second;
    v.erase(v.begin(), std::lower_bound(v.begin(), v.end(), pick_base_));
    if (v.empty()) it = cells_.erase(it);
    else ++it;
  }
}

std::vector<tw::Message> QuakeService::on_message(const tw::Message& m) {
  const std::int64_t now_us = m.ts_ms * 1000;
  if (m.kind == "pick") {
    auto p = pick_from_json(m.payload);
    if (!p) {
      ++stats_.rejected;
      return {};
    }
    const double lat = m.payload.contains("lat") && m.payload["lat"].is_number() ? m.payload["lat"].get<double>() : NAN;
    const double lon = m.payload.contains("lon") && m.payload["lon"].is_number() ? m.payload["lon"].get<double>() : NAN;
    return on_pick(*p, now_us, lat, lon);
  }
  if (m.kind == "ground_motion") {
    auto g = ground_motion_from_json(m.payload);
    if (!g) {
      ++stats_.rejected;
      return {};
    }
    return on_ground_motion(*g, now_us);
  }
  return {};
}

EventPick QuakeService::StoredPick::event_pick() const {
  EventPick ep;
  ep.station = pick.station;
  ep.network = pick.network;
  ep.channel = pick.channel;
  ep.time_us = pick.time_us;
  ep.uncertainty_s = pick.uncertainty_s;
  ep.lat = lat;
  ep.lon = lon;
  return ep;
}

std::vector<tw::Message> QuakeService::on_pick(const Pick& p, std::int64_t now_us, double lat, double lon) {
  std::vector<tw::Message> out;
  ++stats_.picks;
  if (auto it = site_index_.find(p.station); it != site_index_.end()) {
    lat = sites_[it->second].lat;
    lon = sites_[it->second].lon;
  }
  if (!std::isfinite(lat) || !std::isfinite(lon)) {
    ++stats_.unknown_site;
    return out;
  }
  purge(now_us);
  const CellKey ck = cell_of(lat, lon);
  if (auto it = cells_.find(ck); it != cells_.end()) {
    for (auto idx : it->second) {
      const auto& sp = picks_[idx - pick_base_];
      if (sp.pick.station == p.station &&
          std::llabs(sp.pick.time_us - p.time_us) < static_cast<std::int64_t>(cfg_.duplicate_s * 1e6)) {
        ++stats_.duplicates;
        return out;
      }
    }
  }
  StoredPick sp;
  sp.pick = p;
  sp.lat = lat;
  sp.lon = lon;
  picks_.push_back(std::move(sp));
  const std::uint64_t abs_idx = pick_base_ + picks_.size() - 1;
  auto& cell = cells_[ck];
  cell.push_back(abs_idx);
  if (try_existing(static_cast<std::size_t>(abs_idx - pick_base_), now_us, out)) return out;
  try_new_event(static_cast<std::size_t>(abs_idx - pick_base_), now_us, out);
  return out;
}

bool QuakeService::try_existing(std::size_t k, std::int64_t now_us, std::vector<tw::Message>& out) {
  StoredPick& sp = picks_[k];
  int best = -1;
  double best_r = 1e9;
  bool secondary = false;
  for (std::size_t ei = 0; ei < events_.size(); ++ei) {
    QuakeEvent& e = events_[ei];
    if (sp.pick.time_us - e.hypo.origin_us > static_cast<std::int64_t>(cfg_.event_active_s * 1e6)) continue;
    if (sp.pick.time_us < e.hypo.origin_us) continue;
    const double d = fast_distance_km(e.hypo.lat, e.hypo.lon, sp.lat, sp.lon);
    double reach = 0;
    for (const auto& ep : e.picks) reach = std::max(reach, fast_distance_km(e.hypo.lat, e.hypo.lon, ep.lat, ep.lon));
    if (d > reach + cfg_.grow_km) continue;  // the wave front reaches nearer sites first
    const double tp = tt_p_->time(d, e.hypo.depth_km);
    const double ts = tt_s_->time(d, e.hypo.depth_km);
    const double t = static_cast<double>(sp.pick.time_us - e.hypo.origin_us) * 1e-6;
    const double r = t - tp;
    bool has_station = false;
    for (const auto& ep : e.picks) has_station = has_station || ep.station == sp.pick.station;
    const double tol = std::max(cfg_.max_residual_s, 3 * sp.pick.uncertainty_s);
    if (!has_station && std::fabs(r) <= tol && std::fabs(r) < best_r) {
      best = static_cast<int>(ei);
      best_r = std::fabs(r);
    } else if (t >= tp - tol && t <= ts + std::max(10.0, 2.0 * (ts - tp))) {
      secondary = true;  // S wave, coda, or a re-trigger of a site already in the event
    }
  }
  if (best >= 0) {
    QuakeEvent& e = events_[static_cast<std::size_t>(best)];
    sp.event = best;
    EventPick ep = sp.event_pick();
    e.picks.push_back(ep);
    ++stats_.associated;
    relocate(e);
    update_products(e);
    emit(e, now_us, out);
    return true;
  }
  if (secondary) {
    sp.secondary = true;
    ++stats_.secondary;
    return true;
  }
  return false;
}

bool QuakeService::try_new_event(std::size_t k, std::int64_t now_us, std::vector<tw::Message>& out) {
  const StoredPick& np = picks_[k];
  const double vmin = tt_p_->slowest_velocity();
  const double R = cfg_.assoc_radius_km;
  struct Cand {
    std::size_t idx;
    double dist;
  };
  std::vector<Cand> cands;
  const int dl = static_cast<int>(std::ceil(R / 111.0 / cell_deg_));
  const double coslat = std::max(0.05, std::cos(np.lat * std::numbers::pi / 180));
  const int dlo = static_cast<int>(std::ceil(R / (111.0 * coslat) / cell_deg_));
  const CellKey c0 = cell_of(np.lat, np.lon);
  for (int a = -dl; a <= dl; ++a)
    for (int b = -dlo; b <= dlo; ++b) {
      auto it = cells_.find(CellKey{c0.a + a, c0.b + b});
      if (it == cells_.end()) continue;
      for (auto abs_idx : it->second) {
        const std::size_t i = static_cast<std::size_t>(abs_idx - pick_base_);
        if (i == k) continue;
        const StoredPick& sp = picks_[i];
        if (sp.event >= 0 || sp.secondary || sp.pick.station == np.pick.station) continue;
        const double d = fast_distance_km(np.lat, np.lon, sp.lat, sp.lon);
        if (d > R) continue;
        const double dt = std::fabs(static_cast<double>(sp.pick.time_us - np.pick.time_us)) * 1e-6;
        if (dt > d / vmin + cfg_.pick_slack_s) continue;
        cands.push_back(Cand{i, d});
      }
    }
  {
    std::unordered_map<std::string, int> distinct;
    for (const auto& c : cands) distinct[picks_[c.idx].pick.station] = 1;
    if (static_cast<int>(distinct.size()) + 1 < cfg_.min_stations) return false;
  }
  // Greedy clique in the pairwise-consistency graph: candidates consistent with the most others first
  // (an event's picks are all mutually consistent; chance picks are not), then nearest sites, then the
  // earliest pick of a site (later ones are usually S waves or coda).
  auto compatible = [&](const StoredPick& a, const StoredPick& b) {
    const double d = fast_distance_km(a.lat, a.lon, b.lat, b.lon);
    const double dt = std::fabs(static_cast<double>(a.pick.time_us - b.pick.time_us)) * 1e-6;
    return d <= R && dt <= d / vmin + cfg_.pick_slack_s;
  };
  std::vector<int> degree(cands.size(), 0);
  for (std::size_t a = 0; a < cands.size(); ++a)
    for (std::size_t b = a + 1; b < cands.size(); ++b)
      if (picks_[cands[a].idx].pick.station != picks_[cands[b].idx].pick.station &&
          compatible(picks_[cands[a].idx], picks_[cands[b].idx]))
        ++degree[a], ++degree[b];
  std::vector<std::size_t> order(cands.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (degree[a] != degree[b]) return degree[a] > degree[b];
    if (cands[a].dist != cands[b].dist) return cands[a].dist < cands[b].dist;
    return picks_[cands[a].idx].pick.time_us < picks_[cands[b].idx].pick.time_us;
  });
  // Two greedy orders are tried: by consistency degree, then by distance from the new pick's site.
  std::vector<Cand> by_degree;
  for (auto i : order) by_degree.push_back(cands[i]);
  std::vector<Cand> by_distance = cands;
  std::sort(by_distance.begin(), by_distance.end(), [&](const Cand& a, const Cand& b) {
    if (a.dist != b.dist) return a.dist < b.dist;
    return picks_[a.idx].pick.time_us < picks_[b.idx].pick.time_us;
  });
  std::vector<std::size_t> cluster;
  Hypocentre h;
  auto attempt = [&](const std::vector<Cand>& list) -> bool {
    cluster.assign(1, k);
    for (const auto& c : list) {
      const StoredPick& sp = picks_[c.idx];
      bool ok = true;
      for (auto m : cluster)
        if (picks_[m].pick.station == sp.pick.station || !compatible(picks_[m], sp)) {
          ok = false;
          break;
        }
      if (ok) cluster.push_back(c.idx);
    }
    if (static_cast<int>(cluster.size()) < cfg_.min_stations) return false;
    // Locate, dropping the worst outlier while it does not fit.
    while (true) {
      std::vector<Observation> obs;
      for (auto i : cluster) obs.push_back({picks_[i].lat, picks_[i].lon, picks_[i].pick.time_us, picks_[i].pick.uncertainty_s});
      h = locate(obs, *tt_p_, cfg_.locator);
      if (!h.ok) return false;
      std::size_t worst = 0;
      double wr = 0;
      for (std::size_t j = 0; j < cluster.size(); ++j)
        if (std::fabs(h.residuals_s[j]) > wr) wr = std::fabs(h.residuals_s[j]), worst = j;
      if (wr <= cfg_.max_residual_s && h.rms_s <= cfg_.max_rms_s) {
        if (enough_sites_picked(h, cluster, now_us)) return true;
        // Too many silent sites inside the cluster's reach: drop the member farthest from the others
        // (a lone chance pick far away stretches the reach) and try again.
        if (static_cast<int>(cluster.size()) <= cfg_.min_stations) return false;
        std::size_t far = 0;
        double fd = -1;
        for (std::size_t j = 0; j < cluster.size(); ++j) {
          if (cluster[j] == k) continue;
          double d = 0;
          for (auto m : cluster) d += fast_distance_km(picks_[m].lat, picks_[m].lon, picks_[cluster[j]].lat, picks_[cluster[j]].lon);
          if (d > fd) fd = d, far = j;
        }
        cluster.erase(cluster.begin() + static_cast<std::ptrdiff_t>(far));
        continue;
      }
      if (static_cast<int>(cluster.size()) <= cfg_.min_stations) return false;
      if (cluster[worst] == k) return false;  // the new pick itself does not fit
      cluster.erase(cluster.begin() + static_cast<std::ptrdiff_t>(worst));
    }
  };
  if (!attempt(by_degree) && !attempt(by_distance)) return false;
  QuakeEvent e;
  e.hypo = h;
  e.event_id = fmt::format("tw{}{:02d}", format_iso8601_ms(h.origin_us / 1000).substr(0, 19), seq_++ % 100);
  e.event_id.erase(std::remove_if(e.event_id.begin(), e.event_id.end(), [](char c) { return c == '-' || c == ':' || c == 'T'; }),
                   e.event_id.end());
  const int ei = static_cast<int>(events_.size());
  for (std::size_t j = 0; j < cluster.size(); ++j) {
    StoredPick& sp = picks_[cluster[j]];
    sp.event = ei;
    EventPick ep = sp.event_pick();
    ep.residual_s = h.residuals_s[j];
    e.picks.push_back(ep);
  }
  stats_.associated += cluster.size();
  ++stats_.events;
  // Attach ground motion already received for these picks.
  for (auto& ep : e.picks) {
    auto it = pending_gm_.find(ep.station);
    if (it != pending_gm_.end() && std::llabs(it->second.pick_time_us - ep.time_us) < 500000) ep.gm = it->second;
  }
  events_.push_back(std::move(e));
  QuakeEvent& ev = events_.back();
  update_products(ev);
  emit(ev, now_us, out);
  return true;
}

void QuakeService::relocate(QuakeEvent& e) {
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<Observation> obs;
    std::vector<std::size_t> map;
    for (std::size_t i = 0; i < e.picks.size(); ++i) {
      const auto& p = e.picks[i];
      if (!p.used) continue;
      obs.push_back({p.lat, p.lon, p.time_us, p.uncertainty_s});
      map.push_back(i);
    }
    if (obs.size() < 3) return;
    auto h = locate(obs, *tt_p_, cfg_.locator);
    if (!h.ok) return;
    e.hypo = h;
    bool changed = false;
    for (std::size_t j = 0; j < map.size(); ++j) e.picks[map[j]].residual_s = h.residuals_s[j];
    // Residuals of unused picks against the new location, and outlier rejection.
    for (auto& p : e.picks) {
      const double d = fast_distance_km(h.lat, h.lon, p.lat, p.lon);
      p.residual_s = static_cast<double>(p.time_us - h.origin_us) * 1e-6 - tt_p_->time(d, h.depth_km);
      const bool fits = std::fabs(p.residual_s) <= std::max(cfg_.max_residual_s * 1.5, 3 * p.uncertainty_s);
      if (p.used && !fits && static_cast<int>(obs.size()) > cfg_.min_stations) {
        p.used = false;
        changed = true;
      }
    }
    if (!changed) return;
  }
}

void QuakeService::update_products(QuakeEvent& e) {
  // Magnitude: median of station Pd magnitudes.
  std::vector<double> mags;
  for (auto& p : e.picks) {
    p.magnitude = 0;
    if (!p.used || !p.gm || !(p.gm->pd_cm > 0)) continue;
    if (p.gm->pd_noise_cm > 0 && p.gm->pd_cm < cfg_.pd_min_snr * p.gm->pd_noise_cm) continue;
    const double epi = fast_distance_km(e.hypo.lat, e.hypo.lon, p.lat, p.lon);
    const double hypo = std::hypot(epi, e.hypo.depth_km);
    // Remove the pre-event displacement noise in quadrature (never below half the measured Pd).
    const double pd = std::sqrt(std::max(p.gm->pd_cm * p.gm->pd_cm - p.gm->pd_noise_cm * p.gm->pd_noise_cm,
                                         0.25 * p.gm->pd_cm * p.gm->pd_cm));
    p.magnitude = magnitude_from_pd(pd, hypo, cfg_.pd_law);
    mags.push_back(p.magnitude);
  }
  if (!mags.empty()) {
    std::sort(mags.begin(), mags.end());
    const std::size_t m = mags.size() / 2;
    e.magnitude = mags.size() % 2 ? mags[m] : 0.5 * (mags[m - 1] + mags[m]);
  }
  e.magnitude_stations = static_cast<int>(mags.size());
  // Intensity per site: observed where a site reported ground motion for this event, else predicted.
  std::unordered_map<std::string, const EventPick*> obs;
  for (const auto& p : e.picks)
    if (p.gm) obs[p.station] = &p;
  std::vector<SiteIntensity> list;
  double max_mmi = 0;
  for (const auto& s : sites_) {
    SiteIntensity si;
    si.site = s.station;
    si.lat = s.lat;
    si.lon = s.lon;
    si.distance_km = fast_distance_km(e.hypo.lat, e.hypo.lon, s.lat, s.lon);
    si.p_arrival_us = e.hypo.origin_us + static_cast<std::int64_t>(tt_p_->time(si.distance_km, e.hypo.depth_km) * 1e6);
    si.s_arrival_us = e.hypo.origin_us + static_cast<std::int64_t>(tt_s_->time(si.distance_km, e.hypo.depth_km) * 1e6);
    if (auto it = obs.find(s.station); it != obs.end()) {
      si.observed = true;
      si.pga_cms2 = it->second->gm->pga_cms2;
      si.pgv_cms = it->second->gm->pgv_cms;
      si.mmi = mmi_from_motion(si.pga_cms2, si.pgv_cms);
    } else if (e.magnitude > 0) {
      si.pga_cms2 = gmm_pga_cms2(e.magnitude, si.distance_km, e.hypo.depth_km);
      si.pgv_cms = gmm_pgv_cms(e.magnitude, si.distance_km, e.hypo.depth_km);
      si.mmi = mmi_from_motion(si.pga_cms2, si.pgv_cms);
    } else {
      continue;
    }
    max_mmi = std::max(max_mmi, si.mmi);
    if (si.observed || si.mmi >= cfg_.min_listed_mmi) list.push_back(si);
  }
  std::sort(list.begin(), list.end(), [](const SiteIntensity& a, const SiteIntensity& b) { return a.mmi > b.mmi; });
  if (list.size() > static_cast<std::size_t>(cfg_.max_intensity_sites))
    list.resize(static_cast<std::size_t>(cfg_.max_intensity_sites));
  e.intensities = std::move(list);
  e.max_mmi = max_mmi;
  e.alert = e.magnitude >= cfg_.alert_min_magnitude && e.max_mmi >= cfg_.alert_min_mmi;
}

void QuakeService::emit(QuakeEvent& e, std::int64_t now_us, std::vector<tw::Message>& out) {
  ++e.version;
  ++stats_.versions;
  if (e.version == 1) e.created_us = now_us;
  e.updated_us = now_us;
  if (e.alert && !e.first_alert_us) e.first_alert_us = now_us;
  out.push_back(tw::make_message("hub", "quake", now_us / 1000, to_json(e)));
}

std::vector<tw::Message> QuakeService::on_ground_motion(const GroundMotion& g, std::int64_t now_us) {
  std::vector<tw::Message> out;
  ++stats_.ground_motions;
  // Pd stops growing after the Pd window, so the latest report carries both Pd and the peaks so far.
  pending_gm_[g.station] = g;
  const GroundMotion& merged = pending_gm_[g.station];
  for (auto& e : events_) {
    for (auto& p : e.picks) {
      if (p.station != g.station || std::llabs(p.time_us - g.pick_time_us) >= 500000) continue;
      const double old_m = e.magnitude;
      const int old_n = e.magnitude_stations;
      const bool old_alert = e.alert;
      const double old_mmi = e.max_mmi;
      p.gm = merged;
      update_products(e);
      if (std::fabs(e.magnitude - old_m) >= 0.05 || e.magnitude_stations != old_n || e.alert != old_alert ||
          std::fabs(e.max_mmi - old_mmi) >= 0.5)
        emit(e, now_us, out);
      return out;
    }
  }
  return out;
}

}  // namespace tw::seismic
