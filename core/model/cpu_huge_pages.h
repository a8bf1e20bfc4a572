// HugePageMapping: anonymous memory whose start is 2 MiB-aligned and advised for transparent
// huge pages, for the CPU runner's packed weights; AdviseHugePages: the same advice for a chosen
// part of memory allocated elsewhere (the hot part of the KV cache).
//
// Why: a decode step streams every weight once; through 4 KiB pages the same stream reads at
// about half the rate (one core of the 2-core dev machine: 17 vs 32 GB/s), as the TLB misses
// every page. (Only the hot part of the KV cache: see LlamaCpuRunner::AllocateKvCache.) The
// kernel's THP mode is usually "madvise", so nothing gets huge pages without the advice; when the
// advice is refused (THP off) the memory still works, in 4 KiB pages, and huge_pages() says so.
//
// Private to core/model. Ownership: the mapping lives until the object (or the tensor made from
// it) is destroyed. Threads: the pointer may be used from any thread; the object itself is not
// synchronised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace ribbon {

class HugePageMapping {
 public:
  // Maps at least `bytes` (zero-filled, not yet touched). RESOURCE_EXHAUSTED when mmap fails,
  // which it does at once for a size the machine could never back.
  static absl::StatusOr<HugePageMapping> Map(size_t bytes, const char* what);

  HugePageMapping() = default;
  HugePageMapping(HugePageMapping&& other) noexcept;
  HugePageMapping& operator=(HugePageMapping&& other) noexcept;
  HugePageMapping(const HugePageMapping&) = delete;
  HugePageMapping& operator=(const HugePageMapping&) = delete;
  ~HugePageMapping();

  void* data() const { return base_; }  // 2 MiB-aligned
  bool huge_pages() const { return huge_pages_; }

 private:
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  void* base_ = nullptr;
  bool huge_pages_ = false;
};

// Advises for huge pages the 2 MiB pages that overlap allocation[offset, offset + bytes), as far
// as they lie inside `allocation` (anonymous memory of the caller's, not yet touched there: pages
// already faulted in stay small until the kernel's background collapse). A 2 MiB page that
// straddles the allocation's edge stays small: the advice never reaches memory outside it.
// False when the kernel refused the advice (THP off); the memory works either way.
bool AdviseHugePages(std::span<std::byte> allocation, size_t offset, size_t bytes);

}  // namespace ribbon
