#include "tw/change/compare.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/core.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include "tw/change/head.hpp"
#include "structure.hpp"

namespace tw::change {

const char* to_string(CompareStatus s) {
  switch (s) {
    case CompareStatus::ok: return "ok";
    case CompareStatus::view_moved: return "view_moved";
    case CompareStatus::low_visibility: return "low_visibility";
  }
  return "?";
}

Status validate(const CompareOptions& o) {
  auto bad = [](const char* field, const std::string& why) {
    return make_error("bad_option", fmt::format("change compare option {}: {}", field, why));
  };
  if (o.work_max_side < 64 || o.work_max_side > 4096) return bad("work_max_side", "must be in 64..4096");
  if (!(o.pre_blur_sigma >= 0 && o.pre_blur_sigma <= 10)) return bad("pre_blur_sigma", "must be in 0..10");
  if (o.pool_sigmas.empty()) return bad("pool_sigmas", "needs at least one scale");
  for (double s : o.pool_sigmas)
    if (!(s > 0 && s <= 64)) return bad("pool_sigmas", "each scale must be in (0, 64]");
  if (!(o.contrast_floor > 0 && o.contrast_floor <= 100)) return bad("contrast_floor", "must be in (0, 100]");
  if (!(o.threshold > 0 && o.threshold < 2)) return bad("threshold", "must be in (0, 2)");
  if (!(o.grow_threshold > 0 && o.grow_threshold < 2)) return bad("grow_threshold", "must be in (0, 2)");
  if (!(o.robust_k >= 0 && o.robust_k <= 50)) return bad("robust_k", "must be in 0..50");
  if (!(o.min_region_fraction >= 0 && o.min_region_fraction < 1)) return bad("min_region_fraction", "must be in [0,1)");
  if (!(o.decision_fraction > 0 && o.decision_fraction <= 1)) return bad("decision_fraction", "must be in (0,1]");
  if (!(o.transient_dilate >= 0 && o.transient_dilate < 0.5)) return bad("transient_dilate", "must be in [0,0.5)");
  if (!(o.min_registration_corr >= 0 && o.min_registration_corr < 1))
    return bad("min_registration_corr", "must be in [0,1)");
  if (!(o.min_registration_gain >= 0 && o.min_registration_gain < 1))
    return bad("min_registration_gain", "must be in [0,1)");
  if (!(o.max_shift_fraction > 0 && o.max_shift_fraction <= 1)) return bad("max_shift_fraction", "must be in (0,1]");
  if (!(o.max_rotation_deg > 0 && o.max_rotation_deg <= 90)) return bad("max_rotation_deg", "must be in (0,90]");
  if (!(o.min_visibility_ratio >= 0 && o.min_visibility_ratio <= 1))
    return bad("min_visibility_ratio", "must be in [0,1]");
  if (!(o.min_mean_luma >= 0 && o.min_mean_luma < 255)) return bad("min_mean_luma", "must be in [0,255)");
  if (!(o.head_threshold > 0 && o.head_threshold < 1)) return bad("head_threshold", "must be in (0,1)");
  if (!(o.head_min_fraction >= 0 && o.head_min_fraction < 1)) return bad("head_min_fraction", "must be in [0,1)");
  if (o.head_views != 1 && o.head_views != 4 && o.head_views != 8) return bad("head_views", "must be 1, 4 or 8");
  return {};
}

Result<cv::Mat> load_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error("not_found", fmt::format("{}: no such image file", path));
  cv::Mat img;
  try {
    img = cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return make_error("bad_image", fmt::format("{}: cannot decode image ({})", path, e.what()));
  }
  if (img.empty()) return make_error("bad_image", fmt::format("{}: not a readable image (corrupt or unknown format)", path));
  return img;
}

namespace {

// Builds a 3x3 matrix from a 2x3 affine one.
cv::Matx33d to33(const cv::Matx23d& a) {
  return {a(0, 0), a(0, 1), a(0, 2), a(1, 0), a(1, 1), a(1, 2), 0, 0, 1};
}
cv::Matx23d to23(const cv::Matx33d& a) { return {a(0, 0), a(0, 1), a(0, 2), a(1, 0), a(1, 1), a(1, 2)}; }

// Half-way transform of a small Euclidean motion: rotation by half the angle, and the translation t_h that
// satisfies H*H = W (t = R_h t_h + t_h).
cv::Matx33d half_euclidean(const cv::Matx33d& w) {
  double ang = std::atan2(w(1, 0), w(0, 0));
  double h = ang / 2;
  cv::Matx22d rh(std::cos(h), -std::sin(h), std::sin(h), std::cos(h));
  cv::Matx22d m = rh + cv::Matx22d::eye();
  cv::Vec2d t(w(0, 2), w(1, 2));
  cv::Vec2d th = m.inv() * t;
  return {rh(0, 0), rh(0, 1), th[0], rh(1, 0), rh(1, 1), th[1], 0, 0, 1};
}

struct RegOut {
  Registration reg;      // in working pixels until scaled
  cv::Matx33d warp = cv::Matx33d::eye();  // cur(W x) ~ ref(x), working pixels
  double identity_corr = 0;
};

double ncc(const cv::Mat& a, const cv::Mat& b) {
  cv::Scalar ma, sa, mb, sb;
  cv::meanStdDev(a, ma, sa);
  cv::meanStdDev(b, mb, sb);
  cv::Mat za = a - ma[0], zb = b - mb[0];
  double den = sa[0] * sb[0] * static_cast<double>(a.total());
  return den > 0 ? za.dot(zb) / den : 0;
}

RegOut register_pair(const cv::Mat& gm_ref, const cv::Mat& gm_cur) {
  RegOut out;
  // Coarse translation by phase correlation on gradient magnitude, at most 256 px on the long side, refined by
  // ECC (Euclidean). identity_corr tells how well the images agree without any motion.
  double s = std::min(1.0, 256.0 / std::max(gm_ref.cols, gm_ref.rows));
  cv::Mat a, b;
  cv::resize(gm_ref, a, cv::Size(), s, s, cv::INTER_AREA);
  cv::resize(gm_cur, b, cv::Size(), s, s, cv::INTER_AREA);
  out.identity_corr = ncc(a, b);
  cv::Mat win;
  cv::createHanningWindow(win, a.size(), CV_32F);
  cv::Point2d shift = cv::phaseCorrelate(a, b, win);
  cv::Matx23f w(1, 0, static_cast<float>(shift.x), 0, 1, static_cast<float>(shift.y));
  double corr = 0;
  try {
    cv::Mat wm(w);
    corr = cv::findTransformECC(a, b, wm, cv::MOTION_EUCLIDEAN,
                                cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 50, 1e-4),
                                cv::Mat(), 3);
    wm.copyTo(cv::Mat(w));
    out.reg.converged = true;
  } catch (const cv::Exception&) {
    out.reg.converged = false;
  }
  out.reg.correlation = corr;
  cv::Matx33d ws = to33(cv::Matx23d(w(0, 0), w(0, 1), w(0, 2) / s, w(1, 0), w(1, 1), w(1, 2) / s));
  out.warp = ws;
  out.reg.dx = ws(0, 2);
  out.reg.dy = ws(1, 2);
  out.reg.rotation_deg = std::atan2(ws(1, 0), ws(0, 0)) * 180.0 / CV_PI;
  return out;
}

double luma_mean(const cv::Mat& grey8) { return cv::mean(grey8)[0]; }

// Keeps the 8-connected components of mask with at least min_px pixels.
cv::Mat drop_small(const cv::Mat& mask, double min_px) {
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  std::vector<char> keep(static_cast<size_t>(n), 0);
  for (int i = 1; i < n; ++i) keep[static_cast<size_t>(i)] = stats.at<int>(i, cv::CC_STAT_AREA) >= min_px;
  cv::Mat out = cv::Mat::zeros(mask.size(), CV_8U);
  for (int y = 0; y < mask.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    uchar* o = out.ptr<uchar>(y);
    for (int x = 0; x < mask.cols; ++x)
      if (keep[static_cast<size_t>(l[x])]) o[x] = 255;
  }
  return out;
}

}  // namespace

Result<CompareResult> compare(const cv::Mat& reference, const cv::Mat& current, const CompareOptions& opt,
                              const cv::Mat& zone_mask, const TransientMasker& masker) {
  if (auto st = validate(opt); !st) return st.error();
  if (reference.empty()) return make_error("empty_image", "reference image is empty");
  if (current.empty()) return make_error("empty_image", "current image is empty");
  if (reference.size() != current.size())
    return make_error("size_mismatch", fmt::format("reference is {}x{} but current is {}x{}: captures of one view "
                                                   "must have the same size",
                                                   reference.cols, reference.rows, current.cols, current.rows));
  if (reference.depth() != CV_8U || current.depth() != CV_8U)
    return make_error("bad_image", "images must be 8-bit");
  if (!zone_mask.empty() && (zone_mask.size() != reference.size() || zone_mask.type() != CV_8U))
    return make_error("bad_zone", "zone mask must be CV_8U of the image size");

  const cv::Size in_size = reference.size();
  CompareResult res;

  // Working resolution.
  double scale = std::min(1.0, static_cast<double>(opt.work_max_side) / std::max(in_size.width, in_size.height));
  cv::Size ws(std::max(8, static_cast<int>(std::lround(in_size.width * scale))),
              std::max(8, static_cast<int>(std::lround(in_size.height * scale))));
  const double pool_scale = std::max(ws.width, ws.height) / 512.0;

  cv::Mat g_ref = to_grey(reference), g_cur = to_grey(current);
  double luma_ref = luma_mean(g_ref), luma_cur = luma_mean(g_cur);
  cv::Mat w_ref, w_cur;
  cv::resize(g_ref, w_ref, ws, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::resize(g_cur, w_cur, ws, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat f_ref, f_cur;
  w_ref.convertTo(f_ref, CV_32F, 1.0 / 255);
  w_cur.convertTo(f_cur, CV_32F, 1.0 / 255);
  if (opt.pre_blur_sigma > 0) {
    cv::GaussianBlur(f_ref, f_ref, cv::Size(), opt.pre_blur_sigma);
    cv::GaussianBlur(f_cur, f_cur, cv::Size(), opt.pre_blur_sigma);
  }

  // Visibility: typical gradient contrast.
  cv::Mat gm_ref = gradient_magnitude(f_ref), gm_cur = gradient_magnitude(f_cur);
  res.visibility_reference = typical_contrast(gm_ref);
  res.visibility_current = typical_contrast(gm_cur);
  res.mask = cv::Mat::zeros(in_size, CV_8U);
  {
    double lo = std::min(res.visibility_reference, res.visibility_current);
    double hi = std::max(res.visibility_reference, res.visibility_current);
    if (std::min(luma_ref, luma_cur) < opt.min_mean_luma || hi <= 0 || lo / hi < opt.min_visibility_ratio) {
      res.status = CompareStatus::low_visibility;
      return res;
    }
  }

  // Registration to a common half-way frame.
  RegOut reg = register_pair(gm_ref, gm_cur);
  res.registration = reg.reg;
  res.registration.dx /= scale;
  res.registration.dy /= scale;
  const double diag = std::hypot(ws.width, ws.height);
  // The motion estimate is trusted when ECC converged to a correlation above the floor and better than leaving
  // the images as they are. A trusted motion beyond the limits means the view moved (reported, not compared).
  // An untrusted estimate means the content itself differs a lot (large change, another season): the images
  // are compared as they are, since fixed cameras and PTZ presets return to within a few pixels.
  const double motion = std::hypot(reg.reg.dx, reg.reg.dy);
  const bool trusted = reg.reg.converged && reg.reg.correlation >= reg.identity_corr;
  res.registration.identity_correlation = reg.identity_corr;
  const bool moved = motion > opt.max_shift_fraction * diag || std::abs(reg.reg.rotation_deg) > opt.max_rotation_deg;
  if (moved && trusted && reg.reg.correlation >= opt.min_registration_corr &&
      reg.reg.correlation - reg.identity_corr >= opt.min_registration_gain) {
    res.status = CompareStatus::view_moved;
    return res;
  }
  if (!trusted || moved) {
    reg.warp = cv::Matx33d::eye();
    res.registration.dx = res.registration.dy = res.registration.rotation_deg = 0;
  }
  cv::Matx33d h = half_euclidean(reg.warp);
  cv::Matx33d hinv = h.inv();
  cv::Mat a_mid, b_mid, valid(ws, CV_8U, cv::Scalar(255)), va, vb;
  // ref_mid(m) = ref(H^-1 m), cur_mid(m) = cur(H m)
  cv::warpAffine(f_ref, a_mid, cv::Mat(to23(hinv)), ws, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  cv::warpAffine(f_cur, b_mid, cv::Mat(to23(h)), ws, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  cv::warpAffine(valid, va, cv::Mat(to23(hinv)), ws, cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
  cv::warpAffine(valid, vb, cv::Mat(to23(h)), ws, cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
  cv::bitwise_and(va, vb, valid);

  // Analysed area: valid, inside the zone, outside transients (union over both images).
  cv::Mat analysed = valid.clone();
  if (!zone_mask.empty()) {
    cv::Mat z, zm;
    cv::resize(zone_mask, z, ws, 0, 0, cv::INTER_NEAREST);
    cv::warpAffine(z, zm, cv::Mat(to23(hinv)), ws, cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
    cv::bitwise_and(analysed, zm, analysed);
  }
  const double analysed_before_transients = cv::countNonZero(analysed);
  if (masker) {
    cv::Mat t_ref = masker(reference), t_cur = masker(current);
    cv::Mat t = cv::Mat::zeros(ws, CV_8U);
    auto add = [&](const cv::Mat& m, const cv::Matx33d& to_mid_inv) {
      if (m.empty() || m.size() != in_size) return;
      cv::Mat r, mid;
      cv::resize(m, r, ws, 0, 0, cv::INTER_NEAREST);
      cv::warpAffine(r, mid, cv::Mat(to23(to_mid_inv)), ws, cv::INTER_NEAREST | cv::WARP_INVERSE_MAP,
                     cv::BORDER_CONSTANT, 0);
      cv::bitwise_or(t, mid > 0, t);
    };
    add(t_ref, hinv);
    add(t_cur, h);
    int d = static_cast<int>(std::lround(opt.transient_dilate * diag));
    if (d > 0) cv::dilate(t, t, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * d + 1, 2 * d + 1)));
    if (analysed_before_transients > 0)
      res.transient_fraction = cv::countNonZero(t & analysed) / analysed_before_transients;
    analysed.setTo(0, t);
    res.transients = t;
  }
  const double analysed_px = cv::countNonZero(analysed);
  if (analysed_px <= 0) return res;

  // Structural distance.
  StructureParams sp;
  sp.pool_sigmas = opt.pool_sigmas;
  for (double& s : sp.pool_sigmas) s *= pool_scale;
  sp.contrast_floor = opt.contrast_floor;
  cv::Mat dist = structure_distance(a_mid, b_mid, sp);
  res.distance = dist;

  // Threshold relative to the image's own distance level.
  double med = 0, mad = 0;
  median_mad(dist, analysed, med, mad);
  const double thr = std::max(opt.threshold, med + opt.robust_k * 1.4826 * mad);
  res.distance_median = med;
  res.distance_mad = mad;
  res.threshold_used = thr;
  cv::Mat changed = (dist > thr) & analysed;
  int k = std::max(1, static_cast<int>(std::lround(1.5 * pool_scale)));
  cv::Mat se = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * k + 1, 2 * k + 1));
  cv::morphologyEx(changed, changed, cv::MORPH_OPEN, se);
  cv::morphologyEx(changed, changed, cv::MORPH_CLOSE, se);
  changed &= analysed;
  // Hysteresis: grow the seeds through connected pixels above the lower grow_threshold, so that the weakly
  // textured inside of a new object joins its strongly changed outline.
  if (opt.grow_threshold < thr) {
    cv::Mat low = (dist > opt.grow_threshold) & analysed;
    low |= changed;
    cv::Mat lab;
    int nl = cv::connectedComponents(low, lab, 8, CV_32S);
    std::vector<char> seeded(static_cast<size_t>(nl), 0);
    for (int y = 0; y < ws.height; ++y) {
      const int* l = lab.ptr<int>(y);
      const uchar* c = changed.ptr<uchar>(y);
      for (int x = 0; x < ws.width; ++x)
        if (c[x]) seeded[static_cast<size_t>(l[x])] = 1;
    }
    for (int y = 0; y < ws.height; ++y) {
      const int* l = lab.ptr<int>(y);
      uchar* c = changed.ptr<uchar>(y);
      for (int x = 0; x < ws.width; ++x)
        if (l[x] > 0 && seeded[static_cast<size_t>(l[x])]) c[x] = 255;
    }
  }

  // Connected regions; drop small blobs.
  const double min_px = opt.min_region_fraction * static_cast<double>(ws.area());
  cv::Mat kept = drop_small(changed, min_px);
  res.structural_fraction = cv::countNonZero(kept) / analysed_px;
  res.structural_changed = res.structural_fraction >= opt.decision_fraction;
  const double structural_score = 1.0 - std::pow(0.5, res.structural_fraction / opt.decision_fraction);
  cv::Mat values = dist;  // region scores: mean descriptor distance, or mean head probability

  // The decision is structural; the head, where used, only redraws the mask of a changed pair.
  res.changed = res.structural_changed;
  res.score = structural_score;
  res.changed_fraction = res.structural_fraction;
  if (opt.use_head && !res.changed) {
    // Not a change: the mask stays empty (the head only outlines what changed in a changed pair).
    kept.setTo(0);
    res.changed_fraction = 0;
  } else if (opt.use_head) {
    // The learned head outlines what changed, on the colour images in the same half-way frame.
    cv::Mat c_ref, c_cur, ca, cb;
    cv::Mat bgr_ref = reference.channels() == 3 ? reference : cv::Mat(), bgr_cur = current.channels() == 3 ? current : cv::Mat();
    if (bgr_ref.empty()) cv::cvtColor(reference, bgr_ref, reference.channels() == 4 ? cv::COLOR_BGRA2BGR : cv::COLOR_GRAY2BGR);
    if (bgr_cur.empty()) cv::cvtColor(current, bgr_cur, current.channels() == 4 ? cv::COLOR_BGRA2BGR : cv::COLOR_GRAY2BGR);
    cv::resize(bgr_ref, c_ref, ws, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::resize(bgr_cur, c_cur, ws, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::warpAffine(c_ref, ca, cv::Mat(to23(hinv)), ws, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    cv::warpAffine(c_cur, cb, cv::Mat(to23(h)), ws, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    auto prob = change_probability(ca, cb, opt.head_model, opt.head_views);
    if (!prob) return prob.error();
    res.probability = *prob;
    cv::Mat head_mask = drop_small((res.probability >= opt.head_threshold) & analysed, min_px);
    const double head_fraction = cv::countNonZero(head_mask) / analysed_px;
    // The head was trained on aerial views: where it finds too little of a structural change (a facade seen
    // from the side), the structural mask stands rather than the head vetoing the change.
    res.head_used = head_fraction >= opt.head_min_fraction;
    if (res.head_used) {
      kept = head_mask;
      values = res.probability;
      res.changed_fraction = head_fraction;
    }
  }

  cv::Mat labels, stats, centroids;
  int n = cv::connectedComponentsWithStats(kept, labels, stats, centroids, 8, CV_32S);
  std::vector<int> keep_ids;
  for (int i = 1; i < n; ++i) keep_ids.push_back(i);
  std::vector<double> sum(static_cast<size_t>(n), 0.0);
  for (int y = 0; y < ws.height; ++y) {
    const int* l = labels.ptr<int>(y);
    const float* dd = values.ptr<float>(y);
    for (int x = 0; x < ws.width; ++x)
      if (l[x] > 0) sum[static_cast<size_t>(l[x])] += dd[x];
  }

  // Back to the reference frame at input size.
  cv::Mat kept_ref;
  cv::warpAffine(kept, kept_ref, cv::Mat(to23(h)), ws, cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
  cv::resize(kept_ref, res.mask, in_size, 0, 0, cv::INTER_NEAREST);
  const double inv = 1.0 / scale;
  for (int id : keep_ids) {
    Region r;
    int x = stats.at<int>(id, cv::CC_STAT_LEFT), y = stats.at<int>(id, cv::CC_STAT_TOP);
    int w = stats.at<int>(id, cv::CC_STAT_WIDTH), hh = stats.at<int>(id, cv::CC_STAT_HEIGHT);
    // Box corners mapped to the reference frame (x_ref = H^-1 m), bounding box of the four corners.
    double xs[4], ys[4];
    const double cx[4] = {double(x), double(x + w), double(x), double(x + w)};
    const double cy[4] = {double(y), double(y), double(y + hh), double(y + hh)};
    for (int c = 0; c < 4; ++c) {
      xs[c] = hinv(0, 0) * cx[c] + hinv(0, 1) * cy[c] + hinv(0, 2);
      ys[c] = hinv(1, 0) * cx[c] + hinv(1, 1) * cy[c] + hinv(1, 2);
    }
    auto clampi = [](double v, int hi) { return std::clamp(static_cast<int>(std::lround(v)), 0, hi); };
    r.x0 = clampi(*std::min_element(xs, xs + 4) * inv, in_size.width);
    r.x1 = clampi(*std::max_element(xs, xs + 4) * inv, in_size.width);
    r.y0 = clampi(*std::min_element(ys, ys + 4) * inv, in_size.height);
    r.y1 = clampi(*std::max_element(ys, ys + 4) * inv, in_size.height);
    double area = stats.at<int>(id, cv::CC_STAT_AREA);
    r.area_px = area * inv * inv;
    r.score = sum[static_cast<size_t>(id)] / area;
    res.regions.push_back(r);
  }
  std::sort(res.regions.begin(), res.regions.end(),
            [](const Region& a, const Region& b) { return a.area_px > b.area_px; });
  return res;
}

}  // namespace tw::change
