#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "tw/seismic/filter.hpp"

using namespace tw::seismic;

TEST(FilterTest, ButterworthCornersAreMinus3dB) {
  const double fs = 100;
  auto lp = butterworth(BandType::lowpass, 4, 10, 0, fs);
  ASSERT_TRUE(lp.ok());
  SosFilter f(*lp);
  EXPECT_NEAR(std::abs(f.response(10 / fs)), 1 / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(std::abs(f.response(0)), 1.0, 1e-9);
  EXPECT_LT(std::abs(f.response(30 / fs)), 0.01);  // 4 poles: ~-38 dB an octave and a half above
  auto hp = butterworth(BandType::highpass, 2, 0.075, 0, fs);
  ASSERT_TRUE(hp.ok());
  SosFilter h(*hp);
  EXPECT_NEAR(std::abs(h.response(0.075 / fs)), 1 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(std::abs(h.response(0.5)), 1.0, 1e-9);
  auto bp = butterworth(BandType::bandpass, 4, 10, 20, 50);
  ASSERT_TRUE(bp.ok());
  EXPECT_EQ(bp->size(), 4u);  // 8 poles in 4 sections
  SosFilter b(*bp);
  EXPECT_NEAR(std::abs(b.response(10 / 50.0)), 1 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(std::abs(b.response(20 / 50.0)), 1 / std::sqrt(2.0), 1e-6);
  EXPECT_LT(std::abs(b.response(2 / 50.0)), 1e-3);
}

TEST(FilterTest, ChunkedStreamingEqualsOneShot) {
  auto chain = make_filter_chain("BP(1,10,4)>>INT>>HP(0.075,2)>>RMHP(5)>>SCALE(2)>>DIFF", 100);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  EXPECT_EQ(chain->size(), 6u);
  std::mt19937 rng(7);
  std::normal_distribution<double> nd;
  std::vector<double> x(5000);
  for (auto& v : x) v = nd(rng);
  std::vector<double> whole = x;
  FilterChain a = *chain;
  a.apply(whole);
  FilterChain b = *chain;
  std::vector<double> parts = x;
  std::size_t pos = 0, step = 1;
  while (pos < parts.size()) {
    const std::size_t n = std::min(step, parts.size() - pos);
    b.apply(std::span<double>(parts.data() + pos, n));
    pos += n;
    step = step * 3 % 97 + 1;
  }
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_DOUBLE_EQ(whole[i], parts[i]) << i;
  // reset() restores the initial state
  a.reset();
  std::vector<double> again = x;
  a.apply(again);
  EXPECT_EQ(again, whole);
}

TEST(FilterTest, IntegrationOfASineGivesTheExpectedAmplitude) {
  const double fs = 100, f = 2, amp = 3;
  auto chain = make_filter_chain("HP(0.075,2)>>INT>>HP(0.075,2)", fs);
  ASSERT_TRUE(chain.ok());
  std::vector<double> x(6000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = amp * std::sin(2 * std::numbers::pi * f * static_cast<double>(i) / fs);
  chain->apply(x);
  double peak = 0;
  for (std::size_t i = 4000; i < x.size(); ++i) peak = std::max(peak, std::fabs(x[i]));
  EXPECT_NEAR(peak, amp / (2 * std::numbers::pi * f), 0.01 * amp / (2 * std::numbers::pi * f));
}

TEST(FilterTest, SpecErrorsNameTheStage) {
  auto e1 = make_filter_chain("BP(1,10)>>FOO(3)", 100);
  ASSERT_FALSE(e1.ok());
  EXPECT_NE(e1.error().message.find("unknown filter 'FOO'"), std::string::npos) << e1.error().message;
  auto e2 = make_filter_chain("HP(x)", 100);
  ASSERT_FALSE(e2.ok());
  EXPECT_NE(e2.error().message.find("bad number 'x'"), std::string::npos);
  auto e3 = make_filter_chain("LP(80)", 100);
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.error().message.find("LP(80)"), std::string::npos);
  auto e4 = make_filter_chain("HP(1", 100);
  ASSERT_FALSE(e4.ok());
  EXPECT_NE(e4.error().message.find("missing ')'"), std::string::npos);
  auto e5 = make_filter_chain("INT(3)", 100);
  ASSERT_FALSE(e5.ok());
  // BP whose upper corner reaches Nyquist becomes a high-pass (as ObsPy does)
  auto hp = make_filter_chain("BP(1,10,4)", 20);
  ASSERT_TRUE(hp.ok());
  auto empty = make_filter_chain("", 100);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
}
