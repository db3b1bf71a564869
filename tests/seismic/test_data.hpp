#pragma once
#include <filesystem>

#include "tw/core/paths.hpp"

namespace tw::seismic::test {
inline std::filesystem::path seismic_dir() { return tw::data_dir() / "seismic"; }
inline std::filesystem::path norway_1996() {
  return seismic_dir() / "norway_seisan" / "mseed" / "1996-06-25-0337-20S.NNSN__039.mseed";
}
inline std::filesystem::path openeew(const char* file) { return seismic_dir() / "openeew_mexico" / "mseed" / file; }
}  // namespace tw::seismic::test
