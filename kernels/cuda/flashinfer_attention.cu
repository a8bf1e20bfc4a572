#include "kernels/cuda/flashinfer_attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <flashinfer/exception.h>
#include <algorithm>
#include <cstring>
#include <exception>
#include <flashinfer/attention/scheduler.cuh>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/flashinfer_attention_inst.cuh"

namespace ribbon::kernels {
namespace {

using flashinfer_detail::Params;

// The page lists sit at the front of the int workspace, FlashInfer's schedule after them.
constexpr size_t kScheduleAlignment = 256;

absl::Status CudaError(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return absl::OkStatus();
  if (error == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of device memory"));
  }
  return absl::InternalError(absl::StrCat(what, ": CUDA error ", static_cast<int>(error), " (",
                                          cudaGetErrorString(error), ")"));
}

// Runs `body` (returning absl::Status), turning FlashInfer's host-side exceptions into INTERNAL:
// nothing thrown leaves this module.
template <typename Body>
absl::Status GuardFlashInfer(const char* what, Body&& body) {
  try {
    return body();
  } catch (const flashinfer::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": FlashInfer: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
}

int32_t WindowLeft(const FlashInferShape& shape) {
  return shape.sliding_window > 0 ? shape.sliding_window - 1 : -1;
}

size_t ScheduleOffset(const FlashInferIndices& indices) {
  const size_t ints = indices.qo_indptr.size() + indices.kv_page_indptr.size() +
                      indices.kv_page_indices.size() + indices.kv_last_page_len.size();
  return (ints * sizeof(int32_t) + kScheduleAlignment - 1) / kScheduleAlignment *
         kScheduleAlignment;
}

// Segment s of `input` into `out`: its kv length from its last position, its pages.
absl::Status AddSegment(const FlashInferShape& shape, const FlashInferStepInput& input, int32_t s,
                        FlashInferIndices& out) {
  const int32_t begin = input.cu_seqlens[s], end = input.cu_seqlens[s + 1];
  if (begin > end || end > static_cast<int64_t>(input.positions.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("cu_seqlens[", s + 1, "] = ", end, " is below cu_seqlens[", s,
                     "] or past positions (", input.positions.size(), " rows)"));
  }
  const int32_t n = end - begin;
  const int32_t kv_len = n == 0 ? 0 : input.positions[end - 1] + 1;
  for (int32_t j = 0; j < n; ++j) {
    if (kv_len < n || input.positions[begin + j] != kv_len - n + j) {
      return absl::FailedPreconditionError(
          absl::StrCat("FlashInfer aligns the causal mask bottom-right: segment ", s, " row ", j,
                       " has position ", input.positions[begin + j], ", not ", kv_len - n + j,
                       " (positions must be consecutive up to the last key)"));
    }
  }
  const int32_t pages = (kv_len + shape.block_size - 1) / shape.block_size;
  if (pages > input.max_blocks_per_seq) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_tables: segment ", s, " needs ", pages, " blocks for ", kv_len,
                     " keys; max_blocks_per_seq is ", input.max_blocks_per_seq));
  }
  const int32_t* table =
      input.block_tables.data() + static_cast<int64_t>(s) * input.max_blocks_per_seq;
  for (int32_t b = 0; b < pages; ++b) {
    if (table[b] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("block_tables: segment ", s, " block ", b, " is ", table[b]));
    }
    out.kv_page_indices.push_back(table[b]);
  }
  out.kv_page_indptr.push_back(out.kv_page_indptr.back() + pages);
  out.kv_last_page_len.push_back(pages == 0 ? 0 : kv_len - (pages - 1) * shape.block_size);
  out.max_kv_len = std::max(out.max_kv_len, kv_len);
  return absl::OkStatus();
}

FlashInferPlanInfo FromFlashInfer(const flashinfer::PrefillPlanInfo& p) {
  FlashInferPlanInfo info;
  info.padded_batch_size = p.padded_batch_size;
  info.total_num_rows = p.total_num_rows;
  info.total_num_rows_offset = p.total_num_rows_offset;
  info.cta_tile_q = p.cta_tile_q;
  info.request_indices_offset = p.request_indices_offset;
  info.qo_tile_indices_offset = p.qo_tile_indices_offset;
  info.kv_tile_indices_offset = p.kv_tile_indices_offset;
  info.merge_indptr_offset = p.merge_indptr_offset;
  info.o_indptr_offset = p.o_indptr_offset;
  info.kv_chunk_size_ptr_offset = p.kv_chunk_size_ptr_offset;
  info.v_offset = p.v_offset;
  info.s_offset = p.s_offset;
  info.block_valid_mask_offset = p.block_valid_mask_offset;
  info.enable_cuda_graph = p.enable_cuda_graph;
  info.split_kv = p.split_kv;
  return info;
}

// Copies the page lists to the front of the pinned buffer and on to the device; fills the
// plan's pointers to them.
absl::Status UploadIndices(const FlashInferIndices& indices, FlashInferPlan& plan,
                           cudaStream_t stream) {
  auto* host = static_cast<int32_t*>(plan.workspace.pinned_int_buffer);
  const auto* device = static_cast<const int32_t*>(plan.workspace.int_buffer);
  size_t at = 0;
  const auto place = [&](const std::vector<int32_t>& part) {
    if (!part.empty()) std::memcpy(host + at, part.data(), part.size() * sizeof(int32_t));
    const int32_t* where = device + at;
    at += part.size();
    return where;
  };
  plan.qo_indptr = place(indices.qo_indptr);
  plan.kv_page_indptr = place(indices.kv_page_indptr);
  plan.kv_page_indices = place(indices.kv_page_indices);
  plan.kv_last_page_len = place(indices.kv_last_page_len);
  return CudaError(cudaMemcpyAsync(plan.workspace.int_buffer, host, at * sizeof(int32_t),
                                   cudaMemcpyHostToDevice, stream),
                   "uploading FlashInfer's page lists");
}

template <typename T>
Params<T> MakeParams(const FlashInferPlan& plan, const FlashInferRunArgs& args) {
  const FlashInferShape& shape = plan.shape;
  flashinfer::paged_kv_t<T, int32_t> paged_kv(
      shape.num_kv_heads, shape.block_size, shape.head_dim, plan.num_seqs,
      flashinfer::QKVLayout::kNHD, static_cast<T*>(const_cast<void*>(args.k_cache)),
      static_cast<T*>(const_cast<void*>(args.v_cache)), const_cast<int32_t*>(plan.kv_page_indices),
      const_cast<int32_t*>(plan.kv_page_indptr), const_cast<int32_t*>(plan.kv_last_page_len));
  Params<T> p(static_cast<T*>(const_cast<void*>(args.q)), paged_kv,
              /*maybe_custom_mask=*/nullptr, const_cast<int32_t*>(plan.qo_indptr),
              /*maybe_mask_indptr=*/nullptr, /*maybe_q_rope_offset=*/nullptr,
              static_cast<T*>(args.out), /*lse=*/nullptr, /*maybe_alibi_slopes=*/nullptr,
              shape.num_heads, static_cast<int32_t>(args.q_row_stride), shape.head_dim,
              WindowLeft(shape), /*logits_soft_cap=*/0.0f, args.scale, /*rope_scale=*/1.0f,
              /*rope_theta=*/1e4f);
  // The schedule PrefillPlan wrote, as FlashInfer's own binding reads it.
  char* base = static_cast<char*>(plan.workspace.int_buffer) + plan.schedule_offset;
  const FlashInferPlanInfo& info = plan.info;
  p.request_indices = reinterpret_cast<int32_t*>(base + info.request_indices_offset);
  p.qo_tile_indices = reinterpret_cast<int32_t*>(base + info.qo_tile_indices_offset);
  p.kv_tile_indices = reinterpret_cast<int32_t*>(base + info.kv_tile_indices_offset);
  p.o_indptr = reinterpret_cast<int32_t*>(base + info.o_indptr_offset);
  p.kv_chunk_size_ptr = reinterpret_cast<int32_t*>(base + info.kv_chunk_size_ptr_offset);
  if (info.split_kv) p.merge_indptr = reinterpret_cast<int32_t*>(base + info.merge_indptr_offset);
  p.padded_batch_size = static_cast<uint32_t>(info.padded_batch_size);
  p.max_total_num_rows = static_cast<uint32_t>(info.total_num_rows);
  return p;
}

template <typename T, uint32_t kHeadDim, bool kWindow>
cudaError_t LaunchTile(const Params<T>& p, T* tmp_v, float* tmp_s, int64_t cta_tile_q,
                       cudaStream_t stream) {
  using flashinfer_detail::Launch;
  switch (cta_tile_q) {
    case 16:
      return Launch<T, kHeadDim, kWindow, 16>(p, tmp_v, tmp_s, stream);
    case 64:
      return Launch<T, kHeadDim, kWindow, 64>(p, tmp_v, tmp_s, stream);
    case 128:
      return Launch<T, kHeadDim, kWindow, 128>(p, tmp_v, tmp_s, stream);
  }
  return cudaErrorInvalidConfiguration;
}

template <typename T>
absl::Status RunTyped(const FlashInferPlan& plan, const FlashInferRunArgs& args,
                      cudaStream_t stream) {
  const Params<T> p = MakeParams<T>(plan, args);
  T* tmp_v = nullptr;
  float* tmp_s = nullptr;
  if (plan.info.split_kv) {
    char* base = static_cast<char*>(plan.workspace.float_buffer);
    tmp_v = reinterpret_cast<T*>(base + plan.info.v_offset);
    tmp_s = reinterpret_cast<float*>(base + plan.info.s_offset);
  }
  const int64_t tile = plan.info.cta_tile_q;
  const bool window = plan.shape.sliding_window > 0;
  cudaError_t error;
  if (plan.shape.head_dim == 64) {
    error = window ? LaunchTile<T, 64, true>(p, tmp_v, tmp_s, tile, stream)
                   : LaunchTile<T, 64, false>(p, tmp_v, tmp_s, tile, stream);
  } else {
    error = window ? LaunchTile<T, 128, true>(p, tmp_v, tmp_s, tile, stream)
                   : LaunchTile<T, 128, false>(p, tmp_v, tmp_s, tile, stream);
  }
  if (error == cudaErrorInvalidConfiguration) {
    return absl::InternalError(
        absl::StrCat("FlashInfer planned query tile ", tile, ", which ribbon did not compile"));
  }
  return CudaError(error, "FlashInfer paged attention");
}

}  // namespace

std::string FlashInferRejects(const FlashInferShape& shape) {
  if (shape.type != ElementType::kF16 && shape.type != ElementType::kBF16) {
    return absl::StrCat("FlashInfer attention is compiled for float16 and bfloat16 (not ",
                        ElementTypeName(shape.type), ")");
  }
  if (shape.head_dim != 64 && shape.head_dim != 128) {
    return absl::StrCat("FlashInfer attention is compiled for head_dim 64 and 128 (not ",
                        shape.head_dim, ")");
  }
  if (shape.num_kv_heads <= 0 || shape.num_heads <= 0 ||
      shape.num_heads % shape.num_kv_heads != 0) {
    return absl::StrCat("num_heads ", shape.num_heads, " is not a multiple of num_kv_heads ",
                        shape.num_kv_heads);
  }
  if (shape.block_size <= 0) return absl::StrCat("block_size ", shape.block_size);
  if (shape.sliding_window < 0) return absl::StrCat("sliding_window ", shape.sliding_window);
  return "";
}

absl::Status BuildFlashInferIndices(const FlashInferShape& shape, const FlashInferStepInput& input,
                                    FlashInferIndices& out) {
  if (const std::string why = FlashInferRejects(shape); !why.empty()) {
    return absl::InvalidArgumentError(why);
  }
  if (input.cu_seqlens.empty() || input.cu_seqlens[0] != 0) {
    return absl::InvalidArgumentError("cu_seqlens must start with 0");
  }
  const int32_t num_seqs = static_cast<int32_t>(input.cu_seqlens.size()) - 1;
  if (input.max_blocks_per_seq < 0 ||
      input.block_tables.size() != static_cast<size_t>(num_seqs) * input.max_blocks_per_seq) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_tables has ", input.block_tables.size(), " entries, not num_seqs (",
                     num_seqs, ") x max_blocks_per_seq (", input.max_blocks_per_seq, ")"));
  }
  out.qo_indptr.assign(input.cu_seqlens.begin(), input.cu_seqlens.end());
  out.kv_page_indptr.assign(1, 0);
  out.kv_page_indices.clear();
  out.kv_last_page_len.clear();
  out.num_seqs = num_seqs;
  out.max_kv_len = 0;
  for (int32_t s = 0; s < num_seqs; ++s) {
    if (absl::Status status = AddSegment(shape, input, s, out); !status.ok()) return status;
  }
  out.real_rows = input.cu_seqlens[num_seqs];
  return absl::OkStatus();
}

absl::StatusOr<FlashInferWorkspaceBytes> FlashInferWorkspaceNeeds(
    const FlashInferShape& shape, const FlashInferIndices& indices) {
  FlashInferWorkspaceBytes bytes;
  bytes.int_bytes = ScheduleOffset(indices);
  if (indices.real_rows == 0) return bytes;
  size_t float_bytes = 0, int_bytes = 0;
  absl::Status status = GuardFlashInfer("sizing FlashInfer's workspace", [&] {
    return CudaError(
        flashinfer::PrefillPlanWorkspaceSize<int32_t>(
            float_bytes, int_bytes, const_cast<int32_t*>(indices.qo_indptr.data()),
            const_cast<int32_t*>(indices.kv_page_indptr.data()), indices.real_rows,
            indices.num_seqs, shape.num_heads, shape.num_kv_heads, shape.head_dim, shape.head_dim,
            shape.block_size, /*enable_cuda_graph=*/false, /*sizeof_dtype_o=*/2, WindowLeft(shape),
            /*fixed_split_size=*/-1, /*disable_split_kv=*/false,
            /*num_colocated_ctas=*/0, /*uniform_q_len=*/0, /*fixed_uniform_q_len=*/false,
            /*stream=*/nullptr, /*kv_dtype_bytes=*/2),
        "sizing FlashInfer's workspace");
  });
  if (!status.ok()) return status;
  // Counting assumes an aligned base; the real buffers' own alignment may cost a little more.
  bytes.float_bytes = float_bytes + kScheduleAlignment;
  bytes.int_bytes += int_bytes + kScheduleAlignment;
  return bytes;
}

absl::StatusOr<FlashInferPlan> PlanFlashInferStep(const FlashInferShape& shape,
                                                  const FlashInferIndices& indices,
                                                  const FlashInferWorkspace& workspace,
                                                  cudaStream_t stream) {
  if (const std::string why = FlashInferRejects(shape); !why.empty()) {
    return absl::InvalidArgumentError(why);
  }
  FlashInferPlan plan;
  plan.shape = shape;
  plan.workspace = workspace;
  plan.num_seqs = indices.num_seqs;
  plan.real_rows = indices.real_rows;
  plan.schedule_offset = ScheduleOffset(indices);
  if (workspace.int_buffer == nullptr || workspace.pinned_int_buffer == nullptr ||
      workspace.int_bytes < plan.schedule_offset) {
    return absl::InvalidArgumentError(
        absl::StrCat("FlashInfer's int workspace holds ", workspace.int_bytes,
                     " bytes; the page lists need ", plan.schedule_offset));
  }
  if (absl::Status status = UploadIndices(indices, plan, stream); !status.ok()) return status;
  if (indices.real_rows == 0) return plan;  // nothing to attend: RunFlashInfer only zeroes
  flashinfer::PrefillPlanInfo info;
  absl::Status status = GuardFlashInfer("planning FlashInfer attention", [&] {
    return CudaError(
        flashinfer::PrefillPlan<int32_t>(
            workspace.float_buffer, workspace.float_bytes,
            static_cast<char*>(workspace.int_buffer) + plan.schedule_offset,
            static_cast<char*>(workspace.pinned_int_buffer) + plan.schedule_offset,
            workspace.int_bytes - plan.schedule_offset, info,
            const_cast<int32_t*>(indices.qo_indptr.data()),
            const_cast<int32_t*>(indices.kv_page_indptr.data()), indices.real_rows,
            indices.num_seqs, shape.num_heads, shape.num_kv_heads, shape.head_dim, shape.head_dim,
            shape.block_size, /*enable_cuda_graph=*/false, /*sizeof_dtype_o=*/2, WindowLeft(shape),
            /*fixed_split_size=*/-1, /*disable_split_kv=*/false,
            /*num_colocated_ctas=*/0, /*uniform_q_len=*/0, /*fixed_uniform_q_len=*/false, stream,
            /*kv_dtype_bytes=*/2),
        "planning FlashInfer attention");
  });
  if (!status.ok()) return status;
  plan.info = FromFlashInfer(info);
  return plan;
}

absl::Status RunFlashInfer(const FlashInferPlan& plan, const FlashInferRunArgs& args,
                           cudaStream_t stream) {
  const int64_t row_elems = int64_t{plan.shape.num_heads} * plan.shape.head_dim;
  const int64_t elem = ElementBytes(plan.shape.type);
  if (args.num_rows < plan.real_rows) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_rows ", args.num_rows, " is below the plan's ", plan.real_rows, " real rows"));
  }
  if (args.num_rows > plan.real_rows) {
    char* padding = static_cast<char*>(args.out) + plan.real_rows * row_elems * elem;
    const size_t bytes = static_cast<size_t>(args.num_rows - plan.real_rows) * row_elems * elem;
    if (absl::Status status =
            CudaError(cudaMemsetAsync(padding, 0, bytes, stream), "zeroing attention padding rows");
        !status.ok()) {
      return status;
    }
  }
  if (plan.real_rows == 0) return absl::OkStatus();
  return GuardFlashInfer("FlashInfer paged attention", [&] {
    return plan.shape.type == ElementType::kBF16 ? RunTyped<nv_bfloat16>(plan, args, stream)
                                                 : RunTyped<half>(plan, args, stream);
  });
}

}  // namespace ribbon::kernels
