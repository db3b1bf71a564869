#pragma once
// Multi-object tracker: constant-velocity Kalman filter per track on (cx, cy, aspect, height) and a two-stage
// association in the manner of ByteTrack (high-confidence detections first, then low-confidence detections
// against the tracks still unmatched), with lost tracks kept for a while so that short occlusions keep their id,
// and a last Kalman-gated stage (SORT / DeepSORT gating) that gives briefly hidden tracks their detections back.
// The API uses no OpenCV types. Track ids are local to one Tracker and die with it: they never leave the site.
#include <array>
#include <cstdint>
#include <vector>

namespace tw::video {

struct Box {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  float width() const { return x1 - x0; }
  float height() const { return y1 - y0; }
};

float box_iou(const Box& a, const Box& b);

struct TrackInput {
  Box box;
  float score = 0;
  int class_id = 0;
};

struct TrackerConfig {
  float high_threshold = 0.5f;     // detections at or above go to the first association stage
  float low_threshold = 0.1f;      // detections between low and high go to the second stage; below: ignored
  float new_track_threshold = 0.6f;  // an unmatched detection starts a track only at or above this score
  float match_iou_first = 0.2f;    // minimum IoU to match in the first stage (ByteTrack: cost 0.8)
  float match_iou_second = 0.5f;   // second stage (ByteTrack: cost 0.5)
  float match_iou_unconfirmed = 0.3f;  // tentative tracks (ByteTrack: cost 0.7)
  int max_lost_frames = 30;        // a lost track is removed after this many updates without a match
  int min_hits = 2;                // a track is confirmed after this many matched updates (1 = at once)
  bool class_aware = true;         // only match detections and tracks of the same class
  bool fuse_score = true;          // first stage cost uses IoU * detection score (ByteTrack mot20=false)
  // Recovery stage: a confirmed track unmatched for at most this many updates may take a high detection left
  // over, by Kalman gating instead of IoU (a walker hidden by a passer-by: ~0.5 s at 10 frames/s). Longer gaps
  // are left to IoU: the constant-velocity prediction drifts and the gate grows too wide. -1 = off.
  int recover_max_lost_frames = 5;
};

enum class TrackState { tentative, tracked, lost };

struct Track {
  int id = 0;              // > 0, unique within this tracker
  Box box;                 // filtered box after this update (or predicted box while lost)
  float score = 0;         // score of the last matched detection
  int class_id = 0;
  TrackState state = TrackState::tentative;
  int hits = 0;            // matched updates so far
  int age = 0;             // updates since the track started
  int lost_frames = 0;     // updates since the last match
  int det_index = -1;      // index of the matched input detection in this update, -1 if none
};

// 8-state constant-velocity Kalman filter on z = (cx, cy, a, h), a = w / h; noise scaled by the height.
class KalmanBoxFilter {
 public:
  void init(const Box& b);
  void predict();
  void hold_size() { x_[7] = 0; }  // zero the height velocity
  void update(const Box& b);
  Box box() const;
  const std::array<double, 8>& state() const { return x_; }
  // Squared Mahalanobis distance of a measured box from the predicted one under the innovation covariance
  // H P H^T + R: the gating test of SORT / DeepSORT (chi-square, 4 degrees of freedom).
  double gating_distance(const Box& b) const;

 private:
  // Innovation y = z(b) - H x and the inverse of its covariance; false when that is singular.
  bool innovation(const Box& b, double y[4], double s_inv[16]) const;
  std::array<double, 8> x_{};
  std::array<double, 64> p_{};
};

class Tracker {
 public:
  explicit Tracker(TrackerConfig config = {});

  // One frame of detections. Returns the confirmed tracks matched in this frame (state tracked), by id.
  std::vector<Track> update(const std::vector<TrackInput>& detections);
  // All live tracks (tentative, tracked and lost).
  const std::vector<Track>& tracks() const { return tracks_view_; }
  // Ids of tracks removed by the last update (lost for too long, or tentative and unmatched).
  const std::vector<int>& removed() const { return removed_; }
  void reset();
  const TrackerConfig& config() const { return cfg_; }

 private:
  struct Slot {
    Track t;
    KalmanBoxFilter kf;
  };
  TrackerConfig cfg_;
  std::vector<Slot> slots_;
  std::vector<Track> tracks_view_;
  std::vector<int> removed_;
  int next_id_ = 1;
};

// Minimum-cost assignment on a rows x cols cost matrix (row-major). Pairs with cost > max_cost are not
// matched. Returns, for each row, the matched column or -1.
std::vector<int> linear_assignment(const std::vector<double>& cost, int rows, int cols, double max_cost);

}  // namespace tw::video
