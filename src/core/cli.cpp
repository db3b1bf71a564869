#include "tw/core/cli.hpp"

#include <fmt/core.h>

#include <cstdio>

namespace tw::cli {
int fail(int code, const std::string& msg) {
  fmt::print(stderr, "error: {}\n", msg);
  return code;
}
}  // namespace tw::cli
