#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>

#include "test_data.hpp"
#include "tw/core/message.hpp"
#include "tw/core/time.hpp"
#include "tw/seismic/pipeline.hpp"
#include "tw/seismic/quake.hpp"

using namespace tw::seismic;

TEST(IntensityTest, WordenGmiceAndGmm) {
  EXPECT_NEAR(mmi_from_pga(100), -1.60 + 3.70 * 2, 1e-9);   // above the 1.57 break
  EXPECT_NEAR(mmi_from_pga(10), 1.78 + 1.55 * 1, 1e-9);     // below it
  EXPECT_NEAR(mmi_from_pgv(10), 2.89 + 3.16 * 1, 1e-9);
  EXPECT_NEAR(mmi_from_pgv(1), 3.78, 1e-9);
  EXPECT_DOUBLE_EQ(mmi_from_pga(0), 1.0);
  EXPECT_DOUBLE_EQ(mmi_from_pga(1e9), 10.0);
  EXPECT_NEAR(mmi_from_motion(100, 10), mmi_from_pgv(10), 1e-12);  // strong: PGV-based
  EXPECT_NEAR(mmi_from_motion(5, 0.1), mmi_from_pga(5), 1e-12);    // weak: PGA-based
  // Joyner & Boore (1981) form: M6 at 20 km, shallow
  const double r = std::sqrt(400 + 7.3 * 7.3);
  EXPECT_NEAR(gmm_pga_cms2(6, 20, 0), std::pow(10, -1.02 + 0.249 * 6 - std::log10(r) - 0.00255 * r) * 980.665, 1e-9);
  EXPECT_GT(gmm_pga_cms2(6, 10, 10), gmm_pga_cms2(6, 100, 10));
  EXPECT_GT(gmm_pgv_cms(7, 50, 10), gmm_pgv_cms(5, 50, 10));
  // Kuyuk & Allen (2013): M = 1.23 log Pd + 1.38 log R + 5.39
  EXPECT_NEAR(magnitude_from_pd(0.1, 100), 1.23 * -1 + 1.38 * 2 + 5.39, 1e-12);
  EXPECT_EQ(magnitude_from_pd(0, 100), 0);
}

TEST(VelocityModelTest, ReadsTheSharedModels) {
  auto no = read_velocity_model(test::seismic_dir() / "norway_seisan" / "velocity_model_STATION0.csv", 1.74);
  ASSERT_TRUE(no.ok()) << no.error().message;
  ASSERT_EQ(no->layers.size(), 6u);
  EXPECT_DOUBLE_EQ(no->layers[3].top_km, 31.0);
  EXPECT_DOUBLE_EQ(no->layers[3].vp, 8.05);
  EXPECT_NEAR(no->layers[0].vs, 6.2 / 1.74, 1e-12);
  auto ice = read_velocity_model(test::seismic_dir() / "iceland_quakemigrate" / "velocity_model.csv");
  ASSERT_TRUE(ice.ok()) << ice.error().message;
  EXPECT_DOUBLE_EQ(ice->layers[0].top_km, 0.0);  // -3 km (above sea level) shifted to 0
  EXPECT_DOUBLE_EQ(ice->layers[1].top_km, 4.0);
  EXPECT_DOUBLE_EQ(ice->layers[1].vs, 2.247);
  auto bad = parse_velocity_model("depth,vp\n0,6\n10,abc\n", "m.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("m.csv:3"), std::string::npos);
  EXPECT_FALSE(parse_velocity_model("depth,vp\n10,6\n5,7\n", "m.csv").ok());
  EXPECT_FALSE(parse_velocity_model("a,b\n1,2\n", "m.csv").ok());
}

TEST(TravelTimeTest, DirectAndHeadWaves) {
  auto m = VelocityModel::default_crust();  // 5.8 / 6.5 (20 km) / 8.04 (35 km)
  TravelTimeTable tt(m, Phase::P);
  EXPECT_NEAR(tt.time(100, 0), 100 / 5.8, 1e-6);                         // direct along the surface
  EXPECT_NEAR(tt.time(0, 10), 10 / 5.8, 0.01);                           // straight up
  const double head = 500 / 8.04 + 2 * (20 * std::sqrt(1 / (5.8 * 5.8) - 1 / (8.04 * 8.04)) +
                                        15 * std::sqrt(1 / (6.5 * 6.5) - 1 / (8.04 * 8.04)));
  EXPECT_NEAR(tt.time(500, 0), head, 1e-6);  // Pn
  TravelTimeTable ts(m, Phase::S);
  EXPECT_NEAR(ts.time(100, 0), 100 / 3.36, 1e-6);
  EXPECT_NEAR(tt.slowest_velocity(), 5.8, 1e-12);
}

TEST(LocatorTest, RecoversASyntheticHypocentre) {
  TravelTimeTable tt(VelocityModel::default_crust(), Phase::P);
  const double lat0 = 16.21, lon0 = -98.02, z0 = 25;
  const std::int64_t ot = 1'600'000'000'000'000;
  const double st[][2] = {{16.35, -98.05}, {16.7, -97.6}, {15.9, -97.5}, {16.5, -98.9}, {17.0, -98.2}, {16.0, -99.0}};
  std::vector<Observation> obs;
  for (const auto& s : st)
    obs.push_back({s[0], s[1], ot + static_cast<std::int64_t>(tt.time(fast_distance_km(lat0, lon0, s[0], s[1]), z0) * 1e6), 0.1});
  for (std::size_t n : {4u, 6u}) {
    std::vector<Observation> o(obs.begin(), obs.begin() + static_cast<std::ptrdiff_t>(n));
    auto h = locate(o, tt, LocatorConfig{});
    ASSERT_TRUE(h.ok);
    EXPECT_LT(fast_distance_km(h.lat, h.lon, lat0, lon0), 1.0) << n;
    EXPECT_LT(std::llabs(h.origin_us - ot), 100'000) << n;
    EXPECT_LT(h.rms_s, 0.02);
    EXPECT_GT(h.err_h_km, 0);
    EXPECT_LT(h.gap_deg, 360);
  }
  // with 0.2 s pick noise the error ellipse covers the truth
  std::mt19937 rng(1);
  std::normal_distribution<double> nd(0, 0.2);
  for (auto& o : obs) o.time_us += static_cast<std::int64_t>(nd(rng) * 1e6), o.sigma_s = 0.2;
  auto h = locate(obs, tt, LocatorConfig{});
  EXPECT_LT(fast_distance_km(h.lat, h.lon, lat0, lon0), 3 * h.err_h_km + 2);
}

namespace {
struct Net {
  std::vector<StationInfo> sites;
};
Net random_network(std::size_t n, unsigned seed) {
  Net net;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> la(10, 30), lo(-110, -90);
  for (std::size_t i = 0; i < n; ++i) {
    StationInfo s;
    s.station = "T" + std::to_string(i);
    s.network = "TW";
    s.lat = la(rng);
    s.lon = lo(rng);
    net.sites.push_back(s);
  }
  return net;
}
struct SynthPick {
  Pick p;
  std::int64_t arrival_us;  // when the hub receives it
};
// P picks of an event at every site within radius_km, with Gaussian timing noise.
std::vector<SynthPick> event_picks(const Net& net, const TravelTimeTable& tt, double lat, double lon, double z,
                                   std::int64_t ot, double radius_km, std::mt19937& rng) {
  std::normal_distribution<double> nd(0, 0.1);
  std::vector<SynthPick> out;
  for (const auto& s : net.sites) {
    const double d = fast_distance_km(lat, lon, s.lat, s.lon);
    if (d > radius_km) continue;
    Pick p;
    p.network = "TW";
    p.station = s.station;
    p.time_us = ot + static_cast<std::int64_t>((tt.time(d, z) + nd(rng)) * 1e6);
    p.uncertainty_s = 0.1;
    out.push_back({p, p.time_us + 300'000});
  }
  return out;
}
}  // namespace

TEST(QuakeServiceTest, FindsOverlappingEventsAmongNoisePicksOnTenThousandSites) {
  auto net = random_network(10000, 42);
  QuakeService svc(net.sites, VelocityModel::default_crust());
  std::vector<std::string> live;
  for (const auto& s : net.sites) live.push_back(s.station);
  svc.set_active_sites(live);
  std::mt19937 rng(9);
  const std::int64_t t0 = 1'700'000'000'000'000;
  std::vector<SynthPick> all = event_picks(net, svc.p_table(), 20.0, -100.0, 15, t0 + 60'000'000, 120, rng);
  const std::size_t ev1 = all.size();
  auto second = event_picks(net, svc.p_table(), 24.0, -95.0, 30, t0 + 64'000'000, 120, rng);
  const std::size_t ev2 = second.size();
  all.insert(all.end(), second.begin(), second.end());
  ASSERT_GE(ev1, 20u);
  ASSERT_GE(ev2, 20u);
  // noise: each site picks about once every 10 minutes
  std::uniform_int_distribution<std::size_t> site(0, net.sites.size() - 1);
  std::uniform_int_distribution<std::int64_t> when(0, 180'000'000);
  for (int i = 0; i < 3000; ++i) {
    Pick p;
    p.network = "TW";
    p.station = net.sites[site(rng)].station;
    p.time_us = t0 + when(rng);
    p.uncertainty_s = 0.2;
    all.push_back({p, p.time_us + 300'000});
  }
  std::sort(all.begin(), all.end(), [](const SynthPick& a, const SynthPick& b) { return a.arrival_us < b.arrival_us; });
  int last_version = 0;
  std::string first_id;
  for (const auto& sp : all) {
    for (const auto& m : svc.on_pick(sp.p, sp.arrival_us)) {
      EXPECT_TRUE(tw::validate_payload("quake", m.payload).ok()) << m.payload.dump().substr(0, 300);
      EXPECT_EQ(m.kind, "quake");
      if (first_id.empty()) first_id = m.payload["event_id"];
      if (m.payload["event_id"] == first_id) {
        EXPECT_EQ(m.payload["version"].get<int>(), last_version + 1);
        last_version = m.payload["version"].get<int>();
      }
    }
  }
  ASSERT_EQ(svc.events().size(), 2u);
  const auto& e1 = svc.events()[0];
  const auto& e2 = svc.events()[1];
  EXPECT_LT(fast_distance_km(e1.hypo.lat, e1.hypo.lon, 20.0, -100.0), 5.0);
  EXPECT_LT(fast_distance_km(e2.hypo.lat, e2.hypo.lon, 24.0, -95.0), 5.0);
  EXPECT_LT(std::llabs(e1.hypo.origin_us - (t0 + 60'000'000)), 500'000);
  EXPECT_GE(e1.stations(), ev1 * 9 / 10);
  EXPECT_GE(e2.stations(), ev2 * 9 / 10);
  EXPECT_LE(e1.stations(), ev1 + 2);  // at most a couple of noise picks that happen to fit
  EXPECT_EQ(last_version, e1.version);
}

TEST(QuakeServiceTest, MagnitudeIntensityAlertAndExports) {
  auto net = random_network(2000, 7);
  QuakeService svc(net.sites, VelocityModel::default_crust());
  std::mt19937 rng(3);
  const std::int64_t ot = 1'700'000'000'000'000;
  const double lat = 20, lon = -100, z = 10, mag = 6.0;
  auto picks = event_picks(net, svc.p_table(), lat, lon, z, ot, 150, rng);
  ASSERT_GE(picks.size(), 6u);
  std::vector<tw::Message> out;
  for (const auto& sp : picks) {
    auto m = svc.on_pick(sp.p, sp.arrival_us);
    out.insert(out.end(), m.begin(), m.end());
    // ground motion 3 s after the pick, with the Pd the magnitude law predicts for M6
    const auto& s = *std::find_if(net.sites.begin(), net.sites.end(), [&](const StationInfo& x) { return x.station == sp.p.station; });
    const double hypo = std::hypot(fast_distance_km(lat, lon, s.lat, s.lon), z);
    GroundMotion g;
    g.station = sp.p.station;
    g.pick_time_us = sp.p.time_us;
    g.window_s = 3;
    g.pd_cm = std::pow(10, (mag - 1.38 * std::log10(hypo) - 5.39) / 1.23);
    g.pga_cms2 = gmm_pga_cms2(mag, fast_distance_km(lat, lon, s.lat, s.lon), z);
    g.pgv_cms = gmm_pgv_cms(mag, fast_distance_km(lat, lon, s.lat, s.lon), z);
    auto m2 = svc.on_ground_motion(g, sp.p.time_us + 3'000'000);
    out.insert(out.end(), m2.begin(), m2.end());
  }
  ASSERT_EQ(svc.events().size(), 1u);
  const auto& e = svc.events()[0];
  EXPECT_NEAR(e.magnitude, mag, 0.05);
  EXPECT_EQ(e.magnitude_type, "Mpd");
  EXPECT_TRUE(e.alert);
  ASSERT_TRUE(e.first_alert_us.has_value());
  EXPECT_GT(e.max_mmi, 4.5);
  ASSERT_FALSE(e.intensities.empty());
  bool observed = false, predicted = false;
  for (const auto& si : e.intensities) {
    observed = observed || si.observed;
    predicted = predicted || !si.observed;
    EXPECT_GT(si.s_arrival_us, si.p_arrival_us);
    EXPECT_GT(si.p_arrival_us, e.hypo.origin_us);
  }
  EXPECT_TRUE(observed);
  EXPECT_TRUE(predicted);
  const auto& last = out.back().payload;
  EXPECT_EQ(last["event_id"], e.event_id);
  EXPECT_TRUE(last["alert"].get<bool>());
  EXPECT_TRUE(last["intensities"][0].contains("s_arrival"));
  // CAP 1.2
  const std::string cap = to_cap_xml(e);
  EXPECT_NE(cap.find("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"), std::string::npos);
  for (const char* tag : {"<identifier>", "<sender>", "<sent>", "<status>Actual</status>", "<msgType>", "<scope>Public</scope>",
                          "<category>Geo</category>", "<event>Earthquake</event>", "<urgency>Immediate</urgency>",
                          "<severity>", "<certainty>", "<circle>", "</alert>"})
    EXPECT_NE(cap.find(tag), std::string::npos) << tag;
  auto capj = to_cap_json(e);
  EXPECT_EQ(capj["info"]["event"], "Earthquake");
  EXPECT_EQ(capj["status"], "Actual");
  // QuakeML 1.2
  const std::string qml = to_quakeml(svc.events());
  EXPECT_NE(qml.find("xmlns=\"http://quakeml.org/xmlns/bed/1.2\""), std::string::npos);
  EXPECT_NE(qml.find("<magnitude publicID="), std::string::npos);
  EXPECT_NE(qml.find("<type>Mpd</type>"), std::string::npos);
  EXPECT_EQ(std::count(qml.begin(), qml.end(), '<') , std::count(qml.begin(), qml.end(), '>'));
}

TEST(QuakeServiceTest, BadMessagesAreCountedNotFatal) {
  QuakeService svc({}, VelocityModel::default_crust());
  auto m = tw::make_message("site", "pick", 0, {{"station", 3}});
  EXPECT_TRUE(svc.on_message(m).empty());
  auto g = tw::make_message("site", "ground_motion", 0, {{"station", "A"}});
  EXPECT_TRUE(svc.on_message(g).empty());
  EXPECT_EQ(svc.stats().rejected, 2u);
  Pick p;
  p.station = "NOWHERE";
  p.time_us = 1;
  EXPECT_TRUE(svc.on_pick(p, 1).empty());
  EXPECT_EQ(svc.stats().unknown_site, 1u);
  QuakeConfig c;
  c.min_stations = 2;
  EXPECT_NE(validate(c).error().message.find("min_stations"), std::string::npos);
}

TEST(StationsCsvTest, ReadsByHeaderNames) {
  auto oe = read_stations_csv(test::seismic_dir() / "openeew_mexico" / "devices.csv");
  ASSERT_TRUE(oe.ok()) << oe.error().message;
  EXPECT_GE(oe->size(), 25u);
  EXPECT_EQ((*oe)[0].station, "OE000");
  EXPECT_DOUBLE_EQ((*oe)[0].lat, 19.33);
  EXPECT_DOUBLE_EQ((*oe)[0].lon, -99.18);
  auto no = read_stations_csv(test::seismic_dir() / "norway_seisan" / "stations.csv");
  ASSERT_TRUE(no.ok());
  EXPECT_EQ((*no)[0].station, "AKN");
  EXPECT_DOUBLE_EQ((*no)[0].elev_m, 508);
  EXPECT_FALSE(read_stations_csv("/nonexistent.csv").ok());
}
