#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "test_data.hpp"
#include "tw/core/message.hpp"
#include "tw/core/time.hpp"
#include "tw/seismic/io.hpp"
#include "tw/seismic/station.hpp"

using namespace tw::seismic;

namespace {
Trace synthetic(const std::string& cha, double fs, double seconds, double onset_s, double amp_counts, double f_hz,
                unsigned seed) {
  Trace t;
  t.network = "TW";
  t.station = "S1";
  t.channel = cha;
  t.sample_rate = fs;
  t.start_us = 1'600'000'000'000'000;
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  const auto n = static_cast<std::size_t>(seconds * fs);
  t.samples.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double ts = static_cast<double>(i) / fs;
    double v = 10 * nd(rng) + 5000;  // noise plus a DC offset
    // a cosine burst: its velocity (a sine) has no offset, so PGV = A / (2 pi f) exactly
    if (ts >= onset_s && ts < onset_s + 10) v += amp_counts * std::cos(2 * std::numbers::pi * f_hz * (ts - onset_s));
    t.samples[i] = v;
  }
  return t;
}
std::vector<tw::Message> feed_chunks(StationProcessor& sp, const Trace& t, double chunk_s) {
  std::vector<tw::Message> out;
  const auto step = static_cast<std::size_t>(chunk_s * t.sample_rate);
  for (std::size_t i = 0; i < t.samples.size(); i += step) {
    Trace c = t;
    c.start_us = t.time_us(i);
    c.samples.assign(t.samples.begin() + static_cast<std::ptrdiff_t>(i),
                     t.samples.begin() + static_cast<std::ptrdiff_t>(std::min(t.samples.size(), i + step)));
    auto m = sp.feed(c);
    out.insert(out.end(), m.begin(), m.end());
  }
  auto m = sp.finish();
  out.insert(out.end(), m.begin(), m.end());
  return out;
}
}  // namespace

TEST(StationTest, PickAndGroundMotionOnASyntheticAccelerogram) {
  StationInfo info;
  info.network = "TW";
  info.station = "S1";
  info.lat = 16.5;
  info.lon = -99;
  info.counts_per_unit = 1000;  // milligal counts
  const double amp_cms2 = 50, f = 5;
  auto t = synthetic("HNZ", 100, 70, 20, amp_cms2 * 1000, f, 1);
  StationProcessor sp(info, ProcessorConfig{});
  auto msgs = feed_chunks(sp, t, 0.25);
  ASSERT_EQ(sp.picks().size(), 1u);
  const double err = static_cast<double>(sp.picks()[0].time_us - (t.start_us + 20'000'000)) * 1e-6;
  EXPECT_LE(std::fabs(err), 0.05) << err;
  EXPECT_GT(sp.picks()[0].snr, 10);
  std::size_t npick = 0, ngm = 0;
  const tw::Message* last_gm = nullptr;
  for (const auto& m : msgs) {
    EXPECT_TRUE(tw::validate_payload(m.kind, m.payload).ok()) << m.payload.dump();
    if (m.kind == "pick") {
      ++npick;
      EXPECT_EQ(m.site, "TW.S1");
      EXPECT_EQ(m.payload["phase"], "P");
      EXPECT_DOUBLE_EQ(m.payload["lat"].get<double>(), 16.5);
      // emitted soon after the onset (trigger + 0.2 s)
      EXPECT_LE(m.ts_ms * 1000 - sp.picks()[0].time_us, 600'000);
    }
    if (m.kind == "ground_motion") {
      ++ngm;
      last_gm = &m;
    }
  }
  EXPECT_EQ(npick, 1u);
  EXPECT_EQ(ngm, ProcessorConfig{}.gm_report_s.size());
  ASSERT_NE(last_gm, nullptr);
  EXPECT_TRUE(last_gm->payload["final"].get<bool>());
  EXPECT_NEAR(last_gm->payload["pga_cms2"].get<double>(), amp_cms2, 0.03 * amp_cms2);
  // (+-12%: the high-pass transient of the step at the burst onset adds a little velocity)
  EXPECT_NEAR(last_gm->payload["pgv_cms"].get<double>(), amp_cms2 / (2 * std::numbers::pi * f), 0.12 * amp_cms2 / (2 * std::numbers::pi * f));
  EXPECT_GT(last_gm->payload["pd_cm"].get<double>(), 0);
  // tau_c of a pure tone is its period, plus the displacement offset of a cosine start: between 1/f and sqrt(3)/f
  EXPECT_GE(last_gm->payload["tau_c_s"].get<double>(), 0.9 / f);
  EXPECT_LE(last_gm->payload["tau_c_s"].get<double>(), 2.0 / f);
  auto back = ground_motion_from_json(last_gm->payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pick_time_us, sp.picks()[0].time_us);
}

TEST(StationTest, ChunkSizeDoesNotChangeThePicks) {
  auto ws = read_mseed(test::norway_1996());
  ASSERT_TRUE(ws.ok());
  std::vector<std::int64_t> a, b;
  for (const auto& t : ws->traces) {
    if (t.channel.back() != 'Z') continue;
    StationInfo info{"", t.network, t.station};
    StationProcessor s1(info, ProcessorConfig{}), s2(info, ProcessorConfig{});
    (void)s1.feed(t);
    (void)s1.finish();
    (void)feed_chunks(s2, t, 0.1);
    for (const auto& p : s1.picks()) a.push_back(p.time_us);
    for (const auto& p : s2.picks()) b.push_back(p.time_us);
  }
  EXPECT_GT(a.size(), 20u);
  EXPECT_EQ(a, b);
}

TEST(StationTest, ShortGapsAreBridgedLongOnesRestart) {
  auto t = synthetic("HNZ", 100, 60, 100, 0, 1, 2);
  StationInfo info{"", "TW", "S1"};
  StationProcessor sp(info, ProcessorConfig{});
  Trace a = t, b = t, c = t;
  a.samples.assign(t.samples.begin(), t.samples.begin() + 2000);
  b.samples.assign(t.samples.begin() + 2100, t.samples.begin() + 4000);  // 1 s gap
  b.start_us = t.time_us(2100);
  c.samples.assign(t.samples.begin() + 5000, t.samples.end());  // 10 s gap
  c.start_us = t.time_us(5000);
  (void)sp.feed(a);
  (void)sp.feed(b);
  (void)sp.feed(c);
  EXPECT_EQ(sp.gaps(), 2u);
  EXPECT_EQ(sp.filled_samples(), 100u);
  EXPECT_EQ(sp.samples_processed(), 2000u + 100 + 1900 + 1000);
  // Overlapping data is not processed twice.
  Trace d = t;
  d.samples.assign(t.samples.begin() + 5900, t.samples.end());
  d.start_us = t.time_us(5900);
  (void)sp.feed(d);
  EXPECT_EQ(sp.samples_processed(), 2000u + 100 + 1900 + 1000);
}

TEST(StationTest, ConfigValidationNamesTheField) {
  ProcessorConfig c;
  EXPECT_TRUE(validate(c).ok());
  c.stalta = "fast";
  EXPECT_NE(validate(c).error().message.find("stalta"), std::string::npos);
  c = {};
  c.trigger_off = 9;
  EXPECT_NE(validate(c).error().message.find("trigger_off"), std::string::npos);
  c = {};
  c.trigger_filter = "BP(1,x)";
  EXPECT_NE(validate(c).error().message.find("bad number"), std::string::npos);
  c = {};
  c.gm_report_s = {3, 1};
  EXPECT_NE(validate(c).error().message.find("gm_report_s"), std::string::npos);
  c = {};
  c.lta_s = 0.1;
  EXPECT_FALSE(validate(c).ok());
}

TEST(StationTest, PickPayloadRoundTripAndValidation) {
  Pick p;
  p.network = "XX";
  p.station = "FOO";
  p.channel = "SHZ";
  p.time_us = *tw::parse_iso8601_us("1996-06-25T03:37:46.120000Z");
  p.uncertainty_s = 0.04;
  auto j = to_json(p, StationInfo{});
  EXPECT_TRUE(tw::validate_payload("pick", j).ok());
  EXPECT_EQ(j["time"], "1996-06-25T03:37:46.120000Z");
  auto back = pick_from_json(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->time_us, p.time_us);
  j["time"] = "yesterday";
  EXPECT_NE(pick_from_json(j).error().message.find("'time'"), std::string::npos);
  j.erase("uncertainty_s");
  EXPECT_NE(pick_from_json(j).error().message.find("uncertainty_s"), std::string::npos);
  EXPECT_FALSE(pick_from_json(nlohmann::json::array()).ok());
}

TEST(ReplayTest, ChunksComeInDataTimeOrderAndLoseNothing) {
  auto ws = read_mseed(test::openeew("2020_1_30.mseed"));
  ASSERT_TRUE(ws.ok());
  std::size_t total = 0;
  for (const auto& t : ws->traces) total += t.samples.size();
  Replay r(ws->traces, ReplayOptions{0.5, 0});
  std::size_t seen = 0;
  std::int64_t last_clock = r.clock_us();
  while (auto step = r.next()) {
    EXPECT_GT(r.clock_us(), last_clock);
    for (std::size_t i = 0; i < step->size(); ++i) {
      const auto& c = (*step)[i];
      EXPECT_LT(c.start_us, r.clock_us());
      EXPECT_GE(c.start_us, last_clock - 1);
      if (i > 0) {
        EXPECT_LE((*step)[i - 1].start_us, c.start_us);
      }
      seen += c.samples.size();
    }
    last_clock = r.clock_us();
  }
  EXPECT_EQ(seen, total);
}
