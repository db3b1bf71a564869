// Runs the built `towerwatch` binary: the machine-readable interface used for evaluation.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tw/core/paths.hpp"

namespace fs = std::filesystem;

namespace {

struct CmdRun {
  int rc = -1;
  std::string out;
  std::string err;
};

CmdRun run(const std::string& args) {
  fs::path err = fs::temp_directory_path() / "tw_change_cli_err.txt";
  std::string cmd = std::string(TW_BINARY) + " " + args + " 2>" + err.string();
  CmdRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err);
  r.err.assign(std::istreambuf_iterator<char>(e), std::istreambuf_iterator<char>());
  return r;
}

fs::path levir() { return tw::data_dir() / "change" / "levir_cd_samples"; }

}  // namespace

TEST(ChangeCli, CompareJsonAndMask) {
  fs::path mask = fs::temp_directory_path() / "tw_change_cli_mask.png";
  fs::remove(mask);
  auto a = levir() / "A" / "train_412_0512_0768.png", b = levir() / "B" / "train_412_0512_0768.png";
  CmdRun r = run("change compare --reference " + a.string() + " --current " + b.string() + " --mask-out " +
              mask.string() + " --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 4u) << r.out;
  EXPECT_TRUE(j["changed"].get<bool>());
  EXPECT_GE(j["score"].get<double>(), 0.5);
  // The mask outlines the new buildings (the label marks 11.5 % of this pair).
  EXPECT_GT(j["changed_fraction"].get<double>(), 0.05);
  EXPECT_LT(j["changed_fraction"].get<double>(), 0.3);
  ASSERT_TRUE(j["regions"].is_array());
  ASSERT_FALSE(j["regions"].empty());
  for (const auto& g : j["regions"]) {
    EXPECT_LE(g["x0"].get<int>(), g["x1"].get<int>());
    EXPECT_LE(g["y0"].get<int>(), g["y1"].get<int>());
    EXPECT_LE(g["x1"].get<int>(), 256);
    EXPECT_LE(g["y1"].get<int>(), 256);
  }
  cv::Mat m = cv::imread(mask.string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.type(), CV_8UC1);
  EXPECT_EQ(m.cols, 256);
  EXPECT_EQ(m.rows, 256);
  EXPECT_EQ(cv::countNonZero(m == 255) + cv::countNonZero(m == 0), 256 * 256);
  // changed_fraction is relative to the analysed area (transients such as the parked cars are left out).
  const double mask_fraction = cv::countNonZero(m) / 65536.0, cf = j["changed_fraction"].get<double>();
  EXPECT_LE(mask_fraction, cf + 0.001);
  EXPECT_GT(mask_fraction, 0.9 * cf);
  fs::remove(mask);

  // Swapped order: same decision.
  CmdRun s = run("change compare --reference " + b.string() + " --current " + a.string() + " --json");
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_EQ(nlohmann::json::parse(s.out)["changed"], j["changed"]);

  // A zone in one corner limits the analysis.
  CmdRun z = run("change compare --reference " + a.string() + " --current " + b.string() +
              " --zone 0,0,40,0,40,40,0,40 --json");
  ASSERT_EQ(z.rc, 0) << z.err;
  for (const auto& g : nlohmann::json::parse(z.out)["regions"]) {
    EXPECT_LE(g["x0"].get<int>(), 41);
    EXPECT_LE(g["y0"].get<int>(), 41);
  }
}

TEST(ChangeCli, ErrorsAreClearWithExitCodes) {
  auto a = levir() / "A" / "train_412_0512_0768.png";
  auto w = tw::data_dir() / "change" / "webcam_timelapse" / "chamonix" / "20130502_071500.png";
  CmdRun mism = run("change compare --reference " + a.string() + " --current " + w.string() + " --json");
  EXPECT_EQ(mism.rc, 1);
  EXPECT_TRUE(mism.out.empty());
  EXPECT_NE(mism.err.find("error: "), std::string::npos);
  EXPECT_NE(mism.err.find("256x256"), std::string::npos) << mism.err;

  fs::path bad = fs::temp_directory_path() / "tw_change_cli_corrupt.png";
  {
    std::ofstream o(bad, std::ios::binary);
    o << "\x89PNG\r\n\x1a\n not really a png";
  }
  CmdRun cor = run("change compare --reference " + a.string() + " --current " + bad.string() + " --json");
  EXPECT_EQ(cor.rc, 1);
  EXPECT_NE(cor.err.find(bad.string()), std::string::npos) << cor.err;
  fs::remove(bad);

  CmdRun zone = run("change compare --reference " + a.string() + " --current " + a.string() + " --zone 1,2,3 --json");
  EXPECT_EQ(zone.rc, 2);
  EXPECT_NE(zone.err.find("--zone"), std::string::npos) << zone.err;

  CmdRun nodir = run("change watch --frames /nonexistent-folder --json");
  EXPECT_EQ(nodir.rc, 2);
  EXPECT_NE(nodir.err.find("/nonexistent-folder"), std::string::npos);
}

TEST(ChangeCli, WatchReportsTheFileOfEachAlert) {
  // before, then the same after image on four days: alert at the third day it is seen.
  fs::path dir = fs::temp_directory_path() / "tw_change_cli_watch";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const char* name = "test_2_0000_0000.png";
  fs::copy_file(levir() / "A" / name, dir / "20240301.png");
  for (const char* d : {"20240302.png", "20240303.png", "20240304.png", "20240305.png"})
    fs::copy_file(levir() / "B" / name, dir / d);
  CmdRun r = run("change watch --frames " + dir.string() + " --no-transients --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames"], 5);
  ASSERT_EQ(j["alerts"].size(), 1u) << r.out.substr(0, 400);
  const auto& a = j["alerts"][0];
  EXPECT_EQ(a["file"], "20240304.png");
  EXPECT_EQ(a["index"], 3);
  EXPECT_EQ(a["zone"], "view");
  EXPECT_EQ(a["first_seen"], "2024-03-02");
  EXPECT_EQ(a["days_seen"], 3);
  EXPECT_GT(a["area_px"].get<double>(), 0.1 * 65536);  // the new houses (25 % of the label)
  fs::remove_all(dir);
}
