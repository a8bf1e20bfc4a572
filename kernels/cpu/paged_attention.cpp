// PagedAttentionCpu's dispatcher: the AVX-512 build where the CPU has AVX-512F and AVX-512VL, else
// the AVX2 one (paged_attention_impl.h).
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
  static const AttentionIsa best =
      AttentionIsaAvailable(AttentionIsa::kAvx512) ? AttentionIsa::kAvx512 : AttentionIsa::kAvx2;
  PagedAttentionCpuWith(best, args, begin, end);
}

}  // namespace ribbon::kernels
