#pragma once
// Backend-independent helpers shared by the SQLite and PostgreSQL stores: input validation,
// the conservative bounding box used to prefilter "near" queries, and alarm state rules.
#include <cstdint>
#include <string>
#include <string_view>

#include "tw/store/store.hpp"

namespace tw::store::detail {

inline constexpr size_t kMaxQueryLimit = 100000;
inline constexpr std::int64_t kMaxTimeMs = 253402300800000;  // year 10000
inline constexpr double kMaxRadiusKm = 20000.0;  // half the Earth's circumference, roughly

bool has_coords(double lat, double lon);

bool valid_utf8(std::string_view s);

// JSON text for storage; invalid UTF-8 in strings is replaced (U+FFFD) rather than thrown.
std::string json_text(const nlohmann::json& j);

// Validates one event of a batch; the error names the batch index and the id.
Status validate_event(const EventRecord& e, size_t index);
Status validate_near(const Near& n, std::string_view what);
Status validate_event_query(const EventQuery& q);
Status validate_alarm_query(const AlarmQuery& q);
Status validate_alarm(const AlarmRecord& a);
Status validate_site(const SiteRecord& s);
bool valid_site_status(std::string_view s);
bool is_active_status(std::string_view s);

// A latitude/longitude box that contains every point within radius_km (geodesic) of the centre.
// When the box crosses the antimeridian it is split in two longitude ranges; when it reaches a pole
// it covers every longitude.
struct BoundingBox {
  double min_lat = 0, max_lat = 0;
  double min_lon1 = 0, max_lon1 = 0;  // always used
  bool has_second = false;            // a second range when the box crosses +-180
  double min_lon2 = 0, max_lon2 = 0;
};
BoundingBox bounding_box(const Near& n);

// Exact geodesic test on the WGS84 ellipsoid.
bool within(const Near& n, double lat, double lon);

// The same test for many points: rejects outside the bounding box, decides with a spherical distance
// when it is clearly inside or outside (the ellipsoid differs from the sphere by < 0.6 %), and runs the
// exact geodesic only near the circle's edge. Same answers as within().
class NearFilter {
 public:
  explicit NearFilter(const Near& n);
  bool contains(double lat, double lon) const;

 private:
  Near n_;
  BoundingBox box_;
  double sin_lat_, cos_lat_;
};

// The status an alarm moves to when acknowledged / cleared.
std::string acked_status(std::string_view status);
std::string cleared_status(std::string_view status);

}  // namespace tw::store::detail
