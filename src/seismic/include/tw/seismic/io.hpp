#pragma once
// Waveform input: MiniSEED 2 (libmseed 2.x) files, buffers and SDS archives; OpenEEW JSON-lines
// packets; ObsPy-style ASCII (SLIST/TSPAIR) files; members of .tar.gz archives.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tw/core/result.hpp"
#include "tw/seismic/trace.hpp"

namespace tw::seismic {

struct WaveformSet {
  std::vector<Trace> traces;  // merged segments, ordered by channel id and start time
  ReadReport report;
};

// Decodes every MiniSEED 2 record in `data`; corrupt records are counted in the report and skipped
// (the scan resynchronises on the next valid record header). `name` labels error messages.
WaveformSet decode_mseed(std::string_view data, const std::string& name = "<buffer>");
// Reads a whole file. Fails only when the file cannot be opened or holds no valid record.
Result<WaveformSet> read_mseed(const std::filesystem::path& file);
// Reads an SDS archive (ROOT/YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY) for the channels
// matching the given codes ("" or "*" matches anything) between two times, cut to [start, end).
Result<WaveformSet> read_sds(const std::filesystem::path& root, const std::string& network,
                             const std::string& station, const std::string& location, const std::string& channel,
                             std::int64_t start_us, std::int64_t end_us);

// One OpenEEW packet: {"x":[..],"y":[..],"z":[..],"device_t":..,"cloud_t":..,"sr":..} in gal.
struct OpenEewPacket {
  std::string device_id;  // from the packet if present, else the caller's
  double device_t = 0;    // device Unix time of the LAST sample
  double cloud_t = 0;
  double sr = 0;          // nominal rate claimed by the device
  std::vector<double> x, y, z;
};
Result<OpenEewPacket> parse_openeew_packet(std::string_view line);

struct OpenEewOptions {
  std::string network = "XX";
  std::string station;                // default "OE<device_id>"
  double max_deviation_samples = 1;   // a packet further than this from the prediction starts a segment
  double counts_per_gal = 1000;       // output in milligal counts, as the MiniSEED conversion does
};
// Assembles packets (any order) of one device into traces SN1=x, SN2=y, SN3=z. The sample rate is
// derived from the packet times (median of samples/interval over consecutive packets), not `sr`.
WaveformSet assemble_openeew(std::vector<OpenEewPacket> packets, const OpenEewOptions& opt);
// Parses JSON lines (malformed lines counted and skipped, error names the line number) and assembles.
WaveformSet read_openeew_lines(std::string_view text, const std::string& name, const OpenEewOptions& opt);
// Estimated effective rate from packet times, or nullopt with fewer than two usable packets.
std::optional<double> openeew_rate(const std::vector<OpenEewPacket>& sorted_packets);

// ObsPy ASCII formats ("TIMESERIES NET_STA_LOC_CHA_Q, N samples, R sps, TIME, SLIST|TSPAIR, ...").
// Accepts plain or gzip-compressed files.
Result<WaveformSet> read_obspy_ascii(const std::filesystem::path& file);

// Whole content of a file, gunzipped when it is gzip-compressed.
Result<std::string> read_file_bytes(const std::filesystem::path& file);
// Members of a .tar or .tar.gz archive whose path ends with `suffix` (e.g. ".jsonl").
struct ArchiveMember {
  std::string path;
  std::string data;
};
Result<std::vector<ArchiveMember>> read_tar_members(const std::filesystem::path& file, std::string_view suffix);

}  // namespace tw::seismic
