#pragma once
#include <string>

namespace tw {

// A message's bytes as a transport received them, before parsing.
struct RawMessage {
  std::string topic;
  std::string payload;
};

}  // namespace tw
