// Listing and capture times of daily captures stored as files.
#include "tw/change/captures.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "tw/core/time.hpp"

namespace fs = std::filesystem;

namespace tw::change {

std::vector<fs::path> capture_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tif" || ext == ".tiff")
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t capture_time(const fs::path& p, size_t index) {
  std::string n = p.stem().string();
  for (size_t i = 0; i + 8 <= n.size(); ++i) {
    if (!std::all_of(n.begin() + static_cast<std::ptrdiff_t>(i),
                     n.begin() + static_cast<std::ptrdiff_t>(i + 8),
                     [](char ch) { return ch >= '0' && ch <= '9'; }))
      continue;
    std::string iso = fmt::format("{}-{}-{}T", n.substr(i, 4), n.substr(i + 4, 2), n.substr(i + 6, 2));
    size_t j = i + 8;
    if (j + 7 <= n.size() && (n[j] == '_' || n[j] == '-' || n[j] == 'T') &&
        std::all_of(n.begin() + static_cast<std::ptrdiff_t>(j + 1),
                    n.begin() + static_cast<std::ptrdiff_t>(j + 7),
                    [](char ch) { return ch >= '0' && ch <= '9'; }))
      iso += fmt::format("{}:{}:{}Z", n.substr(j + 1, 2), n.substr(j + 3, 2), n.substr(j + 5, 2));
    else
      iso += "12:00:00Z";
    if (auto ms = parse_iso8601_ms(iso)) return *ms;
  }
  return 946'728'000'000LL + static_cast<std::int64_t>(index) * 86'400'000LL;
}

}  // namespace tw::change
