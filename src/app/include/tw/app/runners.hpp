#pragma once
// Process assembly: the hub process, the edge process and the all-in-one demo.
#include <cstdint>
#include <functional>
#include <string>

#include "tw/core/config.hpp"

namespace tw::app {

struct EdgeOptions {
  std::int64_t synthetic = 0;     // emit this many "test" messages (integration tests, benchmarks)
  double synthetic_rate = 0;      // messages/s, 0 = as fast as possible
  bool exit_when_drained = false; // exit once sources are done and the outbox is empty
};

struct DemoOptions {
  std::string data_dir;   // recorded data to replay; empty = default (../shared/data when present)
  std::string state_dir;  // SQLite databases; empty = a fresh temporary folder
  std::string listen = "127.0.0.1:8080";
  double exit_after_s = 0;  // 0 = run until SIGINT/SIGTERM
  double speed = 1.0;       // replay speed factor
};

// Each returns a process exit code (0 ok, 1 runtime failure, 2 configuration error).
int run_hub(const HubConfig& cfg, double exit_after_s = 0);
int run_edge(const SiteConfig& cfg, const EdgeOptions& opts);
int run_demo(const DemoOptions& opts);

// Blocks SIGINT/SIGTERM in the calling thread (call before starting threads) and waits for one,
// or for the timeout (seconds, 0 = none), or until `until` returns true (polled every 100 ms).
void block_signals();
bool wait_for_signal(double timeout_s, const std::function<bool()>& until = {});

}  // namespace tw::app
