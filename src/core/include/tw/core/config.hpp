#pragma once
// Typed configuration for a site (edge agent) and for the hub, loaded from TOML.
// Every key has a default here; loading validates every key and rejects unknown ones.
#include <cstdint>
#include <string>
#include <vector>

#include "tw/core/result.hpp"

namespace tw {

struct BrokerConfig {
  std::string url = "mqtt://127.0.0.1:1883";  // mqtt:// or mqtts:// (TLS)
  std::string username;
  std::string password;
  std::string client_id;      // default: derived from site id / "hub"
  std::string ca_file;        // TLS trust anchors (mqtts)
  std::string cert_file;      // client certificate (optional)
  std::string key_file;
  int keepalive_s = 30;
  int reconnect_min_ms = 200;
  int reconnect_max_ms = 10000;
};

struct BrokerAddress {
  std::string host;
  int port = 1883;
  bool tls = false;
};
Result<BrokerAddress> parse_broker_url(const std::string& url);

struct LineConfig {
  std::string name;
  std::vector<double> points;  // x1,y1,x2,y2 in pixels: directed A->B
};

struct ZoneConfig {
  std::string name;
  std::vector<double> points;  // x,y,... polygon in pixels
};

// [cameras.change]: how a camera with "change" analytics compares its captures.
struct CameraChangeConfig {
  int persist_days = 3;         // distinct days a change must be seen on before it alerts
  int refresh_days = 7;         // a clean capture this much newer than the reference replaces it
  int reference_minute = -1;    // reference_time "HH:MM" (UTC) as minutes after midnight; -1 = any capture
  std::string head_model;       // change-head ONNX; empty = $TOWERWATCH_CHANGE_HEAD or the shipped one
};

struct CameraConfig {
  std::string id;
  std::string url;  // file path or rtsp://
  double azimuth_deg = 0;
  double tilt_deg = 0;
  double hfov_deg = 60;
  double analysis_fps = 5;
  double capture_every_s = 86400;                // "change" analytics: one capture of the view per interval
  std::vector<std::string> analytics{"count"};  // count, smoke, change
  std::vector<std::string> classes;             // empty = detector defaults
  std::vector<LineConfig> lines;
  std::vector<ZoneConfig> zones;
  CameraChangeConfig change;
};

struct SensorConfig {
  std::string id;
  std::string kind = "accelerometer";  // accelerometer | power
  std::string source;                  // file/folder to replay, or an MQTT topic for live packets
  std::string format = "mseed";        // mseed | openeew | csv
};

struct SiteConfig {
  std::string file;  // where it was loaded from
  std::string id;
  std::string name;
  double lat = 0;
  double lon = 0;
  double height_m = 0;
  BrokerConfig broker;
  std::string outbox_path = "outbox.db";
  int heartbeat_s = 10;
  int max_inflight = 1000;
  std::vector<CameraConfig> cameras;
  std::vector<SensorConfig> sensors;
};

// A tenant's region: a polygon of lat/lon pairs (lat1, lon1, lat2, lon2, ...), at least 3 points.
struct RegionConfig {
  std::string name;
  std::vector<double> points;
};

struct TenantConfig {
  std::string id;
  std::string name;
  std::string role = "viewer";        // viewer | operator | admin
  std::vector<std::string> services;  // quake, wildfire, traffic, landuse, power, site
  std::string api_key_hash;           // "blake2b:<64 hex>" (towerwatch tenant hash-key) or crypto_pwhash_str output
  std::vector<RegionConfig> regions;  // empty = everywhere
};

struct HubConfig {
  std::string file;
  std::string listen = "127.0.0.1:8080";
  std::string store = "sqlite://towerwatch.db";  // sqlite:///abs/path, sqlite://rel/path or postgresql://...
  std::string web_root;                           // static dashboard files; empty = built-in default
  bool use_broker = true;
  BrokerConfig broker;
  int offline_after_s = 60;
  // SQLite file of the tenant repository; empty = "<store file>.tenants.db" beside a SQLite store,
  // "tenants.db" in the working directory otherwise.
  std::string tenant_db;
  std::vector<TenantConfig> tenants;
};

// Parse errors list every problem, one per line, as "FILE:LINE: <key>: <what is wrong>".
Result<SiteConfig> load_site_config(const std::string& path);
Result<HubConfig> load_hub_config(const std::string& path);
Result<SiteConfig> parse_site_config(const std::string& text, const std::string& name);
Result<HubConfig> parse_hub_config(const std::string& text, const std::string& name);
// Looks at the top-level tables to tell a site file from a hub file.
enum class ConfigKind { site, hub, unknown };
ConfigKind detect_config_kind(const std::string& text);

}  // namespace tw
