#include "core/model/cpu_packed_weights.h"

#include <ATen/Parallel.h>

#include <utility>

#include "absl/strings/str_format.h"
#include "core/model/cpu_ops.h"
#include "kernels/cpu/packed_gemm.h"

namespace ribbon {
namespace {

size_t RoundUp(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }

// Rows per work item: a multiple of both tiles' heights (6 and 3), small enough that a prefill
// splits across threads even when the weight has a single panel.
constexpr int64_t kRowChunk = 240;

// Up to this many rows (a batch of decodes) a GEMM is split by contiguous panel ranges, one per
// thread; more (a prefill) by (panel, chunk of rows) items.
constexpr int64_t kRangeRows = 48;

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
  absl::StatusOr<HugePageMapping> mapping =
      HugePageMapping::Map(static_cast<size_t>(total), "the packed CPU weights");
  if (!mapping.ok()) return mapping.status();
  packed.mapping_ = *std::move(mapping);
  linears->clear();
  char* next = static_cast<char*>(packed.mapping_.data());
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

namespace {

// The kernel's arguments for `rows` contiguous rows against `w` (lda = k, ldo = n).
kernels::PackedGemmArgs ArgsOf(const PackedLinear& w, const float* in, float* out, int64_t rows,
                               bool accumulate) {
  return {.a = in,
          .lda = w.k,
          .packed = w.data,
          .n = w.n,
          .k = w.k,
          .out = out,
          .ldo = w.n,
          .m = rows,
          .accumulate = accumulate,
          .dtype = w.dtype};
}

}  // namespace

void PackedGemm(const PackedLinear& w, const float* in, float* out, int64_t rows, bool accumulate) {
  const kernels::PackedGemmArgs args = ArgsOf(w, in, out, rows, accumulate);
  // The tiny GEMMs of a small model stay on one thread (ParallelItems).
  const int64_t panels = kernels::PackedPanels(w.n);
  if (rows <= kRangeRows) {
    // A decode-sized step: one contiguous range of panels per thread, streamed front to back
    // (a one-row call walks several panels side by side, packed_gemm.h). Panels handed out
    // one at a time interleaved the threads' streams: llama-100m decode, 2 threads, Intel Xeon
    // (2026-12-05), batch 8 +8 %, batch 32 +5 % with ranges.
    const int64_t threads = std::min<int64_t>(at::get_num_threads(), panels);
    const int64_t work = rows * panels * w.k * kernels::kPanelWidth / threads;
    cpu::ParallelItems(threads, work, [&](int64_t t) {
      kernels::PackedGemmCpu(args, panels * t / threads, panels * (t + 1) / threads, 0, rows);
    });
    return;
  }
  // A prefill: items of (panel, chunk of rows); a thread keeps one panel in cache while a chunk's
  // rows go by.
  const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  const int64_t chunk_rows = std::min(rows, kRowChunk);
  cpu::ParallelItems(panels * chunks, chunk_rows * w.k * kernels::kPanelWidth, [&](int64_t item) {
    const int64_t panel = item / chunks, row = (item % chunks) * kRowChunk;
    kernels::PackedGemmCpu(args, panel, panel + 1, row, row + kRowChunk);
  });
}

bool PackedGemmSiluMul(const PackedLinear& gate_up, const float* in, float* gate_up_out, float* act,
                       int64_t rows, int64_t inter) {
  if (rows > kRangeRows || inter % kernels::kPanelWidth != 0 || gate_up.n != 2 * inter) {
    return false;
  }
  const kernels::PackedGemmArgs args = ArgsOf(gate_up, in, gate_up_out, rows, false);
  const int64_t half = inter / kernels::kPanelWidth;  // the gate's panels; the up's follow
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), half);
  const int64_t work = rows * 2 * half * gate_up.k * kernels::kPanelWidth / threads;
  cpu::ParallelItems(threads, work, [&](int64_t t) {
    const int64_t p0 = half * t / threads, p1 = half * (t + 1) / threads;
    kernels::PackedGemmCpu(args, p0, p1, 0, rows);
    kernels::PackedGemmCpu(args, half + p0, half + p1, 0, rows);
    cpu::SiluMulColumns(gate_up_out, act, rows, inter, p0 * kernels::kPanelWidth,
                        p1 * kernels::kPanelWidth);
  });
  return true;
}

void GatherPackedRows(const PackedLinear& w, const int32_t* ids, float* out, int64_t rows) {
  at::parallel_for(0, rows, std::max<int64_t>(1, 4096 / w.k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      kernels::UnpackRowCpu(w.data, w.dtype, w.k, ids[r], out + r * w.k);
  });
}

}  // namespace ribbon
