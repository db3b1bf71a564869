#pragma once
// Tenants, API keys, roles and scopes.
//
// A tenant is a customer of the network (forestry bureau, quake agency, ...) or the tower operator.
// It has a role (viewer < operator < admin) and a scope: a set of services and a set of regions
// (lat/lon polygons; none = everywhere). Every API response and live-stream item is filtered by scope.
//
// API keys are 256-bit random secrets shown once ("twk_" + 64 hex). The repository stores only
// "blake2b:<hex>", a BLAKE2b-256 of the key keyed with a fixed domain-separation constant. A key with
// 256 bits of entropy cannot be guessed, so a slow password hash (Argon2) would only add ~0.1-1 s of
// CPU and 64 MiB per request without making an offline attack any harder; the fast hash allows an
// indexed, constant-time lookup. Keys chosen by people may still be configured as libsodium
// crypto_pwhash_str strings ($argon2id$...): those are verified once per key and then cached by digest.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/config.hpp"
#include "tw/core/geo.hpp"
#include "tw/core/result.hpp"

namespace tw::hub {

enum class Role { viewer = 0, operator_ = 1, admin = 2 };
std::string to_string(Role r);
std::optional<Role> parse_role(std::string_view s);

inline const std::vector<std::string>& all_services() {
  static const std::vector<std::string> s{"quake", "wildfire", "traffic", "landuse", "power", "site"};
  return s;
}

struct Region {
  std::string name;
  std::vector<LatLon> polygon;  // closed implicitly; at least 3 points
  bool contains(double lat, double lon) const;
};

struct Tenant {
  std::string id;
  std::string name;
  Role role = Role::viewer;
  std::vector<std::string> services;
  std::vector<Region> regions;  // empty = everywhere

  bool has_service(std::string_view service) const;
  // True when the point lies in one of the tenant's regions (or the tenant has none).
  // A point without coordinates (NaN) is in scope only for a tenant without regions.
  bool in_region(double lat, double lon) const;
  bool allows(std::string_view service, double lat, double lon) const {
    return has_service(service) && in_region(lat, lon);
  }
  bool at_least(Role r) const { return static_cast<int>(role) >= static_cast<int>(r); }
};

nlohmann::json to_json(const Tenant& t);
// Parses and validates a tenant from API JSON ({id,name,role,services,regions:[{name,points:[[lat,lon],...]}]}).
Result<Tenant> tenant_from_json(const nlohmann::json& j);
Result<Tenant> tenant_from_config(const TenantConfig& c);

// Key material.
std::string generate_api_key();                      // "twk_" + 64 hex chars (256 random bits)
std::string hash_api_key(std::string_view key);      // "blake2b:" + 64 hex chars
bool verify_api_key(std::string_view key, const std::string& stored_hash);

struct ApiKeyInfo {
  std::string id;  // short public id (first 8 hex of the hash), for listing/revoking
  std::string tenant;
  std::string label;
  std::int64_t created_ms = 0;
};

// Where tenants and key hashes persist. One hub instance: the SQLite implementation in the hub's state
// directory. Several hub instances must share one repository (a PostgreSQL implementation of this
// interface, or one SQLite file on a single host), or tenants created through one instance's API are
// unknown to the others.
class TenantRepo {
 public:
  virtual ~TenantRepo() = default;
  virtual Status upsert_tenant(const Tenant& t) = 0;
  virtual Result<bool> remove_tenant(const std::string& id) = 0;  // false = no such tenant (keys removed too)
  virtual Result<std::vector<Tenant>> tenants() = 0;
  virtual Result<std::optional<Tenant>> tenant(const std::string& id) = 0;
  virtual Result<ApiKeyInfo> add_key(const std::string& tenant, const std::string& hash, const std::string& label,
                                     std::int64_t now_ms) = 0;
  virtual Result<bool> revoke_key(const std::string& tenant, const std::string& key_id) = 0;
  virtual Result<std::vector<ApiKeyInfo>> keys(const std::string& tenant) = 0;
  // The tenant owning a "blake2b:" hash, if any.
  virtual Result<std::optional<std::string>> tenant_of_hash(const std::string& hash) = 0;
  // (tenant, hash) of every "$argon2" hash (checked one by one).
  virtual Result<std::vector<std::pair<std::string, std::string>>> slow_hashes() = 0;
};

// path: a file, or ":memory:".
Result<std::unique_ptr<TenantRepo>> open_sqlite_tenant_repo(const std::string& path);

// Loads [[tenants]] from the hub config into the repo (upsert; their key hash is added once).
Status bootstrap_tenants(TenantRepo& repo, const std::vector<TenantConfig>& tenants, std::int64_t now_ms);

// Resolves a presented key to its tenant, caching successful look-ups by digest.
class Authenticator {
 public:
  explicit Authenticator(TenantRepo& repo) : repo_(repo) {}
  // nullopt: unknown key. Errors are store failures.
  Result<std::optional<Tenant>> authenticate(std::string_view key);
  void invalidate();  // after tenant/key changes
  TenantRepo& repo() { return repo_; }

 private:
  TenantRepo& repo_;
  std::mutex mu_;
  std::unordered_map<std::string, std::string> slow_cache_;  // key digest -> verified $argon2 hash
};

// The demo's fixed tenants and keys (documented in docs/api.md; never use them outside the demo).
struct DemoTenant {
  Tenant tenant;
  std::string key;
};
std::vector<DemoTenant> demo_tenants();

}  // namespace tw::hub
