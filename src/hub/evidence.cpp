#include "tw/hub/evidence.hpp"

#include <sodium.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "tw/core/geo.hpp"
#include "tw/core/time.hpp"
#include "tw/hub/hub.hpp"

namespace tw::hub {
namespace {

double num(const nlohmann::json& j, const char* key, double def = NAN) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : def;
}

nlohmann::json rounded(double v, double scale) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(std::round(v * scale) / scale);
}

// Removes the pixels of any image not marked redacted (the edge never sends one; defence in depth).
void strip_unredacted(nlohmann::json& j) {
  if (j.is_object()) {
    if (j.contains("data_b64") && !j.value("redacted", false)) {
      j.erase("data_b64");
      return;
    }
    for (auto& [k, v] : j.items()) strip_unredacted(v);
  } else if (j.is_array()) {
    for (auto& v : j) strip_unredacted(v);
  }
}

Result<std::vector<store::EventRecord>> all_events(store::Store& s, store::EventQuery q, size_t cap) {
  q.limit = cap;
  q.newest_first = false;
  return s.query_events(q);
}

}  // namespace

Result<nlohmann::json> query_evidence(store::Store& store, const Tenant& tenant, const EvidenceQuery& q) {
  const LatLon here{q.lat, q.lon};
  nlohmann::json quakes = nlohmann::json::array();
  nlohmann::json smoke = nlohmann::json::array();
  nlohmann::json fires = nlohmann::json::array();
  nlohmann::json outages = nlohmann::json::array();
  constexpr size_t kCap = 10000;

  if (tenant.has_service("quake")) {
    // Latest version of each quake whose epicentre is within quake_search_km.
    store::EventQuery eq;
    eq.kinds = {"quake"};
    eq.since_ms = q.since_ms;
    eq.until_ms = q.until_ms;
    eq.near = store::Near{q.lat, q.lon, q.quake_search_km};
    auto qs = all_events(store, eq, kCap);
    if (!qs) return qs.error();
    std::map<std::string, const store::EventRecord*> latest;
    for (const auto& e : *qs) {
      if (!tenant.allows("quake", e.lat, e.lon)) continue;
      const std::string id = e.payload.value("event_id", e.id);
      auto& slot = latest[id];
      if (!slot || num(e.payload, "version", 0) >= num(slot->payload, "version", 0)) slot = &e;
    }
    // Observed ground motion near the point.
    store::EventQuery gq;
    gq.kinds = {"ground_motion"};
    gq.since_ms = q.since_ms;
    gq.until_ms = q.until_ms + 10 * 60 * 1000;
    gq.near = store::Near{q.lat, q.lon, q.radius_km};
    auto gms = all_events(store, gq, kCap);
    if (!gms) return gms.error();
    for (const auto& [id, e] : latest) {
      const auto& p = e->payload;
      const double elat = num(p, "lat"), elon = num(p, "lon");
      const double epi_km = distance_km(here, {elat, elon});
      // The nearest site listed in the quake's intensities.
      nlohmann::json nearest = nullptr;
      double best = INFINITY;
      if (p.contains("intensities") && p["intensities"].is_array()) {
        for (const auto& s : p["intensities"]) {
          const double slat = num(s, "lat"), slon = num(s, "lon");
          if (std::isnan(slat) || std::isnan(slon) || !tenant.in_region(slat, slon)) continue;
          const double d = distance_km(here, {slat, slon});
          if (d < best) {
            best = d;
            nearest = {{"site", s.value("site", "")},      {"distance_km", rounded(d, 10)},
                       {"mmi", s.value("mmi", 0.0)},       {"pga_cms2", s.value("pga_cms2", 0.0)},
                       {"pgv_cms", s.value("pgv_cms", 0.0)}, {"source", s.value("source", "")},
                       {"s_arrival", s.value("s_arrival", "")}};
          }
        }
      }
      if (!std::isnan(best) && best > q.radius_km) nearest["beyond_radius"] = true;
      // Observed peaks from ground_motion within radius in [origin, origin + 10 min].
      const auto origin = parse_iso8601_ms(p.value("origin_time", ""));
      double pga = NAN, pgv = NAN;
      nlohmann::json observed = nlohmann::json::array();
      for (const auto& g : *gms) {
        if (origin && (g.ts_ms < *origin || g.ts_ms > *origin + 10 * 60 * 1000)) continue;
        if (!tenant.allows("quake", g.lat, g.lon)) continue;
        const double a = num(g.payload, "pga_cms2"), v = num(g.payload, "pgv_cms");
        if (!std::isnan(a)) pga = std::isnan(pga) ? a : std::max(pga, a);
        if (!std::isnan(v)) pgv = std::isnan(pgv) ? v : std::max(pgv, v);
        observed.push_back({{"event", g.id}, {"site", g.site}, {"station", g.payload.value("station", "")},
                            {"distance_km", rounded(distance_km(here, {g.lat, g.lon}), 10)},
                            {"pga_cms2", a}, {"pgv_cms", v}});
      }
      double pgv_best = !std::isnan(pgv) ? pgv : (nearest.is_object() ? nearest.value("pgv_cms", NAN) : NAN);
      quakes.push_back({{"event", e->id},
                        {"event_id", id},
                        {"version", p.value("version", 0)},
                        {"origin_time", p.value("origin_time", "")},
                        {"lat", elat},
                        {"lon", elon},
                        {"depth_km", num(p, "depth_km")},
                        {"magnitude", num(p, "magnitude")},
                        {"epicentral_distance_km", rounded(epi_km, 10)},
                        {"at_point",
                         {{"nearest_site", nearest},
                          {"observed_pga_cms2", rounded(pga, 1000)},
                          {"observed_pgv_cms", rounded(pgv, 1000)},
                          {"observations", observed},
                          {"pgv_trigger_cms", kPgvTriggerCms},
                          {"pgv_trigger_met", !std::isnan(pgv_best) && pgv_best >= kPgvTriggerCms}}}});
    }
  }

  if (tenant.has_service("wildfire")) {
    store::EventQuery wq;
    wq.kinds = {"smoke", "fire"};
    wq.since_ms = q.since_ms;
    wq.until_ms = q.until_ms;
    wq.near = store::Near{q.lat, q.lon, q.radius_km};
    auto ws = all_events(store, wq, kCap);
    if (!ws) return ws.error();
    for (const auto& e : *ws) {
      if (!tenant.allows("wildfire", e.lat, e.lon)) continue;
      nlohmann::json j = to_json(e);
      strip_unredacted(j["payload"]);
      j["distance_km"] = rounded(distance_km(here, {e.lat, e.lon}), 10);
      (e.kind == "smoke" ? smoke : fires).push_back(std::move(j));
    }
  }

  if (tenant.has_service("site")) {
    store::AlarmQuery aq;
    aq.services = {"site"};
    aq.near = store::Near{q.lat, q.lon, q.radius_km};
    aq.limit = kCap;
    auto as = store.alarms(aq);
    if (!as) return as.error();
    for (const auto& a : *as) {
      if (a.type != "site_offline" || !tenant.allows("site", a.lat, a.lon)) continue;
      const std::int64_t end = a.clear_ms ? a.clear_ms : std::numeric_limits<std::int64_t>::max();
      if (a.start_ms >= q.until_ms || end < q.since_ms) continue;
      outages.push_back({{"alarm", a.id},
                         {"site", a.site},
                         {"start", format_iso8601_ms(a.start_ms)},
                         {"end", a.clear_ms ? nlohmann::json(format_iso8601_ms(a.clear_ms)) : nlohmann::json(nullptr)},
                         {"distance_km", rounded(distance_km(here, {a.lat, a.lon}), 10)}});
    }
  }

  return nlohmann::json{{"query",
                         {{"lat", q.lat},
                          {"lon", q.lon},
                          {"radius_km", q.radius_km},
                          {"since", format_iso8601_ms(q.since_ms)},
                          {"until", format_iso8601_ms(q.until_ms)}}},
                        {"tenant", tenant.id},
                        {"quakes", quakes},
                        {"smoke", smoke},
                        {"fires", fires},
                        {"outages", outages}};
}

// ---------------------------------------------------------------- bundles

std::string sha256_hex(std::string_view data) {
  if (sodium_init() < 0) return {};
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

std::string base64_encode(std::string_view data) {
  if (sodium_init() < 0) return {};
  std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (sodium_init() < 0) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), "\n\r ",
                        &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

namespace {

// Replaces every redacted image inside `j` by a reference to a bundle file.
void extract_images(nlohmann::json& j, const std::string& event_id, EvidenceBundle& b, int& n) {
  if (j.is_object()) {
    if (j.contains("data_b64") && j["data_b64"].is_string() && j.value("mime", "") == "image/jpeg") {
      if (j.value("redacted", false)) {
        if (auto bytes = base64_decode(j["data_b64"].get<std::string>())) {
          const std::string name = fmt::format("images/{}-{}.jpg", event_id, n++);
          b.files[name] = std::move(*bytes);
          j.erase("data_b64");
          j["file"] = name;
          return;
        }
      }
      j.erase("data_b64");  // not marked redacted, or undecodable: never exported
      j["file"] = nullptr;
      return;
    }
    for (auto& [k, v] : j.items()) extract_images(v, event_id, b, n);
  } else if (j.is_array()) {
    for (auto& v : j) extract_images(v, event_id, b, n);
  }
}

std::string manifest_digest(const nlohmann::json& manifest) {
  nlohmann::json m = manifest;
  m.erase("manifest_sha256");
  return sha256_hex(m.dump());
}

}  // namespace

EvidenceBundle make_bundle(const nlohmann::json& evidence, std::int64_t created_ms) {
  EvidenceBundle b;
  nlohmann::json doc = evidence;
  for (const char* section : {"smoke", "fires"}) {
    if (!doc.contains(section)) continue;
    for (auto& e : doc[section]) {
      int n = 0;
      const std::string id = e.value("id", "event");
      if (e.contains("payload")) extract_images(e["payload"], id, b, n);
    }
  }
  b.files["evidence.json"] = doc.dump(2);
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [name, bytes] : b.files) files.push_back({{"name", name}, {"sha256", sha256_hex(bytes)}, {"bytes", bytes.size()}});
  b.manifest = {{"format", "towerwatch-evidence/1"},
                {"created", format_iso8601_ms(created_ms)},
                {"query", evidence.value("query", nlohmann::json::object())},
                {"tenant", evidence.value("tenant", "")},
                {"files", files}};
  b.manifest["manifest_sha256"] = manifest_digest(b.manifest);
  return b;
}

nlohmann::json bundle_to_json(const EvidenceBundle& b) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, bytes] : b.files) files[name] = base64_encode(bytes);
  return {{"manifest", b.manifest}, {"files", files}};
}

Result<EvidenceBundle> bundle_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("manifest") || !j["manifest"].is_object() || !j.contains("files") ||
      !j["files"].is_object())
    return make_error("bad_bundle", "expected {manifest: {...}, files: {...}}");
  EvidenceBundle b;
  b.manifest = j["manifest"];
  for (const auto& [name, v] : j["files"].items()) {
    if (!v.is_string()) return make_error("bad_bundle", "files." + name + ": expected base64 text");
    auto bytes = base64_decode(v.get<std::string>());
    if (!bytes) return make_error("bad_bundle", "files." + name + ": invalid base64");
    b.files[name] = std::move(*bytes);
  }
  return b;
}

Status verify_bundle(const EvidenceBundle& b) {
  const auto& m = b.manifest;
  if (!m.is_object() || !m.contains("files") || !m["files"].is_array() || !m.contains("manifest_sha256"))
    return make_error("bad_bundle", "manifest: missing files or manifest_sha256");
  if (m["manifest_sha256"] != manifest_digest(m))
    return make_error("bundle_tampered", "manifest: manifest_sha256 does not match the manifest");
  std::set<std::string> listed;
  for (const auto& f : m["files"]) {
    const std::string name = f.value("name", "");
    listed.insert(name);
    auto it = b.files.find(name);
    if (it == b.files.end()) return make_error("bundle_incomplete", name + ": listed in the manifest but missing");
    if (f.value("bytes", std::uint64_t{0}) != it->second.size())
      return make_error("bundle_tampered", name + ": size differs from the manifest");
    if (f.value("sha256", "") != sha256_hex(it->second))
      return make_error("bundle_tampered", name + ": SHA-256 differs from the manifest");
  }
  for (const auto& [name, bytes] : b.files) {
    if (!listed.count(name)) return make_error("bundle_tampered", name + ": not listed in the manifest");
  }
  return {};
}

Status write_bundle_dir(const EvidenceBundle& b, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto write = [&](const std::string& name, const std::string& bytes) -> Status {
    if (name.find("..") != std::string::npos || (!name.empty() && name[0] == '/'))
      return make_error("bad_bundle", name + ": unsafe file name");
    fs::path p = fs::path(dir) / name;
    fs::create_directories(p.parent_path(), ec);
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return make_error("io", p.string() + ": cannot write");
    return {};
  };
  for (const auto& [name, bytes] : b.files) {
    if (auto st = write(name, bytes); !st) return st;
  }
  return write("manifest.json", b.manifest.dump(2));
}

Result<EvidenceBundle> read_bundle_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  auto read = [](const fs::path& p) -> std::optional<std::string> {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  auto mtext = read(fs::path(dir) / "manifest.json");
  if (!mtext) return make_error("bad_bundle", dir + "/manifest.json: cannot read");
  EvidenceBundle b;
  b.manifest = nlohmann::json::parse(*mtext, nullptr, false);
  if (b.manifest.is_discarded()) return make_error("bad_bundle", dir + "/manifest.json: not valid JSON");
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    const std::string rel = fs::relative(it->path(), dir).generic_string();
    if (rel == "manifest.json") continue;
    auto bytes = read(it->path());
    if (!bytes) return make_error("bad_bundle", it->path().string() + ": cannot read");
    b.files[rel] = std::move(*bytes);
  }
  return b;
}

}  // namespace tw::hub
