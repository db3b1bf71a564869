#pragma once
// Without libFuzzer, each fuzz target is a plain driver: it mutates seed inputs at random (bit flips,
// byte overwrites, truncation, splicing, insertion) for a bounded number of iterations and feeds
// every mutant to LLVMFuzzerTestOneInput. Usage: fuzz_x [iterations] [seed files...]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

#ifndef TW_LIBFUZZER
namespace tw_fuzz {
inline std::string mutate(std::string s, std::mt19937_64& rng, const std::vector<std::string>& seeds) {
  std::uniform_int_distribution<int> op(0, 5);
  const int rounds = 1 + static_cast<int>(rng() % 8);
  for (int r = 0; r < rounds; ++r) {
    if (s.empty()) s = "x";
    const std::size_t pos = rng() % s.size();
    switch (op(rng)) {
      case 0: s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8))); break;
      case 1: s[pos] = static_cast<char>(rng()); break;
      case 2: s.resize(pos); break;
      case 3: s.insert(pos, std::string(1 + rng() % 64, static_cast<char>(rng()))); break;
      case 4: {
        const auto& o = seeds[rng() % seeds.size()];
        if (!o.empty()) {
          const std::size_t a = rng() % o.size();
          s.insert(pos, o.substr(a, 1 + rng() % 600));
        }
        break;
      }
      default: s.erase(pos, 1 + rng() % 64); break;
    }
  }
  return s;
}
}  // namespace tw_fuzz

std::vector<std::string> tw_fuzz_default_seeds();

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 2000;
  std::vector<std::string> seeds;
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    seeds.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  if (seeds.empty()) seeds = tw_fuzz_default_seeds();
  std::mt19937_64 rng(12345);
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  for (long i = 0; i < iterations; ++i) {
    const std::string m = tw_fuzz::mutate(seeds[static_cast<std::size_t>(i) % seeds.size()], rng, seeds);
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(m.data()), m.size());
  }
  std::printf("%ld mutated inputs, no crash\n", iterations);
  return 0;
}
#else
inline std::vector<std::string> tw_fuzz_default_seeds() { return {}; }
#endif
