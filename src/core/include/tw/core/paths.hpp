#pragma once
#include <filesystem>

namespace tw {
// $TOWERWATCH_DATA, else ../shared/data if it exists from the working directory, else the
// build-time default (the shared folder beside the source tree).
std::filesystem::path data_dir();
// $TOWERWATCH_MODELS, else ../shared/models likewise.
std::filesystem::path models_dir();
// A file or folder the project ships (a trained head, say): $env, else `relative` if it exists from the
// working directory, else `fallback` (its place in the source tree).
std::filesystem::path shipped_path(const char* env, const std::filesystem::path& relative,
                                   const std::filesystem::path& fallback);
}  // namespace tw
