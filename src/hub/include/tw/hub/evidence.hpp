#pragma once
// Claims evidence: what the network observed near a point in a time window, and a verifiable export.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/result.hpp"
#include "tw/hub/tenants.hpp"
#include "tw/store/store.hpp"

namespace tw::hub {

struct EvidenceQuery {
  double lat = 0;
  double lon = 0;
  double radius_km = 10;        // smoke/fire/outages/ground motion within this distance of the point
  std::int64_t since_ms = 0;    // inclusive
  std::int64_t until_ms = 0;    // exclusive
  double quake_search_km = 1000;  // quakes whose epicentre is this close are considered
};

// Parametric trigger reported per quake (e.g. an insurer's payout threshold on PGV at the property).
inline constexpr double kPgvTriggerCms = 30.0;

// Builds the evidence document (filtered by the tenant's scope). Quakes: the latest version of each
// event, with the intensity/PGA/PGV at the point taken from the nearest site listed in the quake's
// intensities (observed or predicted) plus any ground_motion observed within radius_km; smoke alerts and
// fire locations within radius_km; site outages (site_offline alarms) of sites within radius_km that
// overlap the window.
Result<nlohmann::json> query_evidence(store::Store& store, const Tenant& tenant, const EvidenceQuery& q);

// A bundle: files (name -> bytes) and a manifest listing each file's SHA-256 and size, plus the SHA-256
// of the canonical manifest itself. Images are the redacted snapshots referenced by the evidence events
// (payload objects {mime:image/jpeg, redacted:true, data_b64}); an image not marked redacted is never exported.
struct EvidenceBundle {
  std::map<std::string, std::string> files;  // evidence.json, images/<event id>-<n>.jpg
  nlohmann::json manifest;                   // {created, query, files:[{name,sha256,bytes}], manifest_sha256}
};
EvidenceBundle make_bundle(const nlohmann::json& evidence, std::int64_t created_ms);
// As one JSON document: {"manifest":{...}, "files":{"name": "<base64>"}}.
nlohmann::json bundle_to_json(const EvidenceBundle& b);
Result<EvidenceBundle> bundle_from_json(const nlohmann::json& j);
// Checks every file's digest and size and the manifest digest; an error names the first mismatch.
Status verify_bundle(const EvidenceBundle& b);
// Writes files and manifest.json into a folder / reads them back.
Status write_bundle_dir(const EvidenceBundle& b, const std::string& dir);
Result<EvidenceBundle> read_bundle_dir(const std::string& dir);

std::string sha256_hex(std::string_view data);
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tw::hub
