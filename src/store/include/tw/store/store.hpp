#pragma once
// The hub's storage contract. Backends: SQLite (embedded default) and PostgreSQL/PostGIS.
// Both must pass the same contract suite in tests/store/.
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/result.hpp"

namespace tw::store {

inline constexpr double kNoCoord = std::numeric_limits<double>::quiet_NaN();

struct SiteRecord {
  std::string id;
  std::string name;
  double lat = 0;
  double lon = 0;
  double height_m = 0;
  std::string status = "unknown";  // online | offline | unknown
  std::int64_t last_seen_ms = 0;
  nlohmann::json info = nlohmann::json::object();  // cameras, sensors, anything descriptive
};

struct EventRecord {
  std::string id;  // message id (ULID): inserts are idempotent on it
  std::string site;
  std::string kind;
  std::int64_t ts_ms = 0;        // observation time
  std::int64_t received_ms = 0;  // hub ingest time
  double lat = kNoCoord;         // where the event is (event location, else the site's); NaN if unknown
  double lon = kNoCoord;
  nlohmann::json payload = nlohmann::json::object();
};

struct Near {
  double lat = 0;
  double lon = 0;
  double radius_km = 0;
};

struct EventQuery {
  std::optional<std::int64_t> since_ms;  // inclusive
  std::optional<std::int64_t> until_ms;  // exclusive
  std::vector<std::string> kinds;        // empty = all
  std::vector<std::string> sites;        // empty = all
  std::optional<Near> near;              // geodesic distance from a point
  size_t limit = 100;
  bool newest_first = true;
};

// Alarm lifecycle: one active alarm per (source, type); raising it again updates it.
struct AlarmRecord {
  std::int64_t id = 0;
  std::string source;  // e.g. a site id, "site-1/cam2", a quake event id
  std::string type;    // e.g. site_offline, mains_outage, smoke, quake
  std::string severity = "warning";          // critical | major | minor | warning
  std::string status = "active_unack";       // active_unack | active_ack | cleared_unack | cleared_ack
  std::string service = "site";              // tenant service it belongs to (quake, wildfire, ...)
  std::string site;                          // site id, if any
  double lat = kNoCoord;
  double lon = kNoCoord;
  std::int64_t start_ms = 0;
  std::int64_t update_ms = 0;
  std::int64_t ack_ms = 0;    // 0 = not acknowledged
  std::int64_t clear_ms = 0;  // 0 = not cleared
  std::int64_t count = 1;     // times raised while active
  std::string assignee;
  std::string message;
  nlohmann::json details = nlohmann::json::object();
};

struct AlarmHistoryEntry {
  std::int64_t ts_ms = 0;
  std::string action;  // raised | updated | acknowledged | cleared | assigned | commented
  std::string user;
  std::string text;
};

struct AlarmQuery {
  bool active_only = false;
  std::vector<std::string> services;  // empty = all
  std::optional<std::string> site;
  std::optional<Near> near;
  size_t limit = 200;
};

class Store {
 public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  virtual std::string backend() const = 0;  // "sqlite" | "postgresql"

  // Sites
  virtual Status upsert_site(const SiteRecord& site) = 0;
  virtual Status set_site_status(const std::string& id, const std::string& status, std::int64_t seen_ms) = 0;
  virtual Result<std::vector<SiteRecord>> sites() = 0;
  virtual Result<std::optional<SiteRecord>> site(const std::string& id) = 0;

  // Events: one transaction per batch; ids already stored are skipped. Returns how many were new;
  // `inserted`, when given, receives one flag per event: true where that event was new.
  virtual Result<size_t> insert_events(std::span<const EventRecord> events, std::vector<bool>* inserted) = 0;
  Result<size_t> insert_events(std::span<const EventRecord> events) { return insert_events(events, nullptr); }
  virtual Result<std::vector<EventRecord>> query_events(const EventQuery& q) = 0;
  virtual Result<std::optional<EventRecord>> event(const std::string& id) = 0;
  virtual Result<std::int64_t> count_events() = 0;

  // Alarms. raise: creates, or updates the active alarm of (source, type) (count+1, severity, message,
  // details, update_ms). clear: marks the active alarm of (source, type) cleared; no-op if none.
  virtual Result<AlarmRecord> raise_alarm(const AlarmRecord& alarm) = 0;
  virtual Result<std::optional<AlarmRecord>> clear_alarm(const std::string& source, const std::string& type,
                                                         std::int64_t ts_ms, const std::string& user) = 0;
  virtual Result<std::optional<AlarmRecord>> clear_alarm_by_id(std::int64_t id, std::int64_t ts_ms,
                                                               const std::string& user) = 0;
  virtual Result<std::optional<AlarmRecord>> acknowledge_alarm(std::int64_t id, std::int64_t ts_ms,
                                                               const std::string& user) = 0;
  virtual Result<std::optional<AlarmRecord>> assign_alarm(std::int64_t id, const std::string& assignee,
                                                          std::int64_t ts_ms, const std::string& user) = 0;
  virtual Status comment_alarm(std::int64_t id, const std::string& text, std::int64_t ts_ms,
                               const std::string& user) = 0;
  virtual Result<std::optional<AlarmRecord>> alarm(std::int64_t id) = 0;
  virtual Result<std::vector<AlarmRecord>> alarms(const AlarmQuery& q) = 0;
  virtual Result<std::vector<AlarmHistoryEntry>> alarm_history(std::int64_t id) = 0;
};

// Opens (creating and migrating if needed) a store from a URL:
//   sqlite:///absolute/path.db, sqlite://relative/path.db, sqlite://:memory:, postgresql://user@host:port/db
Result<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace tw::store
