#include "collectives/watchdog.h"

#include "collectives/communicator.h"
#include "core/log.h"

namespace imprint {

Watchdog::Watchdog() : thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();  // the watchdog thread never blocks on anything but mu_/cv_, so this returns at once
}

uint64_t Watchdog::arm(double timeout_s, Describe describe, int exit_code) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t ticket = next_++;
  if (timeout_s > 0) {
    const auto at = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                           std::chrono::duration<double>(timeout_s));
    armed_.emplace(ticket, Deadline{at, std::move(describe), exit_code});
    cv_.notify_all();
  }
  return ticket;
}

void Watchdog::disarm(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_.erase(ticket);
}

void Watchdog::set_tick(std::function<void()> tick, std::chrono::milliseconds period) {
  std::lock_guard<std::mutex> lock(mu_);
  tick_ = std::move(tick);
  period_ = period;
  cv_.notify_all();
}

void Watchdog::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto wake = std::chrono::steady_clock::now() + period_;
    for (const auto& [ticket, d] : armed_) wake = std::min(wake, d.at);
    cv_.wait_until(lock, wake);
    if (stopping_) return;
    if (tick_) tick_();
    const auto now = std::chrono::steady_clock::now();
    for (auto& [ticket, d] : armed_) {
      if (d.at > now) continue;
      Deadline expired = std::move(d);
      armed_.erase(ticket);
      lock.unlock();  // describe() may take a moment (it asks peers who is missing); arm/disarm must not block
      std::string message;
      try {
        message = expired.describe();
      } catch (const std::exception& e) {
        message = std::string("an operation overran its deadline (and describing it failed: ") + e.what() + ")";
      }
      log::error(message);
      abort_job(expired.exit_code);
    }
  }
}

}  // namespace imprint
