#pragma once
// Waveform data model shared by readers, site processing and replay.
#include <cstdint>
#include <string>
#include <vector>

namespace tw::seismic {

// One contiguous segment of one channel. Times are UTC microseconds since the Unix epoch.
struct Trace {
  std::string network;
  std::string station;
  std::string location;
  std::string channel;
  std::int64_t start_us = 0;  // time of the first sample
  double sample_rate = 0;     // samples per second (the effective rate, not the nominal one)
  std::vector<double> samples;

  std::string id() const { return network + "." + station + "." + location + "." + channel; }
  // Time of sample i.
  std::int64_t time_us(std::size_t i) const {
    return start_us + static_cast<std::int64_t>(static_cast<double>(i) * 1e6 / sample_rate + 0.5);
  }
  // Time one sample past the last one (where a contiguous next segment would start).
  std::int64_t end_us() const { return time_us(samples.size()); }
};

// Diagnostics collected while reading: corrupt input is counted and described, never fatal.
struct ReadReport {
  std::size_t records = 0;          // records (or packets, lines) accepted
  std::size_t corrupt = 0;          // records skipped as corrupt
  std::size_t gaps = 0;             // gaps between records of one channel (new segment started)
  std::size_t overlaps = 0;         // overlapping records (overlapping samples dropped)
  std::vector<std::string> errors;  // one line per corrupt record: "FILE: offset N: what" (first 100)
  void add_error(std::string e) {
    ++corrupt;
    if (errors.size() < 100) errors.push_back(std::move(e));
  }
};

// Orders traces by channel id then start time and merges segments that are contiguous within
// `tolerance_samples` (drops samples that overlap an earlier segment; counts gaps/overlaps).
void merge_segments(std::vector<Trace>& traces, ReadReport& report, double tolerance_samples = 0.5);

}  // namespace tw::seismic
