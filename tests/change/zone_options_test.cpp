#include <gtest/gtest.h>

#include "tw/change/options.hpp"
#include "tw/change/zone.hpp"

using namespace tw::change;

TEST(ChangeZone, ParsesPolygon) {
  auto z = parse_zone("10,20, 110,20,110.5,80,10,80", "field-3");
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_EQ(z->name, "field-3");
  ASSERT_EQ(z->points.size(), 4u);
  EXPECT_DOUBLE_EQ(z->points[2].x, 110.5);
  EXPECT_DOUBLE_EQ(z->points[2].y, 80.0);
  EXPECT_TRUE(check_zone(*z, cv::Size(200, 100)).ok());
  cv::Mat m = zone_mask(*z, cv::Size(200, 100));
  ASSERT_EQ(m.type(), CV_8U);
  // 101 x 61 pixels inclusive (fillPoly includes the boundary); 110.5 rounds to 111 (even rounding away).
  int area = cv::countNonZero(m);
  EXPECT_GE(area, 100 * 60);
  EXPECT_LE(area, 102 * 61);
  EXPECT_EQ(m.at<uchar>(50, 50), 255);
  EXPECT_EQ(m.at<uchar>(5, 5), 0);
}

TEST(ChangeZone, RejectsMalformedText) {
  struct Case {
    const char* text;
    const char* needle;
  };
  for (const Case& c : {Case{"", "value 1"}, Case{"1,2,3", "pairs"}, Case{"1,2,3,4", "at least 3"},
                        Case{"1,2,x,4,5,6", "value 3 ('x')"}, Case{"1,2,3,-4,5,6", "negative"},
                        Case{"1,2,3,4,5,nan", "value 6"}, Case{"1,2,,4,5,6", "value 3"}}) {
    auto z = parse_zone(c.text, "z");
    ASSERT_FALSE(z.ok()) << c.text;
    EXPECT_EQ(z.error().code, "bad_zone");
    EXPECT_NE(z.error().message.find(c.needle), std::string::npos) << c.text << " -> " << z.error().message;
  }
}

TEST(ChangeZone, ChecksAgainstImage) {
  auto out = parse_zone("0,0,300,0,300,50");
  ASSERT_TRUE(out.ok());
  auto st = check_zone(*out, cv::Size(256, 256));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("point 2 (300,0)"), std::string::npos) << st.error().message;
  auto flat = parse_zone("0,0,10,10,20,20");
  ASSERT_TRUE(flat.ok());
  EXPECT_FALSE(check_zone(*flat, cv::Size(256, 256)).ok());
  // Union of zones; no zones = whole image.
  EXPECT_EQ(cv::countNonZero(zones_mask({}, cv::Size(8, 4))), 32);
}

TEST(ChangeOptions, SetsAndValidatesByName) {
  CompareOptions o;
  ASSERT_TRUE(set_options(o, {"threshold=0.42", "pool_sigmas=2:4", "work_max_side=640"}).ok());
  EXPECT_DOUBLE_EQ(o.threshold, 0.42);
  ASSERT_EQ(o.pool_sigmas.size(), 2u);
  EXPECT_DOUBLE_EQ(o.pool_sigmas[1], 4.0);
  EXPECT_EQ(o.work_max_side, 640);
  ASSERT_TRUE(set_options(o, {"use_head=0", "head_threshold=0.6", "head_min_fraction=0.01", "head_model=h.onnx",
                              "head_views=8"}).ok());
  EXPECT_FALSE(o.use_head);
  EXPECT_DOUBLE_EQ(o.head_threshold, 0.6);
  EXPECT_DOUBLE_EQ(o.head_min_fraction, 0.01);
  EXPECT_EQ(o.head_model, "h.onnx");
  EXPECT_EQ(o.head_views, 8);
  ASSERT_TRUE(set_option(o, "use_head=1").ok());
  EXPECT_TRUE(o.use_head);
  struct Case {
    const char* text;
    const char* needle;
  };
  for (const Case& c : {Case{"threshold", "name=value"}, Case{"nope=1", "unknown option 'nope'"},
                        Case{"threshold=abc", "threshold"}, Case{"threshold=5", "threshold"},
                        Case{"work_max_side=10.5", "work_max_side"}, Case{"work_max_side=8", "work_max_side"},
                        Case{"pool_sigmas=2:x", "pool_sigmas"}, Case{"pool_sigmas=0", "pool_sigmas"},
                        Case{"decision_fraction=0", "decision_fraction"}, Case{"min_mean_luma=300", "min_mean_luma"},
                        Case{"max_rotation_deg=0", "max_rotation_deg"}, Case{"robust_k=-1", "robust_k"},
                        Case{"contrast_floor=0", "contrast_floor"}, Case{"min_registration_corr=1", "min_registration_corr"},
                        Case{"min_region_fraction=1", "min_region_fraction"}, Case{"transient_dilate=0.6", "transient_dilate"},
                        Case{"max_shift_fraction=0", "max_shift_fraction"}, Case{"min_visibility_ratio=2", "min_visibility_ratio"},
                        Case{"pre_blur_sigma=-1", "pre_blur_sigma"}, Case{"min_registration_gain=1", "min_registration_gain"},
                        Case{"use_head=2", "use_head"}, Case{"head_threshold=1", "head_threshold"},
                        Case{"head_threshold=0", "head_threshold"}, Case{"head_min_fraction=-0.1", "head_min_fraction"},
                        Case{"head_model=", "head_model"}, Case{"head_views=3", "head_views"},
                        Case{"head_views=4.5", "head_views"}}) {
    CompareOptions x;
    auto st = set_option(x, c.text);
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_EQ(st.error().code, "bad_option");
    EXPECT_NE(st.error().message.find(c.needle), std::string::npos) << c.text << " -> " << st.error().message;
  }
}
