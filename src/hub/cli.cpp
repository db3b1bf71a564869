// `towerwatch tenant ...` (API keys for the hub config) and `towerwatch evidence verify ...`.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tw/core/cli.hpp"
#include "tw/hub/evidence.hpp"
#include "tw/hub/tenants.hpp"

namespace tw::hub {

void add_cli(CLI::App& app, tw::cli::Context& ctx) {
  struct Opts {
    std::string key;
    std::string bundle;
  };
  static Opts o;

  auto* tenant = app.add_subcommand("tenant", "Tenant API keys for the hub config ([[tenants]] api_key_hash)");
  tenant->require_subcommand(1);
  auto* newkey = tenant->add_subcommand("new-key", "Generate a random API key and its hash (JSON on stdout)");
  newkey->callback([&ctx] {
    const std::string key = generate_api_key();
    std::cout << nlohmann::json{{"api_key", key}, {"api_key_hash", hash_api_key(key)}}.dump() << "\n";
    ctx.exit_code = cli::kOk;
  });
  auto* hashkey = tenant->add_subcommand("hash-key", "Print the api_key_hash of a key");
  hashkey->add_option("key", o.key, "The API key")->required();
  hashkey->callback([&ctx] {
    if (o.key.size() < 16 || o.key.size() > 256) {
      ctx.exit_code = cli::fail(cli::kUsageError, "an API key must have 16 to 256 characters");
      return;
    }
    std::cout << hash_api_key(o.key) << "\n";
    ctx.exit_code = cli::kOk;
  });

  auto* evidence = app.add_subcommand("evidence", "Evidence bundles");
  evidence->require_subcommand(1);
  auto* verify = evidence->add_subcommand(
      "verify", "Check an evidence bundle (the API's JSON file, or a folder with manifest.json) against its manifest");
  verify->add_option("bundle", o.bundle, "bundle.json or folder")->required();
  verify->callback([&ctx] {
    Result<EvidenceBundle> b = make_error("bad_bundle", "unread");
    if (std::filesystem::is_directory(o.bundle)) {
      b = read_bundle_dir(o.bundle);
    } else {
      std::ifstream in(o.bundle, std::ios::binary);
      if (!in) {
        ctx.exit_code = cli::fail(cli::kUsageError, o.bundle + ": cannot open");
        return;
      }
      std::ostringstream ss;
      ss << in.rdbuf();
      auto j = nlohmann::json::parse(ss.str(), nullptr, false);
      if (j.is_discarded()) {
        ctx.exit_code = cli::fail(cli::kRuntimeError, o.bundle + ": not valid JSON");
        return;
      }
      b = bundle_from_json(j);
    }
    if (!b) {
      ctx.exit_code = cli::fail(cli::kRuntimeError, o.bundle + ": " + b.error().message);
      return;
    }
    if (auto st = verify_bundle(*b); !st) {
      ctx.exit_code = cli::fail(cli::kRuntimeError, o.bundle + ": " + st.error().message);
      return;
    }
    std::cout << nlohmann::json{{"ok", true},
                                {"files", b->files.size()},
                                {"manifest_sha256", b->manifest.value("manifest_sha256", "")}}
                     .dump()
              << "\n";
    ctx.exit_code = cli::kOk;
  });
}

}  // namespace tw::hub
