#include "app/signals.hpp"

#include <signal.h>
#include <unistd.h>

namespace pgr::app {
namespace {
std::atomic<bool> g_cancel{false};

extern "C" void on_signal(int sig) {
  if (g_cancel.load()) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_cancel.store(true);
  const char msg[] = "\npgrecover: interrupted: stopping (running steps roll back; run the same command to resume)\n";
  (void)!::write(2, msg, sizeof msg - 1);
}
}  // namespace

std::atomic<bool>& install_cancel_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  return g_cancel;
}

}  // namespace pgr::app
