// towerwatch change compare | watch | eval
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tw/change/captures.hpp"
#include "tw/change/compare.hpp"
#include "tw/change/options.hpp"
#include "tw/change/transients.hpp"
#include "tw/change/watcher.hpp"
#include "tw/change/zone.hpp"
#include "tw/core/cli.hpp"
#include "tw/core/paths.hpp"
#include "tw/core/time.hpp"

namespace fs = std::filesystem;

namespace tw::change {

namespace {

struct Common {
  std::vector<std::string> zones;
  std::vector<std::string> options;
  bool json = false;
  bool no_transients = false;
};

nlohmann::json result_json(const CompareResult& r) {
  nlohmann::json regions = nlohmann::json::array();
  for (const auto& g : r.regions) regions.push_back({{"x0", g.x0}, {"y0", g.y0}, {"x1", g.x1}, {"y1", g.y1}});
  return {{"changed", r.changed}, {"score", r.score}, {"changed_fraction", r.changed_fraction}, {"regions", regions}};
}

// Builds options, transient masker and zones shared by the subcommands; returns an exit code or -1 when fine.
int prepare(const Common& c, CompareOptions& opt, TransientMasker& masker, std::vector<Zone>& zones) {
  if (auto st = set_options(opt, c.options); !st) return cli::fail(cli::kUsageError, st.error().message);
  for (size_t i = 0; i < c.zones.size(); ++i) {
    auto z = parse_zone(c.zones[i], fmt::format("zone{}", i + 1));
    if (!z) return cli::fail(cli::kUsageError, "--zone: " + z.error().message);
    zones.push_back(*z);
  }
  if (!c.no_transients) {
    auto m = make_detector_masker();
    if (!m) return cli::fail(cli::kRuntimeError, "transient-object detector: " + m.error().message +
                                                     " (use --no-transients to compare without it)");
    masker = *m;
  }
  return -1;
}

int run_compare(const Common& c, const std::string& ref_path, const std::string& cur_path,
                const std::string& mask_out, const std::string& debug_dir) {
  CompareOptions opt;
  TransientMasker masker;
  std::vector<Zone> zones;
  if (int rc = prepare(c, opt, masker, zones); rc >= 0) return rc;
  auto ref = load_image(ref_path);
  if (!ref) return cli::fail(cli::kRuntimeError, "--reference: " + ref.error().message);
  auto cur = load_image(cur_path);
  if (!cur) return cli::fail(cli::kRuntimeError, "--current: " + cur.error().message);
  cv::Mat zmask;
  if (!zones.empty()) {
    for (const auto& z : zones)
      if (auto st = check_zone(z, ref->size()); !st) return cli::fail(cli::kUsageError, "--zone: " + st.error().message);
    zmask = zones_mask(zones, ref->size());
  }
  auto r = compare(*ref, *cur, opt, zmask, masker);
  if (!r) return cli::fail(cli::kRuntimeError, fmt::format("{} vs {}: {}", ref_path, cur_path, r.error().message));
  if (!mask_out.empty()) {
    bool ok = false;
    try {
      ok = cv::imwrite(mask_out, r->mask);
    } catch (const cv::Exception& e) {
      return cli::fail(cli::kRuntimeError, fmt::format("--mask-out {}: {}", mask_out, e.what()));
    }
    if (!ok) return cli::fail(cli::kRuntimeError, fmt::format("--mask-out {}: cannot write the PNG", mask_out));
  }
  if (!debug_dir.empty()) {
    std::error_code ec;
    fs::create_directories(debug_dir, ec);
    if (!r->distance.empty()) {
      cv::Mat d8;
      r->distance.convertTo(d8, CV_8U, 255.0 / 1.2);
      cv::imwrite((fs::path(debug_dir) / "distance.png").string(), d8);
    }
    if (!r->transients.empty()) cv::imwrite((fs::path(debug_dir) / "transients.png").string(), r->transients);
  }
  auto j = result_json(*r);
  if (c.json) {
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("changed={} score={:.3f} changed_fraction={:.4f} regions={} status={}\n", r->changed, r->score,
               r->changed_fraction, r->regions.size(), to_string(r->status));
  }
  if (r->status != CompareStatus::ok)
    fmt::print(stderr, "note: {} (registration correlation {:.2f}, shift {:.1f},{:.1f} px, visibility {:.4f}/{:.4f})\n",
               to_string(r->status), r->registration.correlation, r->registration.dx, r->registration.dy,
               r->visibility_reference, r->visibility_current);
  return cli::kOk;
}

struct WatchArgs {
  std::string frames;
  std::string camera = "camera";
  std::string crops_dir;
  int persist_days = 3;
  int refresh_days = 7;
};

int run_watch(const Common& c, const WatchArgs& a) {
  CompareOptions opt;
  TransientMasker masker;
  std::vector<Zone> zones;
  if (int rc = prepare(c, opt, masker, zones); rc >= 0) return rc;
  std::error_code ec;
  if (!fs::is_directory(a.frames, ec)) return cli::fail(cli::kUsageError, fmt::format("--frames {}: not a folder", a.frames));
  auto frames = capture_files(a.frames);
  if (frames.empty()) return cli::fail(cli::kUsageError, fmt::format("--frames {}: no images (png, jpg, bmp, tif)", a.frames));
  WatchConfig cfg;
  cfg.camera = a.camera;
  cfg.zones = zones;
  cfg.compare = opt;
  cfg.persist_days = a.persist_days;
  cfg.reference_refresh_days = a.refresh_days;
  Redactor redactor;
  if (!a.crops_dir.empty()) {
    auto r = make_video_redactor();
    if (!r) return cli::fail(cli::kRuntimeError, "--crops-dir needs face redaction: " + r.error().message);
    redactor = *r;
    fs::create_directories(a.crops_dir, ec);
    if (ec) return cli::fail(cli::kRuntimeError, fmt::format("--crops-dir {}: {}", a.crops_dir, ec.message()));
  }
  auto w = ChangeWatcher::create(cfg, masker, redactor);
  if (!w) return cli::fail(cli::kUsageError, w.error().message);
  nlohmann::json alerts = nlohmann::json::array(), statuses = nlohmann::json::array();
  for (size_t i = 0; i < frames.size(); ++i) {
    auto img = load_image(frames[i].string());
    if (!img) return cli::fail(cli::kRuntimeError, img.error().message);
    std::int64_t ts = capture_time(frames[i], i);
    auto msgs = (*w)->feed(*img, ts);
    if (!msgs) return cli::fail(cli::kRuntimeError, fmt::format("{}: {}", frames[i].string(), msgs.error().message));
    for (auto& m : *msgs) {
      if (m.kind == "change") {
        nlohmann::json j = m.payload;
        for (const char* k : {"before_jpeg", "after_jpeg"}) {
          if (!j.contains(k)) continue;
          const std::string what = std::string(k) == "before_jpeg" ? "before" : "after";
          fs::path out = fs::path(a.crops_dir) / fmt::format("alert{}_{}.jpg", alerts.size() + 1, what);
          // The payload carries base64; the file gets the same redacted JPEG bytes.
          std::string b64 = j[k].get<std::string>();
          j.erase(k);
          j[what + "_file"] = out.string();
          std::vector<uchar> bytes;
          unsigned val = 0;
          int bits = -8;
          for (char ch : b64) {
            const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            const char* pos = std::strchr(tbl, ch);
            if (ch == '=' || !pos) break;
            val = (val << 6) | static_cast<unsigned>(pos - tbl);
            bits += 6;
            if (bits >= 0) {
              bytes.push_back(static_cast<uchar>((val >> bits) & 0xFF));
              bits -= 8;
            }
          }
          std::FILE* f = std::fopen(out.string().c_str(), "wb");
          if (!f) return cli::fail(cli::kRuntimeError, fmt::format("{}: cannot write", out.string()));
          std::fwrite(bytes.data(), 1, bytes.size(), f);
          std::fclose(f);
        }
        j["file"] = frames[i].filename().string();
        j["index"] = i;
        j["id"] = m.id;
        alerts.push_back(j);
      } else {
        statuses.push_back({{"file", frames[i].filename().string()}, {"index", i}, {"state", m.payload["state"]}});
      }
    }
  }
  nlohmann::json out{{"frames", frames.size()}, {"alerts", alerts}, {"camera_status", statuses},
                     {"references", (*w)->history().size()}};
  if (c.json) {
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("{} frames, {} alerts\n", frames.size(), alerts.size());
    for (const auto& al : alerts)
      fmt::print("  alert at {}: zone {} area {:.0f} px, first seen {}\n", al["file"].get<std::string>(),
                 al["zone"].get<std::string>(), al["area_px"].get<double>(), al["first_seen"].get<std::string>());
  }
  return cli::kOk;
}

// Runs the detector once per image of a pair (compare() asks for both images, and eval compares both ways).
TransientMasker pair_masker(const TransientMasker& m, const cv::Mat& a, const cv::Mat& b) {
  if (!m) return {};
  cv::Mat ma = m(a), mb = m(b);
  return [a, ma, mb](const cv::Mat& bgr) { return bgr.data == a.data ? ma : mb; };
}

int run_eval(const Common& c, const std::string& data, bool verbose) {
  CompareOptions opt;
  TransientMasker masker;
  std::vector<Zone> zones;
  if (int rc = prepare(c, opt, masker, zones); rc >= 0) return rc;
  fs::path root = data.empty() ? tw::data_dir() / "change" : fs::path(data);
  nlohmann::json out;
  // LEVIR-CD pairs.
  {
    fs::path d = root / "levir_cd_samples";
    double tp = 0, fp = 0, fn = 0, f1_sum = 0;
    int pairs = 0, correct = 0, symmetric = 0, f1_pairs = 0;
    nlohmann::json per = nlohmann::json::array();
    for (const auto& a : capture_files(d / "A")) {
      auto name = a.filename();
      auto ia = load_image(a.string());
      auto ib = load_image((d / "B" / name).string());
      cv::Mat lab = cv::imread((d / "label" / name).string(), cv::IMREAD_GRAYSCALE);
      if (!ia || !ib || lab.empty()) return cli::fail(cli::kRuntimeError, fmt::format("{}: incomplete pair", name.string()));
      TransientMasker pm = pair_masker(masker, *ia, *ib);
      auto r = compare(*ia, *ib, opt, {}, pm);
      auto rs = compare(*ib, *ia, opt, {}, pm);
      if (!r || !rs) return cli::fail(cli::kRuntimeError, fmt::format("{}: compare failed", name.string()));
      cv::Mat gt = lab > 127, pr = r->mask > 127;
      double t = cv::countNonZero(gt & pr), p = cv::countNonZero(pr), g = cv::countNonZero(gt);
      tp += t;
      fp += p - t;
      fn += g - t;
      double gt_frac = g / static_cast<double>(gt.total());
      bool gt_changed = gt_frac > 0.01;
      double f1 = (p + g) > 0 ? 2 * t / (p + g) : 1.0;
      if (g > 0) {
        f1_sum += f1;
        ++f1_pairs;
      }
      ++pairs;
      correct += (r->changed == gt_changed);
      symmetric += (r->changed == rs->changed);
      per.push_back({{"pair", name.string()}, {"gt_fraction", gt_frac}, {"changed", r->changed},
                     {"changed_swapped", rs->changed}, {"changed_fraction", r->changed_fraction}, {"f1", f1},
                     {"status", to_string(r->status)}});
      double din = 0, dout = 0;
      if (!r->distance.empty() && r->distance.size() == gt.size()) {
        din = cv::mean(r->distance, gt)[0];
        dout = cv::mean(r->distance, ~gt)[0];
      }
      if (verbose)
        fmt::print(stderr, "levir din={:.3f} dout={:.3f} {} gt={:.3f} pred={:.3f} f1={:.3f} changed={} swapped={} status={} corr={:.2f} "
                   "med={:.3f} mad={:.3f} thr={:.3f}\n",
                   din, dout, name.string(), gt_frac, r->changed_fraction, f1, r->changed, rs->changed, to_string(r->status),
                   r->registration.correlation, r->distance_median, r->distance_mad, r->threshold_used);
    }
    double prec = tp + fp > 0 ? tp / (tp + fp) : 0, rec = tp + fn > 0 ? tp / (tp + fn) : 0;
    out["levir"] = {{"pairs", pairs}, {"pixel_precision", prec}, {"pixel_recall", rec},
                    {"pixel_f1", prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0},
                    {"mean_pair_f1", f1_pairs ? f1_sum / f1_pairs : 0}, {"decisions_correct", correct},
                    {"swap_symmetric", symmetric}, {"per_pair", per}};
  }
  // Webcam time-lapses: (first, later) pairs must not be flagged.
  {
    fs::path d = root / "webcam_timelapse";
    nlohmann::json cams = nlohmann::json::object();
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(d))
      if (e.is_directory()) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& cam : dirs) {
      auto frames = capture_files(cam);
      if (frames.size() < 2) continue;
      auto first = load_image(frames[0].string());
      if (!first) return cli::fail(cli::kRuntimeError, first.error().message);
      int flagged = 0, asym = 0, moved = 0, lowvis = 0;
      cv::Mat first_mask;
      for (size_t i = 1; i < frames.size(); ++i) {
        auto img = load_image(frames[i].string());
        if (!img) return cli::fail(cli::kRuntimeError, img.error().message);
        if (masker && first_mask.empty()) first_mask = masker(*first);
        TransientMasker pm;
        if (masker) {
          cv::Mat m2 = masker(*img);
          const cv::Mat f = *first;
          cv::Mat fm = first_mask;
          pm = [f, fm, m2](const cv::Mat& bgr) { return bgr.data == f.data ? fm : m2; };
        }
        auto r = compare(*first, *img, opt, {}, pm);
        auto rs = compare(*img, *first, opt, {}, pm);
        if (!r || !rs) return cli::fail(cli::kRuntimeError, fmt::format("{}: compare failed", frames[i].string()));
        flagged += r->changed;
        asym += (r->changed != rs->changed);
        moved += r->status == CompareStatus::view_moved;
        lowvis += r->status == CompareStatus::low_visibility;
        if (verbose)
          fmt::print(stderr, "webcam {} {} frac={:.4f} changed={} swapped={} status={} corr={:.2f} vis={:.4f}/{:.4f} tr={:.3f} med={:.3f} mad={:.3f}\n",
                     cam.filename().string(), frames[i].filename().string(), r->changed_fraction, r->changed,
                     rs->changed, to_string(r->status), r->registration.correlation, r->visibility_reference,
                     r->visibility_current, r->transient_fraction, r->distance_median, r->distance_mad);
      }
      cams[cam.filename().string()] = {{"pairs", frames.size() - 1}, {"flagged", flagged},
                                       {"flagged_fraction", flagged / static_cast<double>(frames.size() - 1)},
                                       {"asymmetric", asym}, {"view_moved", moved}, {"low_visibility", lowvis}};
    }
    out["webcam"] = cams;
  }
  fmt::print("{}\n", c.json ? out.dump() : out.dump(2));
  return cli::kOk;
}

}  // namespace

void add_cli(CLI::App& app, tw::cli::Context& ctx) {
  auto* change = app.add_subcommand("change", "Land-use change on farmland from tower cameras");
  change->require_subcommand(1);

  static Common common_c, common_w, common_e;
  auto add_common = [](CLI::App* sub, Common& c) {
    sub->add_option("--zone", c.zones, "farmland polygon x,y,x,y,... in image pixels (repeatable)");
    sub->add_option("--option", c.options, "comparison option name=value (repeatable), see docs/change.md");
    sub->add_flag("--no-transients", c.no_transients, "do not mask people/vehicles found by the detector");
    sub->add_flag("--json", c.json, "machine-readable output");
  };

  auto* cmp = change->add_subcommand("compare", "Compare a capture with the reference image of its view");
  static std::string ref, cur, mask_out, debug_dir;
  cmp->add_option("--reference", ref, "reference image")->required();
  cmp->add_option("--current", cur, "current image")->required();
  cmp->add_option("--mask-out", mask_out, "write the change mask (PNG, 255 = changed)");
  cmp->add_option("--debug-dir", debug_dir, "write the distance map and transient mask here (diagnostics)");
  add_common(cmp, common_c);
  cmp->callback([&ctx] { ctx.exit_code = run_compare(common_c, ref, cur, mask_out, debug_dir); });

  auto* ev = change->add_subcommand("eval", "Evaluate on the LEVIR-CD samples and webcam time-lapses");
  static std::string data;
  static bool verbose = false;
  ev->add_option("--data", data, "folder holding levir_cd_samples/ and webcam_timelapse/ (default <data>/change)");
  ev->add_flag("--verbose", verbose, "per-pair lines on stderr");
  add_common(ev, common_e);
  ev->callback([&ctx] { ctx.exit_code = run_eval(common_e, data, verbose); });
  auto* wt = change->add_subcommand("watch", "Treat the images of a folder, in name order, as daily captures of one view");
  static WatchArgs wa;
  wt->add_option("--frames", wa.frames, "folder of captures")->required();
  wt->add_option("--camera", wa.camera, "camera id used in the alerts");
  wt->add_option("--persist-days", wa.persist_days, "days a change must be seen on before it alerts")->check(CLI::Range(1, 365));
  wt->add_option("--refresh-days", wa.refresh_days, "age after which a clean capture replaces the reference")->check(CLI::Range(1, 3650));
  wt->add_option("--crops-dir", wa.crops_dir, "write the redacted before/after crops of each alert here");
  add_common(wt, common_w);
  wt->callback([&ctx] { ctx.exit_code = run_watch(common_w, wa); });
}

}  // namespace tw::change
