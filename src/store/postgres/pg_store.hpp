#pragma once
#include <memory>
#include <string>

#include "tw/store/store.hpp"

namespace tw::store::pg {

// Connects to PostgreSQL (a libpq URL) and creates/migrates the schema. Needs the PostGIS and
// btree_gist extensions available on the server (created if missing, which needs a role allowed to).
Result<std::unique_ptr<Store>> open_pg_store(const std::string& url);

int pg_schema_version();

// Name of the monthly partition holding ts_ms, e.g. "events_y2024m03", and its [from, to) bounds.
struct Partition {
  std::string name;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
};
Partition partition_for(std::int64_t ts_ms);

}  // namespace tw::store::pg
