#include <gtest/gtest.h>

#include <cmath>

#include "common.hpp"
#include "tw/video/detector.hpp"
#include "tw/video/mot.hpp"
#include "tw/video/tracker.hpp"

using namespace tw::video;

TEST(Letterbox, TopLeftAndCentred) {
  cv::Mat img(360, 480, CV_8UC3, cv::Scalar(10, 20, 30));
  cv::Mat out;
  LetterboxInfo lb = letterbox(img, 416, 416, false, out);
  EXPECT_FLOAT_EQ(lb.scale, 416.f / 480.f);
  EXPECT_EQ(lb.pad_x, 0);
  EXPECT_EQ(lb.pad_y, 0);
  ASSERT_EQ(out.size(), cv::Size(416, 416));
  EXPECT_EQ(out.at<cv::Vec3b>(100, 100), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(out.at<cv::Vec3b>(415, 0), cv::Vec3b(114, 114, 114));  // 360*0.8667 = 312 rows of image
  lb = letterbox(img, 416, 416, true, out);
  EXPECT_EQ(lb.pad_x, 0);
  EXPECT_EQ(lb.pad_y, (416 - 312) / 2);
  EXPECT_EQ(out.at<cv::Vec3b>(10, 10), cv::Vec3b(114, 114, 114));
  EXPECT_EQ(out.at<cv::Vec3b>(60, 10), cv::Vec3b(10, 20, 30));
}

TEST(Decode, YoloxGridCell) {
  // 64x64 input: 8x8 + 4x4 + 2x2 = 84 rows; 2 classes.
  cv::Mat m(84, 7, CV_32F, cv::Scalar(0));
  float* p = m.ptr<float>(64 + 2 * 4 + 1);  // stride 16, gx = 1, gy = 2
  p[0] = 0.5f, p[1] = 0.5f, p[2] = std::log(2.f), p[3] = std::log(4.f), p[4] = 0.9f, p[5] = 0.1f, p[6] = 0.8f;
  LetterboxInfo lb{0.5f, 0, 0};
  auto d = decode_output(m, Layout::yolox, 64, 64, lb, 0.3f, {});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].x0, 16, 1e-4);
  EXPECT_NEAR(d[0].y0, 16, 1e-4);
  EXPECT_NEAR(d[0].x1, 80, 1e-4);
  EXPECT_NEAR(d[0].y1, 144, 1e-4);
  EXPECT_NEAR(d[0].score, 0.72, 1e-6);
  EXPECT_EQ(d[0].class_id, 1);
  // class filter removes it; a higher threshold too
  EXPECT_TRUE(decode_output(m, Layout::yolox, 64, 64, lb, 0.3f, {true, false}).empty());
  EXPECT_TRUE(decode_output(m, Layout::yolox, 64, 64, lb, 0.75f, {}).empty());
}

TEST(Decode, Yolov5PixelBoxes) {
  cv::Mat m(3 * 84, 7, CV_32F, cv::Scalar(0));
  float* p = m.ptr<float>(200);
  p[0] = 100, p[1] = 50, p[2] = 20, p[3] = 40, p[4] = 0.8f, p[5] = 0.9f, p[6] = 0.2f;
  LetterboxInfo lb{2.f, 10, 0};
  auto d = decode_output(m, Layout::yolov5, 64, 64, lb, 0.3f, {});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].x0, 40, 1e-4);
  EXPECT_NEAR(d[0].y0, 15, 1e-4);
  EXPECT_NEAR(d[0].x1, 50, 1e-4);
  EXPECT_NEAR(d[0].y1, 35, 1e-4);
  EXPECT_NEAR(d[0].score, 0.72, 1e-6);
  EXPECT_EQ(d[0].class_id, 0);
}

TEST(Decode, Yolov8ChannelsFirst) {
  cv::Mat m(6, 3, CV_32F, cv::Scalar(0));  // [4 + 2 classes, 3 candidates]
  m.at<float>(0, 2) = 50, m.at<float>(1, 2) = 60, m.at<float>(2, 2) = 10, m.at<float>(3, 2) = 20;
  m.at<float>(4, 2) = 0.2f, m.at<float>(5, 2) = 0.7f;
  LetterboxInfo lb{1.f, 0, 0};
  auto d = decode_output(m, Layout::yolov8, 64, 64, lb, 0.3f, {});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].x0, 45, 1e-4);
  EXPECT_NEAR(d[0].y0, 50, 1e-4);
  EXPECT_NEAR(d[0].x1, 55, 1e-4);
  EXPECT_NEAR(d[0].y1, 70, 1e-4);
  EXPECT_NEAR(d[0].score, 0.7, 1e-6);
  EXPECT_EQ(d[0].class_id, 1);
  EXPECT_TRUE(decode_output(m, Layout::yolov8, 64, 64, lb, 0.3f, {true, false}).empty());
}

TEST(Layout, GuessFromShape) {
  EXPECT_EQ(*guess_layout({1, 3549, 85}, 416, 416), Layout::yolox);
  EXPECT_EQ(*guess_layout({1, 25200, 85}, 640, 640), Layout::yolov5);
  EXPECT_EQ(*guess_layout({1, 84, 8400}, 640, 640), Layout::yolov8);
  auto bad = guess_layout({1, 100, 85}, 416, 416);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_layout");
  EXPECT_FALSE(parse_layout("ssd"));
  EXPECT_EQ(*parse_layout("yolo11"), Layout::yolov8);
}

TEST(Nms, PerClass) {
  std::vector<Detection> c{{0, 0, 10, 10, 0.9f, 0, "a"},
                           {1, 1, 11, 11, 0.8f, 0, "a"},   // same class, IoU 0.68: suppressed
                           {1, 1, 11, 11, 0.7f, 2, "c"},   // other class: kept
                           {50, 50, 60, 60, 0.6f, 0, "a"}};
  auto k = nms_per_class(c, 0.45f, 100);
  ASSERT_EQ(k.size(), 3u);
  EXPECT_FLOAT_EQ(k[0].score, 0.9f);
  EXPECT_EQ(k[1].class_id, 2);
  EXPECT_FLOAT_EQ(k[2].x0, 50);
  EXPECT_EQ(nms_per_class(c, 0.45f, 2).size(), 2u);
}

TEST(Factory, Errors) {
  DetectorConfig c;
  c.backend = "tensorrt";
  auto r = make_detector(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "unknown_backend");
  EXPECT_NE(r.error().message.find("opencv_dnn"), std::string::npos);
  c = DetectorConfig{};
  c.model = "/nonexistent/model.onnx";
  r = make_detector(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "model_not_found");
  EXPECT_NE(r.error().message.find("/nonexistent/model.onnx"), std::string::npos);
  c = DetectorConfig{};
  c.classes = {"person", "unicorn"};
  r = make_detector(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unicorn"), std::string::npos);
  c = DetectorConfig{};
  c.score_threshold = 1.5f;
  EXPECT_EQ(make_detector(c).error().code, "bad_config");
  c = DetectorConfig{};
  c.input_width = 100;
  EXPECT_EQ(make_detector(c).error().code, "bad_config");
  c = DetectorConfig{};
  c.model = tw::video::testing::pets_gt();  // not an ONNX file
  EXPECT_EQ(make_detector(c).error().code, "model_load") << make_detector(c).error().message;
  // VOC spellings in the class file are read as COCO's; both are accepted.
  c = DetectorConfig{};
  c.classes = {"motorbike", "aeroplane"};
  auto v = make_detector(c);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ((*v)->class_names()[3], "motorcycle");
  EXPECT_EQ((*v)->class_names()[4], "airplane");
  EXPECT_EQ(canonical_class_name("tvmonitor"), "tv");
  EXPECT_EQ(canonical_class_name("person"), "person");
  EXPECT_NE(std::find(detector_names().begin(), detector_names().end(), "opencv_dnn"), detector_names().end());
}

// YOLOX-nano on a real PETS09 frame, checked against the MOT15 ground truth of that frame.
TEST(OpenCvDnn, PetsFrameMatchesGroundTruth) {
  auto det = make_detector(DetectorConfig{});
  ASSERT_TRUE(det) << det.error().message;
  EXPECT_EQ((*det)->class_names().size(), 80u);
  cv::Mat f = tw::video::testing::read_frame(tw::video::testing::pets_video(), 100);
  ASSERT_FALSE(f.empty());
  auto d = (*det)->detect(f);
  auto gt = load_mot(tw::video::testing::pets_gt(), 0.625);
  ASSERT_TRUE(gt);
  std::vector<Box> g;
  for (const auto& b : *gt)
    if (b.frame == 101) g.push_back(Box{float(b.x), float(b.y), float(b.x + b.w), float(b.y + b.h)});
  ASSERT_GE(g.size(), 5u);
  int persons = 0, matched = 0;
  for (const auto& x : d) {
    EXPECT_TRUE(x.label == "person" || x.label == "bicycle" || x.label == "car" || x.label == "motorcycle" ||
                x.label == "bus" || x.label == "truck")
        << x.label;
    EXPECT_GE(x.score, 0.3f);
    EXPECT_GE(x.x0, 0.f);
    EXPECT_LE(x.x1, 480.f);
    if (x.label == "person") ++persons;
  }
  for (const auto& b : g) {
    for (const auto& x : d)
      if (x.label == "person" && box_iou(b, Box{x.x0, x.y0, x.x1, x.y1}) >= 0.5f) {
        ++matched;
        break;
      }
  }
  // Recall at IoU 0.5 of at least 80% and no more than two unmatched person boxes.
  EXPECT_GE(matched * 10, static_cast<int>(g.size()) * 8) << matched << " of " << g.size();
  EXPECT_LE(persons - matched, 2);
  // Sorted by score.
  for (size_t i = 1; i < d.size(); ++i) EXPECT_GE(d[i - 1].score, d[i].score);
  EXPECT_TRUE((*det)->detect(cv::Mat()).empty());
  // A grey frame has nothing in it.
  EXPECT_TRUE((*det)->detect(cv::Mat(240, 320, CV_8UC3, cv::Scalar::all(128))).empty());
}
