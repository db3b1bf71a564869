#pragma once
#include <filesystem>

namespace tw {
// $TOWERWATCH_DATA, else ../shared/data if it exists from the working directory, else the
// build-time default (the shared folder beside the source tree).
std::filesystem::path data_dir();
// $TOWERWATCH_MODELS, else ../shared/models likewise.
std::filesystem::path models_dir();
}  // namespace tw
