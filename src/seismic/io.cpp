#include <libmseed.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tw/core/time.hpp"
#include "tw/seismic/io.hpp"

namespace tw::seismic {
namespace {

void silent_log(char*) {}

void init_libmseed() {
  static std::once_flag once;
  std::call_once(once, [] { ms_loginit(silent_log, nullptr, silent_log, nullptr); });
}

// RAII owner of a libmseed record.
struct MsrDeleter {
  void operator()(MSRecord* m) const { msr_free(&m); }
};
using MsrPtr = std::unique_ptr<MSRecord, MsrDeleter>;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

}  // namespace

void merge_segments(std::vector<Trace>& traces, ReadReport& report, double tolerance_samples) {
  std::stable_sort(traces.begin(), traces.end(), [](const Trace& a, const Trace& b) {
    auto ia = a.id(), ib = b.id();
    if (ia != ib) return ia < ib;
    return a.start_us < b.start_us;
  });
  std::vector<Trace> out;
  for (auto& t : traces) {
    if (t.samples.empty() || !(t.sample_rate > 0)) continue;
    if (!out.empty()) {
      Trace& last = out.back();
      if (last.id() == t.id() && std::fabs(last.sample_rate - t.sample_rate) < 1e-4 * t.sample_rate) {
        const double period_us = 1e6 / t.sample_rate;
        const double delta = static_cast<double>(t.start_us - last.end_us()) / period_us;  // in samples
        if (std::fabs(delta) <= tolerance_samples) {
          last.samples.insert(last.samples.end(), t.samples.begin(), t.samples.end());
          continue;
        }
        if (delta >= -1.5 && delta < 0) {
          // Within about a sample: timing jitter between distinct samples (e.g. OpenEEW packet clocks),
          // not repeated data. Keep every sample as a new segment.
          ++report.overlaps;
        } else if (delta < 0) {  // overlap: keep the earlier samples, append only what is new
          ++report.overlaps;
          const double skip = std::round(-delta);
          if (skip >= static_cast<double>(t.samples.size())) continue;
          const auto n = static_cast<std::size_t>(skip);
          t.start_us += static_cast<std::int64_t>(skip * period_us + 0.5);
          t.samples.erase(t.samples.begin(), t.samples.begin() + static_cast<std::ptrdiff_t>(n));
          const double d2 = static_cast<double>(t.start_us - last.end_us()) / period_us;
          if (std::fabs(d2) <= tolerance_samples) {
            last.samples.insert(last.samples.end(), t.samples.begin(), t.samples.end());
            continue;
          }
        } else {
          ++report.gaps;
        }
      }
    }
    out.push_back(std::move(t));
  }
  traces = std::move(out);
}

WaveformSet decode_mseed(std::string_view data, const std::string& name) {
  init_libmseed();
  WaveformSet ws;
  MSRecord* raw = nullptr;
  std::vector<char> buf(data.begin(), data.end());  // libmseed wants a mutable buffer (byte swapping)
  std::size_t off = 0;
  const std::size_t n = buf.size();
  bool in_garbage = false;
  std::size_t garbage_start = 0;
  auto flush_garbage = [&](std::size_t end) {
    if (in_garbage) {
      ws.report.add_error(fmt::format("{}: offset {}: {} bytes that are not a MiniSEED record skipped", name,
                                      garbage_start, end - garbage_start));
      in_garbage = false;
    }
  };
  while (off + 48 <= n) {
    char* rec = buf.data() + off;
    const int avail = static_cast<int>(std::min<std::size_t>(n - off, 1 << 20));
    if (!MS_ISVALIDHEADER(rec)) {
      if (!in_garbage) {
        in_garbage = true;
        garbage_start = off;
      }
      ++off;
      continue;
    }
    const int reclen = ms_detect(rec, avail);
    if (reclen <= 0 || reclen > avail) {
      flush_garbage(off);
      if (reclen > avail) {
        ws.report.add_error(fmt::format("{}: offset {}: truncated record ({} of {} bytes)", name, off, avail, reclen));
        break;
      }
      if (!in_garbage) {
        in_garbage = true;
        garbage_start = off;
      }
      ++off;
      continue;
    }
    flush_garbage(off);
    // Header first: libmseed 2.x trusts the sample count of uncompressed encodings and would read past
    // the record (found by fuzzing), so check that the samples fit before decoding.
    int rc = msr_parse(rec, reclen, &raw, reclen, 0, 0);
    if (rc == MS_NOERROR && raw != nullptr) {
      const int data_offset = raw->fsdh ? raw->fsdh->data_offset : 0;
      int size = 0;
      switch (raw->encoding) {
        case DE_ASCII: size = 1; break;
        case DE_INT16: size = 2; break;
        case DE_INT32:
        case DE_FLOAT32: size = 4; break;
        case DE_FLOAT64: size = 8; break;
        case DE_GEOSCOPE24: size = 3; break;
        case DE_GEOSCOPE163:
        case DE_GEOSCOPE164:
        case DE_CDSN:
        case DE_SRO:
        case DE_DWWSSN: size = 2; break;
        case DE_STEIM1:
        case DE_STEIM2: size = 0; break;  // frame-bounded by libmseed
        default:
          if (raw->samplecnt > 0) size = -1;
      }
      if (raw->samplecnt < 0 || (raw->samplecnt > 0 && (data_offset < 48 || data_offset >= reclen))) {
        ws.report.add_error(fmt::format("{}: offset {}: bad record: data offset {} outside the record", name, off, data_offset));
        off += static_cast<std::size_t>(reclen);
        continue;
      }
      if (size < 0 || (size > 0 && raw->samplecnt * size > reclen - data_offset)) {
        ws.report.add_error(fmt::format("{}: offset {}: bad record: {} samples of encoding {} do not fit in {} bytes", name,
                                        off, raw->samplecnt, static_cast<int>(raw->encoding), reclen - data_offset));
        off += static_cast<std::size_t>(reclen);
        continue;
      }
      if (raw->samplecnt > 0 && (raw->encoding == DE_STEIM1 || raw->encoding == DE_STEIM2) &&
          raw->samplecnt > static_cast<std::int64_t>(reclen - data_offset) / 64 * 105 + 105) {
        ws.report.add_error(fmt::format("{}: offset {}: bad record: {} Steim samples cannot fit in {} bytes", name, off,
                                        raw->samplecnt, reclen - data_offset));
        off += static_cast<std::size_t>(reclen);
        continue;
      }
      rc = msr_parse(rec, reclen, &raw, reclen, 1, 0);
    }
    if (rc != MS_NOERROR || raw == nullptr) {
      ws.report.add_error(fmt::format("{}: offset {}: bad record: {}", name, off, ms_errorstr(rc)));
      off += static_cast<std::size_t>(reclen);
      continue;
    }
    const double rate = msr_samprate(raw);
    if (raw->numsamples > 0 && (!(rate > 0) || !std::isfinite(rate) || rate > 1e6)) {
      ws.report.add_error(fmt::format("{}: offset {}: bad sample rate {}", name, off, rate));
      off += static_cast<std::size_t>(reclen);
      continue;
    }
    if (raw->numsamples > 0 && raw->datasamples != nullptr) {
      Trace t;
      t.network = trim(raw->network);
      t.station = trim(raw->station);
      t.location = trim(raw->location);
      t.channel = trim(raw->channel);
      t.start_us = static_cast<std::int64_t>(msr_starttime(raw));
      t.sample_rate = rate;
      const auto ns = static_cast<std::size_t>(raw->numsamples);
      t.samples.resize(ns);
      bool ok = true;
      switch (raw->sampletype) {
        case 'i': {
          const auto* p = static_cast<const std::int32_t*>(raw->datasamples);
          for (std::size_t i = 0; i < ns; ++i) t.samples[i] = p[i];
          break;
        }
        case 'f': {
          const auto* p = static_cast<const float*>(raw->datasamples);
          for (std::size_t i = 0; i < ns; ++i) t.samples[i] = p[i];
          break;
        }
        case 'd': {
          const auto* p = static_cast<const double*>(raw->datasamples);
          for (std::size_t i = 0; i < ns; ++i) t.samples[i] = p[i];
          break;
        }
        default:
          ok = false;
      }
      for (double v : t.samples)
        if (!std::isfinite(v)) ok = false;
      if (!ok) {
        ws.report.add_error(fmt::format("{}: offset {}: unsupported or non-finite samples (type '{}')", name, off,
                                        raw->sampletype));
      } else {
        ++ws.report.records;
        ws.traces.push_back(std::move(t));
      }
    } else {
      ++ws.report.records;  // header-only / log records are valid, just carry no samples
    }
    off += static_cast<std::size_t>(reclen);
  }
  if (in_garbage) flush_garbage(n);
  else if (off < n && n - off > 0 && ws.report.records + ws.report.corrupt > 0 && off + 48 > n && n > off)
    ws.report.add_error(fmt::format("{}: offset {}: {} trailing bytes skipped", name, off, n - off));
  if (raw) msr_free(&raw);
  merge_segments(ws.traces, ws.report);
  return ws;
}

Result<std::string> read_file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error("not_found", file.string() + ": cannot open file");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b) {
    gzFile gz = gzopen(file.string().c_str(), "rb");
    if (!gz) return make_error("bad_gzip", file.string() + ": cannot open gzip stream");
    std::string out;
    char chunk[1 << 16];
    int got = 0;
    while ((got = gzread(gz, chunk, sizeof chunk)) > 0) out.append(chunk, static_cast<std::size_t>(got));
    int err = 0;
    const char* msg = gzerror(gz, &err);
    std::string emsg = msg ? msg : "";
    gzclose(gz);
    if (got < 0 || (err != Z_OK && err != Z_STREAM_END))
      return make_error("bad_gzip", file.string() + ": corrupt gzip data: " + emsg);
    return out;
  }
  return data;
}

Result<WaveformSet> read_mseed(const std::filesystem::path& file) {
  auto bytes = read_file_bytes(file);
  if (!bytes) return bytes.error();
  auto ws = decode_mseed(*bytes, file.string());
  if (ws.report.records == 0)
    return make_error("bad_mseed", file.string() + ": no valid MiniSEED record" +
                                       (ws.report.errors.empty() ? std::string() : " (" + ws.report.errors[0] + ")"));
  return ws;
}

Result<WaveformSet> read_sds(const std::filesystem::path& root, const std::string& network,
                             const std::string& station, const std::string& location, const std::string& channel,
                             std::int64_t start_us, std::int64_t end_us) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return make_error("not_found", root.string() + ": not an SDS directory");
  auto match = [](const std::string& pat, const std::string& v) { return pat.empty() || pat == "*" || pat == v; };
  WaveformSet all;
  constexpr std::int64_t kDayUs = 86400LL * 1000000;
  for (std::int64_t day = (start_us / kDayUs) * kDayUs; day < end_us; day += kDayUs) {
    const std::string iso = format_iso8601_ms(day / 1000);
    const int year = std::stoi(iso.substr(0, 4));
    // day of year
    const std::int64_t jan1 = parse_iso8601_us(iso.substr(0, 4) + "-01-01T00:00:00Z").value_or(0);
    const int doy = static_cast<int>((day - jan1) / kDayUs) + 1;
    const fs::path ydir = root / std::to_string(year);
    if (!fs::is_directory(ydir, ec)) continue;
    for (const auto& net : fs::directory_iterator(ydir, ec)) {
      if (!net.is_directory() || !match(network, net.path().filename().string())) continue;
      for (const auto& sta : fs::directory_iterator(net.path(), ec)) {
        if (!sta.is_directory() || !match(station, sta.path().filename().string())) continue;
        for (const auto& cha : fs::directory_iterator(sta.path(), ec)) {
          std::string cname = cha.path().filename().string();
          if (!cha.is_directory() || cname.size() < 3 || cname.substr(cname.size() - 2) != ".D") continue;
          cname = cname.substr(0, cname.size() - 2);
          if (!match(channel, cname)) continue;
          for (const auto& f : fs::directory_iterator(cha.path(), ec)) {
            // NET.STA.LOC.CHAN.D.YEAR.DOY
            const std::string fn = f.path().filename().string();
            const std::string suffix = fmt::format(".D.{}.{:03d}", year, doy);
            if (fn.size() < suffix.size() || fn.compare(fn.size() - suffix.size(), suffix.size(), suffix) != 0)
              continue;
            auto parts = fn.substr(0, fn.size() - suffix.size());
            // parts = NET.STA.LOC.CHAN
            const auto p1 = parts.find('.'), p2 = parts.find('.', p1 + 1), p3 = parts.find('.', p2 + 1);
            if (p3 == std::string::npos) continue;
            if (!match(location, parts.substr(p2 + 1, p3 - p2 - 1))) continue;
            auto bytes = read_file_bytes(f.path());
            if (!bytes) {
              all.report.add_error(bytes.error().message);
              continue;
            }
            auto ws = decode_mseed(*bytes, f.path().string());
            all.report.records += ws.report.records;
            all.report.corrupt += ws.report.corrupt;
            for (auto& e : ws.report.errors)
              if (all.report.errors.size() < 100) all.report.errors.push_back(e);
            for (auto& t : ws.traces) all.traces.push_back(std::move(t));
          }
        }
      }
    }
  }
  merge_segments(all.traces, all.report);
  // cut to the window
  std::vector<Trace> cut;
  for (auto& t : all.traces) {
    const double per = 1e6 / t.sample_rate;
    std::size_t i0 = 0, i1 = t.samples.size();
    if (t.start_us < start_us) i0 = static_cast<std::size_t>(std::ceil(static_cast<double>(start_us - t.start_us) / per - 1e-6));
    while (i1 > i0 && t.time_us(i1 - 1) >= end_us) --i1;
    if (i0 >= i1) continue;
    Trace c = t;
    c.start_us = t.time_us(i0);
    c.samples.assign(t.samples.begin() + static_cast<std::ptrdiff_t>(i0), t.samples.begin() + static_cast<std::ptrdiff_t>(i1));
    cut.push_back(std::move(c));
  }
  all.traces = std::move(cut);
  if (all.traces.empty() && all.report.records == 0)
    return make_error("no_data", fmt::format("{}: no SDS data for {}.{}.{}.{}", root.string(), network, station,
                                             location, channel));
  return all;
}

// ---------------------------------------------------------------- OpenEEW

Result<OpenEewPacket> parse_openeew_packet(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) return make_error("bad_json", "not valid JSON");
  if (!j.is_object()) return make_error("bad_json", "packet is not a JSON object");
  OpenEewPacket p;
  auto num = [&](const char* key, double& out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) return make_error("bad_field", std::string("missing field '") + key + "'");
      return {};
    }
    if (!it->is_number()) return make_error("bad_field", std::string("field '") + key + "' is not a number");
    out = it->get<double>();
    if (!std::isfinite(out)) return make_error("bad_field", std::string("field '") + key + "' is not finite");
    return {};
  };
  if (auto s = num("device_t", p.device_t, true); !s) return s.error();
  if (auto s = num("cloud_t", p.cloud_t, false); !s) return s.error();
  if (auto s = num("sr", p.sr, false); !s) return s.error();
  if (p.device_t < 0 || p.device_t > 4.1e9) return make_error("bad_field", "field 'device_t' out of range");
  auto arr = [&](const char* key, std::vector<double>& out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return make_error("bad_field", std::string("missing field '") + key + "'");
    if (!it->is_array()) return make_error("bad_field", std::string("field '") + key + "' is not an array");
    out.reserve(it->size());
    for (const auto& v : *it) {
      if (!v.is_number()) return make_error("bad_field", std::string("field '") + key + "' holds a non-number");
      const double d = v.get<double>();
      if (!std::isfinite(d)) return make_error("bad_field", std::string("field '") + key + "' holds a non-finite value");
      out.push_back(d);
    }
    return {};
  };
  if (auto s = arr("x", p.x); !s) return s.error();
  if (auto s = arr("y", p.y); !s) return s.error();
  if (auto s = arr("z", p.z); !s) return s.error();
  if (p.x.empty()) return make_error("bad_field", "empty sample arrays");
  if (p.x.size() != p.y.size() || p.x.size() != p.z.size())
    return make_error("bad_field", fmt::format("x/y/z lengths differ ({}/{}/{})", p.x.size(), p.y.size(), p.z.size()));
  if (p.x.size() > 10000) return make_error("bad_field", "packet holds more than 10000 samples");
  if (auto it = j.find("device_id"); it != j.end() && it->is_string()) p.device_id = it->get<std::string>();
  return p;
}

std::optional<double> openeew_rate(const std::vector<OpenEewPacket>& pk) {
  std::vector<double> rates;
  for (std::size_t k = 1; k < pk.size(); ++k) {
    const double dt = pk[k].device_t - pk[k - 1].device_t;
    const double n = static_cast<double>(pk[k].x.size());
    const double nominal = pk[k].sr > 0 ? pk[k].sr : 31.25;
    if (dt <= 0) continue;
    const double r = n / dt;
    if (r > 0.8 * nominal && r < 1.2 * nominal) rates.push_back(r);
  }
  if (rates.empty()) return std::nullopt;
  std::nth_element(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(rates.size() / 2), rates.end());
  return rates[rates.size() / 2];
}

WaveformSet assemble_openeew(std::vector<OpenEewPacket> packets, const OpenEewOptions& opt) {
  WaveformSet ws;
  std::sort(packets.begin(), packets.end(),
            [](const OpenEewPacket& a, const OpenEewPacket& b) { return a.device_t < b.device_t; });
  // drop exact duplicates (re-sent packets)
  packets.erase(std::unique(packets.begin(), packets.end(),
                            [](const OpenEewPacket& a, const OpenEewPacket& b) {
                              return a.device_t == b.device_t && a.x == b.x;
                            }),
                packets.end());
  if (packets.empty()) return ws;
  double rate = openeew_rate(packets).value_or(packets[0].sr > 0 ? packets[0].sr : 31.25);
  const std::string station =
      !opt.station.empty() ? opt.station : "OE" + (packets[0].device_id.empty() ? std::string("?") : packets[0].device_id);
  Trace cur[3];
  double predicted_end = 0;  // predicted device_t of the last sample of the next packet minus its length
  bool open = false;
  auto flush = [&] {
    for (auto& c : cur)
      if (!c.samples.empty()) ws.traces.push_back(std::move(c));
    for (auto& c : cur) c = Trace{};
    open = false;
  };
  const char* chans[3] = {"SN1", "SN2", "SN3"};
  for (auto& p : packets) {
    const double n = static_cast<double>(p.x.size());
    const double first_t = p.device_t - (n - 1) / rate;
    if (open) {
      const double expected_last = predicted_end + n / rate;
      const double dev = (p.device_t - expected_last) * rate;
      if (std::fabs(dev) > opt.max_deviation_samples) {
        if (dev < 0) ++ws.report.overlaps;
        else ++ws.report.gaps;
        flush();
      }
    }
    if (!open) {
      for (int c = 0; c < 3; ++c) {
        cur[c].network = opt.network;
        cur[c].station = station;
        cur[c].channel = chans[c];
        cur[c].sample_rate = rate;
        cur[c].start_us = static_cast<std::int64_t>(std::llround(first_t * 1e6));
      }
      predicted_end = first_t - 1.0 / rate;
      open = true;
    }
    const std::vector<double>* src[3] = {&p.x, &p.y, &p.z};
    for (int c = 0; c < 3; ++c)
      for (double v : *src[c]) cur[c].samples.push_back(v * opt.counts_per_gal);
    predicted_end += n / rate;
    ++ws.report.records;
  }
  flush();
  ReadReport scratch;  // gaps and overlaps were counted per packet above
  merge_segments(ws.traces, scratch);
  return ws;
}

WaveformSet read_openeew_lines(std::string_view text, const std::string& name, const OpenEewOptions& opt) {
  std::vector<OpenEewPacket> packets;
  ReadReport rep;
  std::size_t lineno = 0, pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    auto p = parse_openeew_packet(line);
    if (!p) {
      rep.add_error(fmt::format("{}:{}: {}", name, lineno, p.error().message));
      continue;
    }
    packets.push_back(std::move(*p));
  }
  auto ws = assemble_openeew(std::move(packets), opt);
  ws.report.corrupt += rep.corrupt;
  ws.report.errors.insert(ws.report.errors.begin(), rep.errors.begin(), rep.errors.end());
  return ws;
}

// ---------------------------------------------------------------- ObsPy ASCII

Result<WaveformSet> read_obspy_ascii(const std::filesystem::path& file) {
  auto bytes = read_file_bytes(file);
  if (!bytes) return bytes.error();
  std::istringstream in(*bytes);
  std::string line;
  WaveformSet ws;
  Trace* cur = nullptr;
  bool tspair = false;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.rfind("TIMESERIES", 0) == 0) {
      // TIMESERIES NET_STA_LOC_CHA_Q, N samples, R sps, TIME, FORMAT, TYPE, UNITS
      std::vector<std::string> f;
      std::stringstream ss(line.substr(11));
      std::string item;
      while (std::getline(ss, item, ',')) f.push_back(trim(item));
      if (f.size() < 5) return make_error("bad_header", fmt::format("{}:{}: bad TIMESERIES header", file.string(), lineno));
      Trace t;
      std::vector<std::string> id;
      std::stringstream ids(f[0]);
      while (std::getline(ids, item, '_')) id.push_back(item);
      if (id.size() < 4) return make_error("bad_header", fmt::format("{}:{}: bad id '{}'", file.string(), lineno, f[0]));
      t.network = id[0];
      t.station = id[1];
      t.location = id[2];
      t.channel = id[3];
      try {
        t.sample_rate = std::stod(f[2]);
      } catch (...) {
        return make_error("bad_header", fmt::format("{}:{}: bad sample rate '{}'", file.string(), lineno, f[2]));
      }
      auto st = parse_iso8601_us(f[3]);
      if (!st || !(t.sample_rate > 0))
        return make_error("bad_header", fmt::format("{}:{}: bad start time or rate", file.string(), lineno));
      t.start_us = *st;
      tspair = f[4] == "TSPAIR";
      ws.traces.push_back(std::move(t));
      cur = &ws.traces.back();
      continue;
    }
    if (!cur) continue;
    std::istringstream ls(line);
    std::string tok;
    while (ls >> tok) {
      if (tspair) {  // time value pairs: skip the time token
        if (!(ls >> tok)) break;
      }
      char* end = nullptr;
      const double v = std::strtod(tok.c_str(), &end);
      if (end == tok.c_str() || !std::isfinite(v))
        return make_error("bad_value", fmt::format("{}:{}: bad sample '{}'", file.string(), lineno, tok));
      cur->samples.push_back(v);
    }
  }
  ws.report.records = ws.traces.size();
  if (ws.traces.empty()) return make_error("bad_header", file.string() + ": no TIMESERIES header");
  merge_segments(ws.traces, ws.report);
  return ws;
}

// ---------------------------------------------------------------- tar

Result<std::vector<ArchiveMember>> read_tar_members(const std::filesystem::path& file, std::string_view suffix) {
  auto bytes = read_file_bytes(file);
  if (!bytes) return bytes.error();
  const std::string& d = *bytes;
  std::vector<ArchiveMember> out;
  std::size_t off = 0;
  while (off + 512 <= d.size()) {
    const char* h = d.data() + off;
    if (h[0] == '\0') break;  // end-of-archive block
    std::string name(h, strnlen(h, 100));
    std::string prefix(h + 345, strnlen(h + 345, 155));
    if (!prefix.empty()) name = prefix + "/" + name;
    std::string size_field(h + 124, strnlen(h + 124, 12));
    char* end = nullptr;
    const unsigned long long size = std::strtoull(size_field.c_str(), &end, 8);
    if (end == size_field.c_str())
      return make_error("bad_tar", fmt::format("{}: offset {}: bad tar header", file.string(), off));
    const char type = h[156];
    off += 512;
    if (off + size > d.size()) return make_error("bad_tar", fmt::format("{}: member '{}' truncated", file.string(), name));
    if ((type == '0' || type == '\0') && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back({name, d.substr(off, static_cast<std::size_t>(size))});
    off += static_cast<std::size_t>((size + 511) / 512 * 512);
  }
  return out;
}

}  // namespace tw::seismic
