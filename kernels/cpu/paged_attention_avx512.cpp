// PagedAttentionCpu's AVX-512 build: compiled with -mavx512f -mavx512vl (kernels/CMakeLists.txt)
// and only called where the CPU has both (paged_attention.cpp). See paged_attention_impl.h.
#define RIBBON_ATTENTION_NS attention_avx512
#include "kernels/cpu/paged_attention_impl.h"
