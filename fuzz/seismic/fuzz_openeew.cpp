// Fuzz target: OpenEEW JSON-lines packet parsing and assembly.
#include <string_view>

#include "fuzz_driver.hpp"
#include "tw/core/paths.hpp"
#include "tw/seismic/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ws = tw::seismic::read_openeew_lines(text, "fuzz", tw::seismic::OpenEewOptions{});
  (void)ws;
  return 0;
}

#ifndef TW_LIBFUZZER
std::vector<std::string> tw_fuzz_default_seeds() {
  std::vector<std::string> seeds;
  auto members = tw::seismic::read_tar_members(tw::data_dir() / "seismic/openeew_mexico/openeew_jsonl.tar.gz", ".jsonl");
  if (members && !members->empty()) {
    for (std::size_t i = 0; i < members->size() && seeds.size() < 3; i += 100) seeds.push_back((*members)[i].data.substr(0, 20000));
  }
  seeds.push_back(R"({"device_t":1500000000.5,"cloud_t":1500000001,"sr":31.25,"x":[1,2],"y":[3,4],"z":[5,6]})" "\n");
  return seeds;
}
#endif
