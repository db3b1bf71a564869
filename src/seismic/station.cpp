#include "tw/seismic/station.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <thread>

#include <fmt/format.h>

#include "tw/core/time.hpp"

namespace tw::seismic {

SensorKind sensor_from_channel(const std::string& channel) {
  if (channel.size() < 2) return SensorKind::unknown;
  switch (channel[1]) {
    case 'N':
    case 'G':
      return SensorKind::accelerometer;
    case 'H':
    case 'L':
    case 'M':
      return SensorKind::velocity;
    default:
      return SensorKind::unknown;
  }
}

Status validate(const ProcessorConfig& c) {
  auto bad = [](const std::string& k, const std::string& w) { return make_error("bad_config", k + ": " + w); };
  if (c.stalta != "recursive" && c.stalta != "classic") return bad("stalta", "must be 'recursive' or 'classic'");
  if (!(c.sta_s > 0) || !(c.lta_s > c.sta_s)) return bad("sta_s/lta_s", "need 0 < sta_s < lta_s");
  if (!(c.trigger_on > 0) || !(c.trigger_off > 0) || c.trigger_off > c.trigger_on)
    return bad("trigger_on/trigger_off", "need 0 < trigger_off <= trigger_on");
  if (!(c.pick_pre_s > 0) || c.pick_pre_s > 60) return bad("pick_pre_s", "must be in (0, 60]");
  if (!(c.pick_post_s > 0) || c.pick_post_s > 10) return bad("pick_post_s", "must be in (0, 10]");
  if (c.min_snr < 0) return bad("min_snr", "must be >= 0");
  if (c.min_pick_interval_s < 0) return bad("min_pick_interval_s", "must be >= 0");
  if (c.vertical_components.empty()) return bad("vertical_components", "must not be empty");
  if (!(c.pd_window_s > 0)) return bad("pd_window_s", "must be positive");
  if (c.gm_report_s.empty()) return bad("gm_report_s", "must not be empty");
  for (std::size_t i = 0; i < c.gm_report_s.size(); ++i)
    if (!(c.gm_report_s[i] > 0) || (i > 0 && c.gm_report_s[i] <= c.gm_report_s[i - 1]))
      return bad("gm_report_s", "must be positive and increasing");
  if (!(c.max_gap_samples >= 1)) return bad("max_gap_samples", "must be >= 1");
  for (auto* spec : {&c.trigger_filter, &c.acc_filter, &c.vel_filter, &c.disp_filter}) {
    auto f = make_filter_chain(*spec, 100.0);
    if (!f) return bad("filter", f.error().message);
  }
  return {};
}

nlohmann::json to_json(const Pick& p, const StationInfo& info) {
  return nlohmann::json{{"network", p.network},
                        {"station", p.station},
                        {"location", p.location},
                        {"channel", p.channel},
                        {"phase", "P"},
                        {"time", format_iso8601_us(p.time_us)},
                        {"uncertainty_s", p.uncertainty_s},
                        {"snr", p.snr},
                        {"cft_peak", p.cft_peak},
                        {"trigger_time", format_iso8601_us(p.trigger_us)},
                        {"lat", info.lat},
                        {"lon", info.lon},
                        {"elev_m", info.elev_m}};
}

nlohmann::json to_json(const GroundMotion& g, const StationInfo& info) {
  return nlohmann::json{{"network", g.network},       {"station", g.station},
                        {"pick_time", format_iso8601_us(g.pick_time_us)},
                        {"window_s", g.window_s},     {"pga_cms2", g.pga_cms2},
                        {"pgv_cms", g.pgv_cms},       {"pd_cm", g.pd_cm},
                        {"tau_c_s", g.tau_c_s},       {"final", g.final},
                        {"pd_noise_cm", g.pd_noise_cm},
                        {"lat", info.lat},            {"lon", info.lon}};
}

namespace {
Status need(const nlohmann::json& j, const char* key, nlohmann::json::value_t t) {
  auto it = j.find(key);
  if (it == j.end()) return make_error("bad_payload", std::string("missing field '") + key + "'");
  const bool ok = t == nlohmann::json::value_t::number_float ? it->is_number()
                  : t == nlohmann::json::value_t::string   ? it->is_string()
                                                           : it->is_boolean();
  if (!ok) return make_error("bad_payload", std::string("field '") + key + "' has the wrong type");
  return {};
}

// An empty trace of the same channel (identity and sample rate).
Trace same_channel(const Trace& t) {
  Trace c;
  c.network = t.network;
  c.station = t.station;
  c.location = t.location;
  c.channel = t.channel;
  c.sample_rate = t.sample_rate;
  return c;
}
}  // namespace

Result<Pick> pick_from_json(const nlohmann::json& j) {
  using VT = nlohmann::json::value_t;
  if (!j.is_object()) return make_error("bad_payload", "pick payload is not an object");
  for (auto [k, t] : {std::pair{"station", VT::string}, {"time", VT::string}, {"uncertainty_s", VT::number_float}})
    if (auto s = need(j, k, t); !s) return s.error();
  Pick p;
  p.network = j.value("network", "");
  p.station = j["station"].get<std::string>();
  p.location = j.value("location", "");
  p.channel = j.value("channel", "");
  auto t = parse_iso8601_us(j["time"].get<std::string>());
  if (!t) return make_error("bad_payload", "field 'time' is not ISO-8601");
  p.time_us = *t;
  p.uncertainty_s = j["uncertainty_s"].get<double>();
  if (!(p.uncertainty_s >= 0) || !std::isfinite(p.uncertainty_s))
    return make_error("bad_payload", "field 'uncertainty_s' must be a non-negative number");
  p.snr = j.value("snr", 0.0);
  p.cft_peak = j.value("cft_peak", 0.0);
  p.trigger_us = p.time_us;
  return p;
}

Result<GroundMotion> ground_motion_from_json(const nlohmann::json& j) {
  using VT = nlohmann::json::value_t;
  if (!j.is_object()) return make_error("bad_payload", "ground_motion payload is not an object");
  for (auto [k, t] : {std::pair{"station", VT::string}, {"pick_time", VT::string}, {"pga_cms2", VT::number_float},
                      {"pgv_cms", VT::number_float}, {"pd_cm", VT::number_float}})
    if (auto s = need(j, k, t); !s) return s.error();
  GroundMotion g;
  g.network = j.value("network", "");
  g.station = j["station"].get<std::string>();
  auto t = parse_iso8601_us(j["pick_time"].get<std::string>());
  if (!t) return make_error("bad_payload", "field 'pick_time' is not ISO-8601");
  g.pick_time_us = *t;
  g.pga_cms2 = j["pga_cms2"].get<double>();
  g.pgv_cms = j["pgv_cms"].get<double>();
  g.pd_cm = j["pd_cm"].get<double>();
  g.tau_c_s = j.value("tau_c_s", 0.0);
  g.window_s = j.value("window_s", 0.0);
  g.final = j.value("final", false);
  g.pd_noise_cm = j.value("pd_noise_cm", 0.0);
  for (double v : {g.pga_cms2, g.pgv_cms, g.pd_cm})
    if (!(v >= 0) || !std::isfinite(v)) return make_error("bad_payload", "ground motion values must be >= 0");
  return g;
}

// ------------------------------------------------------------------ processor internals

struct StationProcessor::Channel {
  std::string code;
  bool vertical = false;
  bool ok = true;
  double fs = 0;
  bool started = false;
  std::int64_t next_us = 0;       // expected time of the next sample
  std::int64_t seg_start_us = 0;  // time of sample seg_start_idx
  std::int64_t seg_start_idx = 0;  // first valid sample since the last restart
  std::int64_t clock_us = 0, clock_idx = 0;  // time reference: sample clock_idx is at clock_us
  std::int64_t idx = 0;  // samples consumed on this channel (global index)
  double offset = 0;
  double last_value = 0;  // last raw sample (for gap bridging)
  FilterChain trig;
  std::unique_ptr<RecursiveStaLta> rec;
  std::unique_ptr<ClassicStaLta> cls;
  std::unique_ptr<Trigger> trigger;
  bool gm = false;
  SensorKind sensor = SensorKind::unknown;
  double scale = 0;  // physical units per count
  FilterChain acc, vel, disp;
  std::size_t mask = 0;
  std::vector<double> r_trig, r_raw, r_a, r_v, r_d;
  FilterChain pick_proto;  // fresh copy of the trigger filter for the zero-phase pick window
  std::vector<std::pair<std::int64_t, double>> pending;  // trigger index, cft at trigger
  std::vector<double> w, c, a, v, d;
  std::vector<TriggerWindow> closed;
  std::vector<std::int64_t> opened;

  std::int64_t time_of(std::int64_t i) const {
    return clock_us + static_cast<std::int64_t>(std::llround(static_cast<double>(i - clock_idx) * 1e6 / fs));
  }
  void restart(std::int64_t t0_us, double first_value) {
    trig.reset();
    if (rec) rec->reset();
    if (cls) cls->reset();
    if (trigger) trigger->reset();
    acc.reset();
    vel.reset();
    disp.reset();
    pending.clear();
    seg_start_us = t0_us;
    seg_start_idx = idx;
    clock_us = t0_us;
    clock_idx = idx;
    offset = first_value;
  }
};

struct StationProcessor::Tracker {
  std::int64_t onset_us = 0;
  std::size_t next_report = 0;
  double pga = 0, pgv = 0, pd = 0, sum_d2 = 0, sum_v2 = 0, pd_noise = 0;
  std::int64_t end_us = 0;
};

StationProcessor::StationProcessor(StationInfo info, ProcessorConfig cfg) : info_(std::move(info)), cfg_(std::move(cfg)) {
  if (info_.site.empty()) info_.site = info_.network.empty() ? info_.station : info_.network + "." + info_.station;
}
StationProcessor::~StationProcessor() = default;
StationProcessor::StationProcessor(StationProcessor&&) noexcept = default;
StationProcessor& StationProcessor::operator=(StationProcessor&&) noexcept = default;

bool StationProcessor::is_vertical(const std::string& code) const {
  if (code.empty()) return false;
  if (!vertical_.empty()) return code == vertical_;
  return cfg_.vertical_components.find(code.back()) != std::string::npos;
}

StationProcessor::Channel& StationProcessor::channel(const Trace& t) {
  auto it = channels_.find(t.channel);
  if (it != channels_.end()) return *it->second;
  auto ch = std::make_unique<Channel>();
  ch->code = t.channel;
  ch->fs = t.sample_rate;
  // The vertical channel is the one whose component letter comes first in vertical_components.
  if (!t.channel.empty()) {
    const auto rank = cfg_.vertical_components.find(t.channel.back());
    if (rank != std::string::npos) {
      std::size_t cur = std::string::npos;
      if (!vertical_.empty()) cur = cfg_.vertical_components.find(vertical_.back());
      if (vertical_.empty() || rank < cur) {
        if (!vertical_.empty()) channels_[vertical_]->vertical = false;
        vertical_ = t.channel;
        ch->vertical = true;
      }
    }
  }
  auto fail = [&](const std::string& what) {
    errors_.push_back(fmt::format("{}.{}: {}", info_.station, t.channel, what));
    ch->ok = false;
  };
  auto tf = make_filter_chain(cfg_.trigger_filter, ch->fs);
  if (!tf) fail(tf.error().message);
  else ch->trig = std::move(*tf);
  if (cfg_.stalta == "classic") ch->cls = std::make_unique<ClassicStaLta>(cfg_.sta_s, cfg_.lta_s, ch->fs);
  else ch->rec = std::make_unique<RecursiveStaLta>(cfg_.sta_s, cfg_.lta_s, ch->fs);
  ch->trigger = std::make_unique<Trigger>(cfg_.trigger_on, cfg_.trigger_off);
  ch->sensor = info_.sensor != SensorKind::unknown ? info_.sensor : sensor_from_channel(t.channel);
  if (info_.counts_per_unit > 0 && ch->sensor != SensorKind::unknown) {
    ch->scale = 1.0 / info_.counts_per_unit;
    const bool accel = ch->sensor == SensorKind::accelerometer;
    auto a = make_filter_chain(accel ? cfg_.acc_filter : "DIFF", ch->fs);
    auto v = make_filter_chain(accel ? cfg_.vel_filter : cfg_.acc_filter, ch->fs);
    auto d = make_filter_chain(cfg_.disp_filter, ch->fs);
    if (!a || !v || !d) {
      errors_.push_back(fmt::format("{}.{}: ground-motion filters: {}", info_.station, t.channel,
                                    !a ? a.error().message : !v ? v.error().message : d.error().message));
    } else {
      ch->acc = std::move(*a);
      ch->vel = std::move(*v);
      ch->disp = std::move(*d);
      ch->gm = true;
    }
  }
  std::size_t need = static_cast<std::size_t>((cfg_.pick_pre_s + cfg_.pick_post_s + cfg_.pd_window_s + 2.0) * ch->fs) + 16;
  std::size_t size = 1;
  while (size < need) size <<= 1;
  ch->mask = size - 1;
  ch->r_trig.assign(size, 0.0);
  ch->r_raw.assign(size, 0.0);
  ch->pick_proto = ch->trig;
  if (ch->gm) {
    ch->r_a.assign(size, 0.0);
    ch->r_v.assign(size, 0.0);
    ch->r_d.assign(size, 0.0);
  }
  auto& ref = *ch;
  channels_[t.channel] = std::move(ch);
  return ref;
}

std::vector<tw::Message> StationProcessor::feed(const Trace& chunk) {
  std::vector<tw::Message> out;
  if (chunk.samples.empty() || !(chunk.sample_rate > 0)) return out;
  Channel& ch = channel(chunk);
  if (!ch.ok) return out;
  if (std::fabs(chunk.sample_rate - ch.fs) > 1e-3 * ch.fs) {
    // A new rate: start the channel again with filters designed for it.
    channels_.erase(chunk.channel);
    if (vertical_ == chunk.channel) vertical_.clear();
    return feed(chunk);
  }
  std::size_t from = 0;
  const double period_us = 1e6 / ch.fs;
  if (!ch.started) {
    ch.restart(chunk.start_us, chunk.samples[0]);
    ch.started = true;
  } else {
    const double delta = static_cast<double>(chunk.start_us - ch.next_us) / period_us;
    if (delta > cfg_.max_gap_samples) {
      ++gaps_;
      const double missing = std::round(delta);
      if (missing <= cfg_.max_fill_s * ch.fs) {
        // Bridge a short telemetry gap so filters and the STA/LTA keep their state.
        Trace fill = same_channel(chunk);
        fill.start_us = ch.next_us;
        const auto nfill = static_cast<std::size_t>(missing);
        const double a = ch.last_value, b = chunk.samples[0];
        fill.samples.resize(nfill);
        for (std::size_t i = 0; i < nfill; ++i)
          fill.samples[i] = a + (b - a) * static_cast<double>(i + 1) / static_cast<double>(nfill + 1);
        filled_ += nfill;
        process(ch, fill, 0, out);
        // keep the segment clock on the data's own time stamps
        ch.clock_us = chunk.start_us;
        ch.clock_idx = ch.idx;
      } else {
        ch.restart(chunk.start_us, chunk.samples[0]);
      }
    } else if (delta < -0.5) {  // overlap: skip samples already seen
      const auto skip = static_cast<std::size_t>(std::llround(-delta));
      if (skip >= chunk.samples.size()) return out;
      from = skip;
    }
  }
  // Work in blocks small enough for the history rings, so picks can look back from any trigger.
  const std::size_t block = std::max<std::size_t>(16, std::min<std::size_t>(256, (ch.mask + 1) / 4));
  if (chunk.samples.size() - from <= block) {
    process(ch, chunk, from, out);
    return out;
  }
  Trace piece = same_channel(chunk);
  for (std::size_t i = from; i < chunk.samples.size(); i += block) {
    const std::size_t e = std::min(chunk.samples.size(), i + block);
    piece.start_us = chunk.time_us(i);
    piece.samples.assign(chunk.samples.begin() + static_cast<std::ptrdiff_t>(i), chunk.samples.begin() + static_cast<std::ptrdiff_t>(e));
    process(ch, piece, 0, out);
  }
  return out;
}

void StationProcessor::process(Channel& ch, const Trace& chunk, std::size_t from, std::vector<tw::Message>& out) {
  const std::size_t n = chunk.samples.size() - from;
  const std::int64_t first = ch.idx;
  ch.w.resize(n);
  ch.c.resize(n);
  for (std::size_t i = 0; i < n; ++i) ch.w[i] = chunk.samples[from + i] - ch.offset;
  ch.last_value = chunk.samples.back();
  if (ch.gm) {
    ch.a.resize(n);
    ch.v.resize(n);
    ch.d.resize(n);
    const double k = ch.scale;
    for (std::size_t i = 0; i < n; ++i) ch.a[i] = ch.w[i] * k;
    ch.acc.apply(ch.a);
    std::copy(ch.a.begin(), ch.a.end(), ch.v.begin());
    ch.vel.apply(ch.v);
    std::copy(ch.v.begin(), ch.v.end(), ch.d.begin());
    ch.disp.apply(ch.d);
  }
  const bool vert = is_vertical(ch.code);
  if (vert) {
    for (std::size_t i = 0; i < n; ++i) ch.r_raw[static_cast<std::size_t>(first + static_cast<std::int64_t>(i)) & ch.mask] = ch.w[i];
    ch.trig.apply(ch.w);
    if (ch.rec) ch.rec->apply(ch.w, ch.c);
    else ch.cls->apply(ch.w, ch.c);
    ch.closed.clear();
    ch.opened.clear();
    ch.trigger->feed(ch.c, first, ch.closed, &ch.opened);
    for (auto on : ch.opened) ch.pending.emplace_back(on, ch.c[static_cast<std::size_t>(on - first)]);
    for (std::size_t i = 0; i < n; ++i) ch.r_trig[static_cast<std::size_t>(first + static_cast<std::int64_t>(i)) & ch.mask] = ch.w[i];
  }
  if (ch.gm) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t r = static_cast<std::size_t>(first + static_cast<std::int64_t>(i)) & ch.mask;
      ch.r_a[r] = ch.a[i];
      ch.r_v[r] = ch.v[i];
      ch.r_d[r] = ch.d[i];
    }
  }
  ch.idx += static_cast<std::int64_t>(n);
  ch.next_us = ch.time_of(ch.idx);
  samples_ += n;
  // Ground-motion tracking over this chunk.
  if (tracker_ && ch.gm) {
    Tracker& t = *tracker_;
    const std::int64_t pd_end = t.onset_us + static_cast<std::int64_t>(cfg_.pd_window_s * 1e6);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t ts = ch.time_of(first + static_cast<std::int64_t>(i));
      if (ts < t.onset_us || ts > t.end_us) continue;
      t.pga = std::max(t.pga, std::fabs(ch.a[i]));
      t.pgv = std::max(t.pgv, std::fabs(ch.v[i]));
      if (vert && ts <= pd_end) {
        t.pd = std::max(t.pd, std::fabs(ch.d[i]));
        t.sum_d2 += ch.d[i] * ch.d[i];
        t.sum_v2 += ch.v[i] * ch.v[i];
      }
    }
  }
  // Pick decisions that now have enough samples after the trigger.
  if (vert) {
    const auto post = static_cast<std::int64_t>(cfg_.pick_post_s * ch.fs);
    while (!ch.pending.empty() && ch.pending.front().first + post < ch.idx) {
      auto [trig_idx, peak] = ch.pending.front();
      ch.pending.erase(ch.pending.begin());
      decide_pick(ch, trig_idx, peak, out);
    }
    if (tracker_) update_tracker(ch, out);
  }
}

void StationProcessor::decide_pick(Channel& ch, std::int64_t trig_idx, double peak, std::vector<tw::Message>& out) {
  const std::int64_t trig_us = ch.time_of(trig_idx);
  if (trig_us - last_pick_us_ < static_cast<std::int64_t>(cfg_.min_pick_interval_s * 1e6)) return;
  const auto pre = static_cast<std::int64_t>(cfg_.pick_pre_s * ch.fs);
  const auto post = static_cast<std::int64_t>(cfg_.pick_post_s * ch.fs);
  std::int64_t lo = std::max({trig_idx - pre, ch.seg_start_idx, ch.idx - static_cast<std::int64_t>(ch.mask)});
  std::int64_t hi = std::min(trig_idx + post, ch.idx - 1);
  if (hi - lo < 16) return;
  std::vector<double> win(static_cast<std::size_t>(hi - lo + 1));
  if (cfg_.pick_zero_phase) {
    // Forward-backward filtering of the raw window, with a warm-up lead where the ring allows it.
    const std::int64_t warm_lo = std::max({lo - static_cast<std::int64_t>(ch.fs), ch.seg_start_idx,
                                           ch.idx - static_cast<std::int64_t>(ch.mask)});
    std::vector<double> raw(static_cast<std::size_t>(hi - warm_lo + 1));
    for (std::int64_t i = warm_lo; i <= hi; ++i) raw[static_cast<std::size_t>(i - warm_lo)] = ch.r_raw[static_cast<std::size_t>(i) & ch.mask];
    const double base = raw.front();
    for (double& v : raw) v -= base;
    FilterChain f = ch.pick_proto;
    f.reset();
    f.apply(raw);
    std::reverse(raw.begin(), raw.end());
    f.reset();
    f.apply(raw);
    std::reverse(raw.begin(), raw.end());
    std::copy(raw.begin() + (lo - warm_lo), raw.end(), win.begin());
  } else {
    for (std::int64_t i = lo; i <= hi; ++i) win[static_cast<std::size_t>(i - lo)] = ch.r_trig[static_cast<std::size_t>(i) & ch.mask];
  }
  auto aic = aic_onset(win);
  std::int64_t onset = trig_idx;
  double half = 1;
  if (aic.ok) {
    onset = lo + static_cast<std::int64_t>(aic.index);
    half = std::max(1.0, aic.half_width);
  }
  if (aic.ok && cfg_.pick_refine_s > 0) {
    // Second pass on a shorter window ending at the same place: an emergent onset that the first
    // pass skipped in favour of a later, stronger change shows up once the long noise lead is gone.
    const auto r0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(aic.index) - static_cast<std::int64_t>(cfg_.pick_refine_s * ch.fs));
    std::span<const double> sub(win.data() + r0, win.size() - static_cast<std::size_t>(r0));
    auto a2 = aic_onset(sub);
    if (a2.ok) {
      onset = lo + r0 + static_cast<std::int64_t>(a2.index);
      half = std::max(1.0, a2.half_width);
    }
  }
  if (onset > trig_idx) onset = trig_idx;  // the onset cannot follow the trigger
  // SNR: RMS after the onset (up to the window end) over RMS before it
  const double snr = onset > lo ? onset_snr(win, static_cast<std::size_t>(onset - lo)) : 0.0;
  if (snr < cfg_.min_snr) return;
  Pick p;
  p.network = info_.network;
  p.station = info_.station;
  p.location = "";
  p.channel = ch.code;
  p.time_us = ch.time_of(onset);
  p.trigger_us = trig_us;
  p.cft_peak = peak;
  p.snr = snr;
  // Uncertainty: width of the AIC minimum, widened when the SNR is low; bounded to [1 sample, 1 s].
  p.uncertainty_s = pick_uncertainty_s(half, ch.fs, snr);
  last_pick_us_ = p.time_us;
  picks_.push_back(p);
  const std::int64_t now_ms = ch.next_us / 1000;
  out.push_back(tw::make_message(info_.site, "pick", now_ms, to_json(p, info_)));
  // Start ground-motion tracking from the onset, back-filling from each channel's ring.
  bool any_gm = false;
  for (auto& [code, c] : channels_) any_gm = any_gm || c->gm;
  if (!any_gm) return;
  tracker_ = std::make_unique<Tracker>();
  Tracker& t = *tracker_;
  t.onset_us = p.time_us;
  t.end_us = p.time_us + static_cast<std::int64_t>(cfg_.gm_report_s.back() * 1e6);
  const std::int64_t pd_end = t.onset_us + static_cast<std::int64_t>(cfg_.pd_window_s * 1e6);
  for (auto& [code, c] : channels_) {
    if (!c->gm) continue;
    const bool v = c->vertical;
    const std::int64_t start = std::max({c->seg_start_idx, c->idx - static_cast<std::int64_t>(c->mask)});
    for (std::int64_t i = start; i < c->idx; ++i) {
      const std::int64_t ts = c->time_of(i);
      const std::size_t r = static_cast<std::size_t>(i) & c->mask;
      if (ts < t.onset_us) {
        if (v && ts >= t.onset_us - static_cast<std::int64_t>(cfg_.pd_window_s * 1e6))
          t.pd_noise = std::max(t.pd_noise, std::fabs(c->r_d[r]));
        continue;
      }
      t.pga = std::max(t.pga, std::fabs(c->r_a[r]));
      t.pgv = std::max(t.pgv, std::fabs(c->r_v[r]));
      if (v && ts <= pd_end) {
        t.pd = std::max(t.pd, std::fabs(c->r_d[r]));
        t.sum_d2 += c->r_d[r] * c->r_d[r];
        t.sum_v2 += c->r_v[r] * c->r_v[r];
      }
    }
  }
  update_tracker(ch, out);
}

void StationProcessor::update_tracker(Channel& ch, std::vector<tw::Message>& out) {
  Tracker& t = *tracker_;
  while (t.next_report < cfg_.gm_report_s.size()) {
    const double w = cfg_.gm_report_s[t.next_report];
    const std::int64_t due = t.onset_us + static_cast<std::int64_t>(w * 1e6);
    if (ch.next_us <= due) break;
    GroundMotion g;
    g.network = info_.network;
    g.station = info_.station;
    g.pick_time_us = t.onset_us;
    g.window_s = w;
    g.pga_cms2 = t.pga;
    g.pgv_cms = t.pgv;
    g.pd_cm = t.pd;
    g.tau_c_s = t.sum_v2 > 0 ? 2 * std::numbers::pi * std::sqrt(t.sum_d2 / t.sum_v2) : 0.0;
    g.pd_noise_cm = t.pd_noise;
    g.final = t.next_report + 1 == cfg_.gm_report_s.size();
    ++t.next_report;
    out.push_back(tw::make_message(info_.site, "ground_motion", due / 1000, to_json(g, info_)));
  }
  if (t.next_report >= cfg_.gm_report_s.size()) tracker_.reset();
}

std::vector<tw::Message> StationProcessor::finish() {
  std::vector<tw::Message> out;
  for (auto& [code, ch] : channels_) {
    if (!is_vertical(code)) continue;
    while (!ch->pending.empty()) {
      auto [trig_idx, peak] = ch->pending.front();
      ch->pending.erase(ch->pending.begin());
      decide_pick(*ch, trig_idx, peak, out);
    }
  }
  return out;
}

// ------------------------------------------------------------------ replay

Replay::Replay(std::vector<Trace> traces, ReplayOptions opt) : traces_(std::move(traces)), opt_(opt) {
  pos_.assign(traces_.size(), 0);
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& t : traces_) {
    if (t.samples.empty()) continue;
    lo = std::min(lo, t.start_us);
    hi = std::max(hi, t.end_us());
  }
  if (lo == INT64_MAX) lo = hi = 0;
  clock_us_ = lo;
  data_start_us_ = lo;
  end_us_ = hi;
  if (!(opt_.chunk_s > 0)) opt_.chunk_s = 0.25;
  wall_start_ms_ = steady_ms();
}

std::optional<std::vector<Trace>> Replay::next() {
  if (clock_us_ >= end_us_) return std::nullopt;
  const std::int64_t step_end = clock_us_ + static_cast<std::int64_t>(opt_.chunk_s * 1e6);
  if (opt_.speed > 0) {
    const auto due_ms = wall_start_ms_ + static_cast<std::int64_t>(static_cast<double>(step_end - data_start_us_) / 1000.0 / opt_.speed);
    const auto now = steady_ms();
    if (due_ms > now) std::this_thread::sleep_for(std::chrono::milliseconds(due_ms - now));
  }
  std::vector<Trace> out;
  for (std::size_t k = 0; k < traces_.size(); ++k) {
    const Trace& t = traces_[k];
    std::size_t i0 = pos_[k], i1 = i0;
    while (i1 < t.samples.size() && t.time_us(i1) < step_end) ++i1;
    if (i1 == i0) continue;
    Trace c = same_channel(t);
    c.start_us = t.time_us(i0);
    c.samples.assign(t.samples.begin() + static_cast<std::ptrdiff_t>(i0), t.samples.begin() + static_cast<std::ptrdiff_t>(i1));
    pos_[k] = i1;
    out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(), [](const Trace& a, const Trace& b) { return a.start_us < b.start_us; });
  clock_us_ = step_end;
  return out;
}

}  // namespace tw::seismic
