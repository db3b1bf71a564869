#include "tw/power/telemetry.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "text_util.hpp"
#include "tw/core/time.hpp"

namespace tw::power {

std::string_view to_string(Generator g) {
  switch (g) {
    case Generator::absent: return "absent";
    case Generator::off: return "off";
    case Generator::running: return "running";
    case Generator::fault: return "fault";
  }
  return "absent";
}

std::optional<Generator> parse_generator(std::string_view s) {
  if (s == "absent") return Generator::absent;
  if (s == "off") return Generator::off;
  if (s == "running") return Generator::running;
  if (s == "fault") return Generator::fault;
  return std::nullopt;
}

namespace {

const std::set<std::string, std::less<>>& known_fields() {
  static const std::set<std::string, std::less<>> k = {
      "mains_v", "dc_bus_v", "battery_a", "battery_temp_c", "block_v", "door_open", "generator",
      "battery_connected", "soc", "runtime_s", "soh"};
  return k;
}

Result<double> number_in(const nlohmann::json& p, const char* name, double lo, double hi) {
  auto it = p.find(name);
  if (it == p.end()) return make_error("missing_field", fmt::format("power payload: field '{}' is missing", name));
  if (!it->is_number())
    return make_error("bad_type", fmt::format("power payload: field '{}' must be a number, got {}", name, it->dump()));
  double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    return make_error("out_of_range",
                      fmt::format("power payload: field '{}' = {} is outside [{}, {}]", name, v, lo, hi));
  return v;
}

// Optional number: absent or null means "not reported".
Result<std::optional<double>> opt_number(const nlohmann::json& p, const char* name, double lo, double hi) {
  auto it = p.find(name);
  if (it == p.end() || it->is_null()) return std::optional<double>{};
  auto v = number_in(p, name, lo, hi);
  if (!v) return v.error();
  return std::optional<double>{*v};
}

Result<std::optional<bool>> opt_bool(const nlohmann::json& p, const char* name) {
  auto it = p.find(name);
  if (it == p.end() || it->is_null()) return std::optional<bool>{};
  if (!it->is_boolean())
    return make_error("bad_type", fmt::format("power payload: field '{}' must be a boolean, got {}", name, it->dump()));
  return std::optional<bool>{it->get<bool>()};
}

}  // namespace

Result<PowerSample> parse_power_payload(const nlohmann::json& p, std::int64_t ts_ms) {
  if (!p.is_object()) return make_error("not_object", "power payload is not a JSON object");
  for (const auto& [key, _] : p.items())
    if (known_fields().find(key) == known_fields().end())
      return make_error("unknown_field", fmt::format("power payload: unknown field '{}'", key));
  PowerSample s;
  s.ts_ms = ts_ms;
  auto mains = number_in(p, "mains_v", 0, kMaxMainsV);
  if (!mains) return mains.error();
  s.mains_v = *mains;
  auto bus = number_in(p, "dc_bus_v", 0, kMaxDcBusV);
  if (!bus) return bus.error();
  s.dc_bus_v = *bus;
  auto cur = number_in(p, "battery_a", -kMaxBatteryA, kMaxBatteryA);
  if (!cur) return cur.error();
  s.battery_a = *cur;
  auto temp = opt_number(p, "battery_temp_c", kMinTempC, kMaxTempC);
  if (!temp) return temp.error();
  s.battery_temp_c = *temp;
  if (auto it = p.find("block_v"); it != p.end() && !it->is_null()) {
    if (!it->is_array())
      return make_error("bad_type", fmt::format("power payload: field 'block_v' must be an array, got {}", it->dump()));
    if (it->size() > kMaxBlocks)
      return make_error("out_of_range",
                        fmt::format("power payload: field 'block_v' has {} entries (at most {})", it->size(), kMaxBlocks));
    s.block_v.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& b = (*it)[i];
      if (!b.is_number())
        return make_error("bad_type", fmt::format("power payload: block_v[{}] must be a number, got {}", i, b.dump()));
      double v = b.get<double>();
      if (!std::isfinite(v) || v < 0 || v > kMaxBlockV)
        return make_error("out_of_range", fmt::format("power payload: block_v[{}] = {} is outside [0, {}]", i, v,
                                                      kMaxBlockV));
      s.block_v.push_back(v);
    }
  }
  auto door = opt_bool(p, "door_open");
  if (!door) return door.error();
  s.door_open = *door;
  auto conn = opt_bool(p, "battery_connected");
  if (!conn) return conn.error();
  s.battery_connected = *conn;
  if (auto it = p.find("generator"); it != p.end() && !it->is_null()) {
    if (!it->is_string())
      return make_error("bad_type", fmt::format("power payload: field 'generator' must be a string, got {}", it->dump()));
    auto g = parse_generator(it->get<std::string>());
    if (!g)
      return make_error("out_of_range", fmt::format("power payload: generator '{}' is not one of absent, off, "
                                                    "running, fault", it->get<std::string>()));
    s.generator = *g;
  }
  auto soc = opt_number(p, "soc", 0, 1);
  if (!soc) return soc.error();
  s.soc = *soc;
  auto rt = opt_number(p, "runtime_s", 0, 1e9);
  if (!rt) return rt.error();
  s.runtime_s = *rt;
  auto soh = opt_number(p, "soh", 0, 1.5);
  if (!soh) return soh.error();
  s.soh = *soh;
  return s;
}

nlohmann::json to_payload(const PowerSample& s) {
  nlohmann::json j{{"mains_v", s.mains_v}, {"dc_bus_v", s.dc_bus_v}, {"battery_a", s.battery_a}};
  if (s.battery_temp_c) j["battery_temp_c"] = *s.battery_temp_c;
  if (!s.block_v.empty()) j["block_v"] = s.block_v;
  if (s.door_open) j["door_open"] = *s.door_open;
  if (s.generator != Generator::absent) j["generator"] = std::string(to_string(s.generator));
  if (s.battery_connected) j["battery_connected"] = *s.battery_connected;
  if (s.soc) j["soc"] = *s.soc;
  if (s.runtime_s) j["runtime_s"] = *s.runtime_s;
  if (s.soh) j["soh"] = *s.soh;
  return j;
}

// ---------------------------------------------------------------------------------------- CSV

Result<std::vector<PowerSample>> parse_telemetry_csv(std::string_view text, std::string_view name) {
  std::vector<PowerSample> out;
  auto lines = detail::split_lines(text);
  std::size_t li = 0;
  // Header: first non-empty line.
  while (li < lines.size() && detail::trim(lines[li]).empty()) ++li;
  if (li == lines.size()) return make_error("bad_csv", fmt::format("{}: empty file, expected a header line", name));
  auto header = detail::split(detail::trim(lines[li]), ',');
  std::map<std::string, std::size_t, std::less<>> col;
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string h(detail::trim(header[i]));
    if (h != "ts" && known_fields().find(h) == known_fields().end())
      return make_error("bad_csv", fmt::format("{}:{}: unknown column '{}'", name, li + 1, h));
    if (!col.emplace(h, i).second)
      return make_error("bad_csv", fmt::format("{}:{}: duplicate column '{}'", name, li + 1, h));
  }
  for (const char* req : {"ts", "mains_v", "dc_bus_v", "battery_a"})
    if (col.find(req) == col.end())
      return make_error("bad_csv", fmt::format("{}:{}: required column '{}' is missing", name, li + 1, req));
  for (++li; li < lines.size(); ++li) {
    auto line = detail::trim(lines[li]);
    if (line.empty() || line.front() == '#') continue;
    auto cells = detail::split(line, ',');
    if (cells.size() != header.size())
      return make_error("bad_csv", fmt::format("{}:{}: {} cells, the header has {}", name, li + 1, cells.size(),
                                               header.size()));
    auto where = [&](const std::string& msg) { return fmt::format("{}:{}: {}", name, li + 1, msg); };
    std::string ts_cell(detail::trim(cells[col["ts"]]));
    std::int64_t ts = 0;
    if (auto n = detail::parse_double(ts_cell); n && *n >= 0 && std::floor(*n) == *n) {
      ts = static_cast<std::int64_t>(*n);
    } else if (auto iso = tw::parse_iso8601_ms(ts_cell)) {
      ts = *iso;
    } else {
      return make_error("bad_csv", where(fmt::format("ts '{}' is neither UTC milliseconds nor ISO-8601", ts_cell)));
    }
    nlohmann::json p = nlohmann::json::object();
    for (const auto& [h, i] : col) {
      if (h == "ts") continue;
      std::string cell(detail::trim(cells[i]));
      if (cell.empty()) continue;
      if (h == "generator") {
        p[h] = cell;
      } else if (h == "door_open" || h == "battery_connected") {
        if (cell == "1" || cell == "true") p[h] = true;
        else if (cell == "0" || cell == "false") p[h] = false;
        else return make_error("bad_csv", where(fmt::format("{} '{}' is not 0/1/true/false", h, cell)));
      } else if (h == "block_v") {
        nlohmann::json arr = nlohmann::json::array();
        for (auto part : detail::split(cell, ';')) {
          auto v = detail::parse_double(detail::trim(part));
          if (!v) return make_error("bad_csv", where(fmt::format("block_v entry '{}' is not a number", part)));
          arr.push_back(*v);
        }
        p[h] = arr;
      } else {
        auto v = detail::parse_double(cell);
        if (!v) return make_error("bad_csv", where(fmt::format("{} '{}' is not a number", h, cell)));
        p[h] = *v;
      }
    }
    auto s = parse_power_payload(p, ts);
    if (!s) return make_error(s.error().code, where(s.error().message));
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::vector<PowerSample>> read_telemetry_csv(const std::filesystem::path& path) {
  auto text = detail::read_file(path);
  if (!text) return text.error();
  return parse_telemetry_csv(*text, path.string());
}

std::string format_telemetry_csv(const std::vector<PowerSample>& samples) {
  std::string out = "ts,mains_v,dc_bus_v,battery_a,battery_temp_c,block_v,door_open,generator,battery_connected,soc,"
                    "runtime_s,soh\n";
  auto opt = [](const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string(); };
  auto optb = [](const std::optional<bool>& v) { return v ? std::string(*v ? "1" : "0") : std::string(); };
  for (const auto& s : samples) {
    std::string blocks;
    for (std::size_t i = 0; i < s.block_v.size(); ++i) blocks += (i ? ";" : "") + fmt::format("{}", s.block_v[i]);
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", s.ts_ms, s.mains_v, s.dc_bus_v, s.battery_a,
                       opt(s.battery_temp_c), blocks, optb(s.door_open),
                       s.generator == Generator::absent ? std::string() : std::string(to_string(s.generator)),
                       optb(s.battery_connected), opt(s.soc), opt(s.runtime_s), opt(s.soh));
  }
  return out;
}

Status write_telemetry_csv(const std::filesystem::path& path, const std::vector<PowerSample>& samples) {
  std::ofstream f(path, std::ios::binary);
  if (!f) return make_error("io", fmt::format("{}: cannot open for writing", path.string()));
  f << format_telemetry_csv(samples);
  if (!f) return make_error("io", fmt::format("{}: write failed", path.string()));
  return {};
}

}  // namespace tw::power
