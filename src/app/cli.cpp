#include <CLI/CLI.hpp>

#include "tw/app/runners.hpp"
#include "tw/core/cli.hpp"

namespace tw::app {

void add_cli(CLI::App& app, tw::cli::Context& ctx) {
  struct Opts {
    std::string config;
    double exit_after = 0;
    EdgeOptions edge;
    DemoOptions demo;
  };
  static Opts o;

  auto* hub = app.add_subcommand("hub", "Run the hub: ingest from the broker, store, alarms, API and dashboard");
  hub->add_option("--config", o.config, "Hub TOML file")->required();
  hub->add_option("--exit-after", o.exit_after, "Stop after this many seconds (0 = run until signalled)");
  hub->callback([&ctx] {
    auto cfg = load_hub_config(o.config);
    if (!cfg) {
      ctx.exit_code = cli::fail(cli::kUsageError, cfg.error().message);
      return;
    }
    ctx.exit_code = run_hub(*cfg, o.exit_after);
  });

  auto* edge = app.add_subcommand("edge", "Run a site agent: sensors and cameras to the hub through the outbox");
  edge->add_option("--config", o.config, "Site TOML file")->required();
  edge->add_option("--synthetic", o.edge.synthetic, "Send this many synthetic test messages");
  edge->add_option("--rate", o.edge.synthetic_rate, "Synthetic messages per second (0 = unlimited)");
  edge->add_flag("--exit-when-drained", o.edge.exit_when_drained, "Exit once sources end and the outbox is empty");
  edge->callback([&ctx] {
    auto cfg = load_site_config(o.config);
    if (!cfg) {
      ctx.exit_code = cli::fail(cli::kUsageError, cfg.error().message);
      return;
    }
    ctx.exit_code = run_edge(*cfg, o.edge);
  });

  auto* demo = app.add_subcommand("demo", "Hub and simulated sites in one process, replaying recorded data");
  demo->add_option("--data", o.demo.data_dir, "Recorded data folder (default: $TOWERWATCH_DATA or ../shared/data)");
  demo->add_option("--state-dir", o.demo.state_dir, "Folder for the databases (default: a new temporary folder)");
  demo->add_option("--listen", o.demo.listen, "HTTP address")->default_val("127.0.0.1:8080");
  demo->add_option("--exit-after", o.demo.exit_after_s, "Stop after this many seconds (0 = run until signalled)");
  demo->add_option("--speed", o.demo.speed, "Replay speed factor")->check(CLI::Range(0.1, 1000.0));
  demo->callback([&ctx] { ctx.exit_code = run_demo(o.demo); });
}

}  // namespace tw::app
