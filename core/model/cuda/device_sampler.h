// DeviceSampler: samples a step's rows on the GPU from their float32 logits there
// (kernels/cuda/sampling.h), so that only the token ids come back to the host. It covers the
// rows the device kernels reproduce exactly (DeviceSamplable: greedy, temperature, top-k, top-p,
// min-p, seeded, with banned stop tokens and logit_bias); a step with any other row (penalties,
// logprobs) is sampled on the host by the caller (LlamaCudaRunner falls back to
// HostSamplingRunner).
// Private to core/model/cuda (includes ATen).
//
// Ownership: owns pinned host and device buffers for the rows' parameters, logit edits and
// tokens, grown to the largest step seen. Threads: the runner's thread (the engine thread).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>

#include "absl/status/status.h"
#include "core/model/model_runner.h"
#include "core/plan/step_plan.h"
#include "kernels/cuda/sampling_row.h"

namespace ribbon::gpu {

// The row uses only what the device kernel covers.
bool DeviceSamplable(const RowSampling& row);
// Every sample row of the plan is DeviceSamplable (true for a plan that samples nothing).
bool DeviceSamplesStep(const StepPlan& plan);
kernels::DeviceSamplingParams ToDeviceParams(const RowSampling& row);

class DeviceSampler {
 public:
  // Samples plan.sample_rows from `logits` (float32 [sample_rows.size(), vocab] on the stream's
  // device, contiguous rows; overwritten: bans and biases, then sampling in place) and waits for
  // the ids. out.sampled gets one token per sample row (logprob 0, no top list: DeviceSamplable
  // rows ask for none); out.sample_seconds the GPU time of the upload, kernels and id copy.
  // Requires DeviceSamplesStep(plan).
  absl::Status Sample(const StepPlan& plan, at::Tensor& logits, c10::cuda::CUDAStream stream,
                      StepOutput& out);

 private:
  // Where each part of a step's upload lies in the staging buffers (byte offsets).
  struct Layout {
    int64_t row_begin = 0;  // int32 [rows + 1]: the rows' edit ranges (params are at 0)
    int64_t edits = 0;      // LogitEdit [num_edits]
    int64_t num_edits = 0;
    int64_t bytes = 0;
  };
  Layout Stage(const StepPlan& plan, const at::Device& device);
  void Reserve(int64_t bytes, int64_t rows, const at::Device& device);

  // One upload per step: DeviceSamplingParams [rows] | row_begin | edits, as bytes.
  at::Tensor host_staging_, device_staging_;
  at::Tensor host_tokens_, device_tokens_;                                // int32 [rows capacity]
  at::cuda::CUDAEvent start_{cudaEventDefault}, stop_{cudaEventDefault};  // timing enabled
};

}  // namespace ribbon::gpu
