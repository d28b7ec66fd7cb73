#include "trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace imprint {

double LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps + 1);
  if (kind == LrScheduleKind::Constant) return peak;
  const double span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  const double floor = peak * min_ratio;
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
}

}  // namespace imprint
