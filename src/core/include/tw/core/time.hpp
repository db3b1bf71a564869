#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

namespace tw {

std::int64_t now_ms();  // UTC wall clock, milliseconds since the Unix epoch
std::int64_t steady_ms();

// Sleeps until `deadline` (steady clock) or until a stop is requested, whichever comes first: false when stopped.
// The edge heartbeat and the demo sources wait with it between frames, samples and heartbeats, so that stopping
// never waits for a sleep to end.
bool sleep_until(std::stop_token stop, std::chrono::steady_clock::time_point deadline);
template <class Rep, class Period>
bool sleep_for(std::stop_token stop, std::chrono::duration<Rep, Period> d) {
  return sleep_until(std::move(stop), std::chrono::steady_clock::now() +
                                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
}

// "2024-01-02T03:04:05.678Z"
std::string format_iso8601_ms(std::int64_t unix_ms);
// Microsecond precision, for seismic picks: "2024-01-02T03:04:05.678901Z"
std::string format_iso8601_us(std::int64_t unix_us);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff...][Z|+HH:MM]" (also a space instead of T); returns microseconds.
std::optional<std::int64_t> parse_iso8601_us(std::string_view s);
inline std::optional<std::int64_t> parse_iso8601_ms(std::string_view s) {
  auto us = parse_iso8601_us(s);
  if (!us) return std::nullopt;
  return *us / 1000;
}

}  // namespace tw
