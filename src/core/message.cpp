#include "tw/core/message.hpp"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "tw/core/ids.hpp"

namespace tw {
namespace {
using VT = nlohmann::json::value_t;

struct Registry {
  std::mutex mu;
  std::map<std::string, KindSpec, std::less<>> kinds;
  Registry() {
    auto add = [&](std::string k, std::vector<FieldSpec> f, bool down = false) {
      kinds[k] = KindSpec{k, std::move(f), down};
    };
    add("heartbeat", {{"uptime_s", VT::number_float}, {"outbox_depth", VT::number_float}});
    add("status", {{"state", VT::string}});
    add("pick", {{"network", VT::string}, {"station", VT::string}, {"channel", VT::string},
                 {"phase", VT::string}, {"time", VT::string}, {"uncertainty_s", VT::number_float}});
    add("ground_motion", {{"station", VT::string}, {"pick_time", VT::string}, {"pga_cms2", VT::number_float},
                          {"pgv_cms", VT::number_float}, {"pd_cm", VT::number_float}});
    add("quake", {{"event_id", VT::string}, {"version", VT::number_float}, {"origin_time", VT::string},
                  {"lat", VT::number_float}, {"lon", VT::number_float}, {"depth_km", VT::number_float},
                  {"magnitude", VT::number_float}});
    add("counts", {{"camera", VT::string}, {"interval_s", VT::number_float}, {"lines", VT::array}});
    add("smoke", {{"camera", VT::string}, {"score", VT::number_float}, {"bearing_deg", VT::number_float}});
    add("fire", {{"lat", VT::number_float}, {"lon", VT::number_float}});
    add("power", {{"mains_v", VT::number_float}, {"dc_bus_v", VT::number_float}, {"battery_a", VT::number_float}});
    add("change", {{"camera", VT::string}, {"zone", VT::string}, {"area_px", VT::number_float}});
    add("camera_status", {{"camera", VT::string}, {"state", VT::string}});
    add("test", {{"seq", VT::number_float}});
    add("smoke_feedback", {{"alert", VT::string}, {"camera", VT::string}, {"verdict", VT::string}}, true);
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

bool type_matches(const nlohmann::json& v, VT t) {
  switch (t) {
    case VT::number_float:
    case VT::number_integer:
    case VT::number_unsigned:
      return v.is_number();
    case VT::string:
      return v.is_string();
    case VT::array:
      return v.is_array();
    case VT::object:
      return v.is_object();
    case VT::boolean:
      return v.is_boolean();
    default:
      return true;
  }
}

const char* type_name(VT t) {
  switch (t) {
    case VT::number_float:
    case VT::number_integer:
    case VT::number_unsigned:
      return "a number";
    case VT::string:
      return "a string";
    case VT::array:
      return "an array";
    case VT::object:
      return "an object";
    case VT::boolean:
      return "a boolean";
    default:
      return "a value";
  }
}

}  // namespace

bool is_valid_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string topic_for(std::string_view site, std::string_view kind) { return fmt::format("tw/v1/{}/{}", site, kind); }

std::string downlink_topic(std::string_view site, std::string_view kind) {
  return fmt::format("tw/v1/to/{}/{}", site, kind);
}

bool split_topic(std::string_view topic, std::string& site, std::string& kind) {
  constexpr std::string_view prefix = "tw/v1/";
  if (topic.substr(0, prefix.size()) != prefix) return false;
  topic.remove_prefix(prefix.size());
  auto slash = topic.find('/');
  if (slash == std::string_view::npos) return false;
  site = std::string(topic.substr(0, slash));
  kind = std::string(topic.substr(slash + 1));
  return is_valid_id(site) && is_valid_id(kind);
}

std::string Message::topic() const { return topic_for(site, kind); }

std::string Message::to_json() const {
  nlohmann::json j{{"v", v}, {"id", id}, {"site", site}, {"kind", kind}, {"ts", ts_ms}, {"payload", payload}};
  return j.dump();
}

Message make_message(std::string site, std::string kind, std::int64_t ts_ms, nlohmann::json payload) {
  Message m;
  m.id = new_ulid();
  m.site = std::move(site);
  m.kind = std::move(kind);
  m.ts_ms = ts_ms;
  m.payload = std::move(payload);
  return m;
}

Result<Message> parse_message(std::string_view raw, std::string_view topic) {
  if (raw.size() > kMaxMessageBytes)
    return make_error("oversized", fmt::format("message of {} bytes exceeds the {} byte limit", raw.size(),
                                               kMaxMessageBytes));
  nlohmann::json j = nlohmann::json::parse(raw, nullptr, false);
  if (j.is_discarded()) return make_error("bad_json", "message is not valid JSON");
  if (!j.is_object()) return make_error("bad_json", "message is not a JSON object");
  auto field = [&](const char* name, VT t) -> const nlohmann::json* {
    auto it = j.find(name);
    if (it == j.end() || !type_matches(*it, t)) return nullptr;
    return &*it;
  };
  Message m;
  const auto* v = field("v", VT::number_integer);
  if (v == nullptr) return make_error("bad_field", "field 'v' is missing or not a number");
  if (!v->is_number_integer() || v->get<int>() != kMessageVersion)
    return make_error("bad_version", fmt::format("unsupported message version {}", v->dump()));
  const auto* id = field("id", VT::string);
  if (id == nullptr || !is_valid_ulid(id->get<std::string>()))
    return make_error("bad_field", "field 'id' is missing or not a ULID");
  m.id = id->get<std::string>();
  const auto* site = field("site", VT::string);
  if (site == nullptr || !is_valid_id(site->get<std::string>()))
    return make_error("bad_field", "field 'site' is missing or not a valid site id");
  m.site = site->get<std::string>();
  const auto* kind = field("kind", VT::string);
  if (kind == nullptr) return make_error("bad_field", "field 'kind' is missing or not a string");
  m.kind = kind->get<std::string>();
  const auto* ts = field("ts", VT::number_integer);
  if (ts == nullptr || !ts->is_number_integer() || ts->get<std::int64_t>() < 0)
    return make_error("bad_field", "field 'ts' is missing or not a non-negative integer (UTC ms)");
  m.ts_ms = ts->get<std::int64_t>();
  const auto* payload = field("payload", VT::object);
  if (payload == nullptr) return make_error("bad_field", "field 'payload' is missing or not an object");
  m.payload = *payload;
  if (!topic.empty()) {
    std::string ts_site, ts_kind;
    const bool matches = is_downlink_kind(m.kind)
                             ? topic == downlink_topic(m.site, m.kind)
                             : split_topic(topic, ts_site, ts_kind) && ts_site == m.site && ts_kind == m.kind;
    if (!matches)
      return make_error("topic_mismatch", fmt::format("topic '{}' does not match site '{}' and kind '{}'", topic,
                                                      m.site, m.kind));
  }
  if (auto st = validate_payload(m.kind, m.payload); !st) return st.error();
  return m;
}

void register_message_kind(KindSpec spec) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::string k = spec.kind;
  r.kinds[k] = std::move(spec);
}

bool is_known_kind(std::string_view kind) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  return r.kinds.find(kind) != r.kinds.end();
}

bool is_downlink_kind(std::string_view kind) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.kinds.find(kind);
  return it != r.kinds.end() && it->second.downlink;
}

std::vector<std::string> known_kinds() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [k, _] : r.kinds) out.push_back(k);
  return out;
}

Status validate_payload(std::string_view kind, const nlohmann::json& payload) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.kinds.find(kind);
  if (it == r.kinds.end()) return make_error("unknown_kind", fmt::format("unknown message kind '{}'", kind));
  for (const auto& f : it->second.required) {
    auto p = payload.find(f.name);
    if (p == payload.end())
      return make_error("bad_payload", fmt::format("{} payload: field '{}' is missing", kind, f.name));
    if (!type_matches(*p, f.type))
      return make_error("bad_payload",
                        fmt::format("{} payload: field '{}' must be {}", kind, f.name, type_name(f.type)));
  }
  return {};
}

}  // namespace tw
