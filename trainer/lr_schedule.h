// Learning rate at a step: linear warm-up, then constant or cosine decay to a floor.
#pragma once
#include <cstdint>
#include <string>

namespace imprint {

enum class LrScheduleKind { Cosine, Constant };

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::Cosine;
  double peak = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_ratio = 0.0;
  // `step` counts completed steps (the first update uses step 0).
  double at(int64_t step) const;
};

}  // namespace imprint
