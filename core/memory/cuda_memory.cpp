// cuda_memory.h over the CUDA runtime and libtorch's caching allocator (RIBBON_CUDA builds).
// c10 reports failures by throwing c10::Error; they stop here and leave as Status.
#include "core/memory/cuda_memory.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>

#include "absl/strings/str_cat.h"

namespace ribbon::memory {
namespace {

constexpr size_t kAggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);

absl::Status FromC10(const c10::Error& error, const char* call) {
  return absl::InternalError(absl::StrCat(call, ": ", error.what_without_backtrace()));
}

}  // namespace

bool CudaMemoryCallsAvailable() { return true; }

absl::StatusOr<CudaMemoryInfo> CudaMemoryOf(int device) {
  try {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
    size_t free_bytes = 0, total_bytes = 0;
    const cudaError_t error = cudaMemGetInfo(&free_bytes, &total_bytes);
    if (error != cudaSuccess) {
      return absl::InternalError(absl::StrCat("cudaMemGetInfo: ", cudaGetErrorString(error)));
    }
    return CudaMemoryInfo{static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
  } catch (const c10::Error& error) {
    return FromC10(error, "CUDAGuard");
  }
}

absl::Status CudaEmptyCache() {
  try {
    c10::cuda::CUDACachingAllocator::emptyCache();
    return absl::OkStatus();
  } catch (const c10::Error& error) {
    return FromC10(error, "CUDACachingAllocator::emptyCache");
  }
}

absl::Status CudaResetPeakStats(int device) {
  try {
    c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
    return absl::OkStatus();
  } catch (const c10::Error& error) {
    return FromC10(error, "CUDACachingAllocator::resetPeakStats");
  }
}

absl::StatusOr<CudaAllocatorStats> CudaAllocatorStatsOf(int device) {
  try {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
    const auto& allocated = stats.allocated_bytes[kAggregate];
    return CudaAllocatorStats{allocated.current, allocated.peak};
  } catch (const c10::Error& error) {
    return FromC10(error, "CUDACachingAllocator::getDeviceStats");
  }
}

}  // namespace ribbon::memory
