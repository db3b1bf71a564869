#pragma once
// Camera sources: files and RTSP streams decoded by FFmpeg through OpenCV's VideoCapture, one worker thread per
// camera, reconnect with exponential backoff when a stream drops, a bounded frame queue with an explicit drop
// policy (drops are counted and exported as metrics), and camera_status messages when a camera goes offline
// and comes back (with the length of the gap).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <opencv2/core.hpp>

#include "tw/core/message.hpp"
#include "tw/core/metrics.hpp"
#include "tw/core/result.hpp"

namespace tw::video {

struct Frame {
  cv::Mat bgr;
  std::int64_t ts_ms = 0;   // capture time (UTC ms); for files: start time + position in the file
  std::int64_t index = 0;   // frame number within the current connection, from 0
};

struct VideoInfo {
  int width = 0;
  int height = 0;
  double fps = 0;
  std::int64_t frame_count = 0;  // as the container says; 0 or negative when unknown (streams)
};

// Reads frames from one file or stream. Not thread-safe.
class FrameReader {
 public:
  virtual ~FrameReader() = default;
  virtual const VideoInfo& info() const = 0;
  // Next frame; false at the end of the file or when the stream delivers nothing.
  virtual bool read(cv::Mat& bgr) = 0;
  // Latest presentation time of a frame read so far, in ms from the start; NaN when the source has none.
  virtual double position_ms() const { return std::numeric_limits<double>::quiet_NaN(); }
};

// Opens a file path or a URL (rtsp://, http://, ...) with FFmpeg via cv::VideoCapture.
// Errors: not_found (no such file), open_failed (not a video / unsupported / unreachable), empty_video.
Result<std::unique_ptr<FrameReader>> open_video(const std::string& url);
bool is_stream_url(const std::string& url);

// Reads a whole file, checking it decodes to the end: a file that stops decoding both before the frame count
// its container announces and before the duration it announces gives error truncated ("FILE: decoded N of M
// frames"). Either alone is not enough: containers misstate counts (an AVI at 50 fps holding 25 fps video,
// MP4 edit lists) while the last frame's time still reaches the end. Calls fn for each frame.
Result<std::int64_t> for_each_frame(const std::string& path, const std::function<bool(const cv::Mat&, std::int64_t)>& fn);

enum class DropPolicy {
  drop_oldest,  // live view: keep the newest frames, drop the oldest queued one (default)
  drop_newest,  // keep what is queued, drop the incoming frame
  block         // never drop: the reader waits (files replayed as fast as analysis goes)
};
Result<DropPolicy> parse_drop_policy(const std::string& name);

struct SourceConfig {
  std::string camera;             // camera id (metrics label, camera_status payload)
  std::string site;               // site id for camera_status messages
  std::string url;                // file path or stream URL
  double analysis_fps = 0;        // decimate to this rate (by timestamps); 0 = every frame
  size_t queue_size = 4;          // bounded queue between reader and consumer
  DropPolicy policy = DropPolicy::drop_oldest;
  int reconnect_min_ms = 500;     // first retry delay; doubles up to reconnect_max_ms
  int reconnect_max_ms = 30000;
  int max_reconnects = -1;        // give up after this many failed attempts in a row; -1 = never
  bool loop_file = false;         // files: start again at the end (demo replay)
  bool realtime = false;          // files: pace frames at the file's frame rate
  std::int64_t file_start_ms = 0; // files: timestamp of the first frame (0 = wall clock at open)
};

using ReaderFactory = std::function<Result<std::unique_ptr<FrameReader>>(const std::string& url)>;

// One camera: a reader thread that fills a bounded queue. The consumer calls next() (usually from its own
// analysis thread). State changes are reported once each through on_status as camera_status messages:
// {"camera","state":"online"|"offline"|"ended","reason","gap_s","reconnects","dropped_frames"}.
class CameraWorker {
 public:
  CameraWorker(SourceConfig config, Metrics* metrics, std::function<void(Message)> on_status,
               ReaderFactory factory = open_video);
  ~CameraWorker();
  CameraWorker(const CameraWorker&) = delete;
  CameraWorker& operator=(const CameraWorker&) = delete;

  void start();
  void stop();  // idempotent; joins the thread
  // Waits up to timeout_ms for a frame. Returns false on timeout or once the source has ended and the queue
  // is empty (then finished() is true).
  bool next(Frame& out, int timeout_ms);
  bool finished() const { return finished_.load(); }
  bool online() const { return online_.load(); }
  std::uint64_t dropped() const { return dropped_->value(); }
  std::uint64_t delivered() const { return delivered_->value(); }  // frames read, before the drop policy
  std::uint64_t reconnects() const { return reconnects_->value(); }

 private:
  void run();
  void push(Frame f);
  void report(const std::string& state, const std::string& reason, double gap_s);
  bool sleep_for(int ms);  // false when stopping

  SourceConfig cfg_;
  Metrics* metrics_;
  std::unique_ptr<Metrics> own_metrics_;
  std::function<void(Message)> on_status_;
  ReaderFactory factory_;
  Counter* dropped_;
  Counter* delivered_;
  Counter* reconnects_;
  Gauge* online_gauge_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable space_cv_;
  std::deque<Frame> queue_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> online_{false};
};

}  // namespace tw::video
