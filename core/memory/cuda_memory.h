// The CUDA allocator calls the memory probe needs, behind a torch-free interface. Two
// implementations, picked by the build (core/memory/CMakeLists.txt): cuda_memory.cpp wraps
// cudaMemGetInfo and c10::cuda::CUDACachingAllocator (emptyCache, resetPeakStats,
// getDeviceStats) when RIBBON_CUDA is on; cuda_memory_unavailable.cpp answers UNIMPLEMENTED.
//
// Threads: any; the allocator's statistics are per device and shared by every thread using it,
// so a measurement must not overlap other work on the device.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ribbon::memory {

struct CudaMemoryInfo {
  int64_t free_bytes = 0;  // cudaMemGetInfo: free on the device, all processes considered
  int64_t total_bytes = 0;
};

struct CudaAllocatorStats {
  int64_t allocated_bytes = 0;       // held by live tensors now
  int64_t peak_allocated_bytes = 0;  // highest since the last CudaResetPeakStats
};

// True when this build can make the calls (RIBBON_CUDA); says nothing about devices present.
bool CudaMemoryCallsAvailable();
absl::StatusOr<CudaMemoryInfo> CudaMemoryOf(int device);
// Returns the caching allocator's unused cached blocks to the driver (emptyCache).
absl::Status CudaEmptyCache();
absl::Status CudaResetPeakStats(int device);
absl::StatusOr<CudaAllocatorStats> CudaAllocatorStatsOf(int device);

}  // namespace ribbon::memory
