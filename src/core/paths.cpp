#include "tw/core/paths.hpp"

#include <cstdlib>

namespace tw {
std::filesystem::path shipped_path(const char* env, const std::filesystem::path& relative,
                                   const std::filesystem::path& fallback) {
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  std::error_code ec;
  if (std::filesystem::exists(relative, ec)) return relative;
  return fallback;
}

std::filesystem::path data_dir() {
  return shipped_path("TOWERWATCH_DATA", "../shared/data", TW_DEFAULT_DATA_DIR);
}
std::filesystem::path models_dir() {
  return shipped_path("TOWERWATCH_MODELS", "../shared/models", TW_DEFAULT_MODELS_DIR);
}
}  // namespace tw
