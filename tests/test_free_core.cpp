// The probe that lets a waiting rank poll only while a core is free (collectives/free_core.h).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "collectives/free_core.h"

using imprint::a_core_is_free;

TEST(FreeCore, RunnableThreadsThatFitTheCoresLeaveOneFree) {
  // /proc/loadavg: three load averages, runnable/total threads (the reader counts itself), the last pid.
  EXPECT_TRUE(a_core_is_free("0.66 1.64 1.87 1/345 12345\n", 2));
  EXPECT_TRUE(a_core_is_free("0.66 1.64 1.87 2/345 12345\n", 2));
  EXPECT_FALSE(a_core_is_free("2.01 1.64 1.87 3/345 12345\n", 2));
  EXPECT_TRUE(a_core_is_free("9.00 9.00 9.00 16/900 1\n", 16));
  EXPECT_FALSE(a_core_is_free("9.00 9.00 9.00 17/900 1\n", 16));
}

TEST(FreeCore, TextItCannotReadMeansNoFreeCore) {
  // Sleeping is the choice that never takes a core from anyone, so an unreadable count chooses it.
  EXPECT_FALSE(a_core_is_free("", 2));
  EXPECT_FALSE(a_core_is_free("0.66 1.64 1.87", 2));
  EXPECT_FALSE(a_core_is_free("0.66 1.64 1.87 x/345 1", 2));
  EXPECT_FALSE(a_core_is_free("0.66 1.64 1.87 0/345 1", 2));
}

TEST(FreeCore, NoCoreIsFreeWhileThreadsKeepEveryCoreBusy) {
  const imprint::FreeCoreProbe probe;
  ASSERT_GE(probe.cores(), 1);
  std::atomic<int> started{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int i = 0; i < probe.cores(); ++i)
    busy.emplace_back([&] {
      started.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  while (started.load() < probe.cores()) std::this_thread::yield();
  // The busy threads and this reader: one more runnable thread than cores, whatever else the machine runs.
  bool free_seen = false;
  for (int i = 0; i < 20; ++i) free_seen = free_seen || probe.free_core_now();
  stop = true;
  for (auto& t : busy) t.join();
  EXPECT_FALSE(free_seen) << "a free core seen while " << probe.cores() << " threads kept all " << probe.cores()
                          << " cores busy";
}
