#pragma once
// Unique, lexicographically sortable message ids (ULID: 48-bit ms time + 80 random bits,
// Crockford base32, 26 chars). Ids made by one generator within one ms are strictly increasing.
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>

namespace tw {

class UlidGenerator {
 public:
  UlidGenerator();
  std::string next(std::int64_t unix_ms);
  std::string next();  // uses the wall clock

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
  std::int64_t last_ms_ = -1;
  std::uint64_t hi_ = 0;  // upper 16 bits of randomness
  std::uint64_t lo_ = 0;  // lower 64 bits of randomness
};

std::string new_ulid();                 // process-wide generator
bool is_valid_ulid(const std::string& s);
std::optional<std::int64_t> ulid_time_ms(const std::string& s);

}  // namespace tw
