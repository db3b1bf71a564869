#include <gtest/gtest.h>
#include <libmseed.h>

#include <cmath>
#include <fstream>
#include <map>

#include "test_data.hpp"
#include "tw/core/time.hpp"
#include "tw/seismic/io.hpp"

using namespace tw::seismic;
namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  auto b = read_file_bytes(p);
  EXPECT_TRUE(b.ok()) << p;
  return b.ok() ? *b : std::string();
}
fs::path temp_file(const std::string& name, const std::string& data) {
  auto p = fs::temp_directory_path() / ("tw_seismic_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << data;
  return p;
}
}  // namespace

// Our record scanner + segment merger against libmseed's own trace assembly, sample by sample.
TEST(MseedTest, NorwayMatchesLibmseedTraceGroup) {
  auto ws = read_mseed(test::norway_1996());
  ASSERT_TRUE(ws.ok()) << ws.error().message;
  EXPECT_EQ(ws->traces.size(), 39u);
  EXPECT_EQ(ws->report.records, 1463u);
  EXPECT_EQ(ws->report.corrupt, 0u);
  MSTraceGroup* mstg = nullptr;
  ASSERT_EQ(ms_readtraces(&mstg, test::norway_1996().c_str(), 0, -1.0, -1.0, 1, 1, 1, 0), MS_NOERROR);
  std::map<std::string, MSTrace*> ref;
  for (MSTrace* t = mstg->traces; t; t = t->next)
    ref[std::string(t->network) + "." + t->station + "." + t->location + "." + t->channel] = t;
  ASSERT_EQ(ref.size(), 39u);
  std::size_t compared = 0;
  for (const auto& t : ws->traces) {
    auto it = ref.find(t.id());
    ASSERT_NE(it, ref.end()) << t.id();
    MSTrace* r = it->second;
    EXPECT_EQ(t.start_us, r->starttime) << t.id();
    EXPECT_DOUBLE_EQ(t.sample_rate, r->samprate) << t.id();
    ASSERT_EQ(static_cast<std::int64_t>(t.samples.size()), r->numsamples) << t.id();
    ASSERT_EQ(r->sampletype, 'i');
    const auto* s = static_cast<const std::int32_t*>(r->datasamples);
    for (std::size_t i = 0; i < t.samples.size(); ++i) ASSERT_EQ(t.samples[i], s[i]) << t.id() << " sample " << i;
    ++compared;
  }
  EXPECT_EQ(compared, 39u);
  mst_freegroup(&mstg);
  // A known channel, field by field.
  const Trace* foo = nullptr;
  for (const auto& t : ws->traces)
    if (t.station == "FOO" && t.channel == "SHZ") foo = &t;
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(foo->network, "XX");
  EXPECT_EQ(foo->location, "");
  EXPECT_DOUBLE_EQ(foo->sample_rate, 50.0);
}

TEST(MseedTest, TruncatedFileKeepsCompleteRecords) {
  const std::string data = slurp(test::norway_1996());
  ASSERT_EQ(data.size() % 512, 0u);
  const std::string cut = data.substr(0, 512 * 10 + 300);  // 10 records and part of the 11th
  auto ws = decode_mseed(cut, "cut.mseed");
  EXPECT_EQ(ws.report.records, 10u);
  ASSERT_EQ(ws.report.corrupt, 1u);
  EXPECT_NE(ws.report.errors[0].find("cut.mseed: offset 5120"), std::string::npos) << ws.report.errors[0];
}

TEST(MseedTest, GarbageBetweenRecordsIsSkippedAndCounted) {
  const std::string data = slurp(test::norway_1996());
  std::string mixed = data.substr(0, 512 * 5) + std::string(777, 'Z') + data.substr(512 * 5);
  auto ws = decode_mseed(mixed, "mixed");
  EXPECT_EQ(ws.report.records, 1463u);
  ASSERT_EQ(ws.report.corrupt, 1u);
  EXPECT_NE(ws.report.errors[0].find("offset 2560: 777 bytes"), std::string::npos) << ws.report.errors[0];
  // Same samples as the clean file.
  auto clean = decode_mseed(data, "clean");
  ASSERT_EQ(ws.traces.size(), clean.traces.size());
  for (std::size_t i = 0; i < ws.traces.size(); ++i) EXPECT_EQ(ws.traces[i].samples, clean.traces[i].samples);
}

TEST(MseedTest, BadHeaderRecordIsSkipped) {
  std::string data = slurp(test::norway_1996()).substr(0, 512 * 20);
  // Corrupt the data-encoding blockette 1000 of record 3 (an encoding libmseed does not know).
  const std::size_t rec = 512 * 3;
  const auto b1000 = static_cast<unsigned char>(data[rec + 46]) << 8 | static_cast<unsigned char>(data[rec + 47]);
  ASSERT_GT(b1000, 0);
  data[rec + b1000 + 4] = static_cast<char>(99);
  auto ws = decode_mseed(data, "badhdr");
  EXPECT_EQ(ws.report.records, 19u);
  EXPECT_EQ(ws.report.corrupt, 1u);
  ASSERT_FALSE(ws.report.errors.empty());
  EXPECT_NE(ws.report.errors[0].find("offset 1536"), std::string::npos) << ws.report.errors[0];
}

// Found by libFuzzer: libmseed 2.x reads past the record when an uncompressed encoding claims more
// samples than fit. Such a record must be rejected before decoding.
TEST(MseedTest, SampleCountBeyondTheRecordIsRejected) {
  std::string data = slurp(test::norway_1996()).substr(0, 512 * 4);
  const std::size_t rec = 512 * 2;
  const auto b1000 = static_cast<unsigned char>(data[rec + 46]) << 8 | static_cast<unsigned char>(data[rec + 47]);
  data[rec + b1000 + 4] = 3;  // INT32
  data[rec + 30] = static_cast<char>(0x03);  // 1000 samples (big-endian), only 116 would fit
  data[rec + 31] = static_cast<char>(0xE8);
  auto ws = decode_mseed(data, "overflow");
  EXPECT_EQ(ws.report.records, 3u);
  ASSERT_EQ(ws.report.corrupt, 1u);
  EXPECT_NE(ws.report.errors[0].find("offset 1024: bad record: 1000 samples of encoding 3 do not fit"), std::string::npos)
      << ws.report.errors[0];
}

TEST(MseedTest, AllGarbageIsAnErrorNotACrash) {
  auto p = temp_file("garbage.mseed", std::string(4096, '\x55'));
  auto ws = read_mseed(p);
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.error().code, "bad_mseed");
  EXPECT_NE(ws.error().message.find(p.string()), std::string::npos);
  fs::remove(p);
  auto missing = read_mseed("/nonexistent/file.mseed");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "not_found");
}

TEST(MseedTest, SdsArchiveRoundTrip) {
  const std::string data = slurp(test::norway_1996());
  const fs::path root = fs::temp_directory_path() / ("tw_sds_" + std::to_string(::getpid()));
  fs::remove_all(root);
  // Write each record to its SDS day file.
  MSRecord* msr = nullptr;
  std::vector<char> buf(data.begin(), data.end());
  for (std::size_t off = 0; off + 512 <= buf.size(); off += 512) {
    ASSERT_EQ(msr_parse(buf.data() + off, 512, &msr, 512, 0, 0), MS_NOERROR);
    const std::string iso = tw::format_iso8601_ms(msr_starttime(msr) / 1000);
    const std::string net = msr->network, sta = msr->station, loc = msr->location, cha = msr->channel;
    const fs::path dir = root / iso.substr(0, 4) / net / sta / (cha + ".D");
    fs::create_directories(dir);
    std::ofstream(dir / (net + "." + sta + "." + loc + "." + cha + ".D." + iso.substr(0, 4) + ".177"),
                  std::ios::binary | std::ios::app)
        .write(data.data() + off, 512);
  }
  msr_free(&msr);
  auto direct = read_mseed(test::norway_1996());
  ASSERT_TRUE(direct.ok());
  const auto t0 = *tw::parse_iso8601_us("1996-06-25T00:00:00Z");
  auto sds = read_sds(root, "XX", "FOO", "", "SHZ", t0, t0 + 86400LL * 1000000);
  ASSERT_TRUE(sds.ok()) << sds.error().message;
  ASSERT_EQ(sds->traces.size(), 1u);
  const Trace* ref = nullptr;
  for (const auto& t : direct->traces)
    if (t.id() == "XX.FOO..SHZ") ref = &t;
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(sds->traces[0].start_us, ref->start_us);
  EXPECT_EQ(sds->traces[0].samples, ref->samples);
  // A window cut: 10 s from the start.
  auto cut = read_sds(root, "XX", "FOO", "", "SHZ", ref->start_us, ref->start_us + 10'000'000);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->traces[0].samples.size(), 500u);
  auto none = read_sds(root / "missing", "XX", "FOO", "", "SHZ", t0, t0 + 1);
  EXPECT_FALSE(none.ok());
  fs::remove_all(root);
}

// The OpenEEW packets, assembled with a rate derived from packet times, match the MiniSEED made from them.
TEST(OpenEewTest, PacketsMatchMiniseedAndTrueRate) {
  auto members = read_tar_members(test::seismic_dir() / "openeew_mexico" / "openeew_jsonl.tar.gz", ".jsonl");
  ASSERT_TRUE(members.ok()) << members.error().message;
  EXPECT_EQ(members->size(), 201u);
  std::string text;
  for (const auto& m : *members)
    if (m.path.find("2018_2_16/006/") != std::string::npos) text += m.data;
  ASSERT_FALSE(text.empty());
  auto ws = read_openeew_lines(text, "2018_2_16/006", OpenEewOptions{});
  EXPECT_EQ(ws.report.corrupt, 0u);
  EXPECT_EQ(ws.report.records, 564u);
  ASSERT_FALSE(ws.traces.empty());
  EXPECT_EQ(ws.traces[0].station, "OE006");
  // True rate ~30.06 Hz, not the claimed 31.25 Hz.
  EXPECT_NEAR(ws.traces[0].sample_rate, 30.06, 0.05);
  auto ms = read_mseed(test::openeew("2018_2_16.mseed"));
  ASSERT_TRUE(ms.ok());
  std::size_t n_json = 0, n_ms = 0;
  for (const auto& t : ws.traces)
    if (t.channel == "SN1") n_json += t.samples.size();
  for (const auto& t : ms->traces)
    if (t.station == "OE006" && t.channel == "SN1") n_ms += t.samples.size();
  EXPECT_EQ(n_json, 18048u);
  EXPECT_EQ(n_ms, 18048u);
  // Sample values (gal -> milligal counts) agree at the same times.
  const Trace& a = ws.traces[0];
  const Trace* b = nullptr;
  for (const auto& t : ms->traces)
    if (t.station == "OE006" && t.channel == a.channel && std::llabs(t.start_us - a.start_us) < 40000) b = &t;
  ASSERT_NE(b, nullptr) << "no MiniSEED segment starting with the first packet";
  const std::size_t n = std::min(a.samples.size(), b->samples.size());
  ASSERT_GT(n, 100u);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(std::llround(a.samples[i]), std::llround(b->samples[i])) << i;
}

TEST(OpenEewTest, MalformedPacketsAreReportedAndSkipped) {
  EXPECT_EQ(parse_openeew_packet("{not json").error().code, "bad_json");
  EXPECT_EQ(parse_openeew_packet("[1,2]").error().code, "bad_json");
  auto e1 = parse_openeew_packet(R"({"x":[1],"y":[1],"z":[1]})");
  ASSERT_FALSE(e1.ok());
  EXPECT_NE(e1.error().message.find("device_t"), std::string::npos);
  auto e2 = parse_openeew_packet(R"({"device_t":1.5e9,"x":[1,2],"y":[1],"z":[1,2]})");
  ASSERT_FALSE(e2.ok());
  EXPECT_NE(e2.error().message.find("lengths differ"), std::string::npos);
  auto e3 = parse_openeew_packet(R"({"device_t":1.5e9,"x":[1,"a"],"y":[1,2],"z":[1,2]})");
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.error().message.find("'x'"), std::string::npos);
  auto e4 = parse_openeew_packet(R"({"device_t":"soon","x":[1],"y":[1],"z":[1]})");
  ASSERT_FALSE(e4.ok());
  EXPECT_NE(e4.error().message.find("device_t"), std::string::npos);
  auto ok = parse_openeew_packet(R"({"device_t":1500000000.5,"cloud_t":1500000001,"sr":31.25,"x":[1,2],"y":[3,4],"z":[5,6]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_DOUBLE_EQ(ok->device_t, 1500000000.5);
  EXPECT_EQ(ok->z[1], 6);
  // In a stream: bad lines are counted with their line numbers; good ones assembled.
  std::string text;
  for (int k = 0; k < 10; ++k)
    text += R"({"device_id":"007","sr":31.25,"device_t":)" + std::to_string(1500000000.0 + 3.0 / 30.0 * (k + 1)) +
            R"(,"x":[1,1,1],"y":[1,1,1],"z":[1,1,1]})" + "\n";
  text += "garbage\n";
  auto ws = read_openeew_lines(text, "stream", OpenEewOptions{});
  EXPECT_EQ(ws.report.records, 10u);
  ASSERT_EQ(ws.report.corrupt, 1u);
  EXPECT_EQ(ws.report.errors[0].rfind("stream:11:", 0), 0u) << ws.report.errors[0];
  ASSERT_EQ(ws.traces.size(), 3u);
  EXPECT_EQ(ws.traces[0].station, "OE007");
  EXPECT_EQ(ws.traces[0].samples.size(), 30u);
  EXPECT_NEAR(ws.traces[0].sample_rate, 30.0, 1e-3);
}

TEST(OpenEewTest, GapsStartNewSegments) {
  std::vector<OpenEewPacket> pk;
  for (int k = 0; k < 20; ++k) {
    if (k == 10) continue;  // one packet lost
    OpenEewPacket p;
    p.device_id = "001";
    p.sr = 31.25;
    p.device_t = 1.6e9 + (k + 1) * 32 / 31.32;
    p.x.assign(32, k);
    p.y.assign(32, 0);
    p.z.assign(32, 0);
    pk.push_back(p);
  }
  auto ws = assemble_openeew(pk, OpenEewOptions{});
  EXPECT_EQ(ws.report.gaps, 1u);
  ASSERT_EQ(ws.traces.size(), 6u);  // 2 segments x 3 channels
  EXPECT_NEAR(ws.traces[0].sample_rate, 31.32, 1e-6);
  EXPECT_EQ(ws.traces[0].samples.size(), 320u);
  EXPECT_EQ(ws.traces[1].samples.size(), 288u);
}

TEST(AsciiTest, ObspySlistHeader) {
  auto ws = read_obspy_ascii(test::seismic_dir() / "obspy_waveforms" / "BW.UH1._.SHZ.D.2010.147.cut.slist.gz");
  ASSERT_TRUE(ws.ok()) << ws.error().message;
  ASSERT_EQ(ws->traces.size(), 1u);
  const auto& t = ws->traces[0];
  EXPECT_EQ(t.id(), "BW.UH1..SHZ");
  EXPECT_EQ(t.samples.size(), 11517u);
  EXPECT_DOUBLE_EQ(t.sample_rate, 50.0);
  EXPECT_EQ(tw::format_iso8601_us(t.start_us), "2010-05-27T16:24:03.679998Z");
  EXPECT_EQ(t.samples[0], -50);
  EXPECT_EQ(t.samples[6], 113);
  auto bad = read_obspy_ascii(temp_file("bad.asc", "TIMESERIES X_Y, 3 samples\n1 2 3\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "bad_header");
}

TEST(MergeTest, GapsAndOverlaps) {
  auto mk = [](std::int64_t start, std::size_t n, double v) {
    Trace t;
    t.network = "N";
    t.station = "S";
    t.channel = "HHZ";
    t.sample_rate = 100;
    t.start_us = start;
    t.samples.assign(n, v);
    return t;
  };
  std::vector<Trace> v{mk(0, 100, 1), mk(1'000'000, 100, 2), mk(1'500'000, 100, 3), mk(5'000'000, 10, 4)};
  ReadReport rep;
  merge_segments(v, rep);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].samples.size(), 250u);  // 100 + 100 + 50 new samples of the overlapping record
  EXPECT_EQ(v[0].samples[150], 2);       // the earlier samples win
  EXPECT_EQ(v[0].samples[249], 3);
  EXPECT_EQ(rep.overlaps, 1u);
  EXPECT_EQ(rep.gaps, 1u);
}
