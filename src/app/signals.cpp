#include <csignal>
#include <ctime>

#include "tw/app/runners.hpp"
#include "tw/core/time.hpp"

namespace tw::app {

void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool wait_for_signal(double timeout_s, const std::function<bool()>& until) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const std::int64_t deadline = timeout_s > 0 ? steady_ms() + static_cast<std::int64_t>(timeout_s * 1000) : 0;
  for (;;) {
    timespec ts{0, 100 * 1000 * 1000};
    if (sigtimedwait(&set, nullptr, &ts) > 0) return true;
    if (deadline != 0 && steady_ms() >= deadline) return false;
    if (until && until()) return false;
  }
}

}  // namespace tw::app
