#pragma once
#include <memory>
#include <string>

#include "tw/store/store.hpp"

namespace tw::store::sqlite {

// Opens (creating and migrating) an SQLite store at `path` (a file path or ":memory:").
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

// Schema version this build migrates to.
int sqlite_schema_version();

}  // namespace tw::store::sqlite
