// Turns what the CUDA runtime reports into absl::Status (libtorch exceptions: GuardTorch in
// core/model/torch_guard.h), so that no exception and no raw
// cudaError_t leaves core/model/cuda. Private to core/model/cuda.
// Header-only; any thread.
#pragma once

#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/model/torch_guard.h"

namespace ribbon::gpu {

// OK; RESOURCE_EXHAUSTED when the device is out of memory; else INTERNAL naming the operation
// and the CUDA error.
inline absl::Status CudaStatus(cudaError_t error, absl::string_view what) {
  if (error == cudaSuccess) return absl::OkStatus();
  if (error == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clears the sticky-free allocation error so the runner stays usable
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of device memory"));
  }
  return absl::InternalError(absl::StrCat(what, ": CUDA error ", static_cast<int>(error), " (",
                                          cudaGetErrorString(error), ")"));
}

using ::ribbon::GuardTorch;  // core/model/torch_guard.h: out of memory -> RESOURCE_EXHAUSTED

}  // namespace ribbon::gpu
