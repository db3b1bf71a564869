// A change camera on a site, end to end: edge (folder of daily captures) -> real mosquitto -> hub -> a
// landuse alarm with the zone and the first day; the watcher's state survives edge restarts (no second
// alert).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "process.hpp"
#include "tw/core/paths.hpp"
#include "tw/hub/tenants.hpp"

using namespace std::chrono_literals;
using tw::test::Process;
namespace fs = std::filesystem;

namespace {

const std::string kKey = "change-e2e-land-bureau-key-0123";

nlohmann::json api(int port, const std::string& path) {
  auto r = tw::test::http_get(port, path, kKey);
  if (!r || r->status != 200) return nlohmann::json();
  return nlohmann::json::parse(r->body, nullptr, false);
}

}  // namespace

TEST(ChangeEndToEnd, ConstructionOnFarmlandBecomesOneLanduseAlarmAcrossEdgeRestarts) {
  // LEVIR-CD pair with new buildings over much of the tile: before on day 1, after on days 2, 3 and 4.
  const fs::path pair = tw::data_dir() / "change" / "levir_cd_samples";
  const std::string name = "test_2_0000_0000.png";
  ASSERT_TRUE(fs::exists(pair / "A" / name)) << pair;
  tw::test::TempDir dir;
  const fs::path captures = dir.file("captures");
  fs::create_directories(captures);
  fs::copy_file(pair / "A" / name, captures / "20240301.png");
  for (const char* day : {"20240302.png", "20240303.png", "20240304.png"})
    fs::copy_file(pair / "B" / name, captures / day);

  tw::test::Mosquitto broker;
  broker.start();
  const int http_port = tw::test::free_port();
  tw::test::write_file(dir.file("hub.toml"),
                       tw::test::hub_toml(dir, http_port, broker.url(), "tw-hub-change",
                                          {"land", "operator", R"(["landuse", "site"])", tw::hub::hash_api_key(kKey)}));
  tw::test::write_file(
      dir.file("site.toml"),
      "[site]\nid = \"farm-tower\"\nlat = 19.4\nlon = -99.1\nheartbeat_s = 2\n\n[broker]\nurl = \"" +
          broker.url() + "\"\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n\n[outbox]\npath = \"" +
          dir.file("outbox.db") + "\"\n\n[[cameras]]\nid = \"field\"\nurl = \"" + captures.string() +
          "\"\nanalytics = [\"change\"]\ncapture_every_s = 0.2\n\n[[cameras.zones]]\n"
          "name = \"parcel-7\"\npoints = [0, 0, 256, 0, 256, 256, 0, 256]\n");

  Process hub = Process::spawn({TW_BIN, "hub", "--config", dir.file("hub.toml")}, dir.file("hub.log"));
  ASSERT_TRUE(tw::test::wait_until([&] { return !api(http_port, "/api/v1/sites").is_null(); }, 20s))
      << tw::test::read_file(dir.file("hub.log"));
  auto run_edge = [&] {
    Process edge = Process::spawn({TW_BIN, "edge", "--config", dir.file("site.toml"), "--exit-when-drained"},
                                  dir.file("edge.log"));
    auto rc = edge.wait(180s);
    ASSERT_TRUE(rc.has_value()) << "edge did not finish: " << tw::test::read_file(dir.file("edge.log"));
    EXPECT_EQ(*rc, 0) << tw::test::read_file(dir.file("edge.log"));
  };
  run_edge();
  auto landuse_alarms = [&] { return api(http_port, "/api/v1/alarms?service=landuse")["alarms"]; };
  ASSERT_TRUE(tw::test::wait_until([&] { return landuse_alarms().size() == 1; }, 20s))
      << tw::test::read_file(dir.file("edge.log"));
  auto a = landuse_alarms()[0];
  EXPECT_EQ(a["type"], "change:parcel-7");
  EXPECT_EQ(a["source"], "farm-tower/field");
  EXPECT_EQ(a["status"], "active_unack");
  EXPECT_EQ(a["details"]["zone"], "parcel-7");
  EXPECT_EQ(a["details"]["first_seen"], "2024-03-02");  // the first capture after the reference
  EXPECT_EQ(a["details"]["days_seen"], 3);
  EXPECT_GT(a["details"]["area_px"].get<double>(), 0.01 * 256 * 256);
  // The event behind it: raised by the third day of the change, with its crops only when redacted.
  auto ev = api(http_port, "/api/v1/events/" + a["details"]["event"].get<std::string>());
  ASSERT_EQ(ev["kind"], "change") << ev.dump();
  EXPECT_EQ(ev["time"], "2024-03-04T12:00:00.000Z");
  EXPECT_EQ(ev["payload"].value("redacted", false), ev["payload"].contains("after_jpeg"));
  EXPECT_TRUE(fs::exists(dir.file("change/field/state.json")));

  // Restart with nothing new: the replay resumes after the last capture seen, no event is sent twice.
  run_edge();
  // A fifth day still showing the same buildings: already alerted, so no second change event.
  fs::copy_file(pair / "B" / name, captures / "20240305.png");
  run_edge();
  auto changes = api(http_port, "/api/v1/events?kind=change&limit=100");
  EXPECT_EQ(changes["events"].size(), 1u) << changes.dump().substr(0, 400);
  EXPECT_EQ(landuse_alarms().size(), 1u);
  EXPECT_EQ(landuse_alarms()[0]["count"], 1);
  EXPECT_EQ(hub.stop(), 0) << tw::test::read_file(dir.file("hub.log"));
}
