// Explicit instances of FlashInfer's paged batch prefill for one (element type, head dim,
// window) case, all three query tiles. CMake compiles this file once per case with
// RIBBON_FI_BF16 (0 = float16, 1 = bfloat16), RIBBON_FI_HEAD_DIM and RIBBON_FI_WINDOW (0/1)
// defined (kernels/CMakeLists.txt), so each case is its own translation unit.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <flashinfer/attention/prefill.cuh>
#include <type_traits>

#include "kernels/cuda/flashinfer_attention_inst.cuh"

#if !defined(RIBBON_FI_BF16) || !defined(RIBBON_FI_HEAD_DIM) || !defined(RIBBON_FI_WINDOW)
#error \
    "compile with RIBBON_FI_BF16, RIBBON_FI_HEAD_DIM and RIBBON_FI_WINDOW (kernels/CMakeLists.txt)"
#endif

namespace ribbon::kernels::flashinfer_detail {

template <typename T, uint32_t kHeadDim, bool kWindow, uint32_t kCtaTileQ>
cudaError_t Launch(const Params<T>& params, T* tmp_v, float* tmp_s, cudaStream_t stream) {
  return flashinfer::BatchPrefillWithPagedKVCacheDispatched<
      /*SAME_KV_STRIDES=*/true, kCtaTileQ, kHeadDim, kHeadDim, flashinfer::PosEncodingMode::kNone,
      /*USE_FP16_QK_REDUCTION=*/false, flashinfer::MaskMode::kCausal,
      /*USE_TOKEN_HEAD_SF=*/false, Variant<kWindow>, Params<T>>(params, tmp_v, tmp_s,
                                                                /*enable_pdl=*/false, stream);
}

using Element = std::conditional_t<RIBBON_FI_BF16 != 0, nv_bfloat16, half>;
constexpr uint32_t kHeadDim = RIBBON_FI_HEAD_DIM;
constexpr bool kWindow = RIBBON_FI_WINDOW != 0;

template cudaError_t Launch<Element, kHeadDim, kWindow, 16>(const Params<Element>&, Element*,
                                                            float*, cudaStream_t);
template cudaError_t Launch<Element, kHeadDim, kWindow, 64>(const Params<Element>&, Element*,
                                                            float*, cudaStream_t);
template cudaError_t Launch<Element, kHeadDim, kWindow, 128>(const Params<Element>&, Element*,
                                                             float*, cudaStream_t);

}  // namespace ribbon::kernels::flashinfer_detail
