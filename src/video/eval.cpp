#include "tw/video/eval.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "tw/core/cli.hpp"
#include "tw/core/paths.hpp"
#include "tw/video/source.hpp"

namespace fs = std::filesystem;

namespace tw::video {
namespace {

Result<int> ini_width(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("seqinfo", 0) != 0 || e.path().extension() != ".ini") continue;
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("imWidth=", 0) == 0) {
        try {
          return std::stoi(line.substr(8));
        } catch (const std::exception&) {
          return make_error("bad_data", fmt::format("{}: imWidth '{}' is not a number", e.path().string(), line));
        }
      }
    }
  }
  return make_error("not_found", fmt::format("{}: no seqinfo*.ini with imWidth", dir.string()));
}

bool is_image(const std::string& p) {
  std::string ext = fs::path(p).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

double rect_iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  const double u = a.area() + b.area() - inter;
  return u > 0 ? inter / u : 0.0;
}

// Plays back recorded detections (tuning aid): frame index set before each feed().
class ReplayDetector final : public Detector {
 public:
  ReplayDetector(std::vector<std::vector<Detection>> frames, std::vector<std::string> names)
      : frames_(std::move(frames)), names_(std::move(names)) {}
  std::vector<Detection> detect(const cv::Mat&) override {
    return frame_ < frames_.size() ? frames_[frame_] : std::vector<Detection>{};
  }
  std::string name() const override { return "replay"; }
  const std::vector<std::string>& class_names() const override { return names_; }
  void set_frame(size_t i) { frame_ = i; }

 private:
  std::vector<std::vector<Detection>> frames_;
  std::vector<std::string> names_;
  size_t frame_ = 0;
};

// Records what the wrapped detector finds (tuning aid).
class RecordingDetector final : public Detector {
 public:
  explicit RecordingDetector(std::unique_ptr<Detector> inner) : inner_(std::move(inner)) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    auto d = inner_->detect(bgr);
    if (frame_ >= frames.size()) frames.resize(frame_ + 1);
    frames[frame_] = d;
    return d;
  }
  std::string name() const override { return inner_->name(); }
  const std::vector<std::string>& class_names() const override { return inner_->class_names(); }
  void set_frame(size_t i) { frame_ = i; }
  std::vector<std::vector<Detection>> frames;

 private:
  std::unique_ptr<Detector> inner_;
  size_t frame_ = 0;
};

}  // namespace

Result<CountEval> evaluate_counting(const CountEvalOptions& opt) {
  const fs::path dir(opt.dir);
  std::ifstream in(dir / "line_crossings.json");
  if (!in) return make_error("not_found", fmt::format("{}: cannot open line_crossings.json", dir.string()));
  nlohmann::json lc;
  try {
    in >> lc;
  } catch (const nlohmann::json::exception& e) {
    return make_error("bad_data", fmt::format("{}/line_crossings.json: {}", dir.string(), e.what()));
  }
  if (!lc.contains("video") || !lc["video"].is_string() || !lc.contains("lines") || !lc["lines"].is_object())
    return make_error("bad_data", fmt::format("{}/line_crossings.json: needs \"video\" and \"lines\"", dir.string()));
  const std::string video = (dir / lc["video"].get<std::string>()).string();
  AnalyzerConfig cfg = opt.analyzer;
  cfg.camera = dir.filename().string();
  cfg.classes = {lc.value("class", std::string("person"))};
  cfg.lines.clear();
  cfg.interval_s = 1e9;
  CountEval ev;
  for (const auto& [k, v] : lc["lines"].items()) {
    auto l = parse_line(k);
    if (!l) return make_error("bad_data", "line_crossings.json: " + l.error().message);
    cfg.lines.push_back(*l);
    LineEval le;
    le.line = k;
    le.truth.pos = v.value("pos", 0);
    le.truth.neg = v.value("neg", 0);
    ev.lines.push_back(le);
  }
  auto w = ini_width(dir);
  if (!w) return w.error();
  double fps = 25, scale = 1;
  {
    auto probe = open_video(video);
    if (!probe) return probe.error();
    fps = (*probe)->info().fps > 0 ? (*probe)->info().fps : 25.0;
    scale = static_cast<double>((*probe)->info().width) / *w;
  }
  auto gt = load_mot((dir / "gt" / "gt.txt").string(), scale, true);
  if (!gt) return gt.error();
  std::shared_ptr<ReplayDetector> replay;
  std::shared_ptr<RecordingDetector> recorder;
  std::shared_ptr<Detector> shared;
  if (!opt.detections_cache.empty()) {
    std::ifstream cin(opt.detections_cache);
    DetectorConfig dc = cfg.detector;
    dc.classes = cfg.classes;
    auto real = make_detector(dc);
    if (!real) return real.error();
    if (cin) {
      std::vector<std::vector<Detection>> frames;
      std::string line;
      while (std::getline(cin, line)) {
        std::vector<Detection> v;
        try {
          for (const auto& d : nlohmann::json::parse(line))
            v.push_back(Detection{d.at(0).get<float>(), d.at(1).get<float>(), d.at(2).get<float>(),
                                  d.at(3).get<float>(), d.at(4).get<float>(), d.at(5).get<int>(),
                                  d.at(6).get<std::string>()});
        } catch (const nlohmann::json::exception& e) {
          return make_error("bad_data", fmt::format("{}:{}: {}", opt.detections_cache, frames.size() + 1, e.what()));
        }
        frames.push_back(std::move(v));
      }
      replay = std::make_shared<ReplayDetector>(std::move(frames), (*real)->class_names());
      shared = replay;
    } else {
      recorder = std::make_shared<RecordingDetector>(std::move(*real));
      cfg.motion.enabled = false;
      shared = recorder;
    }
  }
  auto an = CameraAnalyzer::create(cfg, shared);
  if (!an) return an.error();
  auto& a = **an;
  double next_ms = 0;
  std::vector<MotBox> hyp;
  std::vector<MotBox> prev;
  const auto t0 = std::chrono::steady_clock::now();
  auto n = for_each_frame(video, [&](const cv::Mat& f, std::int64_t i) {
    if (opt.max_frames > 0 && i >= opt.max_frames) return false;
    const int frame = static_cast<int>(i + 1);
    const double t_ms = static_cast<double>(i) * 1000.0 / fps;
    bool analysed = true;
    if (opt.analysis_fps > 0 && !recorder) {
      analysed = t_ms + 1e-6 >= next_ms;
      if (analysed) next_ms += 1000.0 / opt.analysis_fps;
    }
    if (replay) replay->set_frame(static_cast<size_t>(i));
    if (recorder) recorder->set_frame(static_cast<size_t>(i));
    if (analysed) (void)a.feed(f, static_cast<std::int64_t>(t_ms));
    if (analysed && a.last_frame().detected) {
      prev.clear();
      for (const auto& t : a.last_frame().tracks)
        prev.push_back(MotBox{frame, t.id, t.box.x0, t.box.y0, t.box.width(), t.box.height()});
    }
    for (auto b : prev) {  // frames the motion gate skipped keep the last boxes
      b.frame = frame;
      hyp.push_back(b);
    }
    return true;
  });
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!n) return n.error();
  if (recorder) {
    std::ofstream out(opt.detections_cache);
    for (const auto& fr : recorder->frames) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& d : fr) j.push_back({d.x0, d.y0, d.x1, d.y1, d.score, d.class_id, d.label});
      out << j.dump() << '\n';
    }
    if (!out) return make_error("io", fmt::format("{}: cannot write detections", opt.detections_cache));
  }
  ev.frames = opt.max_frames > 0 ? std::min<std::int64_t>(*n, opt.max_frames) : *n;
  std::vector<MotBox> gt_used;
  for (const auto& b : *gt)
    if (b.frame <= ev.frames) gt_used.push_back(b);
  if (opt.max_frames > 0) {
    auto truth = count_crossings(gt_used, cfg.lines);
    for (size_t i = 0; i < ev.lines.size(); ++i) ev.lines[i].truth = truth[i];
  }
  const auto& tot = a.totals();
  for (size_t i = 0; i < ev.lines.size(); ++i) {
    auto it = tot.lines[i].find(cfg.classes[0]);
    if (it != tot.lines[i].end()) ev.lines[i].measured = it->second;
    ev.abs_error += std::abs(ev.lines[i].measured.pos - ev.lines[i].truth.pos) +
                    std::abs(ev.lines[i].measured.neg - ev.lines[i].truth.neg);
    ev.true_total += ev.lines[i].truth.pos + ev.lines[i].truth.neg;
  }
  ev.error_fraction = ev.true_total > 0 ? static_cast<double>(ev.abs_error) / static_cast<double>(ev.true_total) : 0;
  ev.mot = evaluate_mot(gt_used, hyp, 0.5);
  ev.stats = a.stats();
  return ev;
}

Result<std::vector<RedactEvalItem>> evaluate_redaction(const std::vector<std::string>& inputs,
                                                       const RedactConfig& config, const std::string& haar_cascade,
                                                       std::int64_t max_frames) {
  const std::string cascade_path =
      haar_cascade.empty() ? "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml" : haar_cascade;
  cv::CascadeClassifier haar, eyes;
  const std::string eye_path = fs::path(cascade_path).parent_path() / "haarcascade_eye.xml";
  if (!eyes.load(eye_path))
    return make_error("model_not_found", fmt::format("{}: cannot load the Haar eye cascade", eye_path));
  if (!haar.load(cascade_path))
    return make_error("model_not_found",
                      fmt::format("{}: cannot load the Haar cascade (apt-get install opencv-data)", cascade_path));
  auto red = Redactor::create(config);
  if (!red) return red.error();
  RedactConfig check_cfg = config;  // an independent YuNet instance at the same (low) threshold
  auto check = Redactor::create(check_cfg);
  if (!check) return check.error();
  DetectorConfig dc;
  dc.classes = {"person"};
  dc.score_threshold = 0.25f;
  auto det = make_detector(dc);
  if (!det) return det.error();

  auto grey = [](const cv::Mat& bgr) {
    cv::Mat g;
    cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(g, g);
    return g;
  };
  auto haar_faces = [&](const cv::Mat& g) {
    std::vector<cv::Rect> r;
    haar.detectMultiScale(g, r, 1.1, 5, 0, cv::Size(20, 20));
    return r;
  };
  // Haar's frontal-face cascade also fires on clothing and textures; a face with an eye found inside its upper
  // part by the independent eye cascade is a confirmed face.
  auto has_eye = [&](const cv::Mat& g, const cv::Rect& f) {
    cv::Rect upper(f.x, f.y, f.width, std::max(1, f.height * 6 / 10));
    upper &= cv::Rect(0, 0, g.cols, g.rows);
    if (upper.width < 2 || upper.height < 2) return false;
    // The eye cascade's window is 20x20: bring the face to 120 px wide first.
    cv::Mat roi;
    const double s = 120.0 / upper.width;
    cv::resize(g(upper), roi, cv::Size(), s, s, cv::INTER_LINEAR);
    std::vector<cv::Rect> e;
    eyes.detectMultiScale(roi, e, 1.1, 3, 0, cv::Size(15, 15), cv::Size(60, 60));
    return !e.empty();
  };
  std::vector<RedactEvalItem> out;
  for (const auto& path : inputs) {
    RedactEvalItem item;
    item.name = fs::path(path).filename().string();
    auto one = [&](const cv::Mat& frame) {
      ++item.frames;
      const cv::Mat gin = grey(frame);
      auto hin = haar_faces(gin);
      item.haar_in += static_cast<std::int64_t>(hin.size());
      item.yunet_in += static_cast<std::int64_t>(check->find_faces(frame).size());
      cv::Mat red_frame = redacted_snapshot(frame, *red, det->get());
      auto hout = haar_faces(grey(red_frame));
      item.haar_out += static_cast<std::int64_t>(hout.size());
      for (const auto& a : hin) {
        const bool confirmed = has_eye(gin, a);
        if (confirmed) ++item.haar_in_eyes;
        for (const auto& b : hout)
          if (rect_iou(a, b) >= 0.3) {
            ++item.haar_surviving;
            if (confirmed) ++item.haar_surviving_eyes;
            break;
          }
      }
      item.yunet_out += static_cast<std::int64_t>(check->find_faces(red_frame).size());
    };
    if (is_image(path)) {
      cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
      if (img.empty()) return make_error("bad_image", fmt::format("{}: not a readable image", path));
      one(img);
    } else {
      auto n = for_each_frame(path, [&](const cv::Mat& f, std::int64_t i) {
        if (max_frames > 0 && i >= max_frames) return false;
        one(f);
        return true;
      });
      if (!n) return n.error();
    }
    out.push_back(item);
  }
  return out;
}

void add_eval_cli(CLI::App& app, cli::Context& ctx) {
  auto* ev = app.add_subcommand("video-eval", "Evaluate counting, tracking and redaction on recorded data");
  ev->require_subcommand(1);

  struct CountArgs {
    std::string dir;
    bool json = false, no_gate = false;
    std::int64_t max_frames = 0;
    int threads = 0;
    double fps = 0;
    std::string cache, input_size;
    float score = -1, nms = -1;
    float hyst = -1;
    int min_hits = -1, max_lost = -1, track_min_hits = -1;
    float high = -1, newt = -1, iou1 = -1;
  };
  auto ca = std::make_shared<CountArgs>();
  auto* counts = ev->add_subcommand("counts", "Line counts, MOTA and IDF1 against MOT ground truth (PETS09 default)");
  counts->add_option("--dir", ca->dir, "Folder with line_crossings.json, gt/gt.txt, seqinfo*.ini");
  counts->add_option("--max-frames", ca->max_frames, "Only the first N frames (truth recomputed from gt)");
  counts->add_option("--threads", ca->threads, "OpenCV threads");
  counts->add_flag("--no-motion-gate", ca->no_gate, "Run the detector on every frame");
  counts->add_option("--fps", ca->fps, "Analyse at most this many frames per second");
  counts->add_option("--detections-cache", ca->cache, "Tuning aid: replay/record detections (JSON lines)");
  counts->add_option("--input-size", ca->input_size, "Detector input WxH (multiples of 32)");
  counts->add_option("--score", ca->score, "Detector score threshold");
  counts->add_option("--nms", ca->nms, "Detector NMS IoU threshold");
  counts->add_option("--hysteresis", ca->hyst, "Line hysteresis in pixels");
  counts->add_option("--min-track-hits", ca->min_hits, "Counter: minimum matched detections of a track");
  counts->add_option("--max-lost", ca->max_lost, "Tracker: frames a lost track is kept");
  counts->add_option("--confirm-hits", ca->track_min_hits, "Tracker: hits to confirm a track");
  counts->add_option("--high", ca->high, "Tracker: high score threshold");
  counts->add_option("--new-track", ca->newt, "Tracker: new track threshold");
  counts->add_option("--iou-first", ca->iou1, "Tracker: first-stage minimum IoU");
  counts->add_flag("--json", ca->json, "JSON on stdout");
  counts->callback([ca, &ctx] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    if (ca->threads > 0) cv::setNumThreads(ca->threads);
    CountEvalOptions o;
    o.dir = ca->dir.empty() ? (data_dir() / "video" / "pets09_s2l1").string() : ca->dir;
    o.max_frames = ca->max_frames;
    o.analyzer.motion.enabled = !ca->no_gate;
    o.analysis_fps = ca->fps;
    o.detections_cache = ca->cache;
    if (!ca->input_size.empty()) {
      int w = 0, h = 0;
      if (std::sscanf(ca->input_size.c_str(), "%dx%d", &w, &h) != 2) {
        ctx.exit_code = cli::fail(cli::kUsageError, "--input-size: expected WxH, e.g. 416x320");
        return;
      }
      o.analyzer.detector.input_width = w;
      o.analyzer.detector.input_height = h;
    }
    if (ca->score >= 0) o.analyzer.detector.score_threshold = ca->score;
    if (ca->nms >= 0) o.analyzer.detector.nms_threshold = ca->nms;
    if (ca->hyst >= 0) o.analyzer.counter.hysteresis_px = ca->hyst;
    if (ca->min_hits >= 0) o.analyzer.counter.min_track_hits = ca->min_hits;
    if (ca->max_lost >= 0) o.analyzer.tracker.max_lost_frames = ca->max_lost;
    if (ca->track_min_hits >= 0) o.analyzer.tracker.min_hits = ca->track_min_hits;
    if (ca->high >= 0) o.analyzer.tracker.high_threshold = ca->high;
    if (ca->newt >= 0) o.analyzer.tracker.new_track_threshold = ca->newt;
    if (ca->iou1 >= 0) o.analyzer.tracker.match_iou_first = ca->iou1;
    auto r = evaluate_counting(o);
    if (!r) {
      ctx.exit_code = cli::fail(cli::kRuntimeError, r.error().message);
      return;
    }
    nlohmann::json j;
    j["dir"] = o.dir;
    j["frames"] = r->frames;
    j["seconds"] = r->seconds;
    j["fps"] = r->seconds > 0 ? static_cast<double>(r->frames) / r->seconds : 0;
    j["detector_calls"] = r->stats.detector_calls;
    j["gated_frames"] = r->stats.skipped;
    j["lines"] = nlohmann::json::array();
    for (const auto& l : r->lines)
      j["lines"].push_back({{"line", l.line},
                            {"truth", {{"pos", l.truth.pos}, {"neg", l.truth.neg}}},
                            {"measured", {{"pos", l.measured.pos}, {"neg", l.measured.neg}}}});
    j["abs_error"] = r->abs_error;
    j["true_crossings"] = r->true_total;
    j["error_pct"] = 100.0 * r->error_fraction;
    const auto& m = r->mot;
    j["mot"] = {{"mota", m.mota}, {"idf1", m.idf1}, {"idp", m.idp}, {"idr", m.idr}, {"motp_iou", m.motp_iou},
                {"gt", m.gt}, {"fp", m.fp}, {"fn", m.fn}, {"idsw", m.idsw}, {"gt_ids", m.gt_ids},
                {"hyp_ids", m.hyp_ids}};
    if (ca->json) {
      fmt::print("{}\n", j.dump());
    } else {
      fmt::print("{}: {} frames in {:.1f} s ({:.1f} frames/s), {} detector calls, {} gated\n", o.dir, r->frames,
                 r->seconds, j["fps"].get<double>(), r->stats.detector_calls, r->stats.skipped);
      for (const auto& l : r->lines)
        fmt::print("  {:>16}  pos {:>3} (truth {:>3})  neg {:>3} (truth {:>3})\n", l.line, l.measured.pos,
                   l.truth.pos, l.measured.neg, l.truth.neg);
      fmt::print("  count error {} of {} true crossings = {:.1f}%\n", r->abs_error, r->true_total,
                 100.0 * r->error_fraction);
      fmt::print("  MOTA {:.3f}  IDF1 {:.3f}  (FP {} FN {} IDSW {}, {} gt ids, {} track ids)\n", m.mota, m.idf1, m.fp,
                 m.fn, m.idsw, m.gt_ids, m.hyp_ids);
    }
  });

  struct RedArgs {
    std::vector<std::string> inputs;
    std::string cascade;
    bool json = false;
    std::int64_t max_frames = 0;
  };
  auto ra = std::make_shared<RedArgs>();
  auto* red = ev->add_subcommand("redaction", "Redact, then look for faces again with Haar and YuNet");
  red->add_option("--input", ra->inputs, "Videos or images (default: tud_campus and the two group photos)");
  red->add_option("--cascade", ra->cascade, "Haar cascade XML (default: Debian opencv-data frontal face)");
  red->add_option("--max-frames", ra->max_frames, "Frames per video (0 = all)");
  red->add_flag("--json", ra->json, "JSON on stdout");
  red->callback([ra, &ctx] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    std::vector<std::string> inputs = ra->inputs;
    if (inputs.empty()) {
      const auto v = data_dir() / "video";
      inputs = {(v / "tud_campus" / "TUD-Campus.mp4").string(), (v / "faces_libfacedetection" / "test2.jpg").string(),
                (v / "faces_libfacedetection" / "test_ios.jpg").string()};
    }
    auto r = evaluate_redaction(inputs, RedactConfig{}, ra->cascade, ra->max_frames);
    if (!r) {
      ctx.exit_code = cli::fail(cli::kRuntimeError, r.error().message);
      return;
    }
    nlohmann::json j = nlohmann::json::array();
    bool pass = true;
    for (const auto& it : *r) {
      j.push_back({{"input", it.name}, {"frames", it.frames}, {"haar_in", it.haar_in},
                   {"haar_surviving", it.haar_surviving}, {"haar_in_eyes", it.haar_in_eyes},
                   {"haar_surviving_eyes", it.haar_surviving_eyes}, {"haar_out", it.haar_out},
                   {"yunet_in", it.yunet_in}, {"yunet_out", it.yunet_out}});
      pass = pass && it.haar_surviving_eyes == 0 && it.yunet_out == 0;
    }
    if (ra->json) {
      fmt::print("{}\n", nlohmann::json{{"items", j}, {"pass", pass}}.dump());
    } else {
      for (const auto& it : *r)
        fmt::print("{}: {} frames; Haar faces in {} -> surviving {} (with an eye: {} -> {}; any in output {}); "
                   "YuNet faces in {} -> out {}\n",
                   it.name, it.frames, it.haar_in, it.haar_surviving, it.haar_in_eyes, it.haar_surviving_eyes,
                   it.haar_out, it.yunet_in, it.yunet_out);
      fmt::print("{}\n", pass ? "PASS: no face found again after redaction" : "FAIL: faces found after redaction");
    }
    if (!pass) ctx.exit_code = cli::kRuntimeError;
  });
}

}  // namespace tw::video
