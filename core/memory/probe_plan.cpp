#include "core/memory/probe_plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/plan/plan_builder.h"

namespace ribbon::memory {
namespace {

int32_t CeilDiv(int32_t a, int32_t b) { return (a + b - 1) / b; }

// Rows of sequence `s` of `n`: full contexts first, the remainder last.
int32_t SequenceRows(int32_t s, int32_t n, int32_t rows, int32_t context) {
  return s + 1 < n ? context : rows - (n - 1) * context;
}

}  // namespace

int32_t ProbeSequences(int32_t rows, int32_t context_tokens) {
  return CeilDiv(std::max(rows, 1), std::max(context_tokens, 1));
}

int32_t ProbeKvBlocks(int32_t rows, const ProbePlanOptions& options) {
  const int32_t per_sequence = CeilDiv(options.context_tokens, options.block_size);
  return ProbeSequences(rows, options.context_tokens) * per_sequence;
}

int32_t ProbeSampleRows(int32_t rows, const ProbePlanOptions& options) {
  return std::clamp(options.max_sample_rows, 1, std::max(rows, 1));
}

absl::Status BuildProbePlan(int32_t rows, const ProbePlanOptions& options, BlockManager& blocks,
                            StepPlan& plan) {
  if (rows <= 0 || options.context_tokens <= 0 || options.block_size != blocks.block_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe plan: rows ", rows, ", context ", options.context_tokens,
                     ", block size ", options.block_size, " (manager ", blocks.block_size(), ")"));
  }
  const int32_t context = options.context_tokens;
  const int32_t n = ProbeSequences(rows, context);
  int32_t samples_left = ProbeSampleRows(rows, options);  // the ribbon's last rows sample
  std::vector<int32_t> seq_rows(n);
  for (int32_t s = 0; s < n; ++s) seq_rows[s] = SequenceRows(s, n, rows, context);
  std::vector<int32_t> seq_samples(n, 0);
  for (int32_t s = n - 1; s >= 0 && samples_left > 0; --s) {
    seq_samples[s] = std::min(samples_left, seq_rows[s]);
    samples_left -= seq_samples[s];
  }
  // Token ids only steer embedding lookups; a fixed non-pad id keeps every row real.
  const std::vector<int32_t> tokens(static_cast<size_t>(std::min(rows, context)), 1);
  PlanBuilder builder(options.block_size, context);
  builder.Reset(plan);
  for (int32_t s = 0; s < n; ++s) {
    RETURN_IF_ERROR(blocks.EnsureCapacity(static_cast<uint64_t>(s), context));
    SegmentSpec spec;
    spec.start = context - seq_rows[s];
    spec.num_tokens = seq_rows[s];
    spec.tokens = std::span<const int32_t>(tokens).subspan(0, seq_rows[s]);
    spec.block_table = blocks.BlockTable(static_cast<uint64_t>(s));
    if (seq_samples[s] > 0) {
      spec.sample = RowSampling{};
      spec.sample_count = seq_samples[s];
    }
    RETURN_IF_ERROR(builder.Add(spec));
  }
  builder.Finish({.align = 1});
  return absl::OkStatus();
}

}  // namespace ribbon::memory
