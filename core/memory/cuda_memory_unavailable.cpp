// cuda_memory.h for builds without CUDA (RIBBON_CUDA off): every call says so.
#include "core/memory/cuda_memory.h"

namespace ribbon::memory {
namespace {

absl::Status NoCuda() {
  return absl::UnimplementedError("this build of ribbon has no CUDA support");
}

}  // namespace

bool CudaMemoryCallsAvailable() { return false; }
absl::StatusOr<CudaMemoryInfo> CudaMemoryOf(int device) { return NoCuda(); }
absl::Status CudaEmptyCache() { return NoCuda(); }
absl::Status CudaResetPeakStats(int device) { return NoCuda(); }
absl::StatusOr<CudaAllocatorStats> CudaAllocatorStatsOf(int device) { return NoCuda(); }

}  // namespace ribbon::memory
