#pragma once
// Evaluation helpers: MOTChallenge ground truth, CLEAR-MOT (MOTA) and identity (IDF1) metrics, our own code.
// Used by `towerwatch video-eval` and the tests; nothing here runs on a site.
#include <cstdint>
#include <string>
#include <vector>

#include "tw/core/result.hpp"
#include "tw/video/counting.hpp"

namespace tw::video {

struct MotBox {
  int frame = 0;  // 1-based
  int id = 0;
  double x = 0, y = 0, w = 0, h = 0;  // top-left and size
};

// Reads a MOT15 gt.txt / result file: frame,id,x,y,w,h,conf/active,... Coordinates are multiplied by `scale`.
// Rows whose 7th column is 0 are skipped when skip_inactive. Errors name FILE:LINE.
Result<std::vector<MotBox>> load_mot(const std::string& path, double scale, bool skip_inactive = true);

struct MotMetrics {
  std::int64_t gt = 0;        // ground-truth boxes
  std::int64_t hyp = 0;       // hypothesis boxes
  std::int64_t matches = 0;
  std::int64_t fp = 0, fn = 0, idsw = 0;
  double mota = 0;            // 1 - (fn + fp + idsw) / gt
  double motp_iou = 0;        // mean IoU of the matches
  std::int64_t idtp = 0, idfp = 0, idfn = 0;
  double idf1 = 0, idp = 0, idr = 0;
  int gt_ids = 0, hyp_ids = 0;
};

// CLEAR-MOT with IoU >= iou_threshold as a match (correspondences of the previous frame kept while still
// valid, the rest by minimum-cost assignment), and IDF1 from the optimal one-to-one id mapping.
MotMetrics evaluate_mot(const std::vector<MotBox>& gt, const std::vector<MotBox>& hyp, double iou_threshold = 0.5);

// Line crossings of trajectories (boxes grouped by id, ordered by frame) with the counting convention of
// counting.hpp, every consecutive pair of observations counted (no hysteresis, no minimum age).
std::vector<DirCounts> count_crossings(const std::vector<MotBox>& boxes, const std::vector<LineSpec>& lines);

}  // namespace tw::video
