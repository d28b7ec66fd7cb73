#include "trainer/stop_signals.h"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace imprint {
namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_stop_signal(int signal) {
  if (g_signal == signal) {  // asked twice: stop now
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  g_signal = signal;
  const char* text =
      "imprint: stop signal received: checkpointing at the next step all ranks agree on, then exiting (send it again "
      "to exit at once)\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, text, std::strlen(text));
}

}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGUSR1, SIGINT}) sigaction(s, &sa, nullptr);
}

int stop_signal() { return g_signal; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGINT:
      return "SIGINT";
    default:
      return "a signal";
  }
}

}  // namespace imprint
