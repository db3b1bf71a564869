// open_store(): the backend registry, chosen by URL scheme.
#include <fmt/format.h>

#include "postgres/pg_store.hpp"
#include "sqlite/sqlite_store.hpp"
#include "tw/store/store.hpp"

namespace tw::store {

Result<std::unique_ptr<Store>> open_store(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite://";
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return make_error("bad_url", fmt::format("store URL '{}' has no scheme (expected sqlite:// or postgresql://)",
                                             url));
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme == "sqlite") {
    std::string path = url.substr(kSqlite.size());
    if (path.empty()) return make_error("bad_url", fmt::format("store URL '{}' has no database path", url));
    if (path.find('?') != std::string::npos)
      return make_error("bad_url", fmt::format("store URL '{}': options are not supported", url));
    return sqlite::open_sqlite_store(path);
  }
  if (scheme == "postgresql" || scheme == "postgres") {
    if (url.size() == scheme_end + 3)
      return make_error("bad_url", fmt::format("store URL '{}' names no server", url));
    return pg::open_pg_store(url);
  }
  return make_error("bad_url", fmt::format("store URL scheme '{}' is not supported (expected sqlite:// or "
                                           "postgresql://)",
                                           scheme));
}

}  // namespace tw::store
