#include "kernels/cuda/sampling.h"

namespace ribbon::kernels {
namespace {

using sampling::ArgBest;
using sampling::ScanResult;

// Threads per row: one block samples one row. 512 keeps the ~30 top-p passes over a 128K
// vocabulary short while letting several rows share an SM.
constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFullMask = 0xFFFFFFFFu;

template <typename T>
__device__ T ShflDown(T value, int offset) {
  return __shfl_down_sync(kFullMask, value, offset);
}
__device__ ArgBest ShflDown(ArgBest value, int offset) {
  return {__shfl_down_sync(kFullMask, value.value, offset),
          __shfl_down_sync(kFullMask, value.index, offset)};
}

struct SharedState {
  int32_t histogram[256];
  alignas(16) unsigned char scratch[kWarps * 16];  // per-warp partials, broadcasts
};

// The block interface of sampling_row.h over one CUDA thread block of kThreads threads. Every
// collective starts with a barrier, so the scratch the previous collective's threads are still
// reading is never overwritten. Reductions are trees of fixed shape: the same inputs give the
// same result on every run.
class DeviceBlock {
 public:
  __device__ explicit DeviceBlock(SharedState& shared) : shared_(shared) {}
  __device__ int32_t rank() const { return static_cast<int32_t>(threadIdx.x); }
  __device__ int32_t size() const { return kThreads; }
  __device__ void Sync() { __syncthreads(); }
  __device__ int32_t* Histogram() { return shared_.histogram; }
  __device__ void AtomicAdd(int32_t* slot, int32_t value) { atomicAdd(slot, value); }

  template <typename T>
  __device__ T Broadcast(T value) {
    T* slot = reinterpret_cast<T*>(shared_.scratch);
    __syncthreads();
    if (threadIdx.x == 0) *slot = value;
    __syncthreads();
    return *slot;
  }

  template <typename T, typename Op>
  __device__ T Reduce(T value, Op op) {
    static_assert(sizeof(T) <= 16);
    T* partial = reinterpret_cast<T*>(shared_.scratch);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    value = WarpReduce(value, op, 32);
    __syncthreads();
    if (lane == 0) partial[warp] = value;
    __syncthreads();
    if (warp == 0) {
      value = partial[lane < kWarps ? lane : 0];
      value = WarpReduce(value, op, kWarps);
      if (lane == 0) partial[0] = value;
    }
    __syncthreads();
    return partial[0];
  }

  __device__ ScanResult ExclusiveScan(double value) {
    double* partial = reinterpret_cast<double*>(shared_.scratch);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    double inclusive = WarpInclusiveScan(value);
    double exclusive = __shfl_up_sync(kFullMask, inclusive, 1);
    if (lane == 0) exclusive = 0.0;
    __syncthreads();
    if (lane == 31) partial[warp] = inclusive;
    __syncthreads();
    if (warp == 0) {
      const double total = WarpInclusiveScan(lane < kWarps ? partial[lane] : 0.0);
      if (lane < kWarps) partial[lane] = total;
    }
    __syncthreads();
    const double before = warp > 0 ? partial[warp - 1] : 0.0;
    return {warp > 0 ? __dadd_rn(before, exclusive) : exclusive, partial[kWarps - 1]};
  }

 private:
  // Lane 0 ends with op over lanes [0, width), combined in a fixed tree.
  template <typename T, typename Op>
  __device__ static T WarpReduce(T value, Op op, int width) {
    const int lane = threadIdx.x & 31;
    for (int offset = 16; offset > 0; offset >>= 1) {
      const T other = ShflDown(value, offset);
      if (lane + offset < width) value = op(value, other);
    }
    return value;
  }

  __device__ static double WarpInclusiveScan(double value) {
    const int lane = threadIdx.x & 31;
    for (int offset = 1; offset < 32; offset <<= 1) {
      const double other = __shfl_up_sync(kFullMask, value, offset);
      if (lane >= offset) value = __dadd_rn(other, value);
    }
    return value;
  }

  SharedState& shared_;
};

__global__ void __launch_bounds__(kThreads)
    SampleRowsKernel(const float* logits, int64_t row_stride, int32_t vocab,
                     const DeviceSamplingParams* params, int32_t* tokens, float* workspace) {
  __shared__ SharedState shared;
  DeviceBlock block(shared);
  const int64_t row = blockIdx.x;
  const int32_t token = sampling::SampleRow(block, logits + row * row_stride, vocab, params[row],
                                            workspace + row * row_stride);
  if (threadIdx.x == 0) tokens[row] = token;
}

__global__ void ApplyLogitEditsKernel(float* logits, int64_t row_stride, int32_t rows,
                                      int32_t vocab, const int32_t* row_begin,
                                      const LogitEdit* edits) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= rows) return;
  float* logit = logits + row * row_stride;
  for (int32_t e = row_begin[row]; e < row_begin[row + 1]; ++e) {
    const LogitEdit edit = edits[e];
    if (edit.token < 0 || edit.token >= vocab) continue;
    logit[edit.token] = edit.ban ? sampling::kNegInf : __fadd_rn(logit[edit.token], edit.bias);
  }
}

}  // namespace

cudaError_t ApplyLogitEdits(const LogitEditsArgs& args, cudaStream_t stream) {
  if (args.rows < 0 || args.vocab <= 0 || args.row_stride < args.vocab) {
    return cudaErrorInvalidValue;
  }
  if (args.rows == 0) return cudaSuccess;
  if (!args.logits || !args.row_begin || !args.edits) return cudaErrorInvalidValue;
  constexpr int kRowsPerBlock = 128;
  ApplyLogitEditsKernel<<<(args.rows + kRowsPerBlock - 1) / kRowsPerBlock, kRowsPerBlock, 0,
                          stream>>>(args.logits, args.row_stride, args.rows, args.vocab,
                                    args.row_begin, args.edits);
  return cudaGetLastError();
}

size_t SampleRowsWorkspaceBytes(int32_t rows, int64_t row_stride) {
  if (rows <= 0 || row_stride <= 0) return 0;
  return static_cast<size_t>(rows) * static_cast<size_t>(row_stride) * sizeof(float);
}

cudaError_t SampleRows(const SampleRowsArgs& args, cudaStream_t stream) {
  if (args.rows < 0 || args.vocab <= 0 || args.row_stride < args.vocab) {
    return cudaErrorInvalidValue;
  }
  if (args.rows == 0) return cudaSuccess;
  if (!args.logits || !args.params || !args.tokens || !args.workspace) return cudaErrorInvalidValue;
  SampleRowsKernel<<<args.rows, kThreads, 0, stream>>>(args.logits, args.row_stride, args.vocab,
                                                       args.params, args.tokens, args.workspace);
  return cudaGetLastError();
}

}  // namespace ribbon::kernels
