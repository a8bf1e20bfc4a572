// DeviceMemory: the allocator figures the device half of the memory probe reads, behind one
// interface, so the out-of-memory search runs the same code over a CUDA device
// (CudaDeviceMemory, over cuda_memory.h) and over a test fake with an injected capacity.
//
// Ownership: plain objects owned by the caller. Threads: as cuda_memory.h (statistics are per
// device and shared, so a measurement must not overlap other work on the device).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/memory/cuda_memory.h"

namespace ribbon::memory {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // Names the device and where its total comes from, for the capacity report.
  virtual std::string Source() const = 0;
  virtual absl::StatusOr<CudaMemoryInfo> Info() = 0;
  // Returns the allocator's cached but unused blocks to the device.
  virtual absl::Status EmptyCache() = 0;
  virtual absl::Status ResetPeakStats() = 0;
  virtual absl::StatusOr<CudaAllocatorStats> Stats() = 0;
};

// The CUDA caching allocator of device `index`.
std::unique_ptr<DeviceMemory> CudaDeviceMemory(int index);

}  // namespace ribbon::memory
