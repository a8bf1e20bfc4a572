#include "core/memory/device_memory.h"

#include "absl/strings/str_cat.h"

namespace ribbon::memory {
namespace {

class CudaAllocatorMemory final : public DeviceMemory {
 public:
  explicit CudaAllocatorMemory(int index) : index_(index) {}
  std::string Source() const override {
    return absl::StrCat("cudaMemGetInfo total (cuda:", index_, ")");
  }
  absl::StatusOr<CudaMemoryInfo> Info() override { return CudaMemoryOf(index_); }
  absl::Status EmptyCache() override { return CudaEmptyCache(); }
  absl::Status ResetPeakStats() override { return CudaResetPeakStats(index_); }
  absl::StatusOr<CudaAllocatorStats> Stats() override { return CudaAllocatorStatsOf(index_); }

 private:
  const int index_;
};

}  // namespace

std::unique_ptr<DeviceMemory> CudaDeviceMemory(int index) {
  return std::make_unique<CudaAllocatorMemory>(index);
}

}  // namespace ribbon::memory
