// Turns what libtorch and the CUDA runtime report into absl::Status, so that no exception and
// no raw cudaError_t leaves core/model/cuda. Private to core/model/cuda (includes c10).
// Header-only; any thread.
#pragma once

#include <c10/util/Exception.h>
#include <cuda_runtime.h>

#include <exception>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ribbon::gpu {

// OK, or INTERNAL naming the operation and the CUDA error.
inline absl::Status CudaStatus(cudaError_t error, absl::string_view what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": CUDA error ", static_cast<int>(error), " (",
                                          cudaGetErrorString(error), ")"));
}

// Runs `fn` (returning absl::Status) and converts any exception libtorch throws into INTERNAL
// with `what` as context.
template <typename Fn>
absl::Status GuardTorch(absl::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
}

}  // namespace ribbon::gpu
