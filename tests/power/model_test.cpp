#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "test_data.hpp"
#include "tw/power/discharge.hpp"
#include "tw/power/estimator.hpp"

using namespace tw::power;
using tw::power::test::arts;

namespace {
DischargeModel fit_cell(const std::string& cell) {
  std::vector<DischargeCurve> curves;
  for (const char* r : {"C10", "1C", "2C"}) {
    auto c = load_discharge_curve(arts(cell, r));
    EXPECT_TRUE(c) << c.error().message;
    curves.push_back(std::move(*c));
  }
  auto m = DischargeModel::fit(std::move(curves));
  EXPECT_TRUE(m) << m.error().message;
  return std::move(*m);
}
double rel_err(double pred, double meas) { return (pred - meas) / meas; }
}  // namespace

TEST(DischargeCurve, ReadsTheRecordedCurveFieldByField) {
  auto c = load_discharge_curve(arts("S001", "1C"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->skipped_rows, 0u);
  // 3548 rows; the first one (t=0, +0.028 A) precedes the discharge.
  ASSERT_EQ(c->q_ah.size(), 3547u);
  EXPECT_DOUBLE_EQ(c->v.front(), 4.0531);
  EXPECT_DOUBLE_EQ(c->v.back(), 2.4978);
  EXPECT_DOUBLE_EQ(c->end_voltage, 2.4978);
  EXPECT_NEAR(c->current_a, 3.0006, 1e-4);
  EXPECT_NEAR(c->runtime_s, 3548.01952 - 1.000599, 1e-6);
  EXPECT_NEAR(c->capacity_ah, 2.9565, 5e-4);  // integrated; the data README says 2.87-3.00 Ah
  EXPECT_NEAR(c->temp_c.back(), 33.745651, 1e-9);
}

TEST(DischargeCurve, SkipsLoggerOverflowRowsAndCountsThem) {
  // S002 1C starts with a current of 3.40E+38 (logger overflow).
  auto c = load_discharge_curve(arts("S002", "1C"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->skipped_rows, 1u);
  EXPECT_NEAR(c->capacity_ah, 2.9669, 5e-4);
  EXPECT_NEAR(c->current_a, 3.0002, 1e-4);
}

TEST(DischargeCurve, BadInputNamesFileAndLine) {
  auto a = parse_discharge_curve("0,-1,4.1\n1,abc,4.0\n", "x.csv");
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("x.csv:2"), std::string::npos) << a.error().message;
  auto b = parse_discharge_curve("0,-1\n", "y.csv");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("y.csv:1"), std::string::npos);
  auto c = parse_discharge_curve("0,0,4.1\n1,0,4.1\n", "z.csv");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "bad_curve");
  auto d = parse_discharge_curve("5,-1,4.1\n4,-1,4.0\n", "t.csv");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("backwards"), std::string::npos);
  EXPECT_FALSE(load_discharge_curve("/nonexistent.csv"));
}

TEST(DischargeModel, NeedsTwoDistinctRates) {
  auto c1 = load_discharge_curve(arts("S001", "1C"));
  ASSERT_TRUE(c1);
  auto one = DischargeModel::fit({*c1});
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, "bad_fit");
  auto same = DischargeModel::fit({*c1, *c1});
  ASSERT_FALSE(same);
  EXPECT_NE(same.error().message.find("same current"), std::string::npos);
}

// Acceptance: fitted on C/10, 1C, 2C of a cell, the runtime at 3C and 4C of that cell within 1.5 %.
TEST(DischargeModel, PredictsHighRateRuntimeWithinOnePointFivePercent) {
  for (const std::string cell : {"S001", "S002"}) {
    auto m = fit_cell(cell);
    for (const char* rate : {"3C", "4C"}) {
      auto meas = load_discharge_curve(arts(cell, rate));
      ASSERT_TRUE(meas);
      double pred = m.runtime_s(meas->current_a);
      EXPECT_LT(std::abs(rel_err(pred, meas->runtime_s)), 0.015)
          << cell << " " << rate << ": predicted " << pred << " s, measured " << meas->runtime_s << " s";
    }
  }
}

TEST(DischargeModel, BeatsConstantCapacityAndPeukertAtFourC) {
  auto m = fit_cell("S002");
  auto meas = load_discharge_curve(arts("S002", "4C"));
  ASSERT_TRUE(meas);
  const double i = meas->current_a;
  double e_surface = std::abs(rel_err(m.runtime_s(i), meas->runtime_s));
  double e_const = std::abs(rel_err(m.constant_capacity_ah() * 3600 / i, meas->runtime_s));
  double e_peukert = std::abs(rel_err(m.peukert().capacity_ah(i) * 3600 / i, meas->runtime_s));
  EXPECT_GT(e_const, 0.03);    // measured: 3.6 %
  EXPECT_GT(e_peukert, 0.02);  // measured: 2.4 %
  EXPECT_LT(e_surface, 0.005);
  EXPECT_GT(m.peukert().k, 1.0);
  EXPECT_LT(m.peukert().k, 1.05);
}

TEST(DischargeModel, CapacityFallsWithCurrentAndReproducesFittedCurves) {
  auto m = fit_cell("S001");
  double prev = 1e9;
  for (double i = 0.1; i < 20; i *= 1.3) {
    double c = m.capacity_ah(i);
    EXPECT_LE(c, prev + 1e-9) << i;
    prev = c;
  }
  for (const auto& c : m.curves()) EXPECT_NEAR(m.capacity_ah(c.current_a), c.capacity_ah, 0.004) << c.name;
  EXPECT_NEAR(m.cutoff_v(), 2.4978, 0.003);
  // OCV is non-increasing, above the C/10 curve, and invertible.
  EXPECT_GT(m.ocv(1.5), *m.voltage(1.5, 0.3));
  EXPECT_LT(m.ocv(1.5) - *m.voltage(1.5, 0.3), 0.03);
  for (double q : {0.2, 1.0, 1.5, 2.5}) EXPECT_NEAR(m.q_from_ocv(m.ocv(q)), q, 0.01) << q;
  EXPECT_LT(m.ocv_slope(1.0), 0);
}

// The estimator on a real discharge it was not fitted on (S001 at 3C, as a 1S1P pack).
TEST(BatteryEstimator, TracksChargeAndRuntimeOnAHeldOutCurve) {
  auto model = std::make_shared<const DischargeModel>(fit_cell("S001"));
  auto curve = load_discharge_curve(arts("S001", "3C"));
  ASSERT_TRUE(curve);
  PackConfig pc{1, 1};
  pc.constant_power = false;  // the recording is constant current
  BatteryEstimator est(model, pc);
  est.set_q_used(0);
  const double i = curve->current_a;
  const std::size_t n = curve->q_ah.size();
  int checked = 0;
  for (std::size_t k = 0; k < n; ++k) {
    PowerSample s;
    s.ts_ms = static_cast<std::int64_t>(std::llround(curve->q_ah[k] / i * 3600.0 * 1000.0));
    s.dc_bus_v = curve->v[k];
    s.battery_a = -i;
    const auto& e = est.update(s);
    for (double frac : {0.25, 0.5, 0.75}) {
      if (k == static_cast<std::size_t>(frac * static_cast<double>(n))) {
        double remaining = curve->runtime_s * (1 - curve->q_ah[k] / curve->capacity_ah);
        ASSERT_TRUE(e.runtime_s);
        EXPECT_NEAR(*e.runtime_s, remaining, 0.02 * curve->runtime_s) << frac;
        EXPECT_NEAR(e.q_used_ah, curve->q_ah[k], 0.01);
        EXPECT_NEAR(e.soc, 1 - curve->q_ah[k] / model->rated_ah(), 0.01);
        EXPECT_TRUE(e.on_battery);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 3);
}

TEST(BatteryEstimator, RestVoltageCorrectsAnUnknownStartingCharge) {
  auto model = std::make_shared<const DischargeModel>(fit_cell("S001"));
  BatteryEstimator est(model, PackConfig{13, 2});
  // The estimator starts believing the pack is full; the cells actually rest at 1.5 Ah drawn.
  const double v = model->ocv(1.5);
  for (int k = 0; k <= 40; ++k) {
    PowerSample s;
    s.ts_ms = k * 60000;
    s.dc_bus_v = 13 * v;
    s.battery_a = 0.02;
    est.update(s);
    if (k == 29) {
      EXPECT_LT(est.estimate().q_used_ah, 0.01);  // not rested long enough yet
    }
  }
  EXPECT_NEAR(est.estimate().q_used_ah, 1.5, 0.03);
  EXPECT_NEAR(est.estimate().soc, 1 - 1.5 / model->rated_ah(), 0.01);
}

TEST(BatteryEstimator, MeasuresCapacityOfAnAgedPackBetweenRests) {
  auto model = std::make_shared<const DischargeModel>(fit_cell("S001"));
  const double rated = model->rated_ah();
  const double true_cap = 0.9 * rated;  // the pack has lost 10 %
  BatteryEstimator est(model, PackConfig{1, 1});
  std::int64_t t = 0;
  auto feed = [&](double mains, double v, double a) {
    PowerSample s;
    s.ts_ms = t;
    s.mains_v = mains;
    s.dc_bus_v = v;
    s.battery_a = a;
    est.update(s);
    t += 10000;
  };
  for (int k = 0; k < 10; ++k) feed(230, model->ocv(0), 0);  // floating, full
  double q = 0;
  while (q < 1.2) {  // 1.2 Ah at 1C
    feed(0, *model->voltage(q / 0.9, 3.0), -3.0);
    q += 3.0 * 10 / 3600.0;
  }
  // Rest: the aged cell's OCV sits at its own state of charge.
  for (int k = 0; k < 200; ++k) feed(0, model->ocv((q / true_cap) * rated), 0);
  ASSERT_EQ(est.capacity_measurements(), 1u);
  EXPECT_NEAR(est.estimate().soh, 0.9, 0.02);
  EXPECT_NEAR(est.estimate().soc, 1 - q / true_cap, 0.02);
}

TEST(DischargeCurve, CorruptedFilesGiveErrorsNotCrashes) {
  std::ifstream f(arts("S001", "4C"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(text.size(), 50000u);
  std::uint64_t x = 12345;
  int errors = 0, oks = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string t = text;
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    t.resize(static_cast<std::size_t>(x >> 33) % t.size());  // truncated anywhere
    for (int k = 0; k < 3; ++k) {                              // and a few bytes overwritten
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      if (!t.empty()) t[static_cast<std::size_t>(x >> 33) % t.size()] = static_cast<char>(x >> 56);
    }
    auto c = parse_discharge_curve(t, "corrupt.csv");
    if (c) {
      ++oks;
      EXPECT_GE(c->capacity_ah, 0);
    } else {
      ++errors;
      EXPECT_EQ(c.error().message.rfind("corrupt.csv", 0), 0u) << c.error().message;
    }
  }
  EXPECT_EQ(errors + oks, 200);
  EXPECT_GT(errors, 100);  // an overwritten byte inside a number is caught as a non-number
}
