#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "test_data.hpp"
#include "tw/core/time.hpp"
#include "tw/seismic/io.hpp"
#include "tw/seismic/pipeline.hpp"
#include "tw/seismic/trigger.hpp"

using namespace tw::seismic;

TEST(StaLtaTest, RecursiveMatchesTheDefiningRecursionAndStreams) {
  std::mt19937 rng(3);
  std::normal_distribution<double> nd;
  std::vector<double> x(3000);
  for (auto& v : x) v = nd(rng);
  const double fs = 100;
  std::vector<double> cft(x.size());
  RecursiveStaLta(0.5, 10, fs).apply(x, cft);
  // reference (ObsPy recursive_sta_lta_py)
  const double cs = 1.0 / 50, cl = 1.0 / 1000;
  double sta = 0, lta = 1e-99;
  for (std::size_t i = 1; i < x.size(); ++i) {
    sta = cs * x[i] * x[i] + (1 - cs) * sta;
    lta = cl * x[i] * x[i] + (1 - cl) * lta;
    const double ref = i < 1000 ? 0 : sta / lta;
    ASSERT_NEAR(cft[i], ref, 1e-12 * std::max(1.0, ref)) << i;
  }
  EXPECT_EQ(cft[0], 0);
  RecursiveStaLta s(0.5, 10, fs);
  std::vector<double> c2(x.size());
  for (std::size_t i = 0; i < x.size(); i += 77) {
    const std::size_t n = std::min<std::size_t>(77, x.size() - i);
    s.apply(std::span<const double>(x.data() + i, n), std::span<double>(c2.data() + i, n));
  }
  EXPECT_EQ(c2, cft);
}

TEST(StaLtaTest, ClassicMatchesBruteForce) {
  std::mt19937 rng(5);
  std::normal_distribution<double> nd;
  std::vector<double> x(2000);
  for (auto& v : x) v = nd(rng) * (1 + 0.001 * static_cast<double>(&v - x.data()));
  std::vector<double> cft(x.size());
  ClassicStaLta(0.2, 2, 100).apply(x, cft);
  for (std::size_t i = 199; i < x.size(); i += 37) {
    double s = 0, l = 0;
    for (std::size_t k = i + 1 - 20; k <= i; ++k) s += x[k] * x[k];
    for (std::size_t k = i + 1 - 200; k <= i; ++k) l += x[k] * x[k];
    EXPECT_NEAR(cft[i], (s / 20) / (l / 200), 1e-9) << i;
  }
  EXPECT_EQ(cft[100], 0);
}

TEST(TriggerTest, OnOffSemantics) {
  std::vector<double> c{0, 1, 5, 6, 3, 2, 0.5, 0, 4, 4, 1.5};
  auto w = trigger_onset(c, 3.5, 1);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].on, 2);
  EXPECT_EQ(w[0].off, 5);  // last sample above the off threshold
  EXPECT_DOUBLE_EQ(w[0].peak, 6);
  EXPECT_EQ(w[1].on, 8);
  EXPECT_EQ(w[1].off, 10);  // still on at the end of data
}

TEST(TriggerTest, CoincidenceSumAndSubsets) {
  std::vector<StationTrigger> t{{"A.1", "1", 10, 15}, {"A.2", "2", 11, 14}, {"A.3", "3", 12, 16},
                                {"A.1", "1", 40, 41}, {"A.2", "2", 60, 62}, {"A.3", "3", 61, 63}};
  auto ev = coincidence_trigger(t, 2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_DOUBLE_EQ(ev[0].time_s, 10);
  EXPECT_DOUBLE_EQ(ev[0].duration_s, 6);
  EXPECT_EQ(ev[0].coincidence_sum, 3);
  EXPECT_EQ(ev[0].stations, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_DOUBLE_EQ(ev[1].time_s, 60);
  EXPECT_EQ(ev[1].coincidence_sum, 2);
}

TEST(AicTest, FindsAVarianceChange) {
  std::mt19937 rng(11);
  std::normal_distribution<double> nd;
  std::vector<double> x(600);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = nd(rng) * (i < 412 ? 1.0 : 8.0);
  auto r = aic_onset(x);
  ASSERT_TRUE(r.ok);
  EXPECT_NEAR(static_cast<double>(r.index), 412, 3);
  EXPECT_GE(r.half_width, 0);
  EXPECT_FALSE(aic_onset(std::vector<double>(4, 1.0)).ok);
}

TEST(KurtosisTest, NearThreeForGaussianNoiseAndLargeAtAnImpulse) {
  std::mt19937 rng(5);
  std::normal_distribution<double> nd;
  std::vector<double> x(20000);
  for (auto& v : x) v = nd(rng);
  auto k = kurtosis_cf(x, 2000);
  EXPECT_EQ(k[1998], 0.0);  // no full window yet
  double mean = 0;
  for (std::size_t i = 1999; i < k.size(); ++i) mean += k[i];
  mean /= static_cast<double>(k.size() - 1999);
  EXPECT_NEAR(mean, 3.0, 0.1);
  x[10000] = 50;  // one impulse: kurtosis jumps when it enters the window and drops when it leaves
  k = kurtosis_cf(x, 2000);
  EXPECT_GT(k[10000] - k[9999], 100);
  EXPECT_LT(k[12000] - k[11999], -100);
  // the definition, directly, at one index
  double m = 0, m2 = 0, m4 = 0;
  for (std::size_t i = 8001; i <= 10000; ++i) m += x[i];
  m /= 2000;
  for (std::size_t i = 8001; i <= 10000; ++i) m2 += std::pow(x[i] - m, 2), m4 += std::pow(x[i] - m, 4);
  EXPECT_NEAR(k[10000], (m4 / 2000) / std::pow(m2 / 2000, 2), 1e-9 * k[10000]);
}

TEST(OnsetTest, SnrAndUncertainty) {
  std::vector<double> x(100, 1.0);
  for (std::size_t i = 60; i < 100; ++i) x[i] = i % 2 ? 4.0 : -4.0;
  EXPECT_DOUBLE_EQ(onset_snr(x, 60), 4.0);
  EXPECT_EQ(onset_snr(x, 0), 0.0);
  EXPECT_EQ(onset_snr(x, 100), 0.0);
  EXPECT_DOUBLE_EQ(pick_uncertainty_s(2, 100, 2), 0.04);   // 2 samples x (1 + 2/2)
  EXPECT_DOUBLE_EQ(pick_uncertainty_s(0, 100, 50), 0.01);  // at least one sample
  EXPECT_DOUBLE_EQ(pick_uncertainty_s(500, 100, 0.5), 1.0);  // at most 1 s
}

// ObsPy's network coincidence trigger example: BW.UH1-4, 10-20 Hz band-pass, recursive STA/LTA 0.5 s / 10 s,
// on 3.5, off 1, coincidence sum 3 -> exactly three triggers (reference: ObsPy trigger tutorial / tests).
TEST(ObspyReferenceTest, CoincidenceTriggerOnUhNetwork) {
  auto j = eval_obspy_coincidence(test::seismic_dir() / "obspy_waveforms");
  ASSERT_FALSE(j.contains("error")) << j.dump();
  ASSERT_EQ(j["count"], 3);
  const char* ref_time[] = {"2010-05-27T16:24:33.190Z", "2010-05-27T16:27:01.260Z", "2010-05-27T16:27:30.490Z"};
  const double ref_dur[] = {4.53, 3.44, 4.22};
  const double ref_sum[] = {4, 3, 4};
  for (int i = 0; i < 3; ++i) {
    const auto& t = j["triggers"][i];
    const double dt = static_cast<double>(*tw::parse_iso8601_us(t["time"].get<std::string>()) -
                                          *tw::parse_iso8601_us(ref_time[i])) * 1e-6;
    EXPECT_LE(std::fabs(dt), 0.5) << i;
    EXPECT_LE(std::fabs(t["duration_s"].get<double>() - ref_dur[i]), 0.5) << i;
    EXPECT_EQ(t["coincidence_sum"].get<double>(), ref_sum[i]) << i;
  }
  EXPECT_EQ(j["triggers"][1]["stations"], (nlohmann::json{"UH2", "UH3", "UH1"}));
  EXPECT_TRUE(j["pass"].get<bool>());
}
