#pragma once
// Line and zone counting on tracks. No OpenCV types; only counts leave this module, never tracks or boxes.
//
// Line convention (the one of pets09_s2l1/line_crossings.json): a line is the directed segment A->B given as
// "x1,y1,x2,y2" in frame pixels; the reference point of an object is the bottom-centre of its box;
// s(P) = (Bx-Ax)(Py-Ay) - (By-Ay)(Px-Ax). A crossing is counted when the reference point's motion crosses the
// segment AB: "pos" when s goes from negative to positive, "neg" the other way.
// Against jitter and fragments: a track's side of a line only changes once the point is more than
// max(hysteresis_px, hysteresis_frac * box height) away from the line (box jitter grows with the box) (the motion from the last point firmly on the old side to the first
// point firmly on the new side must cross the segment), and crossings of a track count only once it has
// `min_track_hits` matched detections (crossings made before are held and released then).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/result.hpp"

namespace tw::video {

struct Point {
  double x = 0, y = 0;
};

struct LineSpec {
  std::string name;  // echoed in output; for the CLI it is the "x1,y1,x2,y2" text as given
  Point a, b;
};

struct ZoneSpec {
  std::string name;
  std::vector<Point> polygon;  // at least 3 vertices, frame pixels
};

// Parses "x1,y1,x2,y2" (numbers, optional spaces); error bad_line names the text.
Result<LineSpec> parse_line(const std::string& text);
// Parses "x,y,x,y,x,y[,...]" (at least 3 points); error bad_zone names the text.
Result<ZoneSpec> parse_zone(const std::string& text);

// s(P) of the convention above.
double side_value(const LineSpec& line, Point p);
// True when segment p->q intersects segment a->b (touching counts).
bool segments_intersect(Point p, Point q, Point a, Point b);
bool point_in_polygon(const std::vector<Point>& poly, Point p);

struct CounterConfig {
  double hysteresis_px = 2.0;     // dead band either side of a line, pixels ...
  double hysteresis_frac = 0.04;  // ... or this fraction of the object's box height, whichever is larger
  int min_track_hits = 3;      // a track counts only after this many matched detections
  int zone_min_frames = 2;     // a track is inside/outside a zone after this many consecutive frames
};

struct ObjectObservation {
  int track_id = 0;
  std::string label;  // class name
  Point ref;          // bottom-centre of the box
  int hits = 0;       // matched detections of the track so far
  double height = 0;  // box height in pixels (scales the hysteresis band)
};

struct DirCounts {
  std::int64_t pos = 0;
  std::int64_t neg = 0;
};

struct ZoneCounts {
  std::int64_t occupancy = 0;  // objects inside now
  std::int64_t entries = 0;
  std::int64_t exits = 0;
};

struct CountSnapshot {
  // per line, per class
  std::vector<std::map<std::string, DirCounts>> lines;
  // per zone, per class
  std::vector<std::map<std::string, ZoneCounts>> zones;
};

// One counted line crossing, for evaluation and debugging on the edge (never sent).
struct CrossingEvent {
  int track_id = 0;
  size_t line = 0;
  int dir = 0;  // +1 pos, -1 neg
  std::int64_t update = 0;  // index of the update() call that counted it
};

class LineZoneCounter {
 public:
  LineZoneCounter(std::vector<LineSpec> lines, std::vector<ZoneSpec> zones, CounterConfig config = {});

  // One analysed frame: the observations of the tracks matched in it.
  void update(const std::vector<ObjectObservation>& observations);
  // Forget a track (the tracker removed it); its zone presence ends without counting an exit.
  void remove_track(int track_id);

  // Counts since construction (totals) and since the last take_interval() (interval).
  const CountSnapshot& totals() const { return totals_; }
  CountSnapshot take_interval();

  const std::vector<LineSpec>& lines() const { return lines_; }
  const std::vector<ZoneSpec>& zones() const { return zones_; }
  // Appends every counted crossing to *log (null = off).
  void set_event_log(std::vector<CrossingEvent>* log) { log_ = log; }

 private:
  struct LineState {
    int side = 0;  // -1, +1, 0 = not yet firmly on a side
    Point anchor;  // last point firmly on `side`
  };
  struct ZoneState {
    bool inside = false;
    bool known = false;
    int streak = 0;  // consecutive frames disagreeing with `inside`
  };
  struct TrackState {
    std::string label;
    int hits = 0;
    std::vector<LineState> lines;
    std::vector<ZoneState> zones;
    std::vector<std::pair<size_t, int>> pending;  // (line index, +1 pos / -1 neg) held until min_track_hits
  };
  void add_line(size_t line, const std::string& label, int dir, int track_id);
  std::vector<CrossingEvent>* log_ = nullptr;
  std::int64_t updates_ = 0;

  std::vector<LineSpec> lines_;
  std::vector<ZoneSpec> zones_;
  CounterConfig cfg_;
  std::map<int, TrackState> tracks_;
  CountSnapshot totals_;
  CountSnapshot interval_;
};

// `counts` message payload: {"camera","interval_s","start","end","lines":[{"line","counts":{cls:{pos,neg}}}],
// "zones":[{"zone","counts":{cls:{occupancy,entries,exits}}}]} (see docs/messages/counts.md).
nlohmann::json counts_payload(const std::string& camera, double interval_s, std::int64_t start_ms,
                              std::int64_t end_ms, const CountSnapshot& snap, const std::vector<LineSpec>& lines,
                              const std::vector<ZoneSpec>& zones);

}  // namespace tw::video
