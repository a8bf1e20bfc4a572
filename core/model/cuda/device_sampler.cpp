#include "core/model/cuda/device_sampler.h"

#include <ATen/ops/empty.h>

#include <algorithm>

#include "core/common/status_macros.h"
#include "core/model/cuda/torch_status.h"
#include "kernels/cuda/sampling.h"

namespace ribbon::gpu {

bool DeviceSamplable(const RowSampling& row) {
  const SamplingParams& p = row.params;
  return !p.uses_penalties() && p.logit_bias.empty() && row.banned.empty() && !p.logprobs &&
         p.top_logprobs == 0;
}

bool DeviceSamplesStep(const StepPlan& plan) {
  return std::all_of(plan.sampling.begin(), plan.sampling.end(), DeviceSamplable);
}

kernels::DeviceSamplingParams ToDeviceParams(const RowSampling& row) {
  kernels::DeviceSamplingParams d;
  d.temperature = row.params.temperature;
  d.top_k = row.params.top_k;
  d.top_p = row.params.top_p;
  d.min_p = row.params.min_p;
  d.seed = row.params.seed;
  d.output_index = row.output_index;
  return d;
}

void DeviceSampler::Reserve(int64_t rows, const at::Device& device) {
  if (rows <= capacity_) return;
  capacity_ = std::max<int64_t>(rows, 2 * capacity_);
  const int64_t param_bytes =
      capacity_ * static_cast<int64_t>(sizeof(kernels::DeviceSamplingParams));
  host_params_ = at::empty({param_bytes}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  device_params_ = at::empty({param_bytes}, at::TensorOptions().dtype(at::kByte).device(device));
  host_tokens_ = at::empty({capacity_}, at::TensorOptions().dtype(at::kInt).pinned_memory(true));
  device_tokens_ = at::empty({capacity_}, at::TensorOptions().dtype(at::kInt).device(device));
}

absl::Status DeviceSampler::Sample(const StepPlan& plan, at::Tensor& logits,
                                   c10::cuda::CUDAStream stream, StepOutput& out) {
  const auto rows = static_cast<int32_t>(plan.sample_rows.size());
  out.sampled.assign(rows, SampledToken{});
  out.sample_seconds = 0;
  if (rows == 0) return absl::OkStatus();
  Reserve(rows, logits.device());
  // Staged while the step before ours may still be running: the previous Sample waited for its
  // copies, so the pinned buffers are free.
  auto* params = static_cast<kernels::DeviceSamplingParams*>(host_params_.data_ptr());
  for (int32_t i = 0; i < rows; ++i) params[i] = ToDeviceParams(plan.sampling[i]);
  start_.record(stream);
  RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(device_params_.data_ptr(), params,
                                             rows * sizeof(kernels::DeviceSamplingParams),
                                             cudaMemcpyHostToDevice, stream.stream()),
                             "sampling parameters upload"));
  kernels::SampleRowsArgs args;
  args.logits = logits.data_ptr<float>();
  args.row_stride = logits.stride(0);
  args.rows = rows;
  args.vocab = static_cast<int32_t>(logits.size(1));
  args.params = static_cast<const kernels::DeviceSamplingParams*>(device_params_.data_ptr());
  args.tokens = device_tokens_.data_ptr<int32_t>();
  args.workspace = logits.data_ptr<float>();  // in place: the logits are not needed afterwards
  RETURN_IF_ERROR(CudaStatus(kernels::SampleRows(args, stream.stream()), "device sampling"));
  RETURN_IF_ERROR(CudaStatus(
      cudaMemcpyAsync(host_tokens_.data_ptr<int32_t>(), device_tokens_.data_ptr<int32_t>(),
                      rows * sizeof(int32_t), cudaMemcpyDeviceToHost, stream.stream()),
      "sampled ids copy"));
  stop_.record(stream);
  stop_.synchronize();
  const int32_t* tokens = host_tokens_.data_ptr<int32_t>();
  for (int32_t i = 0; i < rows; ++i) out.sampled[i].token = tokens[i];
  out.sample_seconds = start_.elapsed_time(stop_) / 1000.0;
  return absl::OkStatus();
}

}  // namespace ribbon::gpu
