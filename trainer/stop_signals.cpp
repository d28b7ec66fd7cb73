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
  // Only async-signal-safe calls here: one fixed text per signal. SIGTERM is also what mpirun sends every rank
  // when a peer died; the line must not promise a checkpoint that a job being torn down never writes.
  const char* text =
      signal == SIGTERM
          ? "imprint: SIGTERM received: checkpointing at the next step all ranks agree on, then exiting 75 - unless "
            "the job is being ended (mpirun sends SIGTERM to every rank when one fails: then no checkpoint is "
            "written). Send it again to exit at once, without a checkpoint.\n"
          : "imprint: stop signal received: checkpointing at the next step all ranks agree on, then exiting 75. Send "
            "it again to exit at once, without a checkpoint.\n";
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
