// The shipped smoke model through OpenCV DNN on real HPWREN frames.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "tw/core/paths.hpp"
#include "tw/wildfire/smoke_model.hpp"

namespace fs = std::filesystem;
using namespace tw::wildfire;

namespace {

struct Annot {
  std::string file;
  float x0, y0, x1, y1;
};

std::vector<Annot> read_boxes() {
  std::vector<Annot> out;
  std::ifstream in(tw::data_dir() / "wildfire/hpwren_smoke/boxes.csv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t s = 0, e;
    while ((e = line.find(',', s)) != std::string::npos) {
      f.push_back(line.substr(s, e - s));
      s = e + 1;
    }
    f.push_back(line.substr(s));
    if (f.size() == 8) out.push_back({f[0], std::stof(f[4]), std::stof(f[5]), std::stof(f[6]), std::stof(f[7])});
  }
  std::sort(out.begin(), out.end(), [](const Annot& a, const Annot& b) { return a.file < b.file; });
  return out;
}

std::unique_ptr<SmokeModel>& shared_model() {
  static std::unique_ptr<SmokeModel> m = [] {
    auto r = make_smoke_model({});
    if (!r) ADD_FAILURE() << r.error().message;
    return r ? std::move(*r) : nullptr;
  }();
  return m;
}

}  // namespace

TEST(SmokeModel, MatchesTheTrainingRecipeGoldenScores) {
  std::ifstream in("tools/smoke/metrics.json");
  ASSERT_TRUE(in) << "run from the repository root";
  const auto metrics = nlohmann::json::parse(in);
  const auto& golden = metrics.at("golden_scores");
  ASSERT_GE(golden.size(), 6u);
  auto& m = shared_model();
  ASSERT_TRUE(m);
  for (const auto& [file, score] : golden.items()) {
    cv::Mat img = cv::imread((tw::data_dir() / "wildfire/hpwren_smoke" / file).string());
    ASSERT_FALSE(img.empty()) << file;
    const auto r = m->infer(img);
    // The recipe scores with numpy's float32 standardisation, the C++ side with cv::meanStdDev (double): the
    // last bits of the input differ, and the fine-tuned head turns that into up to ~3e-3 on scores mid-slope.
    EXPECT_NEAR(r.score, score.get<double>(), 5e-3) << file;
    EXPECT_EQ(r.heat.rows, 60) << "640x480 at its own resolution: one cell per 8x8 pixels";
    EXPECT_EQ(r.heat.cols, 80);
  }
}

TEST(SmokeModel, FindsAnnotatedPlumesAndRejectsProbableNegatives) {
  // Regression check on a fixed subset (the shipped model saw these views in training; held-out-view figures
  // are in tools/smoke/metrics.json and docs/wildfire.md).
  auto& m = shared_model();
  ASSERT_TRUE(m);
  const auto boxes = read_boxes();
  ASSERT_EQ(boxes.size(), 513u);
  int detected = 0, located = 0;
  const int n = 24;
  for (int i = 0; i < n; ++i) {
    const auto& a = boxes[static_cast<size_t>(i * 21)];
    cv::Mat img = cv::imread((tw::data_dir() / "wildfire/hpwren_smoke/smoke" / a.file).string());
    ASSERT_FALSE(img.empty()) << a.file;
    const auto r = m->infer(img);
    if (r.score < kShippedThreshold) continue;
    ++detected;
    ASSERT_FALSE(r.boxes.empty());
    for (const auto& b : r.boxes) {
      if (b.score >= kShippedThreshold && b.x0 < a.x1 && a.x0 < b.x1 && b.y0 < a.y1 && a.y0 < b.y1) {
        ++located;
        break;
      }
    }
  }
  // Floors at kShippedThreshold (the <= 5% false-positive point of tools/smoke/metrics.json).
  EXPECT_GE(detected, 15) << "of " << n;
  EXPECT_GE(located, 14) << "frames with a box >= threshold overlapping the annotated plume, of " << detected;
  std::vector<fs::path> neg;
  for (const auto& e : fs::directory_iterator(tw::data_dir() / "wildfire/hpwren_smoke/no_smoke_probable"))
    neg.push_back(e.path());
  std::sort(neg.begin(), neg.end());
  ASSERT_EQ(neg.size(), 110u);
  int fp = 0;
  for (size_t i = 0; i < neg.size(); i += 5) {
    cv::Mat img = cv::imread(neg[i].string());
    ASSERT_FALSE(img.empty());
    if (m->infer(img).score >= kShippedThreshold) ++fp;
  }
  EXPECT_LE(fp, 2) << "of 22 probable negatives";
}

TEST(SmokeModel, EmptyAndGreyFrames) {
  auto& m = shared_model();
  ASSERT_TRUE(m);
  auto r = m->infer(cv::Mat());
  EXPECT_EQ(r.score, 0.f);
  EXPECT_TRUE(r.boxes.empty());
  cv::Mat grey(480, 640, CV_8UC1, cv::Scalar(120));  // single channel is accepted
  r = m->infer(grey);
  EXPECT_GE(r.score, 0.f);
  EXPECT_LT(r.score, kShippedThreshold);
}

TEST(SmokeModel, HeatBoxesGolden) {
  cv::Mat heat = cv::Mat::zeros(4, 6, CV_32F);
  heat.at<float>(0, 0) = 0.9f;
  heat.at<float>(1, 1) = 0.6f;  // diagonal neighbour: same region
  heat.at<float>(3, 4) = 0.5f;
  heat.at<float>(3, 5) = 0.7f;
  heat.at<float>(2, 3) = 0.2f;  // below threshold
  auto b = heat_boxes(heat, 0.4f, 16.f, 0.5f, cv::Size(180, 120));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_FLOAT_EQ(b[0].score, 0.9f);
  EXPECT_FLOAT_EQ(b[0].x0, 0.f);
  EXPECT_FLOAT_EQ(b[0].x1, 64.f);  // 2 cells * 16 px / 0.5
  EXPECT_FLOAT_EQ(b[0].y1, 64.f);
  EXPECT_FLOAT_EQ(b[1].score, 0.7f);
  EXPECT_FLOAT_EQ(b[1].x0, 128.f);
  EXPECT_FLOAT_EQ(b[1].x1, 180.f);  // clipped to the frame
  EXPECT_FLOAT_EQ(b[1].y0, 96.f);
  EXPECT_FLOAT_EQ(b[1].y1, 120.f);
}

TEST(SmokeModel, ConfigAndModelErrors) {
  SmokeModelConfig c;
  c.backend = "magic";
  auto r = make_smoke_model(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_config");
  c = {};
  c.head = "/nonexistent/head.onnx";
  r = make_smoke_model(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "model_not_found");
  EXPECT_NE(r.error().message.find("/nonexistent/head.onnx"), std::string::npos);
  const fs::path junk = fs::temp_directory_path() / "tw_wildfire_junk_head.onnx";
  std::ofstream(junk) << "this is not a protobuf";
  c.head = junk.string();
  r = make_smoke_model(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "model_load");
  EXPECT_NE(r.error().message.find(junk.string()), std::string::npos);
  fs::remove(junk);
  // The face model is a valid ONNX that does not fit as a smoke head.
  c.head = (tw::models_dir() / "face_yunet_2022feb_120x160.onnx").string();
  r = make_smoke_model(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "model_load");
  c = {};
  c.backend = "yolo";
  r = make_smoke_model(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_config");
  c = {};
  c.box_threshold = 2;
  EXPECT_FALSE(make_smoke_model(c));
}

TEST(SmokeModel, UserSuppliedYoloModelRunsThroughTheDetector) {
  // Any YOLO-family ONNX runs as the smoke model; here the COCO YOLOX-nano keeping "person" on TUD-Campus.
  SmokeModelConfig c;
  c.backend = "yolo";
  c.yolo_model = (tw::models_dir() / "yolox_nano_416_coco80.onnx").string();
  c.yolo_class = "person";
  c.yolo_score_threshold = 0.3f;
  auto r = make_smoke_model(c);
  ASSERT_TRUE(r) << r.error().message;
  cv::VideoCapture cap((tw::data_dir() / "video/tud_campus/TUD-Campus.mp4").string());
  cv::Mat frame;
  ASSERT_TRUE(cap.read(frame));
  const auto res = (*r)->infer(frame);
  EXPECT_GE(res.boxes.size(), 3u);
  EXPECT_GT(res.score, 0.5f);
  EXPECT_FLOAT_EQ(res.score, res.boxes.front().score);
  EXPECT_EQ((*r)->name().rfind("yolo:", 0), 0u);
}
