#include "core/model/cpu_packed_weights.h"

#include <ATen/Parallel.h>
#include <sys/mman.h>

#include <utility>

#include "absl/strings/str_format.h"
#include "core/model/cpu_ops.h"
#include "kernels/cpu/packed_gemm.h"

namespace ribbon {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t RoundUp(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }

// Rows per work item: a multiple of both tiles' heights (6 and 3), small enough that a prefill
// splits across threads even when the weight has a single panel.
constexpr int64_t kRowChunk = 240;

}  // namespace

absl::StatusOr<PackedWeights> PackedWeights::Pack(std::span<at::Tensor* const> tensors,
                                                  kernels::PackedDtype dtype,
                                                  std::vector<PackedLinear>* linears) {
  const int64_t element_bytes = kernels::PackedElementBytes(dtype);
  int64_t total = 0;
  for (const at::Tensor* t : tensors) {
    if (t->dim() != 2 || !at::isFloatingType(t->scalar_type())) {
      return absl::InvalidArgumentError(
          "PackedWeights: every weight must be a floating-point matrix");
    }
    // Each weight starts on a 64-byte boundary.
    total += RoundUp(kernels::PackedWeightElements(t->size(0), t->size(1)) * element_bytes, 64);
  }
  PackedWeights packed;
  packed.bytes_ = total;
  // One huge page more than needed, so the start can be moved to a 2 MiB boundary.
  packed.mapping_size_ = RoundUp(static_cast<size_t>(packed.bytes_), kHugePage) + kHugePage;
  void* map = mmap(nullptr, packed.mapping_size_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("cannot map %d bytes for the packed CPU weights", packed.mapping_size_));
  }
  packed.mapping_ = map;
  char* base = reinterpret_cast<char*>(RoundUp(reinterpret_cast<uintptr_t>(map), kHugePage));
  packed.huge_pages_ = madvise(base, RoundUp(packed.bytes_, kHugePage), MADV_HUGEPAGE) == 0;
  linears->clear();
  char* next = base;
  for (at::Tensor* t : tensors) {
    // A bfloat16 checkpoint tensor is widened first (exactly), so packing rounds only once.
    const at::Tensor w = t->to(at::kFloat).contiguous();
    const int64_t n = w.size(0), k = w.size(1);
    const float* src = w.data_ptr<float>();
    at::parallel_for(0, kernels::PackedPanels(n), 1, [&](int64_t begin, int64_t end) {
      kernels::PackWeightCpu(src, k, n, k, next, dtype, begin, end);
    });
    linears->push_back({next, dtype, n, k});
    next += RoundUp(kernels::PackedWeightElements(n, k) * element_bytes, 64);
    *t = at::Tensor();
  }
  return packed;
}

PackedWeights::PackedWeights(PackedWeights&& other) noexcept { *this = std::move(other); }

PackedWeights& PackedWeights::operator=(PackedWeights&& other) noexcept {
  if (this != &other) {
    if (mapping_) munmap(mapping_, mapping_size_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_size_ = std::exchange(other.mapping_size_, 0);
    bytes_ = std::exchange(other.bytes_, 0);
    huge_pages_ = std::exchange(other.huge_pages_, false);
  }
  return *this;
}

PackedWeights::~PackedWeights() {
  if (mapping_) munmap(mapping_, mapping_size_);
}

void PackedGemm(const PackedLinear& w, const float* in, float* out, int64_t rows, bool accumulate) {
  const kernels::PackedGemmArgs args{.a = in,
                                     .lda = w.k,
                                     .packed = w.data,
                                     .n = w.n,
                                     .k = w.k,
                                     .out = out,
                                     .ldo = w.n,
                                     .m = rows,
                                     .accumulate = accumulate,
                                     .dtype = w.dtype};
  // Work items are (panel, chunk of rows); a thread keeps one panel in cache while a chunk's rows
  // go by. The tiny GEMMs of a small model stay on one thread (ParallelItems).
  const int64_t panels = kernels::PackedPanels(w.n);
  const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  const int64_t chunk_rows = std::min(rows, kRowChunk);
  cpu::ParallelItems(panels * chunks, chunk_rows * w.k * kernels::kPanelWidth, [&](int64_t item) {
    const int64_t panel = item / chunks, row = (item % chunks) * kRowChunk;
    kernels::PackedGemmCpu(args, panel, panel + 1, row, row + kRowChunk);
  });
}

void GatherPackedRows(const PackedLinear& w, const int32_t* ids, float* out, int64_t rows) {
  at::parallel_for(0, rows, std::max<int64_t>(1, 4096 / w.k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      kernels::UnpackRowCpu(w.data, w.dtype, w.k, ids[r], out + r * w.k);
  });
}

}  // namespace ribbon
