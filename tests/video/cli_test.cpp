#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>

#include "common.hpp"
#include "process.hpp"

namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

Run run(const std::string& args, const tw::test::TempDir& dir) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const std::string cmd = std::string(TW_BINARY) + " " + args + " >" + out + " 2>" + err;
  const int st = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = tw::test::read_file(out);
  r.err = tw::test::read_file(err);
  return r;
}

// The first n frames of PETS09 as a small MJPG clip.
std::string pets_clip(const tw::test::TempDir& dir, int n) {
  const std::string path = dir.file("pets_clip.avi");
  cv::VideoCapture cap(tw::video::testing::pets_video(), cv::CAP_FFMPEG);
  cv::VideoWriter w(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, cv::Size(480, 360));
  cv::Mat f;
  for (int i = 0; i < n && cap.read(f); ++i) w.write(f);
  return path;
}

}  // namespace

TEST(Cli, CountJsonEchoesLinesExactly) {
  tw::test::TempDir dir;
  const std::string clip = pets_clip(dir, 60);
  auto r = run("count --video " + clip +
                   " --line 0,144,480,144 --line '160, 0, 160, 360' --zone 240,0,480,0,480,360,240,360 "
                   "--classes person,car --json",
               dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames"], 60);
  ASSERT_EQ(j["lines"].size(), 2u);
  EXPECT_EQ(j["lines"][0]["line"], "0,144,480,144");
  EXPECT_EQ(j["lines"][1]["line"], "160, 0, 160, 360");
  for (const auto& l : j["lines"]) {
    ASSERT_TRUE(l["counts"].contains("person"));
    ASSERT_TRUE(l["counts"].contains("car"));
    EXPECT_EQ(l["counts"]["car"]["pos"], 0);  // no cars on PETS09
    EXPECT_TRUE(l["counts"]["person"]["pos"].is_number_integer());
  }
  ASSERT_EQ(j["zones"].size(), 1u);
  EXPECT_EQ(j["zones"][0]["zone"], "240,0,480,0,480,360,240,360");
  // Ground truth at frame 60: six people, all in the right half (two within 3 px of its edge).
  const int occ = j["zones"][0]["counts"]["person"]["occupancy"].get<int>();
  EXPECT_GE(occ, 4);
  EXPECT_LE(occ, 7);
}

TEST(Cli, CountErrors) {
  tw::test::TempDir dir;
  auto r = run("count --video " + dir.file("none.avi") + " --line 0,1,2,3 --json", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("error: "), std::string::npos);
  EXPECT_NE(r.err.find("none.avi"), std::string::npos);
  EXPECT_TRUE(r.out.empty());
  r = run("count --video " + tw::video::testing::pets_video() + " --line 0,1,2 --json", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("0,1,2"), std::string::npos);
  r = run("count --video " + tw::video::testing::pets_video() + " --line 0,1,2,3 --classes person,unicorn", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unicorn"), std::string::npos);
  // A truncated clip: a clear error, no JSON.
  std::ifstream in(tw::video::testing::pets_video(), std::ios::binary);
  std::string avi((std::istreambuf_iterator<char>(in)), {});
  tw::test::write_file(dir.file("cut.avi"), avi.substr(0, avi.size() / 20));
  r = run("count --video " + dir.file("cut.avi") + " --line 0,144,480,144 --json", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cut.avi"), std::string::npos);
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, RedactImageAndVideo) {
  tw::test::TempDir dir;
  auto r = run("redact --input " + tw::video::testing::faces_photo("test_ios.jpg") + " --output " +
                   dir.file("out.jpg") + " --json",
               dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames"], 1);
  EXPECT_GE(j["faces"].get<int>(), 5);  // PROVENANCE: YuNet-2022 finds 5 faces
  EXPECT_TRUE(std::filesystem::exists(dir.file("out.jpg")));

  // A short video: same frame count out as in.
  const std::string clip = pets_clip(dir, 12);
  r = run("redact --input " + clip + " --output " + dir.file("red.mp4") + " --method pixelate --json", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames"], 12);
  EXPECT_GT(j["heads"].get<int>(), 12 * 3);  // several people in every frame
  cv::VideoCapture cap(dir.file("red.mp4"), cv::CAP_FFMPEG);
  ASSERT_TRUE(cap.isOpened());
  EXPECT_EQ(static_cast<int>(cap.get(cv::CAP_PROP_FRAME_COUNT)), 12);

  r = run("redact --input " + dir.file("nothing.mp4") + " --output " + dir.file("x.mp4"), dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nothing.mp4"), std::string::npos);
  r = run("redact --input " + clip + " --output " + dir.file("x.mp4") + " --method smudge", dir);
  EXPECT_EQ(r.code, 2);
}
