#include "tw/seismic/picker.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "tw/seismic/filter.hpp"
#include "tw/seismic/trigger.hpp"

namespace tw::seismic {
namespace {

struct Candidate {
  const Trace* trace = nullptr;
  std::int64_t onset_us = 0;
  std::size_t onset = 0;
  std::size_t trigger = 0;
  double cft_peak = 0;
  double kurtosis = 0;
  double snr = 0;
  double half_width = 1;
};

std::vector<double> sta_lta(const ProcessorConfig& c, std::span<const double> x, double fs) {
  std::vector<double> cft(x.size());
  if (c.stalta == "classic") ClassicStaLta(c.sta_s, c.lta_s, fs).apply(x, cft);
  else RecursiveStaLta(c.sta_s, c.lta_s, fs).apply(x, cft);
  return cft;
}

// Candidates of one trace in one band; false when the band does not apply to the trace.
bool detect(const Trace& t, const std::string& band, const MultiBandPickerConfig& cfg, std::vector<Candidate>& out) {
  const ProcessorConfig& d = cfg.detector;
  const double fs = t.sample_rate;
  auto chain = make_filter_chain(band, fs);
  if (!chain || t.samples.size() < 32) return false;
  std::vector<double> x(t.samples.size());
  std::transform(t.samples.begin(), t.samples.end(), x.begin(), [&](double v) { return v - t.samples.front(); });
  chain->apply(x);
  const auto cft = sta_lta(d, x, fs);
  const auto pre = static_cast<std::size_t>(d.pick_pre_s * fs), post = static_cast<std::size_t>(d.pick_post_s * fs);
  const auto nk = std::max<std::size_t>(4, static_cast<std::size_t>(cfg.kurtosis_s * fs));
  for (const auto& w : trigger_onset(cft, d.trigger_on, d.trigger_off)) {
    const auto on = static_cast<std::size_t>(w.on);
    const std::size_t lo = on > pre ? on - pre : 0, hi = std::min(x.size() - 1, on + post);
    if (hi - lo < nk + 16) continue;
    const std::span<const double> win(x.data() + lo, hi - lo + 1);
    // The first kurtosis window is warm-up; the steepest rise of the kurtosis marks the impulsive change.
    const auto k = kurtosis_cf(win, nk);
    std::size_t steep = nk;
    double rise = -1;
    for (std::size_t i = nk; i < k.size(); ++i)
      if (k[i] - k[i - 1] > rise) rise = k[i] - k[i - 1], steep = i;
    const std::size_t a0 = steep > static_cast<std::size_t>(cfg.refine_pre_s * fs) ? steep - static_cast<std::size_t>(cfg.refine_pre_s * fs) : 0;
    const std::size_t a1 = std::min(win.size() - 1, steep + static_cast<std::size_t>(cfg.refine_post_s * fs));
    const auto aic = aic_onset(win.subspan(a0, a1 - a0 + 1));
    if (!aic.ok) continue;
    const std::size_t onset = std::min(a0 + aic.index, on - lo);  // the onset cannot follow the trigger
    const double snr = onset_snr(win, onset);
    if (snr < d.min_snr) continue;
    Candidate c;
    c.trace = &t;
    c.onset = lo + onset;
    c.onset_us = t.time_us(c.onset);
    c.trigger = on;
    c.cft_peak = w.peak;
    c.kurtosis = *std::max_element(k.begin(), k.end());
    c.snr = snr;
    c.half_width = std::max(1.0, aic.half_width);
    out.push_back(c);
  }
  return true;
}

}  // namespace

std::vector<Pick> pick_station(const std::vector<const Trace*>& traces, const MultiBandPickerConfig& cfg) {
  std::vector<Candidate> cand;
  std::set<std::pair<std::string, std::string>> detectors;  // (channel, band) that ran
  for (const Trace* t : traces) {
    if (t->channel.empty() || !(t->sample_rate > 0)) continue;
    if (!cfg.all_components && cfg.detector.vertical_components.find(t->channel.back()) == std::string::npos) continue;
    for (const auto& band : cfg.bands)
      if (detect(*t, band, cfg, cand)) detectors.emplace(t->channel, band);
  }
  // One arrival: detections (any band or component) whose onsets chain within merge_s; the most
  // impulsive one (largest kurtosis) stands for it.
  std::stable_sort(cand.begin(), cand.end(), [](const Candidate& a, const Candidate& b) { return a.onset_us < b.onset_us; });
  const auto merge_us = static_cast<std::int64_t>(cfg.merge_s * 1e6);
  struct Arrival {
    const Candidate* best;
    std::size_t detections;
  };
  std::vector<Arrival> found;
  for (std::size_t i = 0; i < cand.size(); ++i) {
    if (i == 0 || cand[i].onset_us - cand[i - 1].onset_us > merge_us) {
      found.push_back({&cand[i], 1});
      continue;
    }
    ++found.back().detections;
    if (cand[i].kurtosis > found.back().best->kurtosis) found.back().best = &cand[i];
  }
  // Coincidence across detectors: a fluctuation of the noise in one band rarely triggers a second one.
  const std::size_t need = std::min(cfg.min_detections, detectors.size());
  std::vector<const Candidate*> arrivals;
  for (const auto& a : found)
    if (a.detections >= need) arrivals.push_back(a.best);
  // Coda re-triggers: an arrival less impulsive than one within min_pick_interval_s before it is dropped.
  // A weaker arrival before a stronger one stays (an emergent P before an impulsive S).
  std::vector<const Candidate*> by_strength = arrivals;
  std::stable_sort(by_strength.begin(), by_strength.end(),
                   [](const Candidate* a, const Candidate* b) { return a->kurtosis > b->kurtosis; });
  const auto span_us = static_cast<std::int64_t>(cfg.detector.min_pick_interval_s * 1e6);
  std::vector<const Candidate*> kept;
  for (const Candidate* c : by_strength)
    if (std::none_of(kept.begin(), kept.end(), [&](const Candidate* k) {
          return c->onset_us > k->onset_us && c->onset_us - k->onset_us < span_us;
        }))
      kept.push_back(c);
  std::vector<Pick> out;
  for (const Candidate* c : kept) {
    Pick p;
    p.network = c->trace->network;
    p.station = c->trace->station;
    p.location = c->trace->location;
    p.channel = c->trace->channel;
    p.time_us = c->onset_us;
    p.trigger_us = c->trace->time_us(c->trigger);
    p.cft_peak = c->cft_peak;
    p.snr = c->snr;
    p.uncertainty_s = pick_uncertainty_s(c->half_width, c->trace->sample_rate, c->snr);
    out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const Pick& a, const Pick& b) { return a.time_us < b.time_us; });
  return out;
}

std::vector<Pick> run_multiband_picker(const std::vector<Trace>& traces, const MultiBandPickerConfig& cfg) {
  std::map<std::string, std::vector<const Trace*>> by_station;
  for (const auto& t : traces) by_station[t.network + "." + t.station].push_back(&t);
  std::vector<Pick> out;
  for (const auto& [k, list] : by_station) {
    auto p = pick_station(list, cfg);
    out.insert(out.end(), p.begin(), p.end());
  }
  std::sort(out.begin(), out.end(), [](const Pick& a, const Pick& b) { return a.time_us < b.time_us; });
  return out;
}

}  // namespace tw::seismic
