#include "core/memory/step_budget.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"
#include "core/memory/probe_runner.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::memory {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

absl::Status Validate(const StepBudgetOptions& o) {
  if (o.align < 1 || o.min_tokens < 1 || o.max_tokens < o.min_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("step budget: need 1 <= min_tokens (",
                                                   o.min_tokens, ") <= max_tokens (", o.max_tokens,
                                                   ") and align >= 1"));
  }
  if (o.repeats < 1 || o.prompt_tokens < 1 || o.tolerance < 0 || o.tolerance >= 1) {
    return absl::InvalidArgumentError(
        "step budget: repeats and prompt_tokens must be positive, tolerance in [0, 1)");
  }
  return absl::OkStatus();
}

// The sizes to time: doubling from min_tokens, then max_tokens itself.
std::vector<int32_t> Sizes(const StepBudgetOptions& o) {
  const int32_t top = std::max(sched::AlignDown(o.max_tokens, o.align), o.align);
  std::vector<int32_t> sizes;
  for (int64_t n = sched::AlignUp(o.min_tokens, o.align); n < top; n *= 2) {
    sizes.push_back(static_cast<int32_t>(sched::AlignUp(static_cast<int32_t>(n), o.align)));
  }
  sizes.push_back(top);
  return sizes;
}

absl::StatusOr<StepTiming> TimeSize(ProbePassRunner& passes, int32_t tokens, int32_t repeats) {
  RETURN_IF_ERROR(passes.PrepareKv(tokens));
  RETURN_IF_ERROR(passes.Run(tokens));  // warm-up: first-use allocations, caches
  StepTiming timing{.tokens = tokens, .seconds = 0};
  for (int i = 0; i < repeats; ++i) {
    const double start = Now();
    RETURN_IF_ERROR(passes.Run(tokens));
    const double took = Now() - start;
    timing.seconds = i == 0 ? took : std::min(timing.seconds, took);
  }
  return timing;
}

}  // namespace

int32_t ChooseStepBudget(std::span<const StepTiming> curve, double tolerance) {
  double best = 0;
  for (const StepTiming& t : curve) best = std::max(best, t.tokens_per_second());
  int32_t chosen = 0;
  for (const StepTiming& t : curve) {
    if (t.tokens_per_second() >= (1 - tolerance) * best && (chosen == 0 || t.tokens < chosen)) {
      chosen = t.tokens;
    }
  }
  return chosen;
}

absl::StatusOr<StepBudgetReport> MeasureStepBudget(ModelRunner& runner,
                                                   const StepBudgetOptions& options) {
  RETURN_IF_ERROR(Validate(options));
  const double started = Now();
  ProbePlanOptions plan;
  plan.context_tokens = static_cast<int32_t>(
      std::min<int64_t>(options.prompt_tokens, runner.config().max_position_embeddings));
  plan.block_size = options.block_size;
  plan.max_sample_rows = options.max_sample_rows;
  ProbePassRunner passes(runner, plan, options.cancelled);
  StepBudgetReport report;
  int flat = 0;  // doublings in a row that gained less than the tolerance
  for (const int32_t tokens : Sizes(options)) {
    absl::StatusOr<StepTiming> timing = TimeSize(passes, tokens, options.repeats);
    if (!timing.ok()) {
      passes.ReleaseKv().IgnoreError();  // the runner's error is the one to report
      return timing.status();
    }
    const double best = report.best_tokens_per_second;
    flat = timing->tokens_per_second() < (1 + options.tolerance) * best ? flat + 1 : 0;
    report.best_tokens_per_second = std::max(best, timing->tokens_per_second());
    report.curve.push_back(*timing);
    if (flat >= 2) break;
  }
  RETURN_IF_ERROR(passes.ReleaseKv());
  report.chosen_tokens = ChooseStepBudget(report.curve, options.tolerance);
  report.seconds = Now() - started;
  return report;
}

std::string FormatStepBudget(const StepBudgetReport& report, double tolerance) {
  std::vector<std::string> points;
  for (const StepTiming& t : report.curve) {
    points.push_back(absl::StrFormat("%d: %.0f tok/s", t.tokens, t.tokens_per_second()));
  }
  return absl::StrFormat("%s; chosen %d (within %.0f%% of the best, %.0f tok/s)",
                         absl::StrJoin(points, ", "), report.chosen_tokens, 100 * tolerance,
                         report.best_tokens_per_second);
}

}  // namespace ribbon::memory
