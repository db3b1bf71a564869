#include <gtest/gtest.h>

#include <sodium.h>

#include "process.hpp"
#include "tw/core/config.hpp"
#include "tw/hub/tenants.hpp"

namespace {

using tw::hub::Region;
using tw::hub::Tenant;

TEST(ApiKeys, HashIsDeterministicKeyedBlake2bAndVerifies) {
  const std::string key = tw::hub::generate_api_key();
  ASSERT_EQ(key.size(), 68u);
  EXPECT_TRUE(key.starts_with("twk_"));
  EXPECT_NE(key, tw::hub::generate_api_key());
  const std::string h = tw::hub::hash_api_key(key);
  ASSERT_EQ(h.size(), 8u + 64u);
  EXPECT_TRUE(h.starts_with("blake2b:"));
  EXPECT_EQ(h, tw::hub::hash_api_key(key));
  EXPECT_TRUE(tw::hub::verify_api_key(key, h));
  EXPECT_FALSE(tw::hub::verify_api_key(key + "x", h));
  // Golden value, computed independently with Python's hashlib.blake2b(key=b"towerwatch-api-key-v1"
  // zero-padded to 32 bytes, digest_size=32): config files written today must keep working.
  EXPECT_EQ(tw::hub::hash_api_key("demo-quake-agency-key-0001"),
            "blake2b:80384e5a65efcbcafb6408bd19712e2ed93ba081ebef74fc0ff3507b59da5c98");
  EXPECT_NE(tw::hub::hash_api_key("demo-quake-agency-key-0001"), tw::hub::hash_api_key("demo-quake-agency-key-0002"));
  // Argon2id strings (crypto_pwhash_str) from a config are accepted too.
  ASSERT_GE(sodium_init(), 0);
  char stored[crypto_pwhash_STRBYTES];
  const std::string human = "correct horse battery staple";
  ASSERT_EQ(crypto_pwhash_str(stored, human.data(), human.size(), crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN), 0);
  EXPECT_TRUE(tw::hub::verify_api_key(human, stored));
  EXPECT_FALSE(tw::hub::verify_api_key("wrong horse battery staple", stored));
  EXPECT_FALSE(tw::hub::verify_api_key(human, "md5:abc"));
}

TEST(Regions, PointInPolygon) {
  Region r{"tri", {{0, 0}, {0, 10}, {10, 0}}};
  EXPECT_TRUE(r.contains(1, 1));
  EXPECT_TRUE(r.contains(4.9, 4.9));
  EXPECT_FALSE(r.contains(5.1, 5.1));
  EXPECT_FALSE(r.contains(-1, 1));
  // A concave "U": the notch is outside.
  Region u{"u", {{0, 0}, {0, 3}, {3, 3}, {3, 2}, {1, 2}, {1, 1}, {3, 1}, {3, 0}}};
  EXPECT_TRUE(u.contains(0.5, 2.5));
  EXPECT_FALSE(u.contains(2, 1.5));
  EXPECT_TRUE(u.contains(2, 2.5));
  Tenant t{"t", "T", tw::hub::Role::viewer, {"quake"}, {r}};
  EXPECT_TRUE(t.allows("quake", 1, 1));
  EXPECT_FALSE(t.allows("wildfire", 1, 1));
  EXPECT_FALSE(t.allows("quake", 20, 20));
  EXPECT_FALSE(t.allows("quake", NAN, NAN));  // unknown position: not in a regional tenant's scope
  Tenant everywhere{"e", "E", tw::hub::Role::admin, {"quake"}, {}};
  EXPECT_TRUE(everywhere.allows("quake", NAN, NAN));
  // The demo regions hold the demo sites as documented.
  std::map<std::string, Tenant> demo;
  for (const auto& d : tw::hub::demo_tenants()) demo[d.tenant.id] = d.tenant;
  ASSERT_EQ(demo.size(), 6u);
  EXPECT_TRUE(demo["forestry-bureau"].in_region(16.8531, -99.8237));  // Acapulco
  EXPECT_FALSE(demo["forestry-bureau"].in_region(19.4326, -99.1332));  // CDMX
  EXPECT_TRUE(demo["traffic-authority"].in_region(19.4326, -99.1332));
  EXPECT_FALSE(demo["traffic-authority"].in_region(19.0414, -98.2063));  // Puebla
}

TEST(Tenants, FromJsonValidates) {
  auto ok = tw::hub::tenant_from_json(nlohmann::json::parse(
      R"({"id":"a","name":"A","role":"operator","services":["quake","site"],"regions":[{"name":"r","points":[[1,2],[3,4],[5,7]]}]})"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->role, tw::hub::Role::operator_);
  ASSERT_EQ(ok->regions.size(), 1u);
  EXPECT_DOUBLE_EQ(ok->regions[0].polygon[2].lon, 7.0);
  EXPECT_EQ(tw::hub::to_json(*ok)["regions"][0]["points"][1], nlohmann::json::parse("[3.0,4.0]"));
  for (const char* bad : {R"([])", R"({"name":"x"})", R"({"id":"a b"})", R"({"id":"a","role":"god"})",
                          R"({"id":"a","services":"quake"})", R"({"id":"a","services":["rain"]})",
                          R"({"id":"a","regions":[{"points":[[1,2]]}]})", R"({"id":"a","regions":[{"points":[[1],[2],[3]]}]})",
                          R"({"id":"a","colour":"red"})"}) {
    auto r = tw::hub::tenant_from_json(nlohmann::json::parse(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "bad_tenant");
  }
}

TEST(TenantRepo, PersistsBootstrapsAndAuthenticates) {
  tw::test::TempDir dir;
  tw::TenantConfig c;
  c.id = "quake-agency";
  c.name = "Quake agency";
  c.role = "operator";
  c.services = {"quake"};
  c.api_key_hash = tw::hub::hash_api_key("config-key-0123456789");
  c.regions.push_back({"box", {19.0, -100.0, 19.0, -98.0, 20.0, -98.0, 20.0, -100.0}});
  {
    auto repo = tw::hub::open_sqlite_tenant_repo(dir.file("t.db"));
    ASSERT_TRUE(repo) << repo.error().message;
    ASSERT_TRUE(tw::hub::bootstrap_tenants(**repo, {c}, 1000));
    ASSERT_TRUE(tw::hub::bootstrap_tenants(**repo, {c}, 2000));  // idempotent
    ASSERT_EQ((*repo)->keys("quake-agency")->size(), 1u);
    EXPECT_EQ((*repo)->keys("quake-agency")->at(0).created_ms, 1000);
  }
  auto repo = tw::hub::open_sqlite_tenant_repo(dir.file("t.db"));  // reopened: persisted
  ASSERT_TRUE(repo);
  tw::hub::Authenticator auth(**repo);
  auto t = auth.authenticate("config-key-0123456789");
  ASSERT_TRUE(t && *t);
  EXPECT_EQ((*t)->id, "quake-agency");
  EXPECT_EQ((*t)->role, tw::hub::Role::operator_);
  ASSERT_EQ((*t)->regions.size(), 1u);
  EXPECT_EQ((*t)->regions[0].polygon.size(), 4u);
  EXPECT_TRUE((*t)->in_region(19.43, -99.13));
  EXPECT_FALSE(*auth.authenticate("config-key-0123456780"));
  EXPECT_FALSE(*auth.authenticate("short"));
  // A second key, revocation, removal.
  const std::string k2 = tw::hub::generate_api_key();
  auto info = (*repo)->add_key("quake-agency", tw::hub::hash_api_key(k2), "laptop", 3000);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, tw::hub::hash_api_key(k2).substr(8, 8));
  EXPECT_TRUE(*auth.authenticate(k2));
  EXPECT_TRUE(*(*repo)->revoke_key("quake-agency", info->id));
  EXPECT_FALSE(*(*repo)->revoke_key("quake-agency", info->id));
  EXPECT_FALSE(*auth.authenticate(k2));
  EXPECT_TRUE(*(*repo)->remove_tenant("quake-agency"));
  EXPECT_FALSE(*auth.authenticate("config-key-0123456789"));
  EXPECT_TRUE((*repo)->tenants()->empty());
  // A config tenant with an invalid region is refused with its id.
  c.regions[0].points = {19.0, -100.0, 19.0, -98.0};
  auto st = tw::hub::bootstrap_tenants(**repo, {c}, 1);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("tenant quake-agency"), std::string::npos);
}

TEST(TenantRepo, Argon2KeysFromConfigAreVerifiedThenCached) {
  ASSERT_GE(sodium_init(), 0);
  tw::test::TempDir dir;
  char stored[crypto_pwhash_STRBYTES];
  const std::string key = "a human chosen passphrase";
  ASSERT_EQ(crypto_pwhash_str(stored, key.data(), key.size(), crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN), 0);
  tw::TenantConfig c;
  c.id = "insurer";
  c.services = {"quake"};
  c.api_key_hash = stored;
  auto repo = tw::hub::open_sqlite_tenant_repo(dir.file("t.db"));
  ASSERT_TRUE(repo);
  ASSERT_TRUE(tw::hub::bootstrap_tenants(**repo, {c}, 1));
  tw::hub::Authenticator auth(**repo);
  for (int i = 0; i < 3; ++i) {
    auto t = auth.authenticate(key);
    ASSERT_TRUE(t && *t);
    EXPECT_EQ((*t)->id, "insurer");
  }
  EXPECT_FALSE(*auth.authenticate("another human passphrase"));
  // Revoked (e.g. through another hub instance): the cached verification no longer counts.
  auto keys = (*repo)->keys("insurer");
  ASSERT_TRUE(keys && keys->size() == 1u);
  ASSERT_TRUE(*(*repo)->revoke_key("insurer", keys->at(0).id));
  EXPECT_FALSE(*auth.authenticate(key));
}

}  // namespace
