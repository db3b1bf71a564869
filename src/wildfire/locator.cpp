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

  // Bearings from other sites that cross this one.
  std::vector<const Obs*> partners;
  std::optional<Fix> best_pair;
  for (const auto& [site, other] : latest_) {
    if (site == o.site) continue;
    auto f = triangulate({o.b, other.b}, cfg_.triangulation);
    if (!f) continue;
    partners.push_back(&other);
    if (!best_pair || f->ellipse.semi_major_m < best_pair->ellipse.semi_major_m) best_pair = *f;
  }
  if (partners.empty()) return std::nullopt;
  std::vector<const Obs*> used{&latest_[o.site]};
  std::optional<Fix> fix;
  {
    std::vector<BearingObservation> all{o.b};
    for (auto* q : partners) all.push_back(q->b);
    auto f = triangulate(all, cfg_.triangulation);
    if (f && std::all_of(all.begin(), all.end(), [&](const auto& b) { return consistent(*f, b, cfg_.gate_sigma); })) {
      fix = *f;
      used.insert(used.end(), partners.begin(), partners.end());
    }
  }
  if (!fix) {  // inconsistent set (two fires, a stale bearing): keep the partners consistent with the best pair
    std::vector<BearingObservation> all{o.b};
    for (auto* q : partners)
      if (consistent(*best_pair, q->b, cfg_.gate_sigma)) {
        all.push_back(q->b);
        used.push_back(q);
      }
    auto f = triangulate(all, cfg_.triangulation);
    if (!f) return std::nullopt;
    fix = *f;
  }

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
