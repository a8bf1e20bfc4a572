// The small per-row operations of a Llama decoder layer on the GPU: RMSNorm, rotary embedding,
// SiLU-and-multiply, row gather (embedding lookup, sample rows) and the paged KV write.
// Framework-free: raw device pointers and a cudaStream_t in, cudaError_t out (the launch's
// error; execution errors surface at the next synchronisation). Nothing here allocates.
//
// Numerics: accumulation in float32; values are read and written in the storage type. For
// 16-bit types each op rounds its intermediates where transformers' eager PyTorch modules do
// (documented per op), so the GPU runner agrees with transformers' bf16/fp16 outputs bit for bit
// in most positions. For float32 the formulas equal core/model/cpu_ops.
//
// Threads: any host thread; calls on one stream run in order.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/element_type.h"

namespace ribbon::kernels {

// out[r] = weight * round(x[r] * rsqrt(mean(x[r]^2) + eps)), rounded to the storage type
// (LlamaRMSNorm: normalise in float32, cast, then multiply by the weight in the storage type).
struct RmsNormArgs {
  const void* x = nullptr;       // [rows, x_stride]
  int64_t x_stride = 0;          // elements
  const void* weight = nullptr;  // [dim]
  void* out = nullptr;           // [rows, out_stride]; may equal x when strides match
  int64_t out_stride = 0;
  int64_t rows = 0;
  int64_t dim = 0;
  float eps = 1e-6f;
  ElementType type = ElementType::kF32;
};
cudaError_t RmsNorm(const RmsNormArgs& args, cudaStream_t stream);

// Rotates the query heads and key heads of each fused QKV row in place (HF rotate_half pairs
// (i, i + head_dim / 2)): x' = x * cos + rotate_half(x) * sin with cos/sin rounded to the
// storage type and each product rounded, as transformers' apply_rotary_pos_emb does.
// Row r holds num_q_heads query heads at columns [0, q) and num_kv_heads key heads at [q, q + kv).
struct RopeArgs {
  void* qkv = nullptr;
  int64_t row_stride = 0;  // elements
  int64_t rows = 0;
  int32_t num_q_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  const int32_t* positions = nullptr;  // [rows], each < max_position
  const float* cos = nullptr;          // [max_position, head_dim / 2], float32
  const float* sin = nullptr;
  ElementType type = ElementType::kF32;
};
cudaError_t ApplyRope(const RopeArgs& args, cudaStream_t stream);

// out[r, i] = round(round(silu(gate_up[r, i])) * gate_up[r, inter + i]) (nn.SiLU, then the
// product, each rounded to the storage type).
struct SiluMulArgs {
  const void* gate_up = nullptr;  // [rows, 2 * inter]
  void* out = nullptr;            // [rows, inter]
  int64_t rows = 0;
  int64_t inter = 0;
  ElementType type = ElementType::kF32;
};
cudaError_t SiluMul(const SiluMulArgs& args, cudaStream_t stream);

// out[r] = table[ids[r]]: copies rows of `row_bytes` bytes (embedding lookup; sample-row gather).
struct GatherRowsArgs {
  const void* table = nullptr;
  int64_t table_row_bytes = 0;   // distance between table rows
  const int32_t* ids = nullptr;  // [rows], device
  void* out = nullptr;           // [rows, row_bytes], contiguous
  int64_t rows = 0;
  int64_t row_bytes = 0;
};
cudaError_t GatherRows(const GatherRowsArgs& args, cudaStream_t stream);

// Writes each row's key and value (kv_width elements at k_src / v_src + r * src_stride) into
// cache slot slot_mapping[r] of the layer's caches [slots, kv_width]; rows with slot -1 are
// skipped.
struct WriteKvArgs {
  const void* k_src = nullptr;
  const void* v_src = nullptr;
  int64_t src_stride = 0;                 // elements
  const int32_t* slot_mapping = nullptr;  // [rows], device
  int64_t rows = 0;
  int64_t kv_width = 0;  // elements: num_kv_heads * head_dim
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  ElementType type = ElementType::kF32;
};
cudaError_t WriteKv(const WriteKvArgs& args, cudaStream_t stream);

}  // namespace ribbon::kernels
