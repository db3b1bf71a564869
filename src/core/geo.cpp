#include "tw/core/geo.hpp"

#include <cmath>

#include <GeographicLib/Geodesic.hpp>

namespace tw {

double distance_km(LatLon a, LatLon b) {
  double s12 = 0;
  GeographicLib::Geodesic::WGS84().Inverse(a.lat, a.lon, b.lat, b.lon, s12);
  return s12 / 1000.0;
}

double azimuth_deg(LatLon from, LatLon to) {
  double azi1 = 0, azi2 = 0;
  GeographicLib::Geodesic::WGS84().Inverse(from.lat, from.lon, to.lat, to.lon, azi1, azi2);
  return azi1 < 0 ? azi1 + 360.0 : azi1;
}

LatLon destination(LatLon from, double az, double km) {
  LatLon out;
  GeographicLib::Geodesic::WGS84().Direct(from.lat, from.lon, az, km * 1000.0, out.lat, out.lon);
  return out;
}

}  // namespace tw
