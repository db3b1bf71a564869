// CAP 1.2 and QuakeML 1.2 exports of a quake event.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "tw/core/time.hpp"
#include "tw/seismic/quake.hpp"

namespace tw::seismic {
namespace {

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default: o += c;
    }
  }
  return o;
}

// CAP time: 2002-05-24T16:49:00-07:00 form (no fractional seconds), UTC as +00:00.
std::string cap_time(std::int64_t us) { return format_iso8601_ms(us / 1000).substr(0, 19) + "+00:00"; }

std::string severity(double mmi) {
  if (mmi >= 8) return "Extreme";
  if (mmi >= 6) return "Severe";
  if (mmi >= 4) return "Moderate";
  return "Minor";
}

// Radius (km) of the area predicted at MMI >= 4 (at least 10 km).
double alert_radius_km(const QuakeEvent& e) {
  double r = 10;
  for (double d = 10; d <= 1000; d += 10)
    if (mmi_from_motion(gmm_pga_cms2(e.magnitude, d, e.hypo.depth_km), gmm_pgv_cms(e.magnitude, d, e.hypo.depth_km)) >= 4.0)
      r = d;
  return r;
}

}  // namespace

nlohmann::json to_cap_json(const QuakeEvent& e, const std::string& sender) {
  const double radius = alert_radius_km(e);
  nlohmann::json params = nlohmann::json::array(
      {{{"valueName", "EventID"}, {"value", e.event_id}},
       {{"valueName", "EventVersion"}, {"value", std::to_string(e.version)}},
       {{"valueName", "OriginTime"}, {"value", format_iso8601_ms(e.hypo.origin_us / 1000)}},
       {{"valueName", "Magnitude"}, {"value", fmt::format("{:.1f}", e.magnitude)}},
       {{"valueName", "MagnitudeType"}, {"value", e.magnitude_type}},
       {{"valueName", "DepthKm"}, {"value", fmt::format("{:.1f}", e.hypo.depth_km)}},
       {{"valueName", "MaxMMI"}, {"value", fmt::format("{:.1f}", e.max_mmi)}}});
  nlohmann::json areas = nlohmann::json::array();
  areas.push_back({{"areaDesc", fmt::format("Predicted MMI >= 4 within {:.0f} km of the epicentre", radius)},
                   {"circle", fmt::format("{:.4f},{:.4f} {:.1f}", e.hypo.lat, e.hypo.lon, radius)}});
  return {{"identifier", e.event_id + "-" + std::to_string(e.version)},
          {"sender", sender},
          {"sent", cap_time(e.updated_us)},
          {"status", "Actual"},
          {"msgType", e.version <= 1 ? "Alert" : "Update"},
          {"scope", "Public"},
          {"info",
           {{"language", "en-US"},
            {"category", "Geo"},
            {"event", "Earthquake"},
            {"responseType", "Shelter"},
            {"urgency", "Immediate"},
            {"severity", severity(e.max_mmi)},
            {"certainty", e.stations() >= 6 ? "Observed" : "Likely"},
            {"headline", fmt::format("Earthquake M{:.1f}: expect shaking up to MMI {:.0f}", e.magnitude, e.max_mmi)},
            {"description", fmt::format("Earthquake of magnitude {:.1f} ({}) at {:.3f}, {:.3f}, depth {:.0f} km, "
                                        "origin {}. Drop, cover and hold on.",
                                        e.magnitude, e.magnitude_type, e.hypo.lat, e.hypo.lon, e.hypo.depth_km,
                                        format_iso8601_ms(e.hypo.origin_us / 1000))},
            {"parameter", params},
            {"area", areas}}}};
}

std::string to_cap_xml(const QuakeEvent& e, const std::string& sender) {
  const auto j = to_cap_json(e, sender);
  const auto& info = j["info"];
  std::string x;
  x += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n";
  for (const char* k : {"identifier", "sender", "sent", "status", "msgType", "scope"})
    x += fmt::format("  <{0}>{1}</{0}>\n", k, xml_escape(j[k].get<std::string>()));
  x += "  <info>\n";
  for (const char* k : {"language", "category", "event", "responseType", "urgency", "severity", "certainty",
                        "headline", "description"})
    x += fmt::format("    <{0}>{1}</{0}>\n", k, xml_escape(info[k].get<std::string>()));
  for (const auto& p : info["parameter"])
    x += fmt::format("    <parameter>\n      <valueName>{}</valueName>\n      <value>{}</value>\n    </parameter>\n",
                     xml_escape(p["valueName"].get<std::string>()), xml_escape(p["value"].get<std::string>()));
  for (const auto& a : info["area"])
    x += fmt::format("    <area>\n      <areaDesc>{}</areaDesc>\n      <circle>{}</circle>\n    </area>\n",
                     xml_escape(a["areaDesc"].get<std::string>()), xml_escape(a["circle"].get<std::string>()));
  x += "  </info>\n</alert>\n";
  return x;
}

std::string to_quakeml(const std::vector<QuakeEvent>& events) {
  std::string x;
  x += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<q:quakeml xmlns:q=\"http://quakeml.org/xmlns/quakeml/1.2\" xmlns=\"http://quakeml.org/xmlns/bed/1.2\">\n";
  x += "  <eventParameters publicID=\"smi:towerwatch/eventParameters\">\n";
  for (const auto& e : events) {
    const std::string base = "smi:towerwatch/" + xml_escape(e.event_id);
    x += fmt::format("    <event publicID=\"{}\">\n", base);
    x += fmt::format("      <preferredOriginID>{}/origin/{}</preferredOriginID>\n", base, e.version);
    if (e.magnitude > 0) x += fmt::format("      <preferredMagnitudeID>{}/magnitude/{}</preferredMagnitudeID>\n", base, e.version);
    x += "      <type>earthquake</type>\n";
    for (std::size_t i = 0; i < e.picks.size(); ++i) {
      const auto& p = e.picks[i];
      x += fmt::format("      <pick publicID=\"{}/pick/{}\">\n", base, i);
      x += fmt::format("        <time><value>{}</value><uncertainty>{:.3f}</uncertainty></time>\n",
                       format_iso8601_us(p.time_us), p.uncertainty_s);
      x += fmt::format("        <waveformID networkCode=\"{}\" stationCode=\"{}\" channelCode=\"{}\"/>\n",
                       xml_escape(p.network), xml_escape(p.station), xml_escape(p.channel));
      x += "        <phaseHint>P</phaseHint>\n        <evaluationMode>automatic</evaluationMode>\n      </pick>\n";
    }
    x += fmt::format("      <origin publicID=\"{}/origin/{}\">\n", base, e.version);
    x += fmt::format("        <time><value>{}</value><uncertainty>{:.3f}</uncertainty></time>\n",
                     format_iso8601_us(e.hypo.origin_us), e.hypo.err_t_s);
    const double lat_err_deg = e.hypo.err_h_km / 111.195;
    x += fmt::format("        <latitude><value>{:.5f}</value><uncertainty>{:.5f}</uncertainty></latitude>\n", e.hypo.lat,
                     lat_err_deg);
    x += fmt::format("        <longitude><value>{:.5f}</value><uncertainty>{:.5f}</uncertainty></longitude>\n", e.hypo.lon,
                     lat_err_deg / std::max(0.05, std::cos(e.hypo.lat * 3.14159265358979 / 180)));
    x += fmt::format("        <depth><value>{:.0f}</value><uncertainty>{:.0f}</uncertainty></depth>\n",
                     e.hypo.depth_km * 1000, e.hypo.err_z_km * 1000);
    x += fmt::format("        <quality><usedPhaseCount>{}</usedPhaseCount><usedStationCount>{}</usedStationCount>"
                     "<standardError>{:.3f}</standardError><azimuthalGap>{:.1f}</azimuthalGap></quality>\n",
                     e.stations(), e.stations(), e.hypo.rms_s, e.hypo.gap_deg);
    for (std::size_t i = 0; i < e.picks.size(); ++i) {
      const auto& p = e.picks[i];
      x += fmt::format("        <arrival publicID=\"{}/arrival/{}/{}\"><pickID>{}/pick/{}</pickID><phase>P</phase>"
                       "<timeResidual>{:.3f}</timeResidual><timeWeight>{}</timeWeight></arrival>\n",
                       base, e.version, i, base, i, p.residual_s, p.used ? 1 : 0);
    }
    x += "        <evaluationMode>automatic</evaluationMode>\n      </origin>\n";
    if (e.magnitude > 0) {
      x += fmt::format("      <magnitude publicID=\"{}/magnitude/{}\">\n", base, e.version);
      x += fmt::format("        <mag><value>{:.2f}</value></mag>\n        <type>{}</type>\n", e.magnitude,
                       xml_escape(e.magnitude_type));
      x += fmt::format("        <originID>{}/origin/{}</originID>\n        <stationCount>{}</stationCount>\n",
                       base, e.version, e.magnitude_stations);
      x += "      </magnitude>\n";
    }
    x += "    </event>\n";
  }
  x += "  </eventParameters>\n</q:quakeml>\n";
  return x;
}

}  // namespace tw::seismic
