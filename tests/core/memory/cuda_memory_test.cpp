// The CUDA allocator calls answer with figures on a GPU and with an error, never a crash or an
// exception, where the build or the machine has none.
#include <catch2/catch.hpp>

#include "core/memory/cuda_memory.h"

namespace ribbon::memory {
namespace {

TEST_CASE("device memory figures, or a clear error without a device") {
  const auto info = CudaMemoryOf(0);
  if (!CudaMemoryCallsAvailable()) {
    CHECK(absl::IsUnimplemented(info.status()));
    CHECK(absl::IsUnimplemented(CudaEmptyCache()));
    CHECK(absl::IsUnimplemented(CudaAllocatorStatsOf(0).status()));
    return;
  }
  if (!info.ok()) {
    WARN("no CUDA device: " << info.status());
    CHECK(absl::IsInternal(info.status()));
    return;
  }
  CHECK(info->total_bytes > 0);
  CHECK(info->free_bytes > 0);
  CHECK(info->free_bytes <= info->total_bytes);
  REQUIRE(CudaEmptyCache().ok());
  REQUIRE(CudaResetPeakStats(0).ok());
  const auto stats = CudaAllocatorStatsOf(0);
  REQUIRE(stats.ok());
  CHECK(stats->peak_allocated_bytes >= stats->allocated_bytes);
}

}  // namespace
}  // namespace ribbon::memory
