// PackedGemmCpu's tile in AVX-512 (16 lanes, 32 registers: 6 rows x 4 vectors of accumulators).
// Compiled with -mavx512f (kernels/CMakeLists.txt); only called where the CPU has AVX-512F.
#include <immintrin.h>

#include "kernels/cpu/packed_gemm_tile.h"

namespace ribbon::kernels::packed_gemm_detail {
namespace {

struct Avx512 {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T Zero() { return _mm512_setzero_ps(); }
  static T Load(const float* p) { return _mm512_loadu_ps(p); }
  // 16 bfloat16 weights widened exactly: the bits move to the top half of each float32 lane.
  // The zero-masked forms with a full mask are the same instructions; the plain ones trip GCC
  // 12's -Wmaybe-uninitialized on their internal _mm512_undefined_epi32 (GCC bug 105593).
  static T Load(const uint16_t* p) {
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __mmask16 all = 0xFFFF;
    return _mm512_castsi512_ps(
        _mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, bits), 16));
  }
  static void Store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T Set1(float x) { return _mm512_set1_ps(x); }
  static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T Add(T a, T b) { return _mm512_add_ps(a, b); }
};

}  // namespace

void GemmAvx512(const PackedGemmArgs& g, int64_t panel_begin, int64_t panel_end, int64_t row_begin,
                int64_t row_end) {
  Gemm<Avx512, 6, 4>(g, panel_begin, panel_end, row_begin, row_end);
}

}  // namespace ribbon::kernels::packed_gemm_detail
