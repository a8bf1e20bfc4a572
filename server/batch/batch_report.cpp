#include "server/batch/batch_report.h"

#include "absl/strings/str_format.h"

namespace ribbon::batch {

std::string FormatReport(const offline::OfflineReport& r, sched::BatchingMode mode) {
  const double over = r.lower_bound > 0
                          ? 100.0 * static_cast<double>(r.ribbons - r.lower_bound) / r.lower_bound
                          : 0;
  std::string text =
      absl::StrFormat("ribbon-batch: %d requests (%d failed) in %.2f s, %s batching\n", r.requests,
                      r.failed, r.seconds, sched::BatchingModeName(mode));
  const int64_t by_tokens = r.capacity > 0 ? (r.required_tokens + r.capacity - 1) / r.capacity : 0;
  const std::string bound =
      r.lower_bound > by_tokens
          ? absl::StrFormat(
                "lower bound %d: one request's chain of decode steps; ceil(%d tokens / %d per "
                "ribbon) = %d",
                r.lower_bound, r.required_tokens, r.capacity, by_tokens)
          : absl::StrFormat("lower bound %d = ceil(%d tokens / %d per ribbon)", r.lower_bound,
                            r.required_tokens, r.capacity);
  absl::StrAppendFormat(&text, "  ribbons used   %d  (%s; %+.1f %%)\n", r.ribbons, bound, over);
  absl::StrAppendFormat(&text,
                        "  tokens         %d computed (%d prompt, %d generated), %d ribbon rows\n",
                        r.computed_tokens, r.prompt_tokens, r.generated_tokens, r.rows);
  absl::StrAppendFormat(&text, "  throughput     %.1f tok/s computed, %.1f generated tok/s\n",
                        r.computed_tokens_per_second(), r.generated_tokens_per_second());
  absl::StrAppendFormat(&text, "  padding        %.2f %% of rows (%.4f rows per token)\n",
                        100.0 * r.padding_fraction(), r.rows_per_token());
  absl::StrAppendFormat(&text, "  preemptions    %d, out-of-memory retries %d, failed steps %d\n",
                        r.preemptions, r.oom_recoveries, r.step_errors);
  return text;
}

nlohmann::json ReportJson(const offline::OfflineReport& r, sched::BatchingMode mode) {
  return {{"batching", sched::BatchingModeName(mode)},
          {"requests", r.requests},
          {"failed", r.failed},
          {"prompt_tokens", r.prompt_tokens},
          {"generated_tokens", r.generated_tokens},
          {"required_tokens", r.required_tokens},
          {"computed_tokens", r.computed_tokens},
          {"rows", r.rows},
          {"ribbons", r.ribbons},
          {"capacity", r.capacity},
          {"lower_bound", r.lower_bound},
          {"preemptions", r.preemptions},
          {"oom_recoveries", r.oom_recoveries},
          {"step_errors", r.step_errors},
          {"seconds", r.seconds},
          {"computed_tokens_per_second", r.computed_tokens_per_second()},
          {"generated_tokens_per_second", r.generated_tokens_per_second()},
          {"padding_fraction", r.padding_fraction()}};
}

}  // namespace ribbon::batch
