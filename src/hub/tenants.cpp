#include "tw/hub/tenants.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "tw/core/message.hpp"
#include "tw/core/sqlite.hpp"

namespace tw::hub {
namespace {

void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string hex(const unsigned char* p, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

// Domain separation for the key digest (public; the keys themselves carry the entropy).
constexpr unsigned char kDigestKey[32] = {'t', 'o', 'w', 'e', 'r', 'w', 'a', 't', 'c', 'h', '-', 'a', 'p', 'i', '-', 'k',
                                          'e', 'y', '-', 'v', '1', 0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0};

Result<Tenant> validate(Tenant t) {
  if (!is_valid_id(t.id)) return make_error("bad_tenant", "id: must be 1-64 of [A-Za-z0-9_-]");
  if (t.name.size() > 200) return make_error("bad_tenant", "name: longer than 200 characters");
  for (const auto& s : t.services) {
    if (std::find(all_services().begin(), all_services().end(), s) == all_services().end())
      return make_error("bad_tenant", "services: '" + s.substr(0, 32) + "' is not a service");
  }
  if (t.regions.size() > 100) return make_error("bad_tenant", "regions: at most 100");
  for (const auto& r : t.regions) {
    if (r.polygon.size() < 3 || r.polygon.size() > 1000)
      return make_error("bad_tenant", "regions: '" + r.name.substr(0, 32) + "' needs 3 to 1000 points");
    for (const auto& p : r.polygon) {
      if (!(p.lat >= -90 && p.lat <= 90 && p.lon >= -180 && p.lon <= 180))
        return make_error("bad_tenant", "regions: '" + r.name.substr(0, 32) + "' has a point out of range");
    }
  }
  return t;
}

}  // namespace

std::string to_string(Role r) {
  switch (r) {
    case Role::viewer:
      return "viewer";
    case Role::operator_:
      return "operator";
    case Role::admin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "viewer") return Role::viewer;
  if (s == "operator") return Role::operator_;
  if (s == "admin") return Role::admin;
  return std::nullopt;
}

bool Region::contains(double lat, double lon) const {
  // Even-odd ray casting in the lat/lon plane (regions are small and do not cross the antimeridian).
  bool inside = false;
  const size_t n = polygon.size();
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const auto& a = polygon[i];
    const auto& b = polygon[j];
    if ((a.lat > lat) != (b.lat > lat)) {
      const double x = (b.lon - a.lon) * (lat - a.lat) / (b.lat - a.lat) + a.lon;
      if (lon < x) inside = !inside;
    }
  }
  return inside;
}

bool Tenant::has_service(std::string_view service) const {
  return std::find(services.begin(), services.end(), service) != services.end();
}

bool Tenant::in_region(double lat, double lon) const {
  if (regions.empty()) return true;
  if (std::isnan(lat) || std::isnan(lon)) return false;
  return std::any_of(regions.begin(), regions.end(), [&](const Region& r) { return r.contains(lat, lon); });
}

nlohmann::json to_json(const Tenant& t) {
  nlohmann::json regions = nlohmann::json::array();
  for (const auto& r : t.regions) {
    nlohmann::json pts = nlohmann::json::array();
    for (const auto& p : r.polygon) pts.push_back({p.lat, p.lon});
    regions.push_back({{"name", r.name}, {"points", pts}});
  }
  return {{"id", t.id}, {"name", t.name}, {"role", to_string(t.role)}, {"services", t.services}, {"regions", regions}};
}

Result<Tenant> tenant_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return make_error("bad_tenant", "expected a JSON object");
  static const std::vector<std::string> keys{"id", "name", "role", "services", "regions"};
  for (const auto& [k, v] : j.items()) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      return make_error("bad_tenant", "unknown field '" + k.substr(0, 32) + "'");
  }
  Tenant t;
  if (!j.contains("id") || !j["id"].is_string()) return make_error("bad_tenant", "id: required string");
  t.id = j["id"].get<std::string>();
  if (j.contains("name")) {
    if (!j["name"].is_string()) return make_error("bad_tenant", "name: expected a string");
    t.name = j["name"].get<std::string>();
  }
  if (j.contains("role")) {
    auto r = j["role"].is_string() ? parse_role(j["role"].get<std::string>()) : std::nullopt;
    if (!r) return make_error("bad_tenant", "role: expected viewer, operator or admin");
    t.role = *r;
  }
  if (j.contains("services")) {
    if (!j["services"].is_array()) return make_error("bad_tenant", "services: expected an array of strings");
    for (const auto& s : j["services"]) {
      if (!s.is_string()) return make_error("bad_tenant", "services: expected an array of strings");
      t.services.push_back(s.get<std::string>());
    }
  }
  if (j.contains("regions")) {
    if (!j["regions"].is_array()) return make_error("bad_tenant", "regions: expected an array");
    for (const auto& r : j["regions"]) {
      if (!r.is_object() || !r.contains("points") || !r["points"].is_array())
        return make_error("bad_tenant", "regions: each needs {name, points: [[lat,lon],...]}");
      Region reg;
      if (r.contains("name")) {
        if (!r["name"].is_string()) return make_error("bad_tenant", "regions: name must be a string");
        reg.name = r["name"].get<std::string>();
      }
      for (const auto& p : r["points"]) {
        if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
          return make_error("bad_tenant", "regions: points must be [lat, lon] pairs");
        reg.polygon.push_back({p[0].get<double>(), p[1].get<double>()});
      }
      t.regions.push_back(std::move(reg));
    }
  }
  return validate(std::move(t));
}

Result<Tenant> tenant_from_config(const TenantConfig& c) {
  Tenant t;
  t.id = c.id;
  t.name = c.name;
  t.role = parse_role(c.role).value_or(Role::viewer);
  t.services = c.services;
  for (const auto& r : c.regions) {
    Region reg;
    reg.name = r.name;
    for (size_t i = 0; i + 1 < r.points.size(); i += 2) reg.polygon.push_back({r.points[i], r.points[i + 1]});
    t.regions.push_back(std::move(reg));
  }
  return validate(std::move(t));
}

std::string generate_api_key() {
  ensure_sodium();
  unsigned char buf[32];
  randombytes_buf(buf, sizeof buf);
  return "twk_" + hex(buf, sizeof buf);
}

std::string hash_api_key(std::string_view key) {
  ensure_sodium();
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(key.data()), key.size(), kDigestKey,
                     sizeof kDigestKey);
  return "blake2b:" + hex(out, sizeof out);
}

bool verify_api_key(std::string_view key, const std::string& stored) {
  ensure_sodium();
  if (stored.rfind("blake2b:", 0) == 0) {
    const std::string h = hash_api_key(key);
    return h.size() == stored.size() && sodium_memcmp(h.data(), stored.data(), h.size()) == 0;
  }
  if (stored.rfind("$argon2", 0) == 0) {
    return crypto_pwhash_str_verify(stored.c_str(), key.data(), key.size()) == 0;
  }
  return false;
}

// ---------------------------------------------------------------- SQLite repository

namespace {

class SqliteTenantRepo : public TenantRepo {
 public:
  explicit SqliteTenantRepo(sqlite::Db db) : db_(std::move(db)) {}

  Status migrate() {
    return db_.exec(
        "CREATE TABLE IF NOT EXISTS tenants(id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS api_keys(hash TEXT PRIMARY KEY, key_id TEXT NOT NULL, tenant TEXT NOT NULL,"
        " label TEXT NOT NULL, created_ms INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys(tenant);");
  }

  Status upsert_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("INSERT INTO tenants(id, doc) VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE SET doc=excluded.doc");
    if (!st) return st.error();
    return st->bind(1, t.id).bind(2, to_json(t).dump()).run();
  }

  Result<bool> remove_tenant(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto k = db_.prepare("DELETE FROM api_keys WHERE tenant=?1");
    if (!k) return k.error();
    if (auto r = k->bind(1, id).run(); !r) return r.error();
    auto st = db_.prepare("DELETE FROM tenants WHERE id=?1");
    if (!st) return st.error();
    if (auto r = st->bind(1, id).run(); !r) return r.error();
    return db_.changes() > 0;
  }

  Result<std::vector<Tenant>> tenants() override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT doc FROM tenants ORDER BY id");
    if (!st) return st.error();
    std::vector<Tenant> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      auto t = parse_doc(st->col_text(0));
      if (!t) return t.error();
      out.push_back(std::move(*t));
    }
    return out;
  }

  Result<std::optional<Tenant>> tenant(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT doc FROM tenants WHERE id=?1");
    if (!st) return st.error();
    st->bind(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<Tenant>{};
    auto t = parse_doc(st->col_text(0));
    if (!t) return t.error();
    return std::optional<Tenant>{std::move(*t)};
  }

  Result<ApiKeyInfo> add_key(const std::string& tenant, const std::string& hash, const std::string& label,
                             std::int64_t now) override {
    std::lock_guard lock(mu_);
    ApiKeyInfo k;
    k.tenant = tenant;
    k.label = label;
    k.created_ms = now;
    // Public key id: the first 8 hex of the digest (of the stored Argon2 string for those).
    k.id = hash.rfind("blake2b:", 0) == 0 ? hash.substr(8, 8) : hash_api_key(hash).substr(8, 8);
    auto st = db_.prepare(
        "INSERT INTO api_keys(hash, key_id, tenant, label, created_ms) VALUES(?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(hash) DO NOTHING");
    if (!st) return st.error();
    if (auto r = st->bind(1, hash).bind(2, k.id).bind(3, tenant).bind(4, label).bind(5, now).run(); !r)
      return r.error();
    return k;
  }

  Result<bool> revoke_key(const std::string& tenant, const std::string& key_id) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("DELETE FROM api_keys WHERE tenant=?1 AND key_id=?2");
    if (!st) return st.error();
    if (auto r = st->bind(1, tenant).bind(2, key_id).run(); !r) return r.error();
    return db_.changes() > 0;
  }

  Result<std::vector<ApiKeyInfo>> keys(const std::string& tenant) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT key_id, label, created_ms FROM api_keys WHERE tenant=?1 ORDER BY created_ms");
    if (!st) return st.error();
    st->bind(1, tenant);
    std::vector<ApiKeyInfo> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({st->col_text(0), tenant, st->col_text(1), st->col_int(2)});
    }
    return out;
  }

  Result<std::optional<std::string>> tenant_of_hash(const std::string& hash) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT tenant FROM api_keys WHERE hash=?1");
    if (!st) return st.error();
    st->bind(1, hash);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<std::string>{};
    return std::optional<std::string>{st->col_text(0)};
  }

  Result<std::vector<std::pair<std::string, std::string>>> slow_hashes() override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT tenant, hash FROM api_keys WHERE hash LIKE '$argon2%'");
    if (!st) return st.error();
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      out.emplace_back(st->col_text(0), st->col_text(1));
    }
    return out;
  }

 private:
  static Result<Tenant> parse_doc(const std::string& doc) {
    auto j = nlohmann::json::parse(doc, nullptr, false);
    if (j.is_discarded()) return make_error("tenant_repo", "corrupt tenant document");
    return tenant_from_json(j);
  }
  std::mutex mu_;
  sqlite::Db db_;
};

}  // namespace

Result<std::unique_ptr<TenantRepo>> open_sqlite_tenant_repo(const std::string& path) {
  auto db = sqlite::Db::open(path);
  if (!db) return db.error();
  auto repo = std::make_unique<SqliteTenantRepo>(std::move(*db));
  if (auto st = repo->migrate(); !st) return st.error();
  return std::unique_ptr<TenantRepo>(std::move(repo));
}

Status bootstrap_tenants(TenantRepo& repo, const std::vector<TenantConfig>& tenants, std::int64_t now_ms) {
  for (const auto& c : tenants) {
    auto t = tenant_from_config(c);
    if (!t) return make_error(t.error().code, "tenant " + c.id + ": " + t.error().message);
    if (auto st = repo.upsert_tenant(*t); !st) return st;
    if (!c.api_key_hash.empty()) {
      if (auto k = repo.add_key(t->id, c.api_key_hash, "config", now_ms); !k) return k.error();
    }
  }
  return {};
}

Result<std::optional<Tenant>> Authenticator::authenticate(std::string_view key) {
  if (key.size() < 16 || key.size() > 256) return std::optional<Tenant>{};
  const std::string digest = hash_api_key(key);
  auto owner = repo_.tenant_of_hash(digest);
  if (!owner) return owner.error();
  std::optional<std::string> id = *owner;
  if (!id) {
    // A cached Argon2 verification counts only while that hash is still in the repository (it may have
    // been revoked through another hub instance sharing the repository).
    std::optional<std::string> cached_hash;
    {
      std::lock_guard lock(mu_);
      if (auto it = slow_cache_.find(digest); it != slow_cache_.end()) cached_hash = it->second;
    }
    if (cached_hash) {
      auto still = repo_.tenant_of_hash(*cached_hash);
      if (!still) return still.error();
      id = *still;
    }
  }
  if (!id) {
    auto slow = repo_.slow_hashes();
    if (!slow) return slow.error();
    for (const auto& [tenant, hash] : *slow) {
      if (verify_api_key(key, hash)) {
        id = tenant;
        std::lock_guard lock(mu_);
        if (slow_cache_.size() > 10000) slow_cache_.clear();
        slow_cache_[digest] = hash;
        break;
      }
    }
  }
  if (!id) return std::optional<Tenant>{};
  return repo_.tenant(*id);
}

void Authenticator::invalidate() {
  std::lock_guard lock(mu_);
  slow_cache_.clear();
}

std::vector<DemoTenant> demo_tenants() {
  auto region = [](std::string name, std::vector<LatLon> pts) { return Region{std::move(name), std::move(pts)}; };
  // Central Mexico (the demo's tower sites), split the way the demo's customers hold it.
  const Region mexico = region("central-mexico", {{14.5, -106.0}, {14.5, -94.0}, {22.5, -94.0}, {22.5, -106.0}});
  const Region valley = region("valley-of-mexico", {{18.9, -99.9}, {18.9, -98.8}, {19.8, -98.8}, {19.8, -99.9}});
  const Region south = region("oaxaca-guerrero", {{15.5, -101.5}, {15.5, -95.0}, {18.2, -95.0}, {18.2, -101.5}});
  const Region puebla = region("puebla", {{18.5, -98.8}, {18.5, -97.5}, {19.6, -97.5}, {19.6, -98.8}});
  std::vector<DemoTenant> out;
  auto add = [&](std::string id, std::string name, Role role, std::vector<std::string> services,
                 std::vector<Region> regions, std::string key) {
    out.push_back({Tenant{std::move(id), std::move(name), role, std::move(services), std::move(regions)}, std::move(key)});
  };
  add("quake-agency", "National earthquake agency", Role::operator_, {"quake"}, {mexico}, "demo-quake-agency-key-0001");
  add("forestry-bureau", "Forestry bureau", Role::operator_, {"wildfire"}, {south}, "demo-forestry-bureau-key-0002");
  add("traffic-authority", "City traffic authority", Role::viewer, {"traffic"}, {valley},
      "demo-traffic-authority-key-0003");
  add("land-bureau", "Land bureau", Role::viewer, {"landuse"}, {puebla, valley}, "demo-land-bureau-key-0004");
  add("insurer", "Insurer (claims)", Role::viewer, {"quake", "wildfire", "site"}, {valley}, "demo-insurer-key-0005");
  add("operator-admin", "Tower operator", Role::admin, all_services(), {}, "demo-operator-admin-key-0006");
  return out;
}

}  // namespace tw::hub
