#include "tw/change/options.hpp"

#include <charconv>
#include <cmath>
#include <functional>
#include <map>

#include <fmt/core.h>

namespace tw::change {

namespace {

bool to_double(std::string_view s, double& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

}  // namespace

Status set_option(CompareOptions& opt, std::string_view a) {
  auto eq = a.find('=');
  if (eq == std::string_view::npos)
    return make_error("bad_option", fmt::format("option '{}': expected name=value", a));
  std::string_view name = a.substr(0, eq), value = a.substr(eq + 1);
  using Setter = std::function<bool(double)>;
  auto whole = [](int& out) -> Setter {
    return [&out](double v) {
      if (v != std::floor(v) || std::abs(v) > 1e6) return false;
      out = static_cast<int>(v);
      return true;
    };
  };
  const std::map<std::string_view, Setter> doubles{
      {"pre_blur_sigma", [&](double v) { opt.pre_blur_sigma = v; return true; }},
      {"contrast_floor", [&](double v) { opt.contrast_floor = v; return true; }},
      {"threshold", [&](double v) { opt.threshold = v; return true; }},
      {"grow_threshold", [&](double v) { opt.grow_threshold = v; return true; }},
      {"robust_k", [&](double v) { opt.robust_k = v; return true; }},
      {"min_region_fraction", [&](double v) { opt.min_region_fraction = v; return true; }},
      {"decision_fraction", [&](double v) { opt.decision_fraction = v; return true; }},
      {"transient_dilate", [&](double v) { opt.transient_dilate = v; return true; }},
      {"min_registration_corr", [&](double v) { opt.min_registration_corr = v; return true; }},
      {"min_registration_gain", [&](double v) { opt.min_registration_gain = v; return true; }},
      {"max_shift_fraction", [&](double v) { opt.max_shift_fraction = v; return true; }},
      {"max_rotation_deg", [&](double v) { opt.max_rotation_deg = v; return true; }},
      {"min_visibility_ratio", [&](double v) { opt.min_visibility_ratio = v; return true; }},
      {"min_mean_luma", [&](double v) { opt.min_mean_luma = v; return true; }},
      {"head_threshold", [&](double v) { opt.head_threshold = v; return true; }},
      {"head_min_fraction", [&](double v) { opt.head_min_fraction = v; return true; }},
      {"use_head",
       [&](double v) {
         if (v != 0 && v != 1) return false;
         opt.use_head = v != 0;
         return true;
       }},
      {"head_views", whole(opt.head_views)},
      {"work_max_side", whole(opt.work_max_side)},
  };
  if (name == "head_model") {
    if (value.empty()) return make_error("bad_option", "option head_model: needs a path to an ONNX file");
    opt.head_model = std::string(value);
    return validate(opt);
  }
  if (name == "pool_sigmas") {
    std::vector<double> s;
    size_t pos = 0;
    while (true) {
      size_t c = value.find(':', pos);
      double d = 0;
      if (!to_double(value.substr(pos, c == std::string_view::npos ? value.npos : c - pos), d))
        return make_error("bad_option", fmt::format("option pool_sigmas: '{}' is not a list like 2:4:8", value));
      s.push_back(d);
      if (c == std::string_view::npos) break;
      pos = c + 1;
    }
    opt.pool_sigmas = s;
    return validate(opt);
  }
  auto it = doubles.find(name);
  if (it == doubles.end()) return make_error("bad_option", fmt::format("unknown option '{}'", name));
  double v = 0;
  if (!to_double(value, v) || !it->second(v))
    return make_error("bad_option", fmt::format("option {}: '{}' is not a valid number", name, value));
  return validate(opt);
}

Status set_options(CompareOptions& opt, const std::vector<std::string>& list) {
  for (const auto& a : list)
    if (auto st = set_option(opt, a); !st) return st;
  return {};
}

}  // namespace tw::change
