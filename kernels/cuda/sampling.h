// The device sampler: one token per row of float32 logits, drawn on the GPU exactly as the host
// sampler (core/sampling/sampler.h) draws it for rows without penalties, logit bias, banned
// tokens or logprobs: greedy (first index of the max), temperature, top-k, top-p, min-p and one
// Philox draw keyed by (seed, output index); ApplyLogitEdits does the bans and logit_bias before
// it. The algorithm and what "exactly" means are in
// kernels/cuda/sampling_row.h; the GPU test tests/kernels/cuda_sampling_test.cpp compares the
// two samplers token for token.
//
// Framework-free: raw device pointers and a cudaStream_t in, cudaError_t out (the launch's error;
// execution errors surface at the next synchronisation). Nothing here allocates.
// Threads: any host thread; calls on one stream run in order.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/sampling_row.h"

namespace ribbon::kernels {

struct SampleRowsArgs {
  const float* logits = nullptr;                 // row r at logits + r * row_stride, [vocab]
  int64_t row_stride = 0;                        // elements, >= vocab
  int32_t rows = 0;                              // >= 0; 0 launches nothing
  int32_t vocab = 0;                             // > 0
  const DeviceSamplingParams* params = nullptr;  // [rows], device memory
  int32_t* tokens = nullptr;                     // [rows], device memory: the sampled ids
  // SampleRowsWorkspaceBytes(rows, row_stride), rows row_stride apart like the logits. May be
  // the logits themselves: a row's logits are read only before its workspace row is written,
  // so sampling in place needs no memory but leaves the logits overwritten.
  float* workspace = nullptr;
};

// The host sampler's changes to a row's logits before it samples (core/sampling/step_sampler.h):
// banned tokens set to -inf, then logit_bias added, in the order given. Edits of row r are
// edits[row_begin[r], row_begin[r + 1]); tokens outside [0, vocab) are ignored.
struct LogitEdit {
  int32_t token = 0;
  float bias = 0.0f;  // added, unless `ban`
  int32_t ban = 0;    // nonzero: the logit becomes -inf
};
struct LogitEditsArgs {
  float* logits = nullptr;  // row r at logits + r * row_stride, [vocab]; edited in place
  int64_t row_stride = 0;
  int32_t rows = 0;
  int32_t vocab = 0;
  const int32_t* row_begin = nullptr;  // [rows + 1], device memory
  const LogitEdit* edits = nullptr;    // [row_begin[rows]], device memory
};
// One thread per row applies its edits in order, each addition rounded as on the host.
cudaError_t ApplyLogitEdits(const LogitEditsArgs& args, cudaStream_t stream);

// Bytes of device workspace SampleRows needs (one float per logit, padding included).
size_t SampleRowsWorkspaceBytes(int32_t rows, int64_t row_stride);

// Samples every row on `stream`; cudaErrorInvalidValue for a bad argument.
cudaError_t SampleRows(const SampleRowsArgs& args, cudaStream_t stream);

}  // namespace ribbon::kernels
