// `towerwatch tenant ...` and `towerwatch evidence verify ...` run as a user would.
#include <gtest/gtest.h>

#include "process.hpp"
#include "tw/hub/evidence.hpp"

namespace {

struct Run {
  int rc;
  std::string out;
};
Run run(const tw::test::TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{TW_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  static int n = 0;
  const std::string log = dir.file("cli-" + std::to_string(n++) + ".log");
  auto p = tw::test::Process::spawn(argv, log);
  auto rc = p.wait(std::chrono::seconds(30));
  return {rc.value_or(-1), tw::test::read_file(log)};
}

TEST(HubCli, HashesKeysAndVerifiesBundles) {
  tw::test::TempDir dir;
  auto h = run(dir, {"tenant", "hash-key", "demo-quake-agency-key-0001"});
  EXPECT_EQ(h.rc, 0);
  EXPECT_EQ(h.out, "blake2b:80384e5a65efcbcafb6408bd19712e2ed93ba081ebef74fc0ff3507b59da5c98\n");
  auto bad = run(dir, {"tenant", "hash-key", "short"});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.out.find("error: an API key must have 16 to 256 characters"), std::string::npos);
  auto nk = run(dir, {"tenant", "new-key"});
  ASSERT_EQ(nk.rc, 0);
  auto j = nlohmann::json::parse(nk.out);
  const std::string key = j["api_key"];
  auto rehash = run(dir, {"tenant", "hash-key", key});
  EXPECT_EQ(rehash.out, j["api_key_hash"].get<std::string>() + "\n");
  EXPECT_TRUE(j["api_key"].get<std::string>().starts_with("twk_"));

  nlohmann::json evidence = {{"query", {{"lat", 19.43}}}, {"tenant", "insurer"}, {"smoke", nlohmann::json::array()}};
  auto b = tw::hub::make_bundle(evidence, 1700000000000);
  tw::test::write_file(dir.file("bundle.json"), tw::hub::bundle_to_json(b).dump());
  auto ok = run(dir, {"evidence", "verify", dir.file("bundle.json")});
  EXPECT_EQ(ok.rc, 0) << ok.out;
  EXPECT_NE(ok.out.find("\"ok\":true"), std::string::npos);
  ASSERT_TRUE(tw::hub::write_bundle_dir(b, dir.file("bundle-dir")));
  EXPECT_EQ(run(dir, {"evidence", "verify", dir.file("bundle-dir")}).rc, 0);
  tw::test::write_file(dir.file("bundle-dir/evidence.json"), "{\"tampered\":true}");
  auto tampered = run(dir, {"evidence", "verify", dir.file("bundle-dir")});
  EXPECT_EQ(tampered.rc, 1);
  EXPECT_NE(tampered.out.find("evidence.json: size differs from the manifest"), std::string::npos) << tampered.out;
  tw::test::write_file(dir.file("broken.json"), "{not json");
  auto broken = run(dir, {"evidence", "verify", dir.file("broken.json")});
  EXPECT_EQ(broken.rc, 1);
  EXPECT_NE(broken.out.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(run(dir, {"evidence", "verify", dir.file("missing.json")}).rc, 2);
}

}  // namespace
