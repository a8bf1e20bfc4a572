// DeviceSampler: samples a step's rows on the GPU from their float32 logits there
// (kernels/cuda/sampling.h), so that only the token ids come back to the host. It covers the
// rows the device kernel reproduces exactly (DeviceSamplable: greedy, temperature, top-k, top-p,
// min-p, seeded); a step with any other row (penalties, logit bias, banned stop tokens, logprobs)
// is sampled on the host by the caller (LlamaCudaRunner falls back to HostSamplingRunner).
// Private to core/model/cuda (includes ATen).
//
// Ownership: owns pinned host and device buffers for the rows' parameters and tokens, grown to
// the largest step seen. Threads: the runner's thread (the engine thread).
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
  // device, contiguous rows; overwritten: the kernel samples in place) and waits for the ids.
  // out.sampled gets one token per sample row (logprob 0, no top list: DeviceSamplable rows ask
  // for none); out.sample_seconds the GPU time of the parameter upload, kernel and id copy.
  // Requires DeviceSamplesStep(plan).
  absl::Status Sample(const StepPlan& plan, at::Tensor& logits, c10::cuda::CUDAStream stream,
                      StepOutput& out);

 private:
  void Reserve(int64_t rows, const at::Device& device);

  int64_t capacity_ = 0;
  at::Tensor host_params_, device_params_;  // DeviceSamplingParams [capacity_], as bytes
  at::Tensor host_tokens_, device_tokens_;  // int32 [capacity_]
  at::cuda::CUDAEvent start_{cudaEventDefault}, stop_{cudaEventDefault};  // timing enabled
};

}  // namespace ribbon::gpu
