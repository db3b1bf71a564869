#include "common.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tw/core/geo.hpp"

namespace tw::store::detail {

bool has_coords(double lat, double lon) { return !std::isnan(lat) && !std::isnan(lon); }

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    // Overlong forms, surrogates and code points beyond U+10FFFF are invalid.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

static Status check_coords(double lat, double lon, std::string_view what) {
  if (std::isnan(lat) != std::isnan(lon))
    return make_error("bad_argument", fmt::format("{}: lat and lon must both be set or both be NaN", what));
  if (std::isnan(lat)) return {};
  if (!std::isfinite(lat) || lat < -90.0 || lat > 90.0)
    return make_error("bad_argument", fmt::format("{}: lat {} out of range [-90, 90]", what, lat));
  if (!std::isfinite(lon) || lon < -180.0 || lon > 180.0)
    return make_error("bad_argument", fmt::format("{}: lon {} out of range [-180, 180]", what, lon));
  return {};
}

Status validate_event(const EventRecord& e, size_t index) {
  const std::string what = fmt::format("event[{}] id='{}'", index, e.id);
  if (e.id.empty()) return make_error("bad_argument", fmt::format("event[{}]: empty id", index));
  if (e.id.size() > 128) return make_error("bad_argument", what + ": id longer than 128 characters");
  if (e.site.empty()) return make_error("bad_argument", what + ": empty site");
  if (e.kind.empty()) return make_error("bad_argument", what + ": empty kind");
  if (e.id.find('\0') != std::string::npos || e.site.find('\0') != std::string::npos ||
      e.kind.find('\0') != std::string::npos)
    return make_error("bad_argument", what + ": NUL character in id, site or kind");
  if (!valid_utf8(e.id) || !valid_utf8(e.site) || !valid_utf8(e.kind))
    return make_error("bad_argument", what + ": id, site or kind is not valid UTF-8");
  if (e.ts_ms < 0 || e.ts_ms >= kMaxTimeMs)
    return make_error("bad_argument", fmt::format("{}: ts_ms {} out of range [0, {})", what, e.ts_ms, kMaxTimeMs));
  return check_coords(e.lat, e.lon, what);
}

Status validate_near(const Near& n, std::string_view what) {
  if (auto s = check_coords(n.lat, n.lon, what); !s) return s;
  if (std::isnan(n.lat)) return make_error("bad_argument", fmt::format("{}: near point has no coordinates", what));
  if (!std::isfinite(n.radius_km) || n.radius_km < 0 || n.radius_km > kMaxRadiusKm)
    return make_error("bad_argument",
                      fmt::format("{}: radius_km {} out of range [0, {}]", what, n.radius_km, kMaxRadiusKm));
  return {};
}

Status validate_event_query(const EventQuery& q) {
  if (q.limit == 0 || q.limit > kMaxQueryLimit)
    return make_error("bad_argument", fmt::format("event query: limit {} out of range [1, {}]", q.limit,
                                                  kMaxQueryLimit));
  if (q.since_ms && q.until_ms && *q.until_ms < *q.since_ms)
    return make_error("bad_argument", fmt::format("event query: until {} is before since {}", *q.until_ms,
                                                  *q.since_ms));
  for (const auto* list : {&q.kinds, &q.sites})
    for (const auto& v : *list)
      if (!valid_utf8(v) || v.find('\0') != std::string::npos)
        return make_error("bad_argument", "event query: a kind or site is not valid UTF-8 text");
  if (q.near) return validate_near(*q.near, "event query");
  return {};
}

Status validate_alarm_query(const AlarmQuery& q) {
  if (q.limit == 0 || q.limit > kMaxQueryLimit)
    return make_error("bad_argument", fmt::format("alarm query: limit {} out of range [1, {}]", q.limit,
                                                  kMaxQueryLimit));
  if (q.near) return validate_near(*q.near, "alarm query");
  return {};
}

Status validate_alarm(const AlarmRecord& a) {
  const std::string what = fmt::format("alarm source='{}' type='{}'", a.source, a.type);
  if (a.source.empty()) return make_error("bad_argument", what + ": empty source");
  if (a.type.empty()) return make_error("bad_argument", what + ": empty type");
  static constexpr std::string_view kSev[] = {"critical", "major", "minor", "warning"};
  if (std::find(std::begin(kSev), std::end(kSev), a.severity) == std::end(kSev))
    return make_error("bad_argument",
                      fmt::format("{}: severity '{}' is not critical|major|minor|warning", what, a.severity));
  if (a.service.empty()) return make_error("bad_argument", what + ": empty service");
  for (const std::string* f : {&a.source, &a.type, &a.service, &a.site, &a.message, &a.assignee})
    if (!valid_utf8(*f) || f->find('\0') != std::string::npos)
      return make_error("bad_argument", what + ": a text field is not valid UTF-8 text");
  return check_coords(a.lat, a.lon, what);
}

Status validate_site(const SiteRecord& s) {
  if (s.id.empty()) return make_error("bad_argument", "site: empty id");
  if (!valid_utf8(s.id) || !valid_utf8(s.name) || s.id.find('\0') != std::string::npos ||
      s.name.find('\0') != std::string::npos)
    return make_error("bad_argument", "site: id or name is not valid UTF-8 text");
  if (!valid_site_status(s.status))
    return make_error("bad_argument",
                      fmt::format("site '{}': status '{}' is not online|offline|unknown", s.id, s.status));
  if (!std::isfinite(s.lat) || !std::isfinite(s.lon) || std::abs(s.lat) > 90 || std::abs(s.lon) > 180)
    return make_error("bad_argument", fmt::format("site '{}': lat/lon {}, {} out of range", s.id, s.lat, s.lon));
  if (!std::isfinite(s.height_m))
    return make_error("bad_argument", fmt::format("site '{}': height_m is not finite", s.id));
  return {};
}

bool valid_site_status(std::string_view s) { return s == "online" || s == "offline" || s == "unknown"; }
bool is_active_status(std::string_view s) { return s == "active_unack" || s == "active_ack"; }

std::string acked_status(std::string_view status) {
  if (status == "active_unack" || status == "active_ack") return "active_ack";
  return "cleared_ack";
}
std::string cleared_status(std::string_view status) {
  if (status == "active_ack" || status == "cleared_ack") return "cleared_ack";
  return "cleared_unack";
}

BoundingBox bounding_box(const Near& n) {
  // A degree of latitude is at least 110.574 km on WGS84 (at the equator); use 110.5 to stay conservative.
  constexpr double kMinKmPerDegLat = 110.5;
  // A degree of longitude along a parallel at latitude phi is N(phi)*cos(phi)*pi/180 >= 111.319*cos(phi).
  constexpr double kKmPerDegLonEquator = 111.3;
  BoundingBox b;
  const double dlat = n.radius_km / kMinKmPerDegLat + 1e-9;
  b.min_lat = std::max(-90.0, n.lat - dlat);
  b.max_lat = std::min(90.0, n.lat + dlat);
  // Every point of a geodesic shorter than r stays inside the latitude band, where one km eastwards moves
  // at most 1/(111.3*cos(phi_max)) degrees of longitude.
  const double phi_max = std::max(std::abs(b.min_lat), std::abs(b.max_lat));
  const double c = std::cos(phi_max * M_PI / 180.0);
  const double dlon = c > 1e-6 ? n.radius_km / (kKmPerDegLonEquator * c) + 1e-9 : 360.0;
  if (dlon >= 180.0 || phi_max >= 89.999) {
    b.min_lon1 = -180.0;
    b.max_lon1 = 180.0;
    return b;
  }
  double lo = n.lon - dlon, hi = n.lon + dlon;
  if (lo < -180.0) {
    b.min_lon1 = -180.0;
    b.max_lon1 = hi;
    b.has_second = true;
    b.min_lon2 = lo + 360.0;
    b.max_lon2 = 180.0;
  } else if (hi > 180.0) {
    b.min_lon1 = lo;
    b.max_lon1 = 180.0;
    b.has_second = true;
    b.min_lon2 = -180.0;
    b.max_lon2 = hi - 360.0;
  } else {
    b.min_lon1 = lo;
    b.max_lon1 = hi;
  }
  return b;
}

bool within(const Near& n, double lat, double lon) {
  if (!has_coords(lat, lon)) return false;
  return tw::distance_km({n.lat, n.lon}, {lat, lon}) <= n.radius_km;
}

NearFilter::NearFilter(const Near& n) : n_(n), box_(bounding_box(n)) {
  sin_lat_ = std::sin(n.lat * M_PI / 180.0);
  cos_lat_ = std::cos(n.lat * M_PI / 180.0);
}

bool NearFilter::contains(double lat, double lon) const {
  if (!has_coords(lat, lon)) return false;
  if (lat < box_.min_lat || lat > box_.max_lat) return false;
  const bool in_lon = (lon >= box_.min_lon1 && lon <= box_.max_lon1) ||
                      (box_.has_second && lon >= box_.min_lon2 && lon <= box_.max_lon2);
  if (!in_lon) return false;
  // Great-circle distance on the mean sphere (haversine).
  constexpr double kMeanRadiusKm = 6371.0088;
  constexpr double kMargin = 0.007;
  const double p = lat * M_PI / 180.0;
  const double dl = (lon - n_.lon) * M_PI / 180.0;
  const double sdp = std::sin((p - n_.lat * M_PI / 180.0) / 2.0), sdl = std::sin(dl / 2.0);
  const double h = sdp * sdp + cos_lat_ * std::cos(p) * sdl * sdl;
  const double d = 2.0 * kMeanRadiusKm * std::asin(std::min(1.0, std::sqrt(h)));
  if (d < n_.radius_km * (1.0 - kMargin)) return true;
  if (d > n_.radius_km * (1.0 + kMargin) + 1e-6) return false;
  return within(n_, lat, lon);
}

}  // namespace tw::store::detail
