#include "core/engine/oom_policy.h"

#include <algorithm>

namespace ribbon {

OomPolicy::Decision OomPolicy::OnOutOfMemory(int32_t budget, int32_t failed_rows) {
  if (++streak_ > max_streak_) return {false, budget};
  const int32_t half = std::max(1, failed_rows / 2);
  const int32_t aligned = (half + align_ - 1) / align_ * align_;
  return {true, std::max(floor_, std::min(budget, aligned))};
}

}  // namespace ribbon
