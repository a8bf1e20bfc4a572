// Internal to kernels/cpu/paged_attention*.cpp and their tests: the per-instruction-set builds
// of PagedAttentionCpu (paged_attention_impl.h) and what they share. paged_attention.cpp calls the
// best build the CPU runs; tests call each build this machine can run, so that both stay checked.
#pragma once

#include <cstdint>

#include "kernels/cpu/paged_attention.h"

namespace ribbon::kernels {

namespace attention_isa {
// KV heads one work item covers: args.kv_heads_per_item where it divides num_kv_heads, else 1.
int32_t KvHeadsPerItem(const PagedAttentionArgs& args);
}  // namespace attention_isa

enum class AttentionIsa : uint8_t { kAvx2, kAvx512 };

// Whether this CPU runs `isa`'s build (AVX2 + FMA + F16C, x86-64-v3, is the library's floor).
bool AttentionIsaAvailable(AttentionIsa isa);

// PagedAttentionCpu through `isa`'s build, which must be available.
void PagedAttentionCpuWith(AttentionIsa isa, const PagedAttentionArgs& args, int64_t begin,
                           int64_t end);

namespace attention_avx2 {
void Run(const PagedAttentionArgs& args, int64_t begin, int64_t end);
}
namespace attention_avx512 {
void Run(const PagedAttentionArgs& args, int64_t begin, int64_t end);
}

}  // namespace ribbon::kernels
