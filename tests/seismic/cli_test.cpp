// The `towerwatch quake` CLI contract (used by the evaluation): run the built binary.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "test_data.hpp"
#include "tw/core/geo.hpp"
#include "tw/core/time.hpp"

namespace {
struct Run {
  int rc = -1;
  std::string out;
};
Run run(const std::string& args) {
  Run r;
  const std::string cmd = std::string(TW_TOWERWATCH_BIN) + " " + args + " 2>/tmp/tw_seismic_cli_err.txt";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
std::string stderr_text() {
  FILE* f = fopen("/tmp/tw_seismic_cli_err.txt", "r");
  std::string s;
  if (!f) return s;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) s.append(buf.data(), n);
  fclose(f);
  return s;
}
}  // namespace

using tw::seismic::test::seismic_dir;

TEST(CliTest, PickPrintsTheSpecifiedJson) {
  auto r = run("quake pick --mseed " + tw::seismic::test::norway_1996().string() + " --json");
  ASSERT_EQ(r.rc, 0) << stderr_text();
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["picks"].is_array());
  ASSERT_GT(j["picks"].size(), 10u);
  bool foo = false;
  for (const auto& p : j["picks"]) {
    for (const char* k : {"network", "station", "channel", "phase", "time", "uncertainty_s"}) ASSERT_TRUE(p.contains(k)) << k;
    EXPECT_EQ(p["phase"], "P");
    ASSERT_TRUE(tw::parse_iso8601_us(p["time"].get<std::string>()).has_value());
    // FOO analyst P: 1996-06-25T03:37:46.120
    if (p["station"] == "FOO" &&
        std::llabs(*tw::parse_iso8601_us(p["time"].get<std::string>()) - *tw::parse_iso8601_us("1996-06-25T03:37:46.120Z")) < 100000)
      foo = true;
  }
  EXPECT_TRUE(foo);
}

TEST(CliTest, DetectFindsTheCatalogEvent) {
  const auto dir = seismic_dir() / "openeew_mexico";
  auto r = run("quake detect --stations " + (dir / "devices.csv").string() + " --mseed " +
               (dir / "mseed" / "2020_1_30.mseed").string() + " --json");
  ASSERT_EQ(r.rc, 0) << stderr_text();
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["events"].size(), 1u);
  const auto& e = j["events"][0];
  for (const char* k : {"origin_time", "lat", "lon", "depth_km", "magnitude", "magnitude_type", "stations",
                        "first_alert_time", "updates"})
    ASSERT_TRUE(e.contains(k)) << k;
  // catalog: 2020-01-30T06:47:22, 16.831, -100.1, M5.3
  EXPECT_LT(tw::distance_km({16.831, -100.1}, {e["lat"].get<double>(), e["lon"].get<double>()}), 15);
  EXPECT_NEAR(e["magnitude"].get<double>(), 5.3, 0.5);
  EXPECT_GE(e["stations"].get<int>(), 4);
  EXPECT_FALSE(e["first_alert_time"].is_null());
  EXPECT_GE(e["updates"].size(), 1u);
  EXPECT_EQ(e["updates"][0]["version"], 1);
  EXPECT_TRUE(j["picks"].is_array());
}

TEST(CliTest, ErrorsGoToStderrWithExitCodes) {
  auto r = run("quake pick --mseed /nonexistent.mseed --json");
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(stderr_text().find("error: /nonexistent.mseed"), std::string::npos);
  auto u = run("quake detect --mseed x.mseed");  // --stations missing
  EXPECT_EQ(u.rc, 2);
  auto v = run("quake detect --stations /nonexistent.csv --mseed x.mseed --json");
  EXPECT_EQ(v.rc, 2);
  EXPECT_NE(stderr_text().find("cannot open stations file"), std::string::npos);
  auto m = run("quake detect --stations " + (seismic_dir() / "openeew_mexico" / "devices.csv").string() +
               " --mseed x.mseed --velocity-model " + (seismic_dir() / "openeew_mexico" / "events.csv").string());
  EXPECT_EQ(m.rc, 2);
  EXPECT_NE(stderr_text().find("header needs a depth and a vp column"), std::string::npos);
}
