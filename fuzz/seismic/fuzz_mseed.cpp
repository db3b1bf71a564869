// Fuzz target: the MiniSEED record scanner/decoder and the site processor behind it.
#include <string_view>

#include "fuzz_driver.hpp"
#include "tw/core/paths.hpp"
#include "tw/seismic/io.hpp"
#include "tw/seismic/station.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto ws = tw::seismic::decode_mseed(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  std::size_t n = 0;
  for (const auto& t : ws.traces) n += t.samples.size();
  if (n > 0 && n < 200000) {
    tw::seismic::StationProcessor sp(tw::seismic::StationInfo{"", "XX", "FZ"}, tw::seismic::ProcessorConfig{});
    for (const auto& t : ws.traces)
      if (t.sample_rate > 0.1 && t.sample_rate < 5000) (void)sp.feed(t);
  }
  return 0;
}

#ifndef TW_LIBFUZZER
std::vector<std::string> tw_fuzz_default_seeds() {
  std::vector<std::string> seeds;
  for (const char* f : {"seismic/norway_seisan/mseed/2021-02-23-0514-03S.NSN___015.mseed",
                        "seismic/openeew_mexico/mseed/2020_1_30.mseed"}) {
    auto b = tw::seismic::read_file_bytes(tw::data_dir() / f);
    if (b) seeds.push_back(b->substr(0, 512 * 24));
  }
  if (seeds.empty()) seeds.emplace_back(512, '\0');
  return seeds;
}
#endif
