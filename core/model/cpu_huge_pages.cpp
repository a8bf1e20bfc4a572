#include "core/model/cpu_huge_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace ribbon {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

constexpr size_t kSmallPage = size_t{4} << 10;

size_t RoundUp(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }
size_t RoundDown(size_t bytes, size_t to) { return bytes / to * to; }

}  // namespace

absl::StatusOr<HugePageMapping> HugePageMapping::Map(size_t bytes, const char* what) {
  HugePageMapping m;
  // One huge page more than needed, so the start can be moved to a 2 MiB boundary. Without
  // MAP_NORESERVE, so that the kernel refuses at once a size it could never back (as malloc
  // would) instead of killing the process when the pages are touched.
  m.mapping_size_ = RoundUp(bytes, kHugePage) + kHugePage;
  void* map =
      mmap(nullptr, m.mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("cannot map %d bytes for %s", m.mapping_size_, what));
  }
  m.mapping_ = map;
  m.base_ = reinterpret_cast<void*>(RoundUp(reinterpret_cast<uintptr_t>(map), kHugePage));
  m.huge_pages_ = madvise(m.base_, RoundUp(bytes, kHugePage), MADV_HUGEPAGE) == 0;
  return m;
}

HugePageMapping::HugePageMapping(HugePageMapping&& other) noexcept { *this = std::move(other); }

HugePageMapping& HugePageMapping::operator=(HugePageMapping&& other) noexcept {
  if (this != &other) {
    if (mapping_) munmap(mapping_, mapping_size_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_size_ = std::exchange(other.mapping_size_, 0);
    base_ = std::exchange(other.base_, nullptr);
    huge_pages_ = std::exchange(other.huge_pages_, false);
  }
  return *this;
}

HugePageMapping::~HugePageMapping() {
  if (mapping_) munmap(mapping_, mapping_size_);
}

bool AdviseHugePages(std::span<std::byte> allocation, size_t offset, size_t bytes) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(allocation.data());
  const uintptr_t lo = std::max(RoundDown(base + offset, kHugePage), RoundUp(base, kSmallPage));
  const uintptr_t hi = std::min(RoundUp(base + offset + bytes, kHugePage),
                                RoundDown(base + allocation.size(), kSmallPage));
  if (lo >= hi) return false;
  return madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE) == 0;
}

}  // namespace ribbon
