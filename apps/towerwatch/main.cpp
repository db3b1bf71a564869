// towerwatch: parse the command line, hand over to the module that owns the subcommand.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "tw/core/cli.hpp"
#include "tw/core/config.hpp"

#define TW_CLI_MODULE(m) \
  namespace tw::m {      \
  void add_cli(CLI::App& app, tw::cli::Context& ctx); \
  }
#include "cli_modules.inc"
#undef TW_CLI_MODULE

namespace {

int config_check(const std::string& path) {
  std::ifstream in(path);
  if (!in) return tw::cli::fail(tw::cli::kUsageError, path + ": cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  switch (tw::detect_config_kind(ss.str())) {
    case tw::ConfigKind::site: {
      auto c = tw::parse_site_config(ss.str(), path);
      if (!c) return tw::cli::fail(tw::cli::kUsageError, c.error().message);
      fmt::print("{}: site config OK (site {}, {} cameras, {} sensors)\n", path, c->id, c->cameras.size(),
                 c->sensors.size());
      return tw::cli::kOk;
    }
    case tw::ConfigKind::hub: {
      auto c = tw::parse_hub_config(ss.str(), path);
      if (!c) return tw::cli::fail(tw::cli::kUsageError, c.error().message);
      fmt::print("{}: hub config OK (listen {}, {} tenants)\n", path, c->listen, c->tenants.size());
      return tw::cli::kOk;
    }
    case tw::ConfigKind::unknown:
      break;
  }
  // Not recognisable: report the parser's own error if any.
  auto c = tw::parse_site_config(ss.str(), path);
  return tw::cli::fail(tw::cli::kUsageError,
                       c ? path + ": neither a [site] nor a [hub] config" : c.error().message);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"towerwatch: public-safety sensing from telecom tower sites"};
  app.require_subcommand(1);
  tw::cli::Context ctx;

  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { fmt::print("towerwatch {}\n", TW_VERSION); });

  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "Validate a site or hub config file without running");
  static std::string check_path;
  check->add_option("file", check_path, "TOML file")->required();
  check->callback([&ctx] { ctx.exit_code = config_check(check_path); });

#define TW_CLI_MODULE(m) tw::m::add_cli(app, ctx);
#include "cli_modules.inc"
#undef TW_CLI_MODULE

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : tw::cli::kUsageError;
  }
  return ctx.exit_code;
}
