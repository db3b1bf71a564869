#pragma once
#include <filesystem>
#include <string>

#include "tw/core/paths.hpp"

namespace tw::power::test {
inline std::filesystem::path arts(const std::string& cell, const std::string& rate) {
  return tw::data_dir() / "power" / "arts_samsung30q" / cell / ("Q30_" + cell + "_" + rate + ".csv");
}
inline std::filesystem::path nasa_metadata() { return tw::data_dir() / "power" / "nasa_pcoe" / "metadata.csv"; }
}  // namespace tw::power::test
