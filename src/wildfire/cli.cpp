// towerwatch smoke scan | watch | composite
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "tw/core/cli.hpp"
#include "tw/core/paths.hpp"
#include "tw/wildfire/composite.hpp"
#include "tw/wildfire/watcher.hpp"

namespace fs = std::filesystem;

namespace tw::wildfire {
namespace {

struct ModelOpts {
  std::string head, yolo, yolo_names, yolo_class, yolo_layout = "auto";
  float box_threshold = 0.35f;
  int threads = 0;
};

void add_model_options(CLI::App* c, ModelOpts& o) {
  c->add_option("--head", o.head, "smoke head ONNX (default: tools/smoke/smoke_head.onnx)");
  c->add_option("--yolo", o.yolo, "use this YOLO-family smoke ONNX instead of the shipped head");
  c->add_option("--yolo-names", o.yolo_names, "class names file of --yolo, one per line");
  c->add_option("--yolo-class", o.yolo_class, "keep only this class of --yolo (e.g. smoke)");
  c->add_option("--yolo-layout", o.yolo_layout, "auto | yolox | yolov5 | yolov8");
  c->add_option("--box-threshold", o.box_threshold, "heat-map level that outlines boxes (head)");
  c->add_option("--threads", o.threads, "OpenCV threads (0 = default)");
}

Result<std::unique_ptr<SmokeModel>> build_model(const ModelOpts& o) {
  SmokeModelConfig mc;
  mc.head = o.head;
  mc.box_threshold = o.box_threshold;
  mc.threads = o.threads;
  if (!o.yolo.empty()) {
    mc.backend = "yolo";
    mc.yolo_model = o.yolo;
    mc.yolo_names = o.yolo_names;
    mc.yolo_class = o.yolo_class;
    mc.yolo_layout = o.yolo_layout;
  }
  return make_smoke_model(mc);
}

bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".bmp" || e == ".tif" || e == ".tiff" || e == ".webp";
}

std::vector<fs::path> list_images(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && is_image(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json box_json(const SmokeBox& b) {
  return {{"x0", b.x0}, {"y0", b.y0}, {"x1", b.x1}, {"y1", b.y1}, {"score", b.score}};
}

int run_scan(const std::string& dir, const ModelOpts& mo, bool /*json*/) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return cli::fail(cli::kUsageError, dir + ": not a directory");
  auto model = build_model(mo);
  if (!model) return cli::fail(cli::kUsageError, model.error().message);
  nlohmann::json images = nlohmann::json::array(), errors = nlohmann::json::array();
  for (const auto& p : list_images(dir)) {
    cv::Mat img = cv::imread(p.string(), cv::IMREAD_COLOR);
    if (img.empty()) {
      fmt::print(stderr, "warning: {}: cannot decode image, skipped\n", p.string());
      errors.push_back({{"file", p.filename().string()}, {"error", "cannot decode image"}});
      continue;
    }
    const SmokeResult r = (*model)->infer(img);
    nlohmann::json boxes = nlohmann::json::array();
    for (const auto& b : r.boxes) boxes.push_back(box_json(b));
    images.push_back({{"file", p.filename().string()}, {"score", r.score}, {"boxes", std::move(boxes)}});
  }
  nlohmann::json out{{"images", std::move(images)}};
  if (!errors.empty()) out["errors"] = std::move(errors);
  std::cout << out.dump() << "\n";
  return cli::kOk;
}

struct WatchOpts {
  std::string video;
  double azimuth = 0, hfov = 60, tilt = 0, lat = 0, lon = 0;
  std::string projection = "rectilinear";
  double fps = 0;  // 0: from the video, 1 frame per 30 s for an image folder
  int window = 8, votes = 4;
  float threshold = kShippedThreshold;
  std::string site = "site", camera = "cam";
};

int run_watch(const WatchOpts& w, const ModelOpts& mo) {
  std::error_code ec;
  const bool folder = fs::is_directory(w.video, ec);
  if (!folder && !fs::is_regular_file(w.video, ec)) return cli::fail(cli::kUsageError, w.video + ": no such file");
  auto proj = parse_projection(w.projection);
  if (!proj) return cli::fail(cli::kUsageError, proj.error().message);
  auto model = build_model(mo);
  if (!model) return cli::fail(cli::kUsageError, model.error().message);
  WatcherConfig wc;
  wc.temporal.window = w.window;
  wc.temporal.votes = w.votes;
  wc.temporal.score_threshold = w.threshold;
  wc.snapshot.enabled = false;  // the CLI reports alerts; snapshots are for the edge outbox
  CameraConfig cam{w.site, w.camera, {}};
  cam.pose.position = {w.lat, w.lon};
  cam.pose.azimuth_deg = w.azimuth;
  cam.pose.hfov_deg = w.hfov;
  cam.pose.tilt_deg = w.tilt;
  cam.pose.projection = *proj;
  auto watcher = SmokeWatcher::create(wc, cam, std::move(*model));
  if (!watcher) return cli::fail(cli::kUsageError, watcher.error().message);

  std::vector<fs::path> files;
  cv::VideoCapture cap;
  double fps = w.fps;
  if (folder) {
    files = list_images(w.video);
    if (fps <= 0) fps = 1.0 / 30.0;
  } else {
    cap.open(w.video);
    if (!cap.isOpened()) return cli::fail(cli::kRuntimeError, w.video + ": cannot open video");
    if (fps <= 0) fps = cap.get(cv::CAP_PROP_FPS);
    if (!(fps > 0)) fps = 1.0;
  }
  nlohmann::json alerts = nlohmann::json::array(), errors = nlohmann::json::array();
  std::int64_t index = 0;
  for (;; ++index) {
    cv::Mat frame;
    std::string name;
    if (folder) {
      if (static_cast<size_t>(index) >= files.size()) break;
      name = files[static_cast<size_t>(index)].filename().string();
      frame = cv::imread(files[static_cast<size_t>(index)].string(), cv::IMREAD_COLOR);
      if (frame.empty()) {
        fmt::print(stderr, "warning: {}: cannot decode image, skipped\n", files[static_cast<size_t>(index)].string());
        errors.push_back({{"frame", index}, {"file", name}, {"error", "cannot decode image"}});
        continue;
      }
    } else if (!cap.read(frame) || frame.empty()) {
      break;
    }
    const auto ts = static_cast<std::int64_t>(static_cast<double>(index) * 1000.0 / fps);
    for (const auto& m : (*watcher)->feed(frame, ts)) {
      nlohmann::json a{{"frame", index},
                       {"ts_ms", ts},
                       {"score", m.payload["score"]},
                       {"box", m.payload["box"]},
                       {"bearing_deg", m.payload["bearing_deg"]},
                       {"bearing_sigma_deg", m.payload["bearing_sigma_deg"]},
                       {"votes", m.payload["votes"]},
                       {"night", m.payload["night"]}};
      if (folder) a["file"] = name;
      alerts.push_back(std::move(a));
    }
  }
  nlohmann::json out{{"video", w.video}, {"frames", index}, {"alerts", std::move(alerts)}};
  if (!errors.empty()) out["errors"] = std::move(errors);
  std::cout << out.dump() << "\n";
  return cli::kOk;
}

struct CompositeOpts {
  std::string background, sprite, out;
  int frames = 40, onset = 10, sprite_step = 3;
  SpriteSpec spec;
};

int run_composite(const CompositeOpts& c) {
  cv::Mat bg = cv::imread(c.background, cv::IMREAD_COLOR);
  if (bg.empty()) return cli::fail(cli::kUsageError, c.background + ": cannot decode image");
  std::string sprite_path = c.sprite;
  if (sprite_path.empty()) sprite_path = (tw::data_dir() / "wildfire/pyronear_synthetic/test_smoke.mp4").string();
  auto sprite = load_sprite(sprite_path);
  if (!sprite) return cli::fail(cli::kUsageError, sprite.error().message);
  if (c.frames < 1 || c.onset < 0 || c.onset > c.frames || c.sprite_step < 1)
    return cli::fail(cli::kUsageError, "--frames >= 1, 0 <= --onset <= --frames and --sprite-step >= 1");
  std::error_code ec;
  fs::create_directories(c.out, ec);
  if (ec) return cli::fail(cli::kUsageError, c.out + ": cannot create: " + ec.message());
  const cv::Size crop = sprite->front().size();
  nlohmann::json frames = nlohmann::json::array();
  for (int i = 0; i < c.frames; ++i) {
    cv::Mat f = bg.clone();
    cv::Rect box;
    if (i >= c.onset) {
      // Start at the first sprite frame with content; the plume grows from there.
      const size_t k = std::min(sprite->size() - 1, static_cast<size_t>(1 + (i - c.onset) * c.sprite_step));
      box = blend_sprite(f, (*sprite)[k], crop, c.spec);
    }
    const std::string name = fmt::format("frame_{:04d}.jpg", i);
    if (!cv::imwrite((fs::path(c.out) / name).string(), f))
      return cli::fail(cli::kRuntimeError, c.out + "/" + name + ": cannot write");
    nlohmann::json fr{{"file", name}, {"smoke", box.area() > 0}};
    if (box.area() > 0) fr["box"] = {{"x0", box.x}, {"y0", box.y}, {"x1", box.x + box.width}, {"y1", box.y + box.height}};
    frames.push_back(std::move(fr));
  }
  std::cout << nlohmann::json{{"background", c.background}, {"onset", c.onset}, {"frames", std::move(frames)}}.dump()
            << "\n";
  return cli::kOk;
}

}  // namespace

void add_cli(CLI::App& app, cli::Context& ctx) {
  auto* smoke = app.add_subcommand("smoke", "Wildfire smoke detection from tower cameras");
  smoke->require_subcommand(1);

  static ModelOpts scan_model;
  static std::string scan_dir;
  static bool scan_json = false;
  auto* scan = smoke->add_subcommand("scan", "Score every image of a folder: image-level smoke score and boxes");
  scan->add_option("--images", scan_dir, "folder of images")->required();
  scan->add_flag("--json", scan_json, "JSON on stdout (the only output format)");
  add_model_options(scan, scan_model);
  scan->callback([&ctx] { ctx.exit_code = run_scan(scan_dir, scan_model, scan_json); });

  static ModelOpts watch_model;
  static WatchOpts wo;
  static bool watch_json = false;
  auto* watch = smoke->add_subcommand("watch", "Run the temporal logic on a video or an image sequence; print alerts");
  watch->add_option("--video", wo.video, "video file, or a folder of frames in name order")->required();
  watch->add_option("--azimuth", wo.azimuth, "camera azimuth of the image centre, degrees from north");
  watch->add_option("--hfov", wo.hfov, "horizontal field of view, degrees");
  watch->add_option("--tilt", wo.tilt, "camera tilt above the horizon, degrees");
  watch->add_option("--projection", wo.projection, "rectilinear | equidistant");
  watch->add_option("--lat", wo.lat, "camera latitude");
  watch->add_option("--lon", wo.lon, "camera longitude");
  watch->add_option("--fps", wo.fps, "frames per second (default: the video's; 1/30 for a folder)");
  watch->add_option("--window", wo.window, "sliding window, frames");
  watch->add_option("--votes", wo.votes, "hits needed in the window");
  watch->add_option("--threshold", wo.threshold, "per-frame score threshold");
  watch->add_flag("--json", watch_json, "JSON on stdout (the only output format)");
  add_model_options(watch, watch_model);
  watch->callback([&ctx] { ctx.exit_code = run_watch(wo, watch_model); });

  static CompositeOpts co;
  auto* comp = smoke->add_subcommand("composite", "Write a synthetic smoke sequence with a known onset frame");
  comp->add_option("--background", co.background, "background image")->required();
  comp->add_option("--sprite", co.sprite, "smoke sprite clip (default: pyronear_synthetic/test_smoke.mp4)");
  comp->add_option("--out", co.out, "output folder")->required();
  comp->add_option("--frames", co.frames, "sequence length");
  comp->add_option("--onset", co.onset, "first frame with smoke");
  comp->add_option("--sprite-step", co.sprite_step, "sprite frames advanced per output frame");
  comp->add_option("--x", co.spec.base_x, "plume base x, fraction of the width");
  comp->add_option("--y", co.spec.base_y, "plume base y, fraction of the height");
  comp->add_option("--height", co.spec.height, "plume height, fraction of the frame height");
  comp->add_option("--opacity", co.spec.opacity, "0..1");
  comp->callback([&ctx] { ctx.exit_code = run_composite(co); });
}

}  // namespace tw::wildfire
