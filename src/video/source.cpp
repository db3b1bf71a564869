#include "tw/video/source.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/core.h>
#include <opencv2/videoio.hpp>

#include "tw/core/time.hpp"

namespace tw::video {
namespace {

class OpenCvReader final : public FrameReader {
 public:
  OpenCvReader(cv::VideoCapture cap, VideoInfo info, cv::Mat first)
      : cap_(std::move(cap)), info_(info), first_(std::move(first)) {}
  const VideoInfo& info() const override { return info_; }
  bool read(cv::Mat& bgr) override {
    if (!first_.empty()) {
      bgr = first_;
      first_ = cv::Mat();
      return true;
    }
    try {
      if (!cap_.read(bgr)) return false;
      // FFmpeg reports 0 for the last frames flushed from the decoder: keep the latest real time.
      const double t = cap_.get(cv::CAP_PROP_POS_MSEC);
      if (std::isfinite(t) && (std::isnan(pos_ms_) || t > pos_ms_)) pos_ms_ = t;
    } catch (const cv::Exception&) {
      return false;
    }
    return !bgr.empty();
  }
  double position_ms() const override { return pos_ms_; }

 private:
  cv::VideoCapture cap_;
  VideoInfo info_;
  cv::Mat first_;
  double pos_ms_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace

bool is_stream_url(const std::string& url) { return url.find("://") != std::string::npos; }

Result<std::unique_ptr<FrameReader>> open_video(const std::string& url) {
  if (url.empty()) return make_error("not_found", "video source: empty path");
  if (!is_stream_url(url)) {
    std::error_code ec;
    if (!std::filesystem::exists(url, ec)) return make_error("not_found", fmt::format("{}: no such file", url));
    if (!std::filesystem::is_regular_file(url, ec))
      return make_error("open_failed", fmt::format("{}: not a regular file", url));
    if (std::filesystem::file_size(url, ec) == 0) return make_error("empty_video", fmt::format("{}: file is empty", url));
  }
  cv::VideoCapture cap;
  try {
    if (!cap.open(url, cv::CAP_FFMPEG)) {
      return make_error("open_failed",
                        fmt::format("{}: FFmpeg cannot open it (not a video, unsupported codec, or unreachable)", url));
    }
  } catch (const cv::Exception& e) {
    return make_error("open_failed", fmt::format("{}: FFmpeg cannot open it: {}", url, e.err));
  }
  VideoInfo info;
  info.width = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_WIDTH));
  info.height = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_HEIGHT));
  info.fps = cap.get(cv::CAP_PROP_FPS);
  if (!std::isfinite(info.fps) || info.fps <= 0 || info.fps > 1000) info.fps = 0;
  const double fc = cap.get(cv::CAP_PROP_FRAME_COUNT);
  info.frame_count = std::isfinite(fc) ? static_cast<std::int64_t>(fc) : 0;
  cv::Mat first;
  bool ok = false;
  try {
    ok = cap.read(first) && !first.empty();
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok) return make_error("empty_video", fmt::format("{}: opened but no frame could be decoded", url));
  info.width = first.cols;
  info.height = first.rows;
  return std::unique_ptr<FrameReader>(std::make_unique<OpenCvReader>(std::move(cap), info, std::move(first)));
}

Result<std::int64_t> for_each_frame(const std::string& path,
                                    const std::function<bool(const cv::Mat&, std::int64_t)>& fn) {
  auto r = open_video(path);
  if (!r) return r.error();
  auto& reader = *r;
  const VideoInfo info = reader->info();
  cv::Mat frame;
  std::int64_t n = 0;
  while (reader->read(frame)) {
    if (frame.cols != info.width || frame.rows != info.height)
      return make_error("bad_frame", fmt::format("{}: frame {} is {}x{}, the first was {}x{}", path, n, frame.cols,
                                                 frame.rows, info.width, info.height));
    const bool go_on = fn(frame, n);
    ++n;
    if (!go_on) return n;
  }
  // A cut file stops short of both the frame count and the duration its container announces. A count alone
  // misleads (see the header), so the last frame's time must fall short too, by more than 2% of the duration
  // (at least two frames: start offsets and edit lists).
  if (!is_stream_url(path) && info.frame_count > 0 && n + 2 < info.frame_count) {
    const double t = reader->position_ms();
    const bool timed = info.fps > 0 && std::isfinite(t) && t > 0;
    const double frame_ms = timed ? 1000.0 / info.fps : 0.0;
    const double duration_ms = static_cast<double>(info.frame_count) * frame_ms;
    if (!timed || t + std::max(2 * frame_ms, 0.02 * duration_ms) < duration_ms)
      return make_error("truncated", fmt::format("{}: decoded {} of {} frames: the file is truncated or corrupt",
                                                 path, n, info.frame_count));
  }
  return n;
}

Result<DropPolicy> parse_drop_policy(const std::string& name) {
  if (name == "drop_oldest") return DropPolicy::drop_oldest;
  if (name == "drop_newest") return DropPolicy::drop_newest;
  if (name == "block") return DropPolicy::block;
  return make_error("bad_config", fmt::format("drop_policy: '{}' is not one of drop_oldest, drop_newest, block", name));
}

CameraWorker::CameraWorker(SourceConfig config, Metrics* metrics, std::function<void(Message)> on_status,
                           ReaderFactory factory)
    : cfg_(std::move(config)), metrics_(metrics), on_status_(std::move(on_status)), factory_(std::move(factory)) {
  if (metrics_ == nullptr) {
    own_metrics_ = std::make_unique<Metrics>();
    metrics_ = own_metrics_.get();
  }
  if (cfg_.queue_size == 0) cfg_.queue_size = 1;
  const Labels l{{"camera", cfg_.camera}};
  dropped_ = &metrics_->counter("tw_video_frames_dropped_total", "Frames dropped by the queue policy under load", l);
  delivered_ = &metrics_->counter("tw_video_frames_total", "Frames read for analysis, before the queue policy", l);
  reconnects_ = &metrics_->counter("tw_video_reconnects_total", "Attempts to reopen a camera after it dropped", l);
  online_gauge_ = &metrics_->gauge("tw_video_camera_online", "1 when the camera delivers frames", l);
}

CameraWorker::~CameraWorker() { stop(); }

void CameraWorker::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  finished_ = false;
  thread_ = std::thread([this] { run(); });
}

void CameraWorker::stop() {
  stop_ = true;
  cv_.notify_all();
  space_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool CameraWorker::sleep_for(int ms) {
  std::unique_lock lk(mu_);
  space_cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_;
}

void CameraWorker::report(const std::string& state, const std::string& reason, double gap_s) {
  if (!on_status_) return;
  nlohmann::json p{{"camera", cfg_.camera},
                   {"state", state},
                   {"reason", reason},
                   {"gap_s", gap_s},
                   {"reconnects", reconnects_->value()},
                   {"dropped_frames", dropped_->value()}};
  on_status_(make_message(cfg_.site, "camera_status", now_ms(), std::move(p)));
}

void CameraWorker::push(Frame f) {
  std::unique_lock lk(mu_);
  if (queue_.size() >= cfg_.queue_size) {
    switch (cfg_.policy) {
      case DropPolicy::drop_oldest:
        queue_.pop_front();
        dropped_->inc();
        break;
      case DropPolicy::drop_newest:
        dropped_->inc();
        return;
      case DropPolicy::block:
        space_cv_.wait(lk, [this] { return stop_.load() || queue_.size() < cfg_.queue_size; });
        if (stop_) return;
        break;
    }
  }
  queue_.push_back(std::move(f));
  lk.unlock();
  cv_.notify_one();
}

bool CameraWorker::next(Frame& out, int timeout_ms) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms),
               [this] { return !queue_.empty() || finished_.load() || stop_.load(); });
  if (queue_.empty()) return false;
  out = std::move(queue_.front());
  queue_.pop_front();
  lk.unlock();
  space_cv_.notify_one();
  return true;
}

void CameraWorker::run() {
  const bool stream = is_stream_url(cfg_.url);
  int backoff = std::max(1, cfg_.reconnect_min_ms);
  int failures = 0;
  std::int64_t offline_since = -1;  // steady ms when the camera went offline
  bool reported_offline = false;
  while (!stop_) {
    auto r = factory_(cfg_.url);
    if (!r) {
      if (offline_since < 0) offline_since = steady_ms();
      if (!reported_offline) {
        online_ = false;
        online_gauge_->set(0);
        report("offline", r.error().message, 0);
        reported_offline = true;
      }
      ++failures;
      if (cfg_.max_reconnects >= 0 && failures > cfg_.max_reconnects) {
        report("ended", fmt::format("gave up after {} failed attempts: {}", failures, r.error().message), 0);
        break;
      }
      if (!sleep_for(backoff)) break;
      backoff = std::min(backoff * 2, std::max(cfg_.reconnect_max_ms, cfg_.reconnect_min_ms));
      reconnects_->inc();
      continue;
    }
    auto reader = std::move(*r);
    const double gap = offline_since >= 0 ? static_cast<double>(steady_ms() - offline_since) / 1000.0 : 0.0;
    online_ = true;
    online_gauge_->set(1);
    report("online", offline_since >= 0 ? "reconnected" : "opened", gap);
    offline_since = -1;
    reported_offline = false;
    failures = 0;
    backoff = std::max(1, cfg_.reconnect_min_ms);

    const double fps = reader->info().fps > 0 ? reader->info().fps : 25.0;
    const std::int64_t t0 = stream ? 0 : (cfg_.file_start_ms > 0 ? cfg_.file_start_ms : now_ms());
    const std::int64_t steady0 = steady_ms();
    double next_ts = -1e18;
    const double step = cfg_.analysis_fps > 0 ? 1000.0 / cfg_.analysis_fps : 0.0;
    std::int64_t idx = 0;
    while (!stop_) {
      cv::Mat m;  // fresh buffer per frame: the queue owns it afterwards
      if (!reader->read(m)) break;
      const double pos_ms = static_cast<double>(idx) * 1000.0 / fps;
      const std::int64_t ts = stream ? now_ms() : t0 + static_cast<std::int64_t>(std::llround(pos_ms));
      if (!stream && cfg_.realtime) {
        const auto wait = steady0 + static_cast<std::int64_t>(pos_ms) - steady_ms();
        if (wait > 0 && !sleep_for(static_cast<int>(wait))) break;
      }
      const double tsd = stream ? static_cast<double>(steady_ms()) : pos_ms;
      ++idx;
      if (step > 0) {  // decimate by time: keep a frame each `step` ms
        if (tsd + 1e-6 < next_ts) continue;
        next_ts = next_ts < -1e17 ? tsd + step : next_ts + step;
        if (next_ts <= tsd) next_ts = tsd + step;
      }
      delivered_->inc();
      push(Frame{std::move(m), ts, idx - 1});
    }
    if (stop_) break;
    if (!stream) {
      if (cfg_.loop_file) continue;
      online_ = false;
      online_gauge_->set(0);
      report("ended", "end of file", 0);
      break;
    }
    // A stream that stops delivering frames has dropped: go offline and reconnect.
    online_ = false;
    online_gauge_->set(0);
    offline_since = steady_ms();
    report("offline", "stream stopped delivering frames", 0);
    reported_offline = true;
    reconnects_->inc();
    if (!sleep_for(backoff)) break;
  }
  online_ = false;
  {
    std::lock_guard lk(mu_);
    finished_ = true;
  }
  cv_.notify_all();
}

}  // namespace tw::video
