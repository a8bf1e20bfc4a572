// PackedGemmCpu's tile in AVX2 + FMA (8 lanes, 16 registers: 3 rows x 4 vectors of accumulators,
// each panel in two passes of 32 columns): the fallback where AVX-512 is missing.
#include <immintrin.h>

#include "kernels/cpu/packed_gemm_tile.h"

namespace ribbon::kernels::packed_gemm_detail {
namespace {

struct Avx2 {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T Zero() { return _mm256_setzero_ps(); }
  static T Load(const float* p) { return _mm256_loadu_ps(p); }
  // 8 bfloat16 weights widened exactly: the bits move to the top half of each float32 lane.
  static T Load(const uint16_t* p) {
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
  static void Store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T Set1(float x) { return _mm256_set1_ps(x); }
  static T Fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T Add(T a, T b) { return _mm256_add_ps(a, b); }
};

}  // namespace

void GemmAvx2(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end, int64_t row_begin,
              int64_t row_end) {
  Gemm<Avx2, 3, 4>(g, panel_begin, panel_end, row_begin, row_end);
}

}  // namespace ribbon::kernels::packed_gemm_detail
