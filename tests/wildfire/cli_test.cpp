// The `towerwatch smoke ...` commands as the evaluation runs them.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tw/core/paths.hpp"

namespace fs = std::filesystem;

namespace {

struct CliRun {
  int rc = -1;
  std::string out, err;
};

CliRun run(const std::string& args) {
  // One file per process: ctest runs the tests of this file in parallel.
  const fs::path err = fs::temp_directory_path() / ("tw_wildfire_cli_stderr_" + std::to_string(getpid()) + ".txt");
  const std::string cmd = std::string(TW_BINARY) + " " + args + " 2>" + err.string();
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(SmokeCli, ScanReportsAndSkipsCorruptImages) {
  const fs::path dir = fresh_dir("tw_wildfire_scan");
  const fs::path src = tw::data_dir() / "wildfire/hpwren_smoke";
  fs::copy_file(src / "smoke/ck0k99r7bir3f0a460bctrlmy.jpeg", dir / "a_smoke.jpeg");
  fs::copy_file(src / "no_smoke_probable/ck0k9fufs4li70794mw8kd24d.jpeg", dir / "b_clear.jpeg");
  std::ofstream(dir / "c_corrupt.jpg") << "\xff\xd8\xff\xe0 definitely not the rest of a JPEG";
  std::ofstream(dir / "d_empty.png");
  std::ofstream(dir / "notes.txt") << "not an image: ignored";
  const CliRun r = run("smoke scan --images " + dir.string() + " --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["images"].size(), 2u);
  EXPECT_EQ(j["images"][0]["file"], "a_smoke.jpeg");
  EXPECT_EQ(j["images"][1]["file"], "b_clear.jpeg");
  for (const auto& im : j["images"]) {
    const double s = im["score"];
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
    for (const auto& b : im["boxes"]) {
      EXPECT_LT(b["x0"].get<double>(), b["x1"].get<double>());
      EXPECT_LT(b["y0"].get<double>(), b["y1"].get<double>());
      EXPECT_LE(b["x1"].get<double>(), 640.0);
      EXPECT_LE(b["score"].get<double>(), s + 1e-6);
    }
  }
  // The annotated plume (138,273)-(188,311) is among the boxes above 0.5; the clear frame scores low.
  EXPECT_GE(j["images"][0]["score"].get<double>(), 0.5);
  bool found = false;
  for (const auto& b : j["images"][0]["boxes"])
    found |= b["score"] >= 0.5 && b["x0"] < 188 && b["x1"] > 138 && b["y0"] < 311 && b["y1"] > 273;
  EXPECT_TRUE(found) << j["images"][0]["boxes"].dump();
  EXPECT_LT(j["images"][1]["score"].get<double>(), 0.5);
  ASSERT_EQ(j["errors"].size(), 2u);
  EXPECT_EQ(j["errors"][0]["file"], "c_corrupt.jpg");
  EXPECT_NE(r.err.find("c_corrupt.jpg: cannot decode image, skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("d_empty.png"), std::string::npos);
  fs::remove_all(dir);
}

TEST(SmokeCli, UsageErrors) {
  CliRun r = run("smoke scan --images /nonexistent/dir --json");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("/nonexistent/dir"), std::string::npos);
  r = run("smoke watch --video /nonexistent.mp4 --json");
  EXPECT_EQ(r.rc, 2);
  r = run("smoke scan --images . --head /nonexistent/head.onnx --json");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("/nonexistent/head.onnx"), std::string::npos);
  r = run("smoke watch --video . --hfov 0 --json");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("hfov_deg"), std::string::npos);
}

TEST(SmokeCli, CompositeThenWatchAlertsAfterOnset) {
  const fs::path dir = fresh_dir("tw_wildfire_seq");
  const std::string bg =
      (tw::data_dir() / "wildfire/hpwren_smoke/no_smoke_probable/ck0k9fufs4li70794mw8kd24d.jpeg").string();
  CliRun c = run("smoke composite --background " + bg + " --out " + dir.string() +
              " --frames 16 --onset 5 --sprite-step 5 --x 0.5 --y 0.55 --height 0.3 --opacity 0.7");
  ASSERT_EQ(c.rc, 0) << c.err;
  const auto cj = nlohmann::json::parse(c.out);
  ASSERT_EQ(cj["frames"].size(), 16u);
  EXPECT_FALSE(cj["frames"][4]["smoke"].get<bool>());
  EXPECT_TRUE(cj["frames"][5]["smoke"].get<bool>());
  const CliRun w = run("smoke watch --video " + dir.string() + " --azimuth 90 --hfov 60 --json");
  ASSERT_EQ(w.rc, 0) << w.err;
  const auto wj = nlohmann::json::parse(w.out);
  EXPECT_EQ(wj["frames"], 16);
  ASSERT_GE(wj["alerts"].size(), 1u);
  const auto& a = wj["alerts"][0];
  EXPECT_GE(a["frame"].get<int>(), 5 + 3);
  const double bearing = a["bearing_deg"];
  EXPECT_NEAR(bearing, 90.0, 8.0);  // plume base at the image centre, camera facing 90
  for (const auto& al : wj["alerts"]) EXPECT_GE(al["frame"].get<int>(), 5) << "alert before onset";
  fs::remove_all(dir);
}
