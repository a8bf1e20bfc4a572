#include "core/model/cuda/device_sampler.h"

#include <ATen/ops/empty.h>

#include <algorithm>

#include "core/common/status_macros.h"
#include "core/model/cuda/torch_status.h"
#include "kernels/cuda/sampling.h"

namespace ribbon::gpu {
namespace {

int64_t Align16(int64_t bytes) { return (bytes + 15) / 16 * 16; }

at::Tensor Bytes(int64_t bytes, const at::TensorOptions& options) {
  return at::empty({bytes}, options.dtype(at::kByte));
}

}  // namespace

bool DeviceSamplable(const RowSampling& row) {
  const SamplingParams& p = row.params;
  return !p.uses_penalties() && !p.logprobs && p.top_logprobs == 0;
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

void DeviceSampler::Reserve(int64_t bytes, int64_t rows, const at::Device& device) {
  if (!host_staging_.defined() || host_staging_.numel() < bytes) {
    const int64_t capacity =
        std::max<int64_t>(bytes, 2 * (host_staging_.defined() ? host_staging_.numel() : 0));
    host_staging_ = Bytes(capacity, at::TensorOptions().pinned_memory(true));
    device_staging_ = Bytes(capacity, at::TensorOptions().device(device));
  }
  if (!host_tokens_.defined() || host_tokens_.numel() < rows) {
    const int64_t capacity =
        std::max<int64_t>(rows, 2 * (host_tokens_.defined() ? host_tokens_.numel() : 0));
    host_tokens_ = at::empty({capacity}, at::TensorOptions().dtype(at::kInt).pinned_memory(true));
    device_tokens_ = at::empty({capacity}, at::TensorOptions().dtype(at::kInt).device(device));
  }
}

// The previous Sample waited for its copies, so the pinned staging buffer is free.
DeviceSampler::Layout DeviceSampler::Stage(const StepPlan& plan, const at::Device& device) {
  const auto rows = static_cast<int64_t>(plan.sample_rows.size());
  Layout layout;
  for (const RowSampling& row : plan.sampling) {
    layout.num_edits += static_cast<int64_t>(row.banned.size() + row.params.logit_bias.size());
  }
  layout.row_begin = Align16(rows * static_cast<int64_t>(sizeof(kernels::DeviceSamplingParams)));
  layout.edits = Align16(layout.row_begin + (rows + 1) * static_cast<int64_t>(sizeof(int32_t)));
  layout.bytes = layout.edits + layout.num_edits * static_cast<int64_t>(sizeof(kernels::LogitEdit));
  Reserve(layout.bytes, rows, device);
  auto* base = static_cast<char*>(host_staging_.data_ptr());
  auto* params = reinterpret_cast<kernels::DeviceSamplingParams*>(base);
  auto* row_begin = reinterpret_cast<int32_t*>(base + layout.row_begin);
  auto* edits = reinterpret_cast<kernels::LogitEdit*>(base + layout.edits);
  int32_t e = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const RowSampling& row = plan.sampling[i];
    params[i] = ToDeviceParams(row);
    row_begin[i] = e;
    // The host sampler's order (core/sampling/step_sampler.h): bans, then biases.
    for (int32_t token : row.banned) edits[e++] = {token, 0.0f, 1};
    for (const auto& [token, bias] : row.params.logit_bias) edits[e++] = {token, bias, 0};
  }
  row_begin[rows] = e;
  return layout;
}

absl::Status DeviceSampler::Sample(const StepPlan& plan, at::Tensor& logits,
                                   c10::cuda::CUDAStream stream, StepOutput& out) {
  const auto rows = static_cast<int32_t>(plan.sample_rows.size());
  out.sampled.assign(rows, SampledToken{});
  out.sample_seconds = 0;
  if (rows == 0) return absl::OkStatus();
  const Layout layout = Stage(plan, logits.device());
  const auto* device_base = static_cast<const char*>(device_staging_.data_ptr());
  start_.record(stream);
  RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(device_staging_.data_ptr(), host_staging_.data_ptr(),
                                             layout.bytes, cudaMemcpyHostToDevice, stream.stream()),
                             "sampling parameters upload"));
  const auto vocab = static_cast<int32_t>(logits.size(1));
  if (layout.num_edits > 0) {
    kernels::LogitEditsArgs edits;
    edits.logits = logits.data_ptr<float>();
    edits.row_stride = logits.stride(0);
    edits.rows = rows;
    edits.vocab = vocab;
    edits.row_begin = reinterpret_cast<const int32_t*>(device_base + layout.row_begin);
    edits.edits = reinterpret_cast<const kernels::LogitEdit*>(device_base + layout.edits);
    RETURN_IF_ERROR(
        CudaStatus(kernels::ApplyLogitEdits(edits, stream.stream()), "logit bans and biases"));
  }
  kernels::SampleRowsArgs args;
  args.logits = logits.data_ptr<float>();
  args.row_stride = logits.stride(0);
  args.rows = rows;
  args.vocab = vocab;
  args.params = reinterpret_cast<const kernels::DeviceSamplingParams*>(device_base);
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
