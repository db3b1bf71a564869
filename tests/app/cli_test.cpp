// The towerwatch binary's contract: exit codes, config check, and a demo that serves its API.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "process.hpp"

using namespace std::chrono_literals;

namespace {
int run(const std::vector<std::string>& args, std::string* out = nullptr) {
  tw::test::TempDir dir;
  std::vector<std::string> argv = {TW_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = tw::test::Process::spawn(argv, dir.file("out.log"));
  auto rc = p.wait(60s);
  if (out) *out = tw::test::read_file(dir.file("out.log"));
  return rc.value_or(-999);
}
}  // namespace

TEST(Cli, ExitCodes) {
  std::string out;
  EXPECT_EQ(run({"version"}, &out), 0);
  EXPECT_NE(out.find("towerwatch "), std::string::npos);
  EXPECT_EQ(run({"--help"}, &out), 0);
  for (const char* sub : {"demo", "hub", "edge", "config"}) EXPECT_NE(out.find(sub), std::string::npos) << sub;
  EXPECT_EQ(run({"no-such-command"}), 2);
  EXPECT_EQ(run({"hub"}), 2);  // --config is required
  EXPECT_EQ(run({"hub", "--config", "/nonexistent.toml"}, &out), 2);
  EXPECT_NE(out.find("/nonexistent.toml: cannot open file"), std::string::npos) << out;
}

TEST(Cli, ConfigCheckAcceptsTheExamplesAndNamesWhatIsWrong) {
  EXPECT_EQ(run({"config", "check", "config/site.example.toml"}), 0);
  EXPECT_EQ(run({"config", "check", "config/hub.example.toml"}), 0);
  tw::test::TempDir dir;
  tw::test::write_file(dir.file("bad.toml"), "[site]\nid = \"t1\"\nlat = 19\nlon = -99\nzoom = 3\n");
  std::string out;
  EXPECT_EQ(run({"config", "check", dir.file("bad.toml")}, &out), 2);
  EXPECT_NE(out.find(dir.file("bad.toml") + ":5: site.zoom: unknown key"), std::string::npos) << out;
}

TEST(Cli, DemoServesTheApiAndStopsCleanly) {
  tw::test::TempDir dir;
  const int port = tw::test::free_port();
  auto demo = tw::test::Process::spawn({TW_BIN, "demo", "--listen", "127.0.0.1:" + std::to_string(port),
                                        "--state-dir", dir.file("state")},
                                       dir.file("demo.log"));
  ASSERT_TRUE(tw::test::wait_until(
      [&] {
        auto r = tw::test::http_get(port, "/api/v1/sites", "demo-operator-admin-key-0006");
        return r && r->status == 200 && nlohmann::json::parse(r->body)["sites"].size() >= 3;
      },
      60s))
      << tw::test::read_file(dir.file("demo.log"));
  auto page = tw::test::http_get(port, "/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("towerwatch"), std::string::npos);
  // The address is printed before any site starts, so it is in the log by now.
  EXPECT_NE(tw::test::read_file(dir.file("demo.log")).find("http://127.0.0.1:" + std::to_string(port) + "/"),
            std::string::npos);
  EXPECT_EQ(demo.stop(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir.file("state") + "/hub.db"));
}
