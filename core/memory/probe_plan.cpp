#include "core/memory/probe_plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

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
  const int32_t max_blocks = CeilDiv(context, options.block_size);
  plan = StepPlan{};
  plan.num_rows = rows;
  plan.num_seqs = n;
  plan.block_size = options.block_size;
  plan.max_blocks_per_seq = max_blocks;
  plan.block_tables.assign(static_cast<size_t>(n) * max_blocks, 0);
  plan.cu_seqlens.assign(1, 0);
  plan.token_ids.reserve(rows);
  plan.positions.reserve(rows);
  plan.slot_mapping.reserve(rows);
  for (int32_t s = 0; s < n; ++s) {
    RETURN_IF_ERROR(blocks.EnsureCapacity(static_cast<uint64_t>(s), context));
    const auto table = blocks.BlockTable(static_cast<uint64_t>(s));
    std::copy(table.begin(), table.end(),
              plan.block_tables.begin() + static_cast<size_t>(s) * max_blocks);
    const int32_t seq_rows = SequenceRows(s, n, rows, context);
    for (int32_t pos = context - seq_rows; pos < context; ++pos) {
      // Token ids only steer embedding lookups; a fixed non-pad id keeps every row real.
      plan.token_ids.push_back(1);
      plan.positions.push_back(pos);
      plan.slot_mapping.push_back(blocks.Slot(static_cast<uint64_t>(s), pos));
    }
    plan.cu_seqlens.push_back(static_cast<int32_t>(plan.token_ids.size()));
    plan.kv_lens.push_back(context);
  }
  plan.real_tokens = rows;
  const int32_t samples = ProbeSampleRows(rows, options);
  for (int32_t r = rows - samples; r < rows; ++r) plan.sample_rows.push_back(r);
  return absl::OkStatus();
}

}  // namespace ribbon::memory
