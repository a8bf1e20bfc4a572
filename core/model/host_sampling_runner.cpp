#include "core/model/host_sampling_runner.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/sampling/step_sampler.h"

namespace ribbon {

absl::Status HostSamplingRunner::ResolveRowTokens(const StepPlan& plan) {
  if (!HasKvCache()) return absl::FailedPreconditionError("KV cache not allocated");
  RETURN_IF_ERROR(ValidatePlan(plan, Limits()));
  row_tokens_.assign(plan.token_ids.begin(), plan.token_ids.end());
  for (const LinkedRow& link : plan.linked_rows) {
    if (link.source >= static_cast<int32_t>(previous_tokens_.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("StepPlan: row ", link.row, " links to output ", link.source,
                       " of a previous step that sampled ", previous_tokens_.size()));
    }
    row_tokens_[link.row] = previous_tokens_[link.source];
  }
  return absl::OkStatus();
}

absl::Status HostSamplingRunner::RunStep(const StepPlan& plan, StepOutput& out) {
  RETURN_IF_ERROR(ResolveRowTokens(plan));
  ASSIGN_OR_RETURN(const bool sampled, ForwardAndSample(plan, row_tokens_, out));
  if (sampled) return absl::OkStatus();
  const int64_t vocab = config().vocab_size;
  logits_.resize(plan.sample_rows.size() * static_cast<size_t>(vocab));
  RETURN_IF_ERROR(ComputeLogits(plan, row_tokens_, logits_));
  const auto t0 = std::chrono::steady_clock::now();
  SampleStep(plan, logits_, vocab, row_tokens_, out.sampled);
  out.sample_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return absl::OkStatus();
}

absl::Status HostSamplingRunner::Launch(const StepPlan& plan) {
  if (launched_) return absl::FailedPreconditionError("a step is already launched");
  launched_ = true;
  output_.sampled.clear();
  status_ = RunStep(plan, output_);
  previous_tokens_.clear();
  if (status_.ok()) {
    for (const SampledToken& t : output_.sampled) previous_tokens_.push_back(t.token);
  }
  return absl::OkStatus();
}

absl::Status HostSamplingRunner::Collect(StepOutput& out) {
  if (!launched_) return absl::FailedPreconditionError("no step launched");
  launched_ = false;
  out = std::move(output_);
  output_ = StepOutput{};
  return status_;
}

absl::Status HostSamplingRunner::ForwardLogits(const StepPlan& plan, std::span<float> logits) {
  RETURN_IF_ERROR(ResolveRowTokens(plan));
  if (logits.size() < plan.sample_rows.size() * static_cast<size_t>(config().vocab_size))
    return absl::InvalidArgumentError("logits buffer too small");
  return ComputeLogits(plan, row_tokens_, logits);
}

}  // namespace ribbon
