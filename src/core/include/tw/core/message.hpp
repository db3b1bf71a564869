#pragma once
// The versioned message model shared by edge, bus and hub. On the wire a message is JSON:
//   {"v":1,"id":"<ULID>","site":"<site id>","kind":"<kind>","ts":<UTC ms>,"payload":{...}}
// and travels on MQTT topic tw/v1/<site>/<kind>; the few kinds the hub sends to a site (downlink) travel on
// tw/v1/to/<site>/<kind>. Kinds and their payloads: docs/messages.md.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/core/result.hpp"

namespace tw {

inline constexpr int kMessageVersion = 1;
inline constexpr size_t kMaxMessageBytes = 256 * 1024;

struct Message {
  std::string id;  // ULID, unique and sortable
  int v = kMessageVersion;
  std::string site;
  std::string kind;
  std::int64_t ts_ms = 0;  // UTC milliseconds of the observation
  nlohmann::json payload = nlohmann::json::object();

  std::string topic() const;
  std::string to_json() const;
};

// Builds a message with a fresh id.
Message make_message(std::string site, std::string kind, std::int64_t ts_ms, nlohmann::json payload);

// Site, camera, tenant and kind ids: 1-64 of [A-Za-z0-9_-] (safe in topics, paths and URLs).
bool is_valid_id(std::string_view s);

std::string topic_for(std::string_view site, std::string_view kind);
// The topic of a message from the hub to a site (tw/v1/to/<site>/<kind>): outside the hub's tw/v1/+/+.
std::string downlink_topic(std::string_view site, std::string_view kind);
// Splits "tw/v1/<site>/<kind>"; returns false when the topic is not ours.
bool split_topic(std::string_view topic, std::string& site, std::string& kind);

// Parses and validates raw bytes. Error codes (the "reason" counted by the hub):
// oversized, bad_json, bad_field, unknown_kind, bad_payload, topic_mismatch, bad_version.
Result<Message> parse_message(std::string_view raw, std::string_view topic = {});

// Payload schema of one kind: required fields and their JSON types.
struct FieldSpec {
  std::string name;
  nlohmann::json::value_t type;  // number_float means "any number"
};
struct KindSpec {
  std::string kind;
  std::vector<FieldSpec> required;
  bool downlink = false;  // sent by the hub to a site, never by a site
};
// Registers (or replaces) a kind. Built-in kinds are registered at start-up.
void register_message_kind(KindSpec spec);
bool is_known_kind(std::string_view kind);
bool is_downlink_kind(std::string_view kind);
std::vector<std::string> known_kinds();
Status validate_payload(std::string_view kind, const nlohmann::json& payload);

}  // namespace tw
