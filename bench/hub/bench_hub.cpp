// Hub access-control costs: key hashing (BLAKE2b vs Argon2id), authentication against the SQLite tenant
// repository, scope checks, and an authenticated HTTP request against the open health endpoint.
#include <httplib.h>
#include <sodium.h>

#include <benchmark/benchmark.h>

#include "process.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/http.hpp"
#include "tw/hub/tenants.hpp"

namespace {

void BM_HashApiKeyBlake2b(benchmark::State& st) {
  const std::string key = tw::hub::generate_api_key();
  const std::string stored = tw::hub::hash_api_key(key);
  for (auto _ : st) benchmark::DoNotOptimize(tw::hub::verify_api_key(key, stored));
}
BENCHMARK(BM_HashApiKeyBlake2b);

void BM_VerifyArgon2idInteractive(benchmark::State& st) {
  if (sodium_init() < 0) st.SkipWithError("sodium_init");
  const std::string key = "a human chosen passphrase";
  char stored[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(stored, key.data(), key.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    st.SkipWithError("crypto_pwhash_str");
  for (auto _ : st) benchmark::DoNotOptimize(tw::hub::verify_api_key(key, stored));
}
BENCHMARK(BM_VerifyArgon2idInteractive)->Unit(benchmark::kMillisecond)->Iterations(10);

struct RepoFixture {
  tw::test::TempDir dir;
  std::unique_ptr<tw::hub::TenantRepo> repo;
  std::vector<std::string> keys;
  explicit RepoFixture(int tenants) {
    repo = tw::hub::open_sqlite_tenant_repo(dir.file("t.db")).value();
    for (int i = 0; i < tenants; ++i) {
      tw::hub::Tenant t{"tenant-" + std::to_string(i), "T", tw::hub::Role::viewer, {"quake"}, {}};
      (void)repo->upsert_tenant(t);
      keys.push_back(tw::hub::generate_api_key());
      (void)repo->add_key(t.id, tw::hub::hash_api_key(keys.back()), "bench", 1);
    }
  }
};

void BM_AuthenticateSqlite(benchmark::State& st) {
  RepoFixture f(static_cast<int>(st.range(0)));
  tw::hub::Authenticator auth(*f.repo);
  size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(auth.authenticate(f.keys[i++ % f.keys.size()]));
}
BENCHMARK(BM_AuthenticateSqlite)->Arg(10)->Arg(10000);

void BM_ScopeCheck(benchmark::State& st) {
  auto demo = tw::hub::demo_tenants();
  const auto& land = demo[3].tenant;  // two regions
  double lat = 16.0;
  for (auto _ : st) {
    lat = lat > 21 ? 16.0 : lat + 0.01;
    benchmark::DoNotOptimize(land.allows("landuse", lat, -98.5));
  }
}
BENCHMARK(BM_ScopeCheck);

struct Server {
  tw::test::TempDir dir;
  std::unique_ptr<tw::hub::TenantRepo> repo;
  std::unique_ptr<tw::hub::Hub> hub;
  std::unique_ptr<tw::hub::HttpServer> http;
  Server() {
    tw::HubConfig cfg;
    cfg.store = "sqlite://" + dir.file("hub.db");
    repo = tw::hub::open_sqlite_tenant_repo(dir.file("t.db")).value();
    for (const auto& d : tw::hub::demo_tenants()) {
      (void)repo->upsert_tenant(d.tenant);
      (void)repo->add_key(d.tenant.id, tw::hub::hash_api_key(d.key), "demo", 1);
    }
    hub = std::make_unique<tw::hub::Hub>(cfg, tw::store::open_store(cfg.store).value());
    (void)hub->ingest(tw::make_message("s1", "status", tw::now_ms(), {{"state", "online"}, {"lat", 19.43}, {"lon", -99.13}}));
    for (int i = 0; i < 1000; ++i)
      (void)hub->ingest(tw::make_message("s1", "counts", 1700000000000 + i,
                                         {{"camera", "c"}, {"interval_s", 60}, {"lines", nlohmann::json::array()}}));
    http = std::make_unique<tw::hub::HttpServer>(*hub, *repo);
    (void)http->start("127.0.0.1:0");
  }
};

void BM_HttpHealthOpen(benchmark::State& st) {  // baseline: same server, no auth, tiny body
  static Server s;
  httplib::Client c("127.0.0.1", s.http->port());
  c.set_keep_alive(true);
  for (auto _ : st) benchmark::DoNotOptimize(c.Get("/api/v1/health"));
}
BENCHMARK(BM_HttpHealthOpen)->Unit(benchmark::kMicrosecond);

void BM_HttpMeAuthed(benchmark::State& st) {
  static Server s;
  httplib::Client c("127.0.0.1", s.http->port());
  c.set_keep_alive(true);
  httplib::Headers h{{"Authorization", "Bearer demo-traffic-authority-key-0003"}};
  for (auto _ : st) benchmark::DoNotOptimize(c.Get("/api/v1/me", h));
}
BENCHMARK(BM_HttpMeAuthed)->Unit(benchmark::kMicrosecond);

void BM_HttpEvents100Scoped(benchmark::State& st) {
  static Server s;
  httplib::Client c("127.0.0.1", s.http->port());
  c.set_keep_alive(true);
  httplib::Headers h{{"Authorization", "Bearer demo-traffic-authority-key-0003"}};
  for (auto _ : st) benchmark::DoNotOptimize(c.Get("/api/v1/events?limit=100", h));
}
BENCHMARK(BM_HttpEvents100Scoped)->Unit(benchmark::kMicrosecond);

}  // namespace
