// HostSamplingRunner: a ModelRunner whose step is "compute the sample rows' logits, then sample
// them on the host" (core/sampling/step_sampler.h), run to completion inside Launch. The CPU
// runner, the CUDA runner and the test fakes derive from it; the linking of a plan's rows to the
// previous step's output is done here, once. A subclass may sample a step where its logits are
// instead (ForwardAndSample: the CUDA runner on its device).
//
// Subclasses implement ComputeLogits and never throw out of it (wrap libtorch in GuardTorch,
// core/model/torch_guard.h). ForwardLogits exposes the logits to tests and tools only (the
// parity and teacher-forcing tools); the engine never calls it.
// Threads and errors: as ModelRunner.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/model_runner.h"
#include "core/plan/validate_plan.h"

namespace ribbon {

class HostSamplingRunner : public ModelRunner {
 public:
  absl::Status Launch(const StepPlan& plan) final;
  absl::Status Collect(StepOutput& out) final;

  // Runs the model over `plan` and writes float32 logits for plan.sample_rows, row-major
  // [sample_rows.size(), vocab], into `logits`. Linked rows use the previous step's output.
  absl::Status ForwardLogits(const StepPlan& plan, std::span<float> logits);

 protected:
  // What ValidatePlan checks plans against: the current KV cache and the model.
  virtual PlanLimits Limits() const = 0;
  virtual bool HasKvCache() const = 0;
  // The model over `plan` with `row_tokens` (size plan.num_rows, links resolved) in place of
  // plan.token_ids; logits as ForwardLogits. The plan has passed ValidatePlan.
  virtual absl::Status ComputeLogits(const StepPlan& plan, std::span<const int32_t> row_tokens,
                                     std::span<float> logits) = 0;
  // Runs the model over `plan` and samples every sample row itself, filling out.sampled (one per
  // plan.sample_rows, in order) and out.sample_seconds: true. false (the default, and for a plan
  // it does not cover) has the step run as ComputeLogits, then sampling on the host. Arguments
  // as ComputeLogits; never throws.
  virtual absl::StatusOr<bool> ForwardAndSample(const StepPlan& plan,
                                                std::span<const int32_t> row_tokens,
                                                StepOutput& out) {
    return false;
  }
  // Subclasses call this when their KV cache is replaced or released: links cannot reach a
  // step that ran over another cache.
  void ForgetPreviousStep() { previous_tokens_.clear(); }

 private:
  absl::Status RunStep(const StepPlan& plan, StepOutput& out);
  absl::Status ResolveRowTokens(const StepPlan& plan);

  bool launched_ = false;
  absl::Status status_;
  StepOutput output_;
  std::vector<int32_t> previous_tokens_;  // the last collected step's sampled tokens
  std::vector<int32_t> row_tokens_;
  std::vector<float> logits_;
};

}  // namespace ribbon
