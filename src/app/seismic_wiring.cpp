// Earthquakes: association, location, magnitude and alerts at the hub; in the demo, tower sites replay a
// real OpenEEW recording as if it were happening now, again every few minutes.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "domains.hpp"
#include "tw/core/time.hpp"
#include "tw/seismic/io.hpp"
#include "tw/seismic/locate.hpp"
#include "tw/seismic/pipeline.hpp"
#include "tw/seismic/quake.hpp"
#include "tw/seismic/station.hpp"

namespace tw::app {
namespace {

// Picks and ground motion from the sites -> versioned quake events (the hub's alert processor turns an
// alerting version into an alarm).
class QuakeProcessor : public hub::Processor {
 public:
  explicit QuakeProcessor(store::Store& store) : store_(store) {}
  std::string name() const override { return "quake"; }

  void on_message(const Message& m, hub::HubContext& ctx) override {
    if (m.kind != "pick" && m.kind != "ground_motion") return;
    if (!service_) build();
    for (auto& q : service_->on_message(m)) ctx.emit(std::move(q));
  }

 private:
  // The site directory lets the service predict shaking at sites that have not picked yet.
  void build() {
    std::vector<seismic::StationInfo> sites;
    if (auto s = store_.sites()) {
      for (const auto& r : *s) {
        seismic::StationInfo si;
        si.site = si.station = r.id;
        si.lat = r.lat;
        si.lon = r.lon;
        si.elev_m = r.height_m;
        sites.push_back(si);
      }
    }
    std::vector<std::string> with_accelerometer;
    if (auto s = store_.sites()) {
      for (const auto& r : *s) {
        for (const auto& sensor : r.info.value("sensors", nlohmann::json::array()))
          if (sensor.value("kind", "") == "accelerometer") with_accelerometer.push_back(r.id);
      }
    }
    service_ = std::make_unique<seismic::QuakeService>(std::move(sites), seismic::VelocityModel::default_crust());
    // Only sites with an accelerometer are expected to pick: a seed of picks that most reached sites did not
    // confirm is a chance coincidence of noise.
    if (!with_accelerometer.empty()) service_->set_active_sites(with_accelerometer);
  }

  store::Store& store_;
  std::unique_ptr<seismic::QuakeService> service_;
};

// One tower's accelerometer: replays its traces shifted to the present, through the site processor.
class SeismicReplaySource : public edge::Source {
 public:
  SeismicReplaySource(seismic::StationInfo info, std::vector<seismic::Trace> traces, std::int64_t origin_us,
                      double speed, double period_s, std::int64_t first_cycle_us)
      : info_(std::move(info)),
        traces_(std::move(traces)),
        origin_us_(origin_us),
        speed_(speed),
        period_s_(period_s),
        first_cycle_us_(first_cycle_us) {}
  std::string name() const override { return "seismic-replay"; }

  void run(std::stop_token stop, bus::Publisher& out) override {
    // Every cycle: the recorded origin time is placed kLeadS seconds after the cycle starts.
    const std::int64_t cycle_us = static_cast<std::int64_t>(period_s_ * 1e6);
    std::int64_t cycle_start_us = first_cycle_us_;  // the same for every site
    while (!stop.stop_requested()) {
      if (!sleep_until_us(stop, cycle_start_us)) return;
      const std::int64_t shift = cycle_start_us + static_cast<std::int64_t>(kLeadS * 1e6) - origin_us_;
      std::vector<seismic::Trace> shifted = traces_;
      for (auto& t : shifted) t.start_us += shift;
      seismic::StationProcessor proc(info_, seismic::ProcessorConfig{});
      seismic::Replay replay(std::move(shifted), {0.25, speed_});
      while (!stop.stop_requested()) {
        auto chunks = replay.next();
        if (!chunks) break;
        for (const auto& c : *chunks)
          for (auto& m : proc.feed(c)) (void)out.publish(m);
      }
      for (auto& m : proc.finish()) (void)out.publish(m);
      cycle_start_us += cycle_us;
    }
  }

  static constexpr double kLeadS = 25;  // data before the origin that is replayed (LTA warm-up)

 private:
  static bool sleep_until_us(std::stop_token& stop, std::int64_t t_us) {
    while (!stop.stop_requested()) {
      const std::int64_t left = t_us - now_ms() * 1000;
      if (left <= 0) return true;
      tw::sleep_for(stop, std::chrono::microseconds(std::min<std::int64_t>(left, 500000)));
    }
    return false;
  }

  seismic::StationInfo info_;
  std::vector<seismic::Trace> traces_;
  std::int64_t origin_us_;
  double speed_;
  double period_s_;
  std::int64_t first_cycle_us_;
};

struct CatalogEvent {
  std::string file;
  std::int64_t origin_us = 0;
  double magnitude = 0;
};

// The strongest catalogued event whose recording is present.
std::optional<CatalogEvent> pick_event(const std::filesystem::path& dir) {
  std::ifstream in(dir / "events.csv");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string c; std::getline(hs, c, ',');) header.push_back(c);
  auto col = [&](const char* n) { return std::find(header.begin(), header.end(), n) - header.begin(); };
  const auto f = col("mseed_file"), t = col("origin_time_utc"), mg = col("magnitude");
  std::optional<CatalogEvent> best;
  while (std::getline(in, line)) {
    std::vector<std::string> v;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) v.push_back(c);
    if (static_cast<long>(v.size()) <= std::max({f, t, mg})) continue;
    auto origin = parse_iso8601_us(v[static_cast<size_t>(t)]);
    if (!origin || !std::filesystem::exists(dir / "mseed" / v[static_cast<size_t>(f)])) continue;
    CatalogEvent e{v[static_cast<size_t>(f)], *origin, std::atof(v[static_cast<size_t>(mg)].c_str())};
    if (!best || e.magnitude > best->magnitude) best = e;
  }
  return best;
}

}  // namespace

void add_seismic_processors(hub::Hub& hub) { hub.add_processor(std::make_unique<QuakeProcessor>(hub.store())); }

void add_seismic_demo_sites(std::vector<std::unique_ptr<edge::EdgeAgent>>& agents, bus::Publisher& out,
                            Metrics& metrics, const std::string& data_dir, double speed) {
  const auto dir = std::filesystem::path(data_dir) / "seismic" / "openeew_mexico";
  auto event = pick_event(dir);
  if (!event) {
    spdlog::warn("demo: no OpenEEW recording under {}; earthquake replay off", dir.string());
    return;
  }
  auto stations = seismic::read_stations_csv(dir / "devices.csv");
  auto wf = seismic::read_mseed(dir / "mseed" / event->file);
  if (!stations || !wf) {
    spdlog::warn("demo: cannot read {}: {}", event->file, !stations ? stations.error().message : wf.error().message);
    return;
  }
  // Keep a window around the event: warm-up before the origin, two minutes of shaking after it.
  const std::int64_t from = event->origin_us - static_cast<std::int64_t>(SeismicReplaySource::kLeadS * 1e6);
  const std::int64_t to = event->origin_us + 120'000'000;
  std::map<std::string, std::vector<seismic::Trace>> by_station;
  for (auto& tr : wf->traces) {
    seismic::Trace cut = tr;
    cut.samples.clear();
    for (size_t i = 0; i < tr.samples.size(); ++i) {
      const auto ti = tr.time_us(i);
      if (ti < from || ti >= to) continue;
      if (cut.samples.empty()) cut.start_us = ti;
      cut.samples.push_back(tr.samples[i]);
    }
    if (!cut.samples.empty()) by_station[tr.station].push_back(std::move(cut));
  }
  const double period_s = 240;
  const std::int64_t first_cycle_us = (now_ms() + 5000) * 1000;
  size_t n = 0;
  for (auto& [code, traces] : by_station) {
    auto it = std::find_if(stations->begin(), stations->end(), [&](const auto& s) { return s.station == code; });
    if (it == stations->end()) continue;
    seismic::StationInfo info = *it;
    info.site = code;
    info.network = traces.front().network;
    info.counts_per_unit = 1000;  // OpenEEW MiniSEED: milligal counts; 1 gal = 1 cm/s^2
    info.sensor = seismic::SensorKind::accelerometer;
    SiteConfig cfg;
    cfg.id = code;
    cfg.name = "Tower " + code;
    cfg.lat = info.lat;
    cfg.lon = info.lon;
    cfg.heartbeat_s = 5;
    SensorConfig sensor;
    sensor.id = "acc";
    sensor.kind = "accelerometer";
    sensor.source = event->file;
    cfg.sensors.push_back(sensor);
    auto agent = std::make_unique<edge::EdgeAgent>(cfg, out, metrics);
    agent->add_source(std::make_unique<SeismicReplaySource>(info, std::move(traces), event->origin_us, speed, period_s,
                                                            first_cycle_us));
    agents.push_back(std::move(agent));
    ++n;
  }
  spdlog::info("demo: {} tower accelerometers replay the M{:.1f} event of {} every {:.0f} s", n, event->magnitude,
               format_iso8601_ms(event->origin_us / 1000), period_s);
}

}  // namespace tw::app
