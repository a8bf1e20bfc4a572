// PagedAttentionCpu's AVX2 build (x86-64-v3, the library's floor): see paged_attention_impl.h.
#define RIBBON_ATTENTION_NS attention_avx2
#include "kernels/cpu/paged_attention_impl.h"
