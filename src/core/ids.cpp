#include "tw/core/ids.hpp"

#include <array>

#include "tw/core/time.hpp"

namespace tw {
namespace {
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int decode_char(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}
}  // namespace

UlidGenerator::UlidGenerator() : rng_(std::random_device{}()) {}

std::string UlidGenerator::next() { return next(now_ms()); }

std::string UlidGenerator::next(std::int64_t unix_ms) {
  std::lock_guard lock(mu_);
  if (unix_ms <= last_ms_) {
    // Same (or earlier) millisecond: increment the random part to stay monotonic.
    unix_ms = last_ms_;
    if (++lo_ == 0) hi_ = (hi_ + 1) & 0xFFFF;
  } else {
    last_ms_ = unix_ms;
    hi_ = rng_() & 0xFFFF;
    lo_ = rng_() & 0x7FFFFFFFFFFFFFFFULL;  // leave headroom for increments
  }
  // 128 bits: 48 time | 16 hi | 64 lo, written as 26 base32 chars (130 bits, top 2 zero).
  std::array<std::uint8_t, 16> b{};
  auto t = static_cast<std::uint64_t>(unix_ms);
  for (int i = 5; i >= 0; --i) { b[static_cast<size_t>(i)] = static_cast<std::uint8_t>(t & 0xFF); t >>= 8; }
  b[6] = static_cast<std::uint8_t>(hi_ >> 8);
  b[7] = static_cast<std::uint8_t>(hi_ & 0xFF);
  for (int i = 0; i < 8; ++i) b[static_cast<size_t>(8 + i)] = static_cast<std::uint8_t>(lo_ >> (56 - 8 * i));
  std::string out(26, '0');
  // Read 5 bits at a time from a 130-bit big-endian number whose top 2 bits are zero.
  for (int i = 0; i < 26; ++i) {
    int bit = i * 5 - 2;  // position in the 128-bit array
    unsigned v = 0;
    for (int k = 0; k < 5; ++k) {
      int p = bit + k;
      unsigned bitv = 0;
      if (p >= 0) bitv = (b[static_cast<size_t>(p / 8)] >> (7 - p % 8)) & 1U;
      v = (v << 1) | bitv;
    }
    out[static_cast<size_t>(i)] = kAlphabet[v];
  }
  return out;
}

std::string new_ulid() {
  static UlidGenerator gen;
  return gen.next();
}

bool is_valid_ulid(const std::string& s) {
  if (s.size() != 26) return false;
  if (decode_char(s[0]) > 7) return false;  // would overflow 128 bits
  for (char c : s) {
    if (decode_char(c) < 0) return false;
  }
  return true;
}

std::optional<std::int64_t> ulid_time_ms(const std::string& s) {
  if (!is_valid_ulid(s)) return std::nullopt;
  std::uint64_t t = 0;
  for (int i = 0; i < 10; ++i) t = (t << 5) | static_cast<std::uint64_t>(decode_char(s[static_cast<size_t>(i)]));
  return static_cast<std::int64_t>(t);
}

}  // namespace tw
