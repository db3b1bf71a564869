#pragma once
// Conventions shared by every `towerwatch` subcommand.
// Exit codes: 0 success, 2 usage or configuration error, 1 runtime failure.
// Machine-readable output goes to stdout; diagnostics to stderr.
#include <string>

namespace CLI {
class App;
}

namespace tw::cli {

inline constexpr int kOk = 0;
inline constexpr int kRuntimeError = 1;
inline constexpr int kUsageError = 2;

// Each domain adds its subcommands to the root app; a subcommand's callback stores its exit
// code in `exit_code`.
struct Context {
  int exit_code = kOk;
};

// Prints "error: <msg>" to stderr and returns code.
int fail(int code, const std::string& msg);

}  // namespace tw::cli
