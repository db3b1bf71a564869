// `towerwatch count`, `towerwatch redact` and `towerwatch video-eval`.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "tw/core/cli.hpp"
#include "tw/core/paths.hpp"
#include "tw/video/analyzer.hpp"
#include "tw/video/eval.hpp"
#include "tw/video/redact.hpp"
#include "tw/video/source.hpp"

namespace tw::video {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string t = s.substr(i, j - i);
    t.erase(0, t.find_first_not_of(" \t"));
    t.erase(t.find_last_not_of(" \t") + 1);
    if (!t.empty()) out.push_back(t);
    i = j + 1;
  }
  return out;
}

void quiet_opencv() { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR); }

struct CountOpts {
  std::string video;
  std::vector<std::string> lines;
  std::vector<std::string> zones;
  std::string classes;
  std::string model;
  bool json = false;
  bool no_gate = false;
  double fps = 0;
  int threads = 0;
};

int run_count(const CountOpts& o) {
  quiet_opencv();
  if (o.threads > 0) cv::setNumThreads(o.threads);
  AnalyzerConfig cfg;
  cfg.camera = "cli";
  cfg.interval_s = 1e9;
  if (!o.classes.empty()) cfg.classes = split_list(o.classes);
  if (cfg.classes.empty()) return cli::fail(cli::kUsageError, "--classes: empty list");
  for (const auto& l : o.lines) {
    auto p = parse_line(l);
    if (!p) return cli::fail(cli::kUsageError, "--line " + p.error().message);
    cfg.lines.push_back(*p);
  }
  for (const auto& z : o.zones) {
    auto p = parse_zone(z);
    if (!p) return cli::fail(cli::kUsageError, "--zone " + p.error().message);
    cfg.zones.push_back(*p);
  }
  if (cfg.lines.empty() && cfg.zones.empty())
    return cli::fail(cli::kUsageError, "give at least one --line or --zone");
  if (!o.model.empty()) cfg.detector.model = o.model;
  cfg.motion.enabled = !o.no_gate;
  auto an = CameraAnalyzer::create(cfg);
  if (!an) return cli::fail(an.error().code == "bad_config" ? cli::kUsageError : cli::kRuntimeError,
                            an.error().message);
  auto& a = **an;
  double native_fps = 25.0;
  {
    auto probe = open_video(o.video);
    if (!probe) return cli::fail(cli::kRuntimeError, probe.error().message);
    if ((*probe)->info().fps > 0) native_fps = (*probe)->info().fps;
  }  // closed here; for_each_frame reopens
  double next_ms = 0;
  auto n = for_each_frame(o.video, [&](const cv::Mat& f, std::int64_t i) {
    const double t = static_cast<double>(i) * 1000.0 / native_fps;
    if (o.fps > 0) {
      if (t + 1e-6 < next_ms) return true;
      next_ms += 1000.0 / o.fps;
    }
    (void)a.feed(f, static_cast<std::int64_t>(t));
    return true;
  });
  if (!n) return cli::fail(cli::kRuntimeError, n.error().message);

  const auto& tot = a.totals();
  nlohmann::json j;
  j["frames"] = *n;
  j["lines"] = nlohmann::json::array();
  const auto& classes = a.config().classes;  // canonical COCO names ("motorbike" -> "motorcycle")
  for (size_t i = 0; i < cfg.lines.size(); ++i) {
    nlohmann::json c = nlohmann::json::object();
    for (const auto& cls : classes) {
      auto it = tot.lines[i].find(cls);
      c[cls] = {{"pos", it == tot.lines[i].end() ? 0 : it->second.pos},
                {"neg", it == tot.lines[i].end() ? 0 : it->second.neg}};
    }
    j["lines"].push_back({{"line", o.lines[i]}, {"counts", c}});
  }
  j["zones"] = nlohmann::json::array();
  for (size_t i = 0; i < cfg.zones.size(); ++i) {
    nlohmann::json c = nlohmann::json::object();
    for (const auto& cls : classes) {
      auto it = tot.zones[i].find(cls);
      const bool has = it != tot.zones[i].end();
      c[cls] = {{"occupancy", has ? it->second.occupancy : 0},
                {"entries", has ? it->second.entries : 0},
                {"exits", has ? it->second.exits : 0}};
    }
    j["zones"].push_back({{"zone", o.zones[i]}, {"counts", c}});
  }
  if (o.json) {
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{}: {} frames, {} detector calls ({} skipped by the motion gate)\n", o.video, *n,
               a.stats().detector_calls, a.stats().skipped);
    for (const auto& l : j["lines"]) {
      fmt::print("line {}:", l["line"].get<std::string>());
      for (const auto& [cls, v] : l["counts"].items())
        fmt::print(" {} +{} -{}", cls, v["pos"].get<std::int64_t>(), v["neg"].get<std::int64_t>());
      fmt::print("\n");
    }
    for (const auto& z : j["zones"]) {
      fmt::print("zone {}:", z["zone"].get<std::string>());
      for (const auto& [cls, v] : z["counts"].items())
        fmt::print(" {} in {} out {} now {}", cls, v["entries"].get<std::int64_t>(), v["exits"].get<std::int64_t>(),
                   v["occupancy"].get<std::int64_t>());
      fmt::print("\n");
    }
  }
  return cli::kOk;
}

struct RedactOpts {
  std::string input, output, method = "blur", model;
  bool json = false;
  bool no_heads = false;
};

bool is_image_path(const std::string& p) {
  std::string ext = std::filesystem::path(p).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::set<std::string> k{".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"};
  return k.count(ext) > 0;
}

int run_redact(const RedactOpts& o) {
  quiet_opencv();
  RedactConfig rc;
  auto m = parse_redact_method(o.method);
  if (!m) return cli::fail(cli::kUsageError, "--method: " + m.error().message);
  rc.method = *m;
  rc.person_heads = !o.no_heads;
  auto red = Redactor::create(rc);
  if (!red) return cli::fail(cli::kRuntimeError, red.error().message);
  std::unique_ptr<Detector> det;
  if (rc.person_heads) {
    DetectorConfig dc;
    dc.classes = {"person"};
    dc.score_threshold = 0.25f;
    if (!o.model.empty()) dc.model = o.model;
    auto d = make_detector(dc);
    if (!d) return cli::fail(cli::kRuntimeError, d.error().message);
    det = std::move(*d);
  }
  std::int64_t frames = 0, faces = 0, heads = 0, frames_with_faces = 0, max_faces = 0;
  auto do_frame = [&](cv::Mat& f) {
    RedactStats st = det ? red->redact(f, *det) : red->redact(f);
    ++frames;
    faces += st.faces;
    heads += st.heads;
    if (st.faces > 0) ++frames_with_faces;
    max_faces = std::max<std::int64_t>(max_faces, st.faces);
  };
  if (o.input == o.output) return cli::fail(cli::kUsageError, "--output must differ from --input");
  if (is_image_path(o.input)) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(o.input, ec))
      return cli::fail(cli::kRuntimeError, o.input + ": no such file");
    cv::Mat img = cv::imread(o.input, cv::IMREAD_COLOR);
    if (img.empty()) return cli::fail(cli::kRuntimeError, o.input + ": not a readable image (corrupt or unsupported)");
    do_frame(img);
    bool ok = false;
    try {
      ok = cv::imwrite(o.output, img);
    } catch (const cv::Exception& e) {
      return cli::fail(cli::kRuntimeError, fmt::format("{}: cannot write image: {}", o.output, e.err));
    }
    if (!ok) return cli::fail(cli::kRuntimeError, o.output + ": cannot write image");
  } else {
    VideoInfo info;
    {
      auto probe = open_video(o.input);
      if (!probe) return cli::fail(cli::kRuntimeError, probe.error().message);
      info = (*probe)->info();
    }
    std::string ext = std::filesystem::path(o.output).extension().string();
    const int fourcc = ext == ".avi" ? cv::VideoWriter::fourcc('M', 'J', 'P', 'G') : cv::VideoWriter::fourcc('m', 'p', '4', 'v');
    cv::VideoWriter writer;
    try {
      writer.open(o.output, cv::CAP_FFMPEG, fourcc, info.fps > 0 ? info.fps : 25.0, cv::Size(info.width, info.height));
    } catch (const cv::Exception&) {
    }
    if (!writer.isOpened())
      return cli::fail(cli::kRuntimeError, o.output + ": cannot create the output video (use .mp4 or .avi)");
    auto n = for_each_frame(o.input, [&](const cv::Mat& f, std::int64_t) {
      cv::Mat copy = f.clone();
      do_frame(copy);
      writer.write(copy);
      return true;
    });
    writer.release();
    if (!n) {
      std::error_code ec;
      std::filesystem::remove(o.output, ec);  // never leave a partly redacted file behind
      return cli::fail(cli::kRuntimeError, n.error().message);
    }
  }
  if (o.json) {
    nlohmann::json j{{"input", o.input},   {"output", o.output},     {"frames", frames},
                     {"faces", faces},     {"heads", heads},         {"frames_with_faces", frames_with_faces},
                     {"max_faces_per_frame", max_faces}, {"method", o.method}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{} -> {}: {} frames, {} faces and {} head regions redacted ({})\n", o.input, o.output, frames, faces,
               heads, o.method);
  }
  return cli::kOk;
}

}  // namespace

void add_cli(CLI::App& app, cli::Context& ctx) {
  auto co = std::make_shared<CountOpts>();
  auto* count = app.add_subcommand("count", "Count people and vehicles crossing lines and in zones of a video");
  count->add_option("--video", co->video, "Video file or stream URL")->required();
  count->add_option("--line", co->lines, "Directed line x1,y1,x2,y2 (repeatable)");
  count->add_option("--zone", co->zones, "Polygon zone x,y,x,y,x,y,... (repeatable)");
  count->add_option("--classes", co->classes, "Comma-separated classes (default person,bicycle,car,motorcycle,bus,truck)");
  count->add_option("--model", co->model, "ONNX detector (default: <models>/yolox_nano_416_coco80.onnx)");
  count->add_option("--fps", co->fps, "Analyse at most this many frames per second (default: every frame)");
  count->add_option("--threads", co->threads, "OpenCV threads (default: OpenCV's choice)");
  count->add_flag("--no-motion-gate", co->no_gate, "Run the detector on every analysed frame");
  count->add_flag("--json", co->json, "Machine-readable output on stdout");
  count->callback([co, &ctx] { ctx.exit_code = run_count(*co); });

  auto ro = std::make_shared<RedactOpts>();
  auto* redact = app.add_subcommand("redact", "Blur faces and person heads in a video or image");
  redact->add_option("--input", ro->input, "Input video or image")->required();
  redact->add_option("--output", ro->output, "Output video (.mp4/.avi) or image")->required();
  redact->add_option("--method", ro->method, "blur | pixelate");
  redact->add_option("--model", ro->model, "ONNX person detector for head regions");
  redact->add_flag("--no-heads", ro->no_heads, "Faces only (no person head regions)");
  redact->add_flag("--json", ro->json, "Machine-readable summary on stdout");
  redact->callback([ro, &ctx] { ctx.exit_code = run_redact(*ro); });

  add_eval_cli(app, ctx);
}

}  // namespace tw::video
