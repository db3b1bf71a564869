// Runs the built `towerwatch` binary: the evaluation commands must keep their exact interface.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "test_data.hpp"

using tw::power::test::arts;

namespace {
struct Run {
  int rc;
  std::string out;
};
Run run(const std::string& args) {
  std::string cmd = std::string(TW_BIN) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (p && fgets(buf.data(), buf.size(), p)) out += buf.data();
  int st = p ? pclose(p) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}
std::string fits(const std::string& cell) {
  std::string s;
  for (const char* r : {"C10", "1C", "2C"}) s += " --fit " + arts(cell, r).string();
  return s;
}
}  // namespace

TEST(PowerCli, RuntimeJsonWithinAcceptance) {
  // Measured 4C runtimes (s): S001 869.26, S002 860.25; 3C: 1169.34, 1169.32.
  struct Case {
    std::string cell;
    double amps, measured_s;
  };
  for (const auto& c : {Case{"S001", 12, 869.258}, Case{"S002", 12, 860.246}, Case{"S001", 9, 1169.341},
                        Case{"S002", 9, 1169.319}}) {
    auto r = run("power runtime" + fits(c.cell) + " --current " + std::to_string(c.amps) + " --json");
    ASSERT_EQ(r.rc, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j.size(), 3u);
    EXPECT_DOUBLE_EQ(j["current_a"].get<double>(), c.amps);
    EXPECT_NEAR(j["runtime_s"].get<double>(), j["capacity_ah"].get<double>() * 3600 / c.amps, 1e-6);
    EXPECT_LT(std::abs(j["runtime_s"].get<double>() - c.measured_s) / c.measured_s, 0.015) << c.cell << " " << c.amps;
  }
}

TEST(PowerCli, EolJson) {
  auto r = run("power eol --capacity-csv " + tw::power::test::nasa_metadata().string() +
               " --battery B0005 --upto-cycle 84 --eol-ah 1.4 --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["battery"], "B0005");
  EXPECT_EQ(j["predicted_eol_cycle"], 131);
  // B0006 is predicted from B0005, the other cells of the file being its references.
  auto r6 = run("power eol --capacity-csv " + tw::power::test::nasa_metadata().string() +
                " --battery B0006 --upto-cycle 84 --eol-ah 1.4 --json");
  ASSERT_EQ(r6.rc, 0) << r6.out;
  EXPECT_EQ(nlohmann::json::parse(r6.out)["predicted_eol_cycle"], 102);
}

TEST(PowerCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("power runtime" + fits("S001") + " --current -3 --json").rc, 2);
  EXPECT_EQ(run("power runtime --fit " + arts("S001", "1C").string() + " --current 3 --json").rc, 2);  // one curve
  EXPECT_EQ(run("power runtime --fit /nonexistent.csv --current 3").rc, 2);
  EXPECT_EQ(run("power eol --capacity-csv " + tw::power::test::nasa_metadata().string() +
                " --battery B9999 --upto-cycle 84 --eol-ah 1.4 --json").rc, 2);
  EXPECT_EQ(run("power eol --capacity-csv " + tw::power::test::nasa_metadata().string() +
                " --battery B0005 --upto-cycle 500 --eol-ah 1.4 --json").rc, 2);
}

TEST(PowerCli, SimulateThenReplayRaisesAndClearsOutage) {
  auto csv = (std::filesystem::temp_directory_path() / "tw_power_cli_sim.csv").string();
  auto s = run("power simulate --seed 7 --hours 6 --outage-start-h 1 --outage-h 3.5 --out " + csv);
  ASSERT_EQ(s.rc, 0);
  auto r = run("power replay --csv " + csv + " --site t1");
  std::filesystem::remove(csv);
  ASSERT_EQ(r.rc, 0) << r.out;
  std::vector<nlohmann::json> lines;
  std::size_t start = 0;
  while (start < r.out.size()) {
    auto nl = r.out.find('\n', start);
    lines.push_back(nlohmann::json::parse(r.out.substr(start, nl - start)));
    start = nl + 1;
  }
  ASSERT_EQ(lines.size(), 5u);  // 4 alarm changes + summary
  EXPECT_EQ(lines[0]["type"], "mains_outage");
  EXPECT_EQ(lines[0]["action"], "raise");
  EXPECT_EQ(lines[1]["type"], "low_runtime");
  EXPECT_EQ(lines[1]["action"], "raise");
  EXPECT_EQ(lines[4]["samples"], 361);
  EXPECT_EQ(lines[4]["rejected"], 0);
}
