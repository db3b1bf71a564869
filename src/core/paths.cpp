#include "tw/core/paths.hpp"

#include <cstdlib>

namespace tw {
namespace {
std::filesystem::path resolve(const char* env, const char* rel, const char* fallback) {
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  std::error_code ec;
  if (std::filesystem::is_directory(rel, ec)) return std::filesystem::path(rel);
  return fallback;
}
}  // namespace

std::filesystem::path data_dir() { return resolve("TOWERWATCH_DATA", "../shared/data", TW_DEFAULT_DATA_DIR); }
std::filesystem::path models_dir() {
  return resolve("TOWERWATCH_MODELS", "../shared/models", TW_DEFAULT_MODELS_DIR);
}
}  // namespace tw
