#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tw {

std::int64_t now_ms();  // UTC wall clock, milliseconds since the Unix epoch
std::int64_t steady_ms();

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
