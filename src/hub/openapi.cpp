// The OpenAPI 3.0 description of the hub API, written by hand (tests/hub checks it against the routes
// the server registers, and requests every documented path).
#include "tw/hub/http.hpp"

namespace tw::hub {
namespace {

using nlohmann::json;

json param(const char* name, const char* in, const char* type, const char* desc, bool required = false) {
  return {{"name", name},
          {"in", in},
          {"required", required || std::string(in) == "path"},
          {"description", desc},
          {"schema", {{"type", type}}}};
}

json op(const char* summary, const char* role, json params = json::array(), bool body = false,
        const char* content = "application/json") {
  json o = {{"summary", summary},
            {"x-min-role", role},
            {"parameters", std::move(params)},
            {"responses",
             {{"200", {{"description", "OK"}, {"content", {{content, json::object()}}}}},
              {"400", {{"$ref", "#/components/responses/BadRequest"}}}}}};
  if (std::string(role) != "none") {
    o["responses"]["401"] = {{"$ref", "#/components/responses/Unauthorized"}};
    o["responses"]["403"] = {{"$ref", "#/components/responses/Forbidden"}};
  } else {
    o["security"] = json::array();
  }
  if (body)
    o["requestBody"] = {{"required", true},
                        {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  return o;
}

json event_params() {
  return json::array({param("kind", "query", "string", "comma-separated message kinds"),
                      param("site", "query", "string", "comma-separated site ids"),
                      param("since", "query", "string", "UTC ms or ISO-8601, inclusive"),
                      param("until", "query", "string", "UTC ms or ISO-8601, exclusive"),
                      param("near", "query", "string", "LAT,LON,KM"),
                      param("limit", "query", "integer", "1..10000 (default 100)"),
                      param("order", "query", "string", "asc | desc (default desc)")});
}

json evidence_params() {
  return json::array({param("lat", "query", "number", "latitude of the point", true),
                      param("lon", "query", "number", "longitude of the point", true),
                      param("radius_km", "query", "number", "(0, 500], default 10"),
                      param("since", "query", "string", "window start", true),
                      param("until", "query", "string", "window end", true)});
}

json build() {
  const json id = param("id", "path", "string", "identifier");
  const json alarm_id = param("id", "path", "integer", "alarm id");
  json paths = json::object();
  paths["/api/v1/health"]["get"] = op("Liveness and store status (no tenant data)", "none");
  paths["/api/v1/openapi.json"]["get"] = op("This document", "none");
  paths["/api/v1/me"]["get"] = op("The calling tenant: role, services, regions", "viewer");
  paths["/api/v1/sites"]["get"] = op("Sites inside the tenant's regions", "viewer");
  paths["/api/v1/sites/{id}"]["get"] = op("One site", "viewer", {id});
  paths["/api/v1/sites/{id}"]["put"] = op("Create or update a site", "admin", {id}, true);
  paths["/api/v1/events"]["get"] = op("Events in the tenant's scope", "viewer", event_params());
  paths["/api/v1/events/{id}"]["get"] = op("One event", "viewer", {id});
  paths["/api/v1/alarms"]["get"] =
      op("Alarms in the tenant's scope", "viewer",
         {param("active", "query", "boolean", "only active alarms"),
          param("status", "query", "string", "active_unack | active_ack | cleared_unack | cleared_ack"),
          param("service", "query", "string", "one service"), param("site", "query", "string", "site id"),
          param("severity", "query", "string", "critical | major | minor | warning"),
          param("limit", "query", "integer", "1..10000 (default 200)")});
  paths["/api/v1/alarms/{id}"]["get"] = op("One alarm", "viewer", {alarm_id});
  paths["/api/v1/alarms/{id}/history"]["get"] = op("Alarm history and comments", "viewer", {alarm_id});
  paths["/api/v1/alarms/{id}/ack"]["post"] =
      op("Acknowledge (optional {reason})", "operator", {alarm_id}, true);
  paths["/api/v1/alarms/{id}/clear"]["post"] =
      op("Clear (optional {reason}; dismissing an unconfirmed smoke alarm needs {label}: cloud, fog, dust, "
         "industrial_smoke, glare or other)",
         "operator", {alarm_id}, true);
  paths["/api/v1/alarms/{id}/assign"]["post"] = op("Assign ({assignee})", "operator", {alarm_id}, true);
  paths["/api/v1/alarms/{id}/comment"]["post"] = op("Comment ({text})", "operator", {alarm_id}, true);
  paths["/api/v1/stream"]["get"] =
      op("Server-sent events (event, alarm, site) in the tenant's scope", "viewer",
         {param("key", "query", "string", "API key, for EventSource clients that cannot send headers")},
         false, "text/event-stream");
  paths["/api/v1/evidence"]["get"] =
      op("What the network observed near a point", "viewer", evidence_params());
  paths["/api/v1/evidence/bundle"]["get"] =
      op("Evidence bundle: files (base64) and SHA-256 manifest", "viewer", evidence_params());
  paths["/api/v1/feeds/alerts.atom"]["get"] = op("Atom feed of active alarms as CAP 1.2 alerts", "viewer",
                                                 json::array(), false, "application/atom+xml");
  paths["/api/v1/feeds/sites.geojson"]["get"] =
      op("Sites as GeoJSON", "viewer", json::array(), false, "application/geo+json");
  paths["/api/v1/feeds/events.geojson"]["get"] =
      op("Events as GeoJSON", "viewer", event_params(), false, "application/geo+json");
  paths["/api/v1/feeds/quakes.xml"]["get"] =
      op("Quakes as QuakeML 1.2", "viewer",
         {param("since", "query", "string", "window start"), param("until", "query", "string", "window end"),
          param("limit", "query", "integer", "1..10000")},
         false, "application/xml");
  paths["/api/v1/tenants"]["get"] = op("All tenants", "admin");
  paths["/api/v1/tenants"]["post"] =
      op("Create a tenant; returns its first API key once", "admin", json::array(), true);
  paths["/api/v1/tenants/{id}"]["get"] = op("One tenant", "admin", {id});
  paths["/api/v1/tenants/{id}"]["put"] =
      op("Replace a tenant's name, role, services, regions", "admin", {id}, true);
  paths["/api/v1/tenants/{id}"]["delete"] = op("Delete a tenant and its keys", "admin", {id});
  paths["/api/v1/tenants/{id}/keys"]["get"] = op("A tenant's key ids (never the keys)", "admin", {id});
  paths["/api/v1/tenants/{id}/keys"]["post"] =
      op("Issue a key ({label}); returned once", "admin", {id}, true);
  paths["/api/v1/tenants/{id}/keys/{key_id}"]["delete"] =
      op("Revoke a key", "admin", {id, param("key_id", "path", "string", "key id")});

  auto err = [](const char* d) {
    return json{
        {"description", d},
        {"content",
         {{"application/json",
           {{"schema",
             {{"type", "object"},
              {"properties", {{"error", {{"type", "string"}}}, {"reason", {{"type", "string"}}}}}}}}}}}};
  };
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "towerwatch hub API"}, {"version", "1.0.0"}}},
          {"servers", json::array({{{"url", "/"}}})},
          {"security", json::array({{{"bearer", json::array()}}})},
          {"components",
           {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"responses",
             {{"BadRequest", err("Malformed parameter or body; reason says which")},
              {"Unauthorized", err("Missing or unknown API key")},
              {"Forbidden", err("Outside the tenant's services/regions, or role too low")}}}}},
          {"paths", paths}};
}

}  // namespace

const nlohmann::json& openapi_document() {
  static const nlohmann::json doc = build();
  return doc;
}

}  // namespace tw::hub
