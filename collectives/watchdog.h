// Ends the job when an operation overruns its deadline — from a thread of its own, so that whatever the
// stuck thread is blocked in (an MPI collective, MPI_Init, MPI_Finalize) never has to return first.
//
// The rule it enforces: nothing on an error path waits on a peer. On expiry the watchdog logs the message
// its `describe` callback builds (called on the watchdog thread, so it must not block for long) and calls
// abort_job(), which does not return. The operation's own thread is never joined.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace imprint {

class Watchdog {
 public:
  using Describe = std::function<std::string()>;

  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts a deadline `timeout_s` from now (0 or less: never expires). On expiry: log::error(describe())
  // and abort_job(exit_code). Returns a ticket for disarm().
  uint64_t arm(double timeout_s, Describe describe, int exit_code);
  void disarm(uint64_t ticket);
  // Called about every `period` on the watchdog thread (heartbeats that peers read). Set before arming.
  void set_tick(std::function<void()> tick, std::chrono::milliseconds period);

 private:
  struct Deadline {
    std::chrono::steady_clock::time_point at;
    Describe describe;
    int exit_code;
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Deadline> armed_;
  uint64_t next_ = 1;
  bool stopping_ = false;
  std::function<void()> tick_;
  std::chrono::milliseconds period_{200};
  std::thread thread_;
};

// RAII: armed for the lifetime of the scope.
class WatchdogScope {
 public:
  WatchdogScope(Watchdog& w, double timeout_s, Watchdog::Describe describe, int exit_code)
      : w_(w), ticket_(w.arm(timeout_s, std::move(describe), exit_code)) {}
  ~WatchdogScope() { w_.disarm(ticket_); }
  WatchdogScope(const WatchdogScope&) = delete;
  WatchdogScope& operator=(const WatchdogScope&) = delete;

 private:
  Watchdog& w_;
  uint64_t ticket_;
};

}  // namespace imprint
