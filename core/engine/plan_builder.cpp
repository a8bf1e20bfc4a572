#include "core/engine/plan_builder.h"

#include <algorithm>

namespace ribbon {
namespace {

void Clear(StepPlan& plan) {
  plan.token_ids.clear();
  plan.positions.clear();
  plan.slot_mapping.clear();
  plan.cu_seqlens.assign(1, 0);
  plan.kv_lens.clear();
  plan.block_tables.clear();
  plan.sample_rows.clear();
  plan.real_tokens = 0;
}

void AppendRows(Sequence& seq, const sched::ScheduledChunk& chunk, int32_t max_position,
                const BlockManager& blocks, StepPlan& plan, PlanSequences& out) {
  const int32_t start = seq.num_computed;
  const int32_t rows = std::max(chunk.num_tokens, chunk.padded_tokens);
  const int32_t known = static_cast<int32_t>(seq.tokens.size());
  for (int32_t j = 0; j < rows; ++j) {
    const int32_t pos = start + j;
    const bool real = j < chunk.num_tokens;
    const bool fits = pos < max_position;
    if (real && pos >= known)
      out.pending_rows.emplace_back(static_cast<int32_t>(plan.token_ids.size()), &seq);
    plan.token_ids.push_back(real && pos < known ? seq.tokens[pos] : StepPlan::kPadToken);
    plan.positions.push_back(fits ? pos : max_position - 1);
    plan.slot_mapping.push_back(fits ? blocks.Slot(seq.id, pos) : -1);
  }
  plan.real_tokens += chunk.num_tokens;
  plan.cu_seqlens.push_back(static_cast<int32_t>(plan.token_ids.size()));
  plan.kv_lens.push_back(std::min(start + rows, max_position));
}

}  // namespace

PlanSequences BuildStepPlan(const PlanInputs& in, const BlockManager& blocks, StepPlan& plan) {
  Clear(plan);
  PlanSequences out;
  int32_t max_blocks = 1;
  for (const auto& chunk : in.chunks)
    max_blocks = std::max(max_blocks, blocks.BlocksHeld(chunk.id));
  plan.num_seqs = static_cast<int32_t>(in.chunks.size());
  plan.max_blocks_per_seq = max_blocks;
  plan.block_size = blocks.block_size();
  plan.block_tables.assign(static_cast<size_t>(plan.num_seqs) * max_blocks, 0);
  for (size_t s = 0; s < in.chunks.size(); ++s) {
    const auto& chunk = in.chunks[s];
    Sequence* seq = in.find(chunk.id);
    const int32_t first_row = static_cast<int32_t>(plan.token_ids.size());
    AppendRows(*seq, chunk, in.max_position, blocks, plan, out);
    const auto table = blocks.BlockTable(seq->id);
    std::copy(table.begin(), table.end(), plan.block_tables.begin() + s * max_blocks);
    if (seq->num_computed + chunk.num_tokens == seq->known_tokens()) {
      plan.sample_rows.push_back(first_row + chunk.num_tokens - 1);
      out.samplers.push_back(seq);
    }
  }
  const int32_t used = static_cast<int32_t>(plan.token_ids.size());
  plan.num_rows = std::max(in.ribbon_rows, used);
  for (int32_t r = used; r < plan.num_rows; ++r) {
    plan.token_ids.push_back(StepPlan::kPadToken);
    plan.positions.push_back(0);
    plan.slot_mapping.push_back(-1);
  }
  return out;
}

}  // namespace ribbon
