#include "tw/core/metrics.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace tw {
namespace {
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string label_text(const Labels& labels) {
  if (labels.empty()) return "";
  std::string s = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    s += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape(labels[i].second));
  }
  return s + "}";
}
}  // namespace

Counter& Metrics::counter(const std::string& name, const std::string& help, Labels labels) {
  std::sort(labels.begin(), labels.end());
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.help = help;
  f.is_counter = true;
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help, Labels labels) {
  std::sort(labels.begin(), labels.end());
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.help = help;
  f.is_counter = false;
  auto& slot = f.gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

std::string Metrics::render_prometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.is_counter ? "counter" : "gauge");
    for (const auto& [labels, c] : f.counters) out += fmt::format("{}{} {}\n", name, label_text(labels), c->value());
    for (const auto& [labels, g] : f.gauges) out += fmt::format("{}{} {}\n", name, label_text(labels), g->value());
  }
  return out;
}

}  // namespace tw
