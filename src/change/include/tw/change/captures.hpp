#pragma once
// Daily captures stored as image files (time-lapse folders, replays): listing and capture times.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace tw::change {

// Image files (png, jpg, jpeg, bmp, tif, tiff; any case) directly in `dir`, in name order. Empty if none or
// if `dir` cannot be read.
std::vector<std::filesystem::path> capture_files(const std::filesystem::path& dir);

// Capture time from a file name holding YYYYMMDD[_HHMMSS] (as time-lapse cameras name them), UTC; without a
// time of day, noon. Otherwise noon UTC of day `index` after 2000-01-01, so that every file is a different day.
std::int64_t capture_time(const std::filesystem::path& file, std::size_t index);

}  // namespace tw::change
