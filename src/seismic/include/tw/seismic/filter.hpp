#pragma once
// Stateful, streaming signal filters built from a spec string, e.g. "BP(1,10,4)>>INT>>HP(0.075,2)".
//   HP(fc[,order])        Butterworth high-pass (default order 4)
//   LP(fc[,order])        Butterworth low-pass
//   BP(f1,f2[,order])     Butterworth band-pass (becomes HP(f1) when f2 is at or above 95% of Nyquist)
//   INT                   trapezoidal integration (x dt)
//   DIFF                  first difference / dt
//   RMHP(T)               removes a running mean with time constant T seconds
//   SCALE(k)              multiplies by k
// Stages are applied left to right. Each filter keeps its state between apply() calls, so a stream
// can be processed chunk by chunk with the same result as in one go.
#include <complex>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tw/core/result.hpp"

namespace tw::seismic {

class Filter {
 public:
  virtual ~Filter() = default;
  virtual void apply(std::span<double> x) = 0;  // in place
  virtual void reset() = 0;
  virtual std::unique_ptr<Filter> clone() const = 0;
};

// Cascade of second-order sections (transposed direct form II), b0 b1 b2 a1 a2 with a0 = 1.
struct Biquad {
  double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;
};

class SosFilter final : public Filter {
 public:
  explicit SosFilter(std::vector<Biquad> sections);
  void apply(std::span<double> x) override;
  void reset() override;
  std::unique_ptr<Filter> clone() const override;
  const std::vector<Biquad>& sections() const { return sos_; }
  // Complex response at normalised frequency f/fs.
  std::complex<double> response(double f_over_fs) const;

 private:
  std::vector<Biquad> sos_;
  std::vector<double> s1_, s2_;
};

enum class BandType { lowpass, highpass, bandpass };
// Digital Butterworth design (bilinear transform with pre-warping); unit gain in the pass band.
Result<std::vector<Biquad>> butterworth(BandType type, int order, double f1, double f2, double fs);

class FilterChain final : public Filter {
 public:
  FilterChain() = default;
  FilterChain(const FilterChain& o);
  FilterChain& operator=(const FilterChain& o);
  FilterChain(FilterChain&&) = default;
  FilterChain& operator=(FilterChain&&) = default;
  void add(std::unique_ptr<Filter> f) { stages_.push_back(std::move(f)); }
  void apply(std::span<double> x) override;
  void reset() override;
  std::unique_ptr<Filter> clone() const override;
  std::size_t size() const { return stages_.size(); }

 private:
  std::vector<std::unique_ptr<Filter>> stages_;
};

// Parses a spec for sample rate fs. An empty spec is an identity chain.
// Errors name the offending stage and position.
Result<FilterChain> make_filter_chain(std::string_view spec, double fs);

}  // namespace tw::seismic
