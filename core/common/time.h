// Time as plain integers so that policy code can run under a simulated clock.
// Header-only; any thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace ribbon {

// Nanoseconds since an arbitrary epoch (steady clock in production, a counter in tests).
using TimeNs = int64_t;
inline constexpr TimeNs kNoDeadline = INT64_MAX;

inline TimeNs SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double NsToSeconds(TimeNs ns) { return static_cast<double>(ns) * 1e-9; }

}  // namespace ribbon
