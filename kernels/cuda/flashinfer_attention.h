// FlashInfer's FA2 batch prefill kernel over ribbon's paged KV cache, for a whole ribbon (prefill
// chunks, later chunks and decodes, which are segments of one query row) in one launch per layer.
// The cache is read in place: ribbon's per-layer [num_blocks, block_size, num_kv_heads, head_dim]
// K and V are FlashInfer's NHD paged layout with page_size = block_size.
//
// Plan / run, as FlashInfer does it: once per step the host turns the step's cu_seqlens,
// positions and block tables into FlashInfer's page lists (BuildFlashInferIndices), sizes the
// workspaces (FlashInferWorkspaceNeeds) and runs FlashInfer's PrefillPlan (PlanFlashInferStep),
// which splits long KV walks across thread blocks (split-KV) and uploads the schedule; every
// layer then calls RunFlashInfer with that plan.
//
// Semantics (same as kernels/cuda/paged_attention.h, the reference): row r of segment s attends
// to key positions [max(0, pos - window + 1), pos], pos = positions[r]; query head h reads KV
// head h / (num_heads / num_kv_heads); rows past cu_seqlens[num_seqs] get zeros. FlashInfer
// aligns the causal mask bottom-right, so each segment's rows must carry consecutive positions
// ending at its last key (kv_len - n, ..., kv_len - 1); a step that breaks this (positions
// clamped at the context limit) is refused with FAILED_PRECONDITION and the caller runs the
// reference kernel instead.
//
// Compiled instantiations only: float16 and bfloat16, head_dim 64 and 128, with and without a
// sliding window (FlashInferRejects says why a shape is not covered). Each instantiation is its
// own translation unit (kernels/cuda/flashinfer_attention_inst.cu, compiled once per case).
//
// Framework-free: host arrays, raw device pointers and a cudaStream_t in, absl::Status out;
// FlashInfer's host-side flashinfer::Error is caught here and becomes INTERNAL. No allocation:
// the caller owns every workspace. Threads: any host thread, one step at a time per workspace.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/cuda/element_type.h"

namespace ribbon::kernels {

struct FlashInferShape {
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 0;      // tokens per KV block (FlashInfer's page_size)
  int32_t sliding_window = 0;  // 0 = unlimited
  ElementType type = ElementType::kBF16;
};

// Why the compiled FlashInfer instantiations cannot take this shape, or "" when they can.
std::string FlashInferRejects(const FlashInferShape& shape);

// One step's ribbon, in host memory (a StepPlan's arrays).
struct FlashInferStepInput {
  std::span<const int32_t> cu_seqlens;    // [num_seqs + 1]
  std::span<const int32_t> positions;     // [num_rows]; rows past cu_seqlens[num_seqs] unread
  std::span<const int32_t> block_tables;  // [num_seqs, max_blocks_per_seq]
  int32_t max_blocks_per_seq = 0;
};

// FlashInfer's page lists for one step, on the host. Reused across steps (vectors keep their
// capacity).
struct FlashInferIndices {
  std::vector<int32_t> qo_indptr;         // [num_seqs + 1], = cu_seqlens
  std::vector<int32_t> kv_page_indptr;    // [num_seqs + 1], prefix sums of pages per segment
  std::vector<int32_t> kv_page_indices;   // the segments' blocks, in order
  std::vector<int32_t> kv_last_page_len;  // [num_seqs], tokens in each segment's last page
  int32_t num_seqs = 0;
  int32_t real_rows = 0;  // cu_seqlens[num_seqs]
  int32_t max_kv_len = 0;
};

// Fills `out` from `input`. INVALID_ARGUMENT for malformed input (sizes, a decreasing
// cu_seqlens, a segment needing more blocks than its table row has), naming the field;
// FAILED_PRECONDITION when a segment's positions are not kv_len - n, ..., kv_len - 1 (the
// caller falls back to the reference kernel). Host only; needs no device.
absl::Status BuildFlashInferIndices(const FlashInferShape& shape, const FlashInferStepInput& input,
                                    FlashInferIndices& out);

// Bytes of the caller-owned workspaces one step needs.
struct FlashInferWorkspaceBytes {
  size_t float_bytes = 0;  // device: split-KV partial outputs
  size_t int_bytes = 0;    // device, and the same again in page-locked host memory
};

// What PlanFlashInferStep needs for these indices on the current device (FlashInfer's own
// sizing, plus room for the page lists). INTERNAL if FlashInfer rejects the batch.
absl::StatusOr<FlashInferWorkspaceBytes> FlashInferWorkspaceNeeds(const FlashInferShape& shape,
                                                                  const FlashInferIndices& indices);

// Caller-owned buffers, at least FlashInferWorkspaceNeeds big. `pinned_int_buffer` is staged
// and copied to `int_buffer` on the stream: the caller must not reuse it (plan the next step)
// until that copy has finished (an event recorded after PlanFlashInferStep, or a stream sync).
struct FlashInferWorkspace {
  void* float_buffer = nullptr;
  size_t float_bytes = 0;
  void* int_buffer = nullptr;
  void* pinned_int_buffer = nullptr;
  size_t int_bytes = 0;
};

// FlashInfer's PrefillPlanInfo, by name: where the schedule lies in the int workspace.
struct FlashInferPlanInfo {
  int64_t padded_batch_size = 0;
  int64_t total_num_rows = 0;
  int64_t total_num_rows_offset = 0;
  int64_t cta_tile_q = 0;
  int64_t request_indices_offset = 0;
  int64_t qo_tile_indices_offset = 0;
  int64_t kv_tile_indices_offset = 0;
  int64_t merge_indptr_offset = 0;
  int64_t o_indptr_offset = 0;
  int64_t kv_chunk_size_ptr_offset = 0;
  int64_t v_offset = 0;
  int64_t s_offset = 0;
  int64_t block_valid_mask_offset = 0;
  bool enable_cuda_graph = false;
  bool split_kv = false;
};

// One step's plan, valid while its workspace is untouched; read by every layer's run.
struct FlashInferPlan {
  FlashInferShape shape;
  FlashInferWorkspace workspace;
  int32_t num_seqs = 0;
  int32_t real_rows = 0;
  const int32_t* qo_indptr = nullptr;  // device, inside workspace.int_buffer
  const int32_t* kv_page_indptr = nullptr;
  const int32_t* kv_page_indices = nullptr;
  const int32_t* kv_last_page_len = nullptr;
  size_t schedule_offset = 0;  // where FlashInfer's schedule starts in workspace.int_buffer
  FlashInferPlanInfo info;     // FlashInfer's schedule; its offsets count from schedule_offset
};

// Uploads the page lists and runs FlashInfer's PrefillPlan on `stream` (asynchronous copies
// from workspace.pinned_int_buffer). INVALID_ARGUMENT for a shape FlashInferRejects or
// workspaces smaller than FlashInferWorkspaceNeeds; INTERNAL for FlashInfer or CUDA errors.
absl::StatusOr<FlashInferPlan> PlanFlashInferStep(const FlashInferShape& shape,
                                                  const FlashInferIndices& indices,
                                                  const FlashInferWorkspace& workspace,
                                                  cudaStream_t stream);

// One layer's tensors (device pointers, the plan's element type).
struct FlashInferRunArgs {
  const void* q = nullptr;        // row r, head h at q[r * q_row_stride + h * head_dim]
  int64_t q_row_stride = 0;       // elements
  const void* k_cache = nullptr;  // [num_blocks, block_size, num_kv_heads, head_dim]
  const void* v_cache = nullptr;  // same layout
  void* out = nullptr;            // [num_rows, num_heads, head_dim], contiguous
  int32_t num_rows = 0;           // rows of out; [real_rows, num_rows) are zeroed
  float scale = 1.0f;
};

// Enqueues one layer's attention on `stream`. INTERNAL for FlashInfer or CUDA errors.
absl::Status RunFlashInfer(const FlashInferPlan& plan, const FlashInferRunArgs& args,
                           cudaStream_t stream);

}  // namespace ribbon::kernels
