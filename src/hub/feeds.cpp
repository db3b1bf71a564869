#include "tw/hub/feeds.hpp"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "tw/core/time.hpp"
#include "tw/hub/hub.hpp"

namespace tw::hub {
namespace {

std::string cap_time(std::int64_t ms) {
  // CAP wants "2024-01-02T03:04:05+00:00" (no fraction, explicit offset).
  std::string t = format_iso8601_ms(ms);
  return t.substr(0, 19) + "+00:00";
}

const char* cap_severity(const std::string& s) {
  if (s == "critical") return "Extreme";
  if (s == "major") return "Severe";
  if (s == "minor") return "Moderate";
  return "Minor";
}

const char* cap_category(const std::string& service) {
  if (service == "quake") return "Geo";
  if (service == "wildfire") return "Fire";
  if (service == "traffic") return "Transport";
  if (service == "landuse") return "Env";
  return "Infra";
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

std::string cap_alert_xml(const store::AlarmRecord& a, const std::string& sender) {
  const bool cleared = a.clear_ms != 0;
  const char* msg_type = cleared ? "Cancel" : (a.count > 1 ? "Update" : "Alert");
  std::string area;
  if (!std::isnan(a.lat) && !std::isnan(a.lon)) {
    const double radius = a.details.value("radius_km", 10.0);
    area = fmt::format("    <area>\n      <areaDesc>{}</areaDesc>\n      <circle>{:.4f},{:.4f} {:.1f}</circle>\n    </area>\n",
                       xml_escape(a.site.empty() ? a.source : a.site), a.lat, a.lon, radius);
  }
  return fmt::format(
      "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
      "  <identifier>towerwatch-alarm-{}-{}</identifier>\n"
      "  <sender>{}</sender>\n"
      "  <sent>{}</sent>\n"
      "  <status>Actual</status>\n"
      "  <msgType>{}</msgType>\n"
      "  <scope>Public</scope>\n"
      "  <info>\n"
      "    <category>{}</category>\n"
      "    <event>{}</event>\n"
      "    <urgency>{}</urgency>\n"
      "    <severity>{}</severity>\n"
      "    <certainty>{}</certainty>\n"
      "    <onset>{}</onset>\n"
      "    <senderName>towerwatch</senderName>\n"
      "    <headline>{}</headline>\n"
      "    <parameter>\n      <valueName>service</valueName>\n      <value>{}</value>\n    </parameter>\n"
      "{}"
      "  </info>\n"
      "</alert>\n",
      a.id, a.update_ms, xml_escape(sender), cap_time(a.update_ms ? a.update_ms : a.start_ms), msg_type,
      cap_category(a.service), xml_escape(a.type), cleared ? "Past" : "Immediate", cap_severity(a.severity),
      a.status.starts_with("active") ? "Observed" : "Likely", cap_time(a.start_ms),
      xml_escape(a.message.empty() ? a.type : a.message), xml_escape(a.service), area);
}

std::string cap_atom_feed(const std::vector<store::AlarmRecord>& alarms, const std::string& feed_url,
                          const std::string& sender, std::int64_t now_ms) {
  std::string out = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
      "<id>{}</id>\n<title>towerwatch active alerts</title>\n<updated>{}</updated>\n"
      "<author><name>towerwatch</name></author>\n<link rel=\"self\" href=\"{}\"/>\n",
      xml_escape(feed_url), format_iso8601_ms(now_ms), xml_escape(feed_url));
  for (const auto& a : alarms) {
    out += fmt::format(
        "<entry>\n<id>urn:towerwatch:alarm:{}:{}</id>\n<title>{}</title>\n<updated>{}</updated>\n"
        "<content type=\"application/cap+xml\">\n{}</content>\n</entry>\n",
        a.id, a.update_ms, xml_escape(a.message.empty() ? a.type : a.message), format_iso8601_ms(a.update_ms),
        cap_alert_xml(a, sender));
  }
  out += "</feed>\n";
  return out;
}

nlohmann::json sites_geojson(const std::vector<store::SiteRecord>& sites, bool with_status) {
  nlohmann::json features = nlohmann::json::array();
  for (const auto& s : sites) {
    nlohmann::json props = {{"id", s.id}, {"name", s.name}, {"height_m", s.height_m}};
    if (with_status) {
      props["status"] = s.status;
      props["last_seen"] = s.last_seen_ms ? nlohmann::json(format_iso8601_ms(s.last_seen_ms)) : nlohmann::json(nullptr);
    }
    features.push_back({{"type", "Feature"},
                        {"id", s.id},
                        {"geometry", {{"type", "Point"}, {"coordinates", {s.lon, s.lat}}}},
                        {"properties", props}});
  }
  return {{"type", "FeatureCollection"}, {"features", features}};
}

nlohmann::json events_geojson(const std::vector<store::EventRecord>& events) {
  nlohmann::json features = nlohmann::json::array();
  for (const auto& e : events) {
    nlohmann::json geom = nullptr;
    if (!std::isnan(e.lat) && !std::isnan(e.lon)) geom = {{"type", "Point"}, {"coordinates", {e.lon, e.lat}}};
    nlohmann::json props = {{"site", e.site}, {"kind", e.kind}, {"service", service_of_kind(e.kind)},
                            {"time", format_iso8601_ms(e.ts_ms)}, {"payload", e.payload}};
    features.push_back({{"type", "Feature"}, {"id", e.id}, {"geometry", geom}, {"properties", props}});
  }
  return {{"type", "FeatureCollection"}, {"features", features}};
}

std::string quakeml(const std::vector<store::EventRecord>& quake_events) {
  std::map<std::string, const store::EventRecord*> latest;
  for (const auto& e : quake_events) {
    if (e.kind != "quake") continue;
    const std::string id = e.payload.value("event_id", e.id);
    auto& slot = latest[id];
    if (!slot || e.payload.value("version", 0.0) >= slot->payload.value("version", 0.0)) slot = &e;
  }
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<q:quakeml xmlns:q=\"http://quakeml.org/xmlns/quakeml/1.2\" xmlns=\"http://quakeml.org/xmlns/bed/1.2\">\n"
      "  <eventParameters publicID=\"smi:towerwatch/eventParameters\">\n";
  for (const auto& [id, e] : latest) {
    const auto& p = e->payload;
    const std::string eid = xml_escape(id);
    out += fmt::format(
        "    <event publicID=\"smi:towerwatch/event/{0}\">\n"
        "      <preferredOriginID>smi:towerwatch/origin/{0}/{1}</preferredOriginID>\n"
        "      <preferredMagnitudeID>smi:towerwatch/magnitude/{0}/{1}</preferredMagnitudeID>\n"
        "      <type>earthquake</type>\n"
        "      <origin publicID=\"smi:towerwatch/origin/{0}/{1}\">\n"
        "        <time><value>{2}</value></time>\n"
        "        <latitude><value>{3}</value></latitude>\n"
        "        <longitude><value>{4}</value></longitude>\n"
        "        <depth><value>{5}</value></depth>\n"
        "        <evaluationMode>automatic</evaluationMode>\n"
        "      </origin>\n"
        "      <magnitude publicID=\"smi:towerwatch/magnitude/{0}/{1}\">\n"
        "        <mag><value>{6}</value></mag>\n"
        "        <type>{7}</type>\n"
        "        <originID>smi:towerwatch/origin/{0}/{1}</originID>\n"
        "        <stationCount>{8}</stationCount>\n"
        "      </magnitude>\n"
        "    </event>\n",
        eid, static_cast<long long>(p.value("version", 0.0)), xml_escape(p.value("origin_time", "")),
        p.value("lat", 0.0), p.value("lon", 0.0), p.value("depth_km", 0.0) * 1000.0, p.value("magnitude", 0.0),
        xml_escape(p.value("magnitude_type", "M")), static_cast<long long>(p.value("magnitude_stations", 0.0)));
  }
  out += "  </eventParameters>\n</q:quakeml>\n";
  return out;
}

}  // namespace tw::hub
