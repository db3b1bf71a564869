#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "tw/core/geo.hpp"
#include "tw/core/ids.hpp"
#include "tw/wildfire/watcher.hpp"

namespace tw::wildfire {
namespace {

std::optional<double> number(const nlohmann::json& p, const char* key) {
  auto it = p.find(key);
  if (it == p.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

bool consistent(const Fix& fix, const BearingObservation& o, double gate_sigma) {
  if (distance_km(o.origin, fix.position) < 1e-3) return false;
  const double az = azimuth_deg(o.origin, fix.position);
  return std::abs(wrap180(o.azimuth_deg - az)) <= gate_sigma * o.sigma_deg;
}

}  // namespace

FireLocator::FireLocator(LocatorConfig config) : cfg_(std::move(config)) {}

std::optional<Message> FireLocator::on_smoke(const Message& smoke, LatLon site_position) {
  const auto& p = smoke.payload;
  auto bearing = number(p, "bearing_deg");
  if (smoke.kind != "smoke" || !p.is_object() || !bearing || !p.contains("camera") || !p["camera"].is_string()) {
    ++rejected_;
    return std::nullopt;
  }
  Obs o;
  o.site = smoke.site;
  o.camera = p["camera"].get<std::string>();
  o.smoke_id = smoke.id;
  o.ts_ms = smoke.ts_ms;
  o.b.origin = site_position;
  if (auto lat = number(p, "camera_lat"), lon = number(p, "camera_lon"); lat && lon) o.b.origin = {*lat, *lon};
  o.b.azimuth_deg = wrap360(*bearing);
  o.b.sigma_deg = number(p, "bearing_sigma_deg").value_or(cfg_.default_sigma_deg);
  if (o.b.sigma_deg <= 0) o.b.sigma_deg = cfg_.default_sigma_deg;
  o.b.source = o.site + "/" + o.camera;
  if (o.b.origin.lat < -90 || o.b.origin.lat > 90 || !std::isfinite(o.b.origin.lon)) {
    ++rejected_;
    return std::nullopt;
  }
  latest_[o.site] = o;
  std::erase_if(latest_, [&](const auto& kv) { return o.ts_ms - kv.second.ts_ms > cfg_.window_ms; });

  // The largest set of bearings consistent with one point: seed with every crossing pair, gate the others.
  std::vector<const Obs*> all;
  for (const auto& [site, ob] : latest_) all.push_back(&ob);
  std::vector<const Obs*> used;
  std::optional<Fix> fix;
  bool used_known = false;
  auto near_live_fire = [&](LatLon pos, std::int64_t ts) {
    return std::any_of(fires_.begin(), fires_.end(), [&](const FireState& fs) {
      return ts - fs.last_ms <= cfg_.window_ms && distance_km(fs.fix.position, pos) <= cfg_.same_fire_km;
    });
  };
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = i + 1; j < all.size(); ++j) {
      auto pair = triangulate({all[i]->b, all[j]->b}, cfg_.triangulation);
      if (!pair) continue;
      std::vector<const Obs*> set;
      std::vector<BearingObservation> bs;
      for (auto* q : all)
        if (q == all[i] || q == all[j] || consistent(*pair, q->b, cfg_.gate_sigma)) {
          set.push_back(q);
          bs.push_back(q->b);
        }
      std::optional<Fix> f = *pair;
      if (set.size() > 2) {
        auto refit = triangulate(bs, cfg_.triangulation);
        if (refit && std::all_of(bs.begin(), bs.end(), [&](const auto& b) { return consistent(*refit, b, cfg_.gate_sigma); }))
          f = *refit;
        else
          set = {all[i], all[j]}, f = *pair;
      }
      // Rank: more bearings, then agreement with a fire already located, then a tighter ellipse.
      const bool known = near_live_fire(f->position, o.ts_ms);
      if (!fix || set.size() > used.size() ||
          (set.size() == used.size() && known && !used_known) ||
          (set.size() == used.size() && known == used_known && f->ellipse.semi_major_m < fix->ellipse.semi_major_m)) {
        fix = f;
        used = set;
        used_known = known;
      }
    }
  }
  const Obs* self = &latest_[o.site];
  if (!fix || std::find(used.begin(), used.end(), self) == used.end()) return std::nullopt;
  std::stable_partition(used.begin(), used.end(), [&](const Obs* q) { return q == self; });

  FireState* fire = nullptr;
  for (auto& fs : fires_) {
    if (o.ts_ms - fs.last_ms > cfg_.window_ms) continue;
    if (distance_km(fs.fix.position, fix->position) <= cfg_.same_fire_km) { fire = &fs; break; }
  }
  if (!fire) {
    fires_.push_back(FireState{new_ulid(), *fix, 0, o.ts_ms, o.ts_ms, {}});
    fire = &fires_.back();
  }
  fire->fix = *fix;
  fire->updates += 1;
  fire->last_ms = o.ts_ms;
  nlohmann::json bearings = nlohmann::json::array();
  for (auto* q : used) {
    bearings.push_back({{"site", q->site}, {"camera", q->camera}, {"smoke_id", q->smoke_id},
                        {"bearing_deg", q->b.azimuth_deg}, {"sigma_deg", q->b.sigma_deg},
                        {"lat", q->b.origin.lat}, {"lon", q->b.origin.lon}, {"ts_ms", q->ts_ms}});
    if (std::find(fire->smoke_ids.begin(), fire->smoke_ids.end(), q->smoke_id) == fire->smoke_ids.end())
      fire->smoke_ids.push_back(q->smoke_id);
  }
  nlohmann::json payload{
      {"lat", fix->position.lat},
      {"lon", fix->position.lon},
      {"fire_id", fire->fire_id},
      {"update", fire->updates},
      {"first_seen_ms", fire->first_ms},
      {"n_sites", used.size()},
      {"rms_residual_deg", fix->rms_residual_deg},
      {"ellipse",
       {{"semi_major_m", fix->ellipse.semi_major_m},
        {"semi_minor_m", fix->ellipse.semi_minor_m},
        {"major_azimuth_deg", fix->ellipse.major_azimuth_deg},
        {"confidence", fix->ellipse.confidence}}},
      {"bearings", std::move(bearings)},
  };
  return make_message("hub", "fire", o.ts_ms, std::move(payload));
}

}  // namespace tw::wildfire
