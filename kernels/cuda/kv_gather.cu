#include "kernels/cuda/kv_gather.h"

#include "kernels/cuda/element_access.cuh"
#include "kernels/cuda/row_copy.cuh"

namespace ribbon::kernels {
namespace {

// One block per gathered token: finds its sequence and cache slot, copies its K and V rows.
template <int kWidth>
__global__ void GatherKvKernel(KvGatherArgs a) {
  const int32_t token = blockIdx.x;
  const int32_t seq = detail::SegmentOf(a.cu_kv, a.num_seqs, token);
  const int32_t pos = token - a.cu_kv[seq];
  const int64_t block =
      a.block_tables[static_cast<int64_t>(seq) * a.max_blocks_per_seq + pos / a.block_size];
  const int64_t slot = block * a.block_size + pos % a.block_size;
  const char* k_src = static_cast<const char*>(a.k_cache) + slot * a.row_bytes;
  const char* v_src = static_cast<const char*>(a.v_cache) + slot * a.row_bytes;
  detail::CopyRowBytes<kWidth>(static_cast<char*>(a.k_out) + token * a.row_bytes, k_src,
                               a.row_bytes);
  detail::CopyRowBytes<kWidth>(static_cast<char*>(a.v_out) + token * a.row_bytes, v_src,
                               a.row_bytes);
}

uint64_t Address(const void* p) { return reinterpret_cast<uint64_t>(p); }

}  // namespace

cudaError_t GatherKv(const KvGatherArgs& a, cudaStream_t stream) {
  if (a.total_tokens == 0) return cudaSuccess;
  if (a.total_tokens < 0 || a.block_size <= 0 || a.row_bytes <= 0) return cudaErrorInvalidValue;
  const int32_t width = detail::CopyWidth({Address(a.k_cache), Address(a.v_cache), Address(a.k_out),
                                           Address(a.v_out), static_cast<uint64_t>(a.row_bytes)});
  const int threads = a.row_bytes / width >= 128 ? 128 : 64;
  return detail::DispatchWidth(width, [&](auto w) {
    GatherKvKernel<decltype(w)::value>
        <<<static_cast<unsigned>(a.total_tokens), threads, 0, stream>>>(a);
    return cudaGetLastError();
  });
}

}  // namespace ribbon::kernels
