#include "tw/seismic/filter.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace tw::seismic {

using cd = std::complex<double>;

SosFilter::SosFilter(std::vector<Biquad> sections)
    : sos_(std::move(sections)), s1_(sos_.size(), 0.0), s2_(sos_.size(), 0.0) {}

void SosFilter::apply(std::span<double> x) {
  const std::size_t ns = sos_.size();
  for (std::size_t k = 0; k < ns; ++k) {
    const Biquad q = sos_[k];
    double s1 = s1_[k], s2 = s2_[k];
    for (double& v : x) {
      const double in = v;
      const double y = q.b0 * in + s1;
      s1 = q.b1 * in - q.a1 * y + s2;
      s2 = q.b2 * in - q.a2 * y;
      v = y;
    }
    s1_[k] = s1;
    s2_[k] = s2;
  }
}

void SosFilter::reset() {
  std::fill(s1_.begin(), s1_.end(), 0.0);
  std::fill(s2_.begin(), s2_.end(), 0.0);
}

std::unique_ptr<Filter> SosFilter::clone() const { return std::make_unique<SosFilter>(*this); }

std::complex<double> SosFilter::response(double f_over_fs) const {
  const cd z1 = std::exp(cd(0, -2 * std::numbers::pi * f_over_fs));
  const cd z2 = z1 * z1;
  cd h(1, 0);
  for (const auto& q : sos_) h *= (q.b0 + q.b1 * z1 + q.b2 * z2) / (1.0 + q.a1 * z1 + q.a2 * z2);
  return h;
}

Result<std::vector<Biquad>> butterworth(BandType type, int order, double f1, double f2, double fs) {
  if (order < 1 || order > 12) return make_error("bad_filter", fmt::format("order {} outside 1..12", order));
  const double nyq = fs / 2;
  if (!(fs > 0)) return make_error("bad_filter", "sample rate must be positive");
  if (!(f1 > 0) || f1 >= nyq)
    return make_error("bad_filter", fmt::format("corner {} Hz outside (0, {} Hz)", f1, nyq));
  if (type == BandType::bandpass && (!(f2 > f1) || f2 >= nyq))
    return make_error("bad_filter", fmt::format("band {}-{} Hz invalid for Nyquist {} Hz", f1, f2, nyq));
  const double pi = std::numbers::pi;
  const double k2 = 2 * fs;
  auto warp = [&](double f) { return k2 * std::tan(pi * f / fs); };
  std::vector<cd> proto;
  for (int k = 0; k < order; ++k)
    proto.push_back(std::exp(cd(0, pi * (2.0 * k + order + 1) / (2.0 * order))));
  std::vector<cd> poles;
  double ref_f = 0;  // frequency (Hz) where gain is normalised to 1
  if (type == BandType::lowpass) {
    const double w = warp(f1);
    for (auto p : proto) poles.push_back(w * p);
    ref_f = 0;
  } else if (type == BandType::highpass) {
    const double w = warp(f1);
    for (auto p : proto) poles.push_back(w / p);
    ref_f = nyq;
  } else {
    const double wl = warp(f1), wh = warp(f2);
    const double w0 = std::sqrt(wl * wh), bw = wh - wl;
    for (auto p : proto) {
      const cd a = p * bw / 2.0;
      const cd r = std::sqrt(a * a - w0 * w0);
      poles.push_back(a + r);
      poles.push_back(a - r);
    }
    ref_f = fs / pi * std::atan(w0 / k2);
  }
  std::vector<cd> zp;
  for (auto s : poles) zp.push_back((k2 + s) / (k2 - s));
  std::vector<cd> cplx;
  std::vector<double> reals;
  for (auto z : zp) {
    if (std::fabs(z.imag()) < 1e-10) reals.push_back(z.real());
    else if (z.imag() > 0) cplx.push_back(z);
  }
  std::vector<Biquad> sos;
  // numerator per section: LP (1+z^-1)^2, HP (1-z^-1)^2, BP (1-z^-2)
  auto num = [&](Biquad& q, int nz) {
    if (type == BandType::lowpass) {
      if (nz == 2) q.b0 = 1, q.b1 = 2, q.b2 = 1;
      else q.b0 = 1, q.b1 = 1, q.b2 = 0;
    } else if (type == BandType::highpass) {
      if (nz == 2) q.b0 = 1, q.b1 = -2, q.b2 = 1;
      else q.b0 = 1, q.b1 = -1, q.b2 = 0;
    } else {
      q.b0 = 1, q.b1 = 0, q.b2 = -1;
    }
  };
  for (auto z : cplx) {
    Biquad q;
    q.a1 = -2 * z.real();
    q.a2 = std::norm(z);
    num(q, 2);
    sos.push_back(q);
  }
  std::sort(reals.begin(), reals.end());
  for (std::size_t i = 0; i < reals.size(); i += 2) {
    Biquad q;
    if (i + 1 < reals.size()) {
      q.a1 = -(reals[i] + reals[i + 1]);
      q.a2 = reals[i] * reals[i + 1];
      num(q, 2);
    } else {
      q.a1 = -reals[i];
      q.a2 = 0;
      num(q, 1);
    }
    sos.push_back(q);
  }
  SosFilter tmp(sos);
  const double g = std::abs(tmp.response(ref_f / fs));
  if (!(g > 0) || !std::isfinite(g)) return make_error("bad_filter", "filter design failed (zero gain)");
  sos[0].b0 /= g;
  sos[0].b1 /= g;
  sos[0].b2 /= g;
  return sos;
}

namespace {

class Integrate final : public Filter {
 public:
  explicit Integrate(double fs) : dt_(1.0 / fs) {}
  void apply(std::span<double> x) override {
    double acc = acc_, prev = prev_;
    const double h = dt_ * 0.5;
    for (double& v : x) {
      const double in = v;
      acc += (in + prev) * h;
      prev = in;
      v = acc;
    }
    acc_ = acc;
    prev_ = prev;
  }
  void reset() override { acc_ = prev_ = 0; }
  std::unique_ptr<Filter> clone() const override { return std::make_unique<Integrate>(*this); }

 private:
  double dt_;
  double acc_ = 0, prev_ = 0;
};

class Differentiate final : public Filter {
 public:
  explicit Differentiate(double fs) : fs_(fs) {}
  void apply(std::span<double> x) override {
    for (double& v : x) {
      const double in = v;
      v = started_ ? (in - prev_) * fs_ : 0.0;
      prev_ = in;
      started_ = true;
    }
  }
  void reset() override { prev_ = 0, started_ = false; }
  std::unique_ptr<Filter> clone() const override { return std::make_unique<Differentiate>(*this); }

 private:
  double fs_;
  double prev_ = 0;
  bool started_ = false;
};

class RunningMean final : public Filter {
 public:
  RunningMean(double tau_s, double fs) : c_(1.0 / std::max(1.0, tau_s * fs)) {}
  void apply(std::span<double> x) override {
    for (double& v : x) {
      if (!started_) mean_ = v, started_ = true;
      mean_ += c_ * (v - mean_);
      v -= mean_;
    }
  }
  void reset() override { mean_ = 0, started_ = false; }
  std::unique_ptr<Filter> clone() const override { return std::make_unique<RunningMean>(*this); }

 private:
  double c_;
  double mean_ = 0;
  bool started_ = false;
};

class Scale final : public Filter {
 public:
  explicit Scale(double k) : k_(k) {}
  void apply(std::span<double> x) override {
    for (double& v : x) v *= k_;
  }
  void reset() override {}
  std::unique_ptr<Filter> clone() const override { return std::make_unique<Scale>(*this); }

 private:
  double k_;
};

}  // namespace

FilterChain::FilterChain(const FilterChain& o) {
  for (const auto& s : o.stages_) stages_.push_back(s->clone());
}
FilterChain& FilterChain::operator=(const FilterChain& o) {
  if (this != &o) {
    stages_.clear();
    for (const auto& s : o.stages_) stages_.push_back(s->clone());
  }
  return *this;
}
void FilterChain::apply(std::span<double> x) {
  for (auto& s : stages_) s->apply(x);
}
void FilterChain::reset() {
  for (auto& s : stages_) s->reset();
}
std::unique_ptr<Filter> FilterChain::clone() const { return std::make_unique<FilterChain>(*this); }

Result<FilterChain> make_filter_chain(std::string_view spec, double fs) {
  FilterChain chain;
  if (!(fs > 0)) return make_error("bad_filter", "sample rate must be positive");
  std::size_t pos = 0;
  std::string s(spec);
  s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }), s.end());
  if (s.empty()) return chain;
  while (pos <= s.size()) {
    auto next = s.find(">>", pos);
    const std::string stage = s.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    const std::string where = fmt::format("filter '{}': stage '{}' at {}", std::string(spec), stage, pos);
    std::string name = stage;
    std::vector<double> args;
    if (auto lp = stage.find('('); lp != std::string::npos) {
      if (stage.back() != ')') return make_error("bad_filter", where + ": missing ')'");
      name = stage.substr(0, lp);
      std::string inner = stage.substr(lp + 1, stage.size() - lp - 2);
      std::size_t p = 0;
      while (p <= inner.size() && !inner.empty()) {
        auto c = inner.find(',', p);
        std::string a = inner.substr(p, c == std::string::npos ? std::string::npos : c - p);
        char* end = nullptr;
        const double v = std::strtod(a.c_str(), &end);
        if (a.empty() || end != a.c_str() + a.size() || !std::isfinite(v))
          return make_error("bad_filter", where + ": bad number '" + a + "'");
        args.push_back(v);
        if (c == std::string::npos) break;
        p = c + 1;
      }
    }
    for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    auto nargs = [&](std::size_t lo, std::size_t hi) -> Status {
      if (args.size() < lo || args.size() > hi)
        return make_error("bad_filter", fmt::format("{}: expects {}..{} arguments, got {}", where, lo, hi, args.size()));
      return {};
    };
    auto order_of = [&](std::size_t idx) -> int { return args.size() > idx ? static_cast<int>(args[idx]) : 4; };
    if (name == "HP" || name == "LP") {
      if (auto st = nargs(1, 2); !st) return st.error();
      auto sos = butterworth(name == "HP" ? BandType::highpass : BandType::lowpass, order_of(1), args[0], 0, fs);
      if (!sos) return make_error("bad_filter", where + ": " + sos.error().message);
      chain.add(std::make_unique<SosFilter>(std::move(*sos)));
    } else if (name == "BP") {
      if (auto st = nargs(2, 3); !st) return st.error();
      Result<std::vector<Biquad>> sos = args[1] >= 0.95 * fs / 2
                                            ? butterworth(BandType::highpass, order_of(2), args[0], 0, fs)
                                            : butterworth(BandType::bandpass, order_of(2), args[0], args[1], fs);
      if (!sos) return make_error("bad_filter", where + ": " + sos.error().message);
      chain.add(std::make_unique<SosFilter>(std::move(*sos)));
    } else if (name == "INT") {
      if (auto st = nargs(0, 0); !st) return st.error();
      chain.add(std::make_unique<Integrate>(fs));
    } else if (name == "DIFF") {
      if (auto st = nargs(0, 0); !st) return st.error();
      chain.add(std::make_unique<Differentiate>(fs));
    } else if (name == "RMHP") {
      if (auto st = nargs(1, 1); !st) return st.error();
      if (!(args[0] > 0)) return make_error("bad_filter", where + ": time constant must be positive");
      chain.add(std::make_unique<RunningMean>(args[0], fs));
    } else if (name == "SCALE") {
      if (auto st = nargs(1, 1); !st) return st.error();
      chain.add(std::make_unique<Scale>(args[0]));
    } else {
      return make_error("bad_filter", where + ": unknown filter '" + name + "' (HP, LP, BP, INT, DIFF, RMHP, SCALE)");
    }
    if (next == std::string::npos) break;
    pos = next + 2;
  }
  return chain;
}

}  // namespace tw::seismic
