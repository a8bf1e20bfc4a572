// GuardTorch: the one place where what libtorch throws becomes absl::Status, used by every
// runner (CPU and CUDA) around each call into libtorch, so nothing throws across ModelRunner.
// Out of memory (c10::OutOfMemoryError from the CUDA caching allocator, std::bad_alloc and
// c10's CPU allocator failure) becomes RESOURCE_EXHAUSTED, which the memory probe and the
// engine's shrink-and-retry act on; any other exception becomes INTERNAL.
// Private to core/model (includes c10). Header-only; any thread.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ribbon {

// c10's CPU allocator reports failure as a plain c10::Error.
inline bool IsCpuAllocationFailure(absl::string_view message) {
  return absl::StrContains(message, "DefaultCPUAllocator: not enough memory") ||
         absl::StrContains(message, "DefaultCPUAllocator: can't allocate memory");
}

// Runs `fn` (returning absl::Status) with `what` as the context of any error.
template <typename Fn>
absl::Status GuardTorch(absl::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": out of memory: ", e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    if (IsCpuAllocationFailure(message))
      return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory: ", message));
    return absl::InternalError(absl::StrCat(what, ": ", message));
  } catch (const std::bad_alloc& e) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
}

}  // namespace ribbon
