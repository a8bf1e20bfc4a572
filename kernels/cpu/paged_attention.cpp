// PagedAttentionCpu's dispatcher: the AVX-512 build where the CPU has AVX-512F and AVX-512VL and
// the head dimension is a multiple of 16, else the AVX2 one (paged_attention_impl.h).
#include "kernels/cpu/paged_attention.h"

#include "kernels/cpu/paged_attention_isa.h"

namespace ribbon::kernels {

int32_t attention_isa::KvHeadsPerItem(const PagedAttentionArgs& a) {
  const int32_t n = a.kv_heads_per_item;
  return n > 0 && n <= a.num_kv_heads && a.num_kv_heads % n == 0 ? n : 1;
}

bool AttentionIsaAvailable(AttentionIsa isa) {
  static const bool avx512 =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  return isa == AttentionIsa::kAvx2 || avx512;
}

void PagedAttentionCpuWith(AttentionIsa isa, const PagedAttentionArgs& args, int64_t begin,
                           int64_t end) {
  if (isa == AttentionIsa::kAvx512) {
    attention_avx512::Run(args, begin, end);
  } else {
    attention_avx2::Run(args, begin, end);
  }
}

int64_t PagedAttentionWorkItems(const PagedAttentionArgs& args) {
  return static_cast<int64_t>(args.cu_seqlens[args.num_seqs]) *
         (args.num_kv_heads / attention_isa::KvHeadsPerItem(args));
}

void PagedAttentionCpu(const PagedAttentionArgs& args, int64_t begin, int64_t end) {
  // The AVX-512 build only where its 16-lane walks apply (head_dim a multiple of 16): with
  // stories260K's head_dim of 8 it runs the same 8-lane walks as the AVX2 build, yet prefill was
  // 25-28 % slower and decode 10 % (2 threads, Intel Xeon, 2026-12-05); the rest of that build is
  // compiled for AVX-512, which is the likely cause, not pinned down.
  static const bool avx512 = AttentionIsaAvailable(AttentionIsa::kAvx512);
  PagedAttentionCpuWith(
      avx512 && args.head_dim % 16 == 0 ? AttentionIsa::kAvx512 : AttentionIsa::kAvx2, args, begin,
      end);
}

}  // namespace ribbon::kernels
