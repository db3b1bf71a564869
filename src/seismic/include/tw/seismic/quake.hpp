#pragma once
// Hub-side earthquake service: associates `pick` messages from many sites into events, locates them,
// estimates magnitude from Pd (`ground_motion` messages), computes intensity per site (observed and
// predicted), S-wave arrival per site, decides the alert, and emits versioned `quake` messages.
// Free of any HTTP/store code: feed it messages, take messages back.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tw/core/message.hpp"
#include "tw/core/result.hpp"
#include "tw/seismic/locate.hpp"
#include "tw/seismic/station.hpp"

namespace tw::seismic {

// Worden et al. (2012) GMICE: PGA in cm/s^2, PGV in cm/s -> MMI (clamped to 1..10).
double mmi_from_pga(double pga_cms2);
double mmi_from_pgv(double pgv_cms);
// Combined: PGV-based when either estimate reaches MMI 5, else PGA-based (ShakeMap practice).
double mmi_from_motion(double pga_cms2, double pgv_cms);
// Ground-motion model (Joyner & Boore 1981 form) for a point source: median PGA (cm/s^2), PGV (cm/s).
double gmm_pga_cms2(double magnitude, double dist_km, double depth_km);
double gmm_pgv_cms(double magnitude, double dist_km, double depth_km);
// Magnitude from peak displacement (cm) and hypocentral distance (km): M = a log10(Pd) + b log10(R) + c.
struct PdMagnitudeLaw {
  double a = 1.23, b = 1.38, c = 5.39;  // Kuyuk & Allen (2013), global
};
double magnitude_from_pd(double pd_cm, double hypo_km, const PdMagnitudeLaw& law = {});

struct QuakeConfig {
  int min_stations = 4;             // picks from distinct sites needed for an event
  double assoc_radius_km = 300;     // largest site separation inside a new event's seed
  double pick_slack_s = 1.5;        // timing slack in the pairwise consistency test
  double pick_memory_s = 120;       // how long picks are kept for association
  double max_residual_s = 2.0;      // a pick fits an event when |residual| is below this (or 3 sigma)
  double max_rms_s = 1.0;           // a new event needs an RMS below this
  double event_active_s = 300;      // an event accepts picks this long after its origin
  double duplicate_s = 1.0;         // a pick of the same site within this time is a duplicate
  // A new event must be picked by at least this fraction of the live sites that its first P wave
  // has already reached (sites within the picked sites' distance): random coincidences are not.
  double min_pick_fraction = 0.4;
  double grow_km = 150;             // an event takes picks up to this far beyond its farthest site
  double pick_wait_s = 1.5;         // a site counts as "reached" this long after its predicted P
  PdMagnitudeLaw pd_law;
  double pd_min_snr = 0.0;          // Pd must exceed this times the pre-event noise (noise is also removed in quadrature)
  double alert_min_magnitude = 4.5;
  double alert_min_mmi = 4.0;       // predicted or observed at any site
  int max_intensity_sites = 200;    // intensities listed per quake message (strongest first)
  double min_listed_mmi = 2.0;
  LocatorConfig locator;
};
Status validate(const QuakeConfig& cfg);

struct SiteIntensity {
  std::string site;  // station code
  double lat = 0, lon = 0;
  double distance_km = 0;
  double mmi = 0;
  double pga_cms2 = 0, pgv_cms = 0;
  bool observed = false;
  std::int64_t p_arrival_us = 0, s_arrival_us = 0;
};

struct EventPick {
  std::string station, network, channel;
  std::int64_t time_us = 0;
  double uncertainty_s = 0;
  double residual_s = 0;
  double lat = 0, lon = 0;
  bool used = true;
  std::optional<GroundMotion> gm;
  double magnitude = 0;  // station magnitude (0 = none)
};

struct QuakeEvent {
  std::string event_id;
  int version = 0;
  Hypocentre hypo;
  double magnitude = 0;  // 0 until a Pd is available
  std::string magnitude_type = "Mpd";
  int magnitude_stations = 0;
  std::vector<EventPick> picks;
  bool alert = false;
  std::optional<std::int64_t> first_alert_us;  // data time of the first alerting version
  double max_mmi = 0;
  std::vector<SiteIntensity> intensities;
  std::int64_t created_us = 0;  // data time of the first version
  std::int64_t updated_us = 0;  // data time of the latest version
  std::size_t stations() const;
};

nlohmann::json to_json(const QuakeEvent& e);

// Station directory: code -> coordinates (picks carry coordinates too; the directory wins).
struct SiteDirectory {
  std::vector<StationInfo> sites;
};

class QuakeService {
 public:
  QuakeService(std::vector<StationInfo> sites, VelocityModel model, QuakeConfig cfg = {});
  ~QuakeService();
  // Consumes a pick or ground_motion message (others are ignored); returns `quake` messages for
  // every new event version. `now_us` is the data time (default: message ts).
  std::vector<tw::Message> on_message(const tw::Message& m);
  // Directly with parsed values (used by on_message and benchmarks). Data time = `now_us`.
  std::vector<tw::Message> on_pick(const Pick& p, std::int64_t now_us, double lat = NAN, double lon = NAN);
  std::vector<tw::Message> on_ground_motion(const GroundMotion& g, std::int64_t now_us);

  const std::vector<QuakeEvent>& events() const { return events_; }
  // Sites currently sending seismic data. Once set, a new event also needs min_pick_fraction of the live
  // sites its P wave has reached to have picked. Not set (the default): that check is off, because the
  // directory may hold sites without accelerometers.
  void set_active_sites(const std::vector<std::string>& stations);
  struct Stats {
    std::uint64_t picks = 0, duplicates = 0, unknown_site = 0, rejected = 0, associated = 0, secondary = 0;
    std::uint64_t ground_motions = 0, events = 0, versions = 0;
  };
  const Stats& stats() const { return stats_; }
  const TravelTimeTable& p_table() const { return *tt_p_; }
  const TravelTimeTable& s_table() const { return *tt_s_; }

 private:
  struct StoredPick {
    Pick pick;
    double lat = 0, lon = 0;
    EventPick event_pick() const;  // this pick as a member of an event
    int event = -1;        // index into events_, -1 free
    bool secondary = false;
  };
  struct CellKey {
    int a, b;
    bool operator==(const CellKey& o) const { return a == o.a && b == o.b; }
  };
  struct CellHash {
    std::size_t operator()(const CellKey& k) const {
      return std::hash<long long>()((static_cast<long long>(k.a) << 32) ^ static_cast<unsigned>(k.b));
    }
  };
  CellKey cell_of(double lat, double lon) const;
  void purge(std::int64_t now_us);
  bool try_existing(std::size_t pick_idx, std::int64_t now_us, std::vector<tw::Message>& out);
  bool try_new_event(std::size_t pick_idx, std::int64_t now_us, std::vector<tw::Message>& out);
  void relocate(QuakeEvent& e);
  void update_products(QuakeEvent& e);
  void emit(QuakeEvent& e, std::int64_t now_us, std::vector<tw::Message>& out);

  bool enough_sites_picked(const Hypocentre& h, const std::vector<std::size_t>& cluster, std::int64_t now_us) const;
  std::vector<StationInfo> sites_;
  std::vector<char> active_;  // per site
  bool check_live_ = false;
  std::unordered_map<std::string, std::size_t> site_index_;  // station code -> sites_
  VelocityModel model_;
  QuakeConfig cfg_;
  std::unique_ptr<TravelTimeTable> tt_p_, tt_s_;
  std::deque<StoredPick> picks_;   // in arrival order
  std::uint64_t pick_base_ = 0;    // absolute index of picks_.front()
  std::unordered_map<CellKey, std::vector<std::uint64_t>, CellHash> cells_;
  double cell_deg_ = 1.0;
  std::vector<QuakeEvent> events_;
  std::unordered_map<std::string, GroundMotion> pending_gm_;  // latest per site (Pd window kept)
  Stats stats_;
  int seq_ = 0;
};

// Exports.
std::string to_cap_xml(const QuakeEvent& e, const std::string& sender = "towerwatch@hub");
nlohmann::json to_cap_json(const QuakeEvent& e, const std::string& sender = "towerwatch@hub");
std::string to_quakeml(const std::vector<QuakeEvent>& events);

}  // namespace tw::seismic
