#pragma once
// Geodesy on the WGS84 ellipsoid (GeographicLib).
namespace tw {

struct LatLon {
  double lat = 0;
  double lon = 0;
};

double distance_km(LatLon a, LatLon b);                 // geodesic distance
double azimuth_deg(LatLon from, LatLon to);             // initial bearing, [0, 360)
LatLon destination(LatLon from, double azimuth_deg, double distance_km);
// A cheap lower bound on distance, for index pruning: km per degree of latitude.
inline constexpr double kKmPerDegLat = 111.32;

}  // namespace tw
