#pragma once
// Public formats: CAP 1.2 alerts in an Atom feed, GeoJSON for sites and events, QuakeML 1.2 for quakes.
// They are built from what the hub stores (alarm records and quake message payloads).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tw/store/store.hpp"

namespace tw::hub {

std::string xml_escape(std::string_view s);

// One CAP 1.2 <alert> for an alarm (status Actual, msgType Alert/Update/Cancel from the alarm state).
std::string cap_alert_xml(const store::AlarmRecord& a, const std::string& sender);
// Atom 1.0 feed whose entries each carry one CAP alert as content.
std::string cap_atom_feed(const std::vector<store::AlarmRecord>& alarms, const std::string& feed_url,
                          const std::string& sender, std::int64_t now_ms);

nlohmann::json sites_geojson(const std::vector<store::SiteRecord>& sites, bool with_status);
nlohmann::json events_geojson(const std::vector<store::EventRecord>& events);

// QuakeML 1.2 (BED) eventParameters of the latest version of each quake event in `quake_events`
// (stored `quake` messages).
std::string quakeml(const std::vector<store::EventRecord>& quake_events);

}  // namespace tw::hub
