#include "core/engine/plan_builder.h"

#include <algorithm>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace ribbon {
RowSampling SamplingFor(const Sequence& seq, int32_t pending, std::span<const int32_t> eos_ids) {
  RowSampling rs;
  rs.params = seq.request.sampling;
  rs.output_index = static_cast<uint64_t>(seq.generated() + pending);
  rs.banned = BannedTokens(seq.request.stop, eos_ids, seq.generated() + pending);
  if (rs.params.uses_penalties()) {
    rs.history = seq.tokens;
    rs.history_prompt_len = seq.prompt_len;
    rs.append_row_token = pending > 0;
  }
  return rs;
}

absl::Status BuildStepPlan(const PlanInputs& in, const BlockManager& blocks, PlanBuilder& builder,
                           StepPlan& plan, PlanSequences& out) {
  builder.Reset(plan);
  out.samplers.clear();
  std::unordered_map<const Sequence*, int32_t> previous_index;
  for (size_t i = 0; i < in.previous_samplers.size(); ++i)
    previous_index.emplace(in.previous_samplers[i], static_cast<int32_t>(i));
  for (const sched::ScheduledChunk& chunk : in.chunks) {
    Sequence& seq = *in.find(chunk.id);
    const int32_t known = static_cast<int32_t>(seq.tokens.size());
    const int32_t start = seq.num_computed;
    SegmentSpec spec;
    spec.start = start;
    spec.num_tokens = chunk.num_tokens;
    spec.pad_rows = std::max(0, chunk.padded_tokens - chunk.num_tokens);
    spec.tokens =
        std::span<const int32_t>(seq.tokens)
            .subspan(std::min(start, known), std::clamp(known - start, 0, chunk.num_tokens));
    spec.block_table = blocks.BlockTable(seq.id);
    spec.write_kv = !seq.finished();
    if (auto it = previous_index.find(&seq); it != previous_index.end())
      spec.link_source = it->second;
    const int32_t pending = std::max(0, start + chunk.num_tokens - known);
    if (!seq.finished() && start + chunk.num_tokens == seq.known_tokens()) {
      spec.sample = SamplingFor(seq, pending, in.eos_token_ids);
      out.samplers.push_back(&seq);
    }
    if (absl::Status added = builder.Add(spec); !added.ok()) {
      return absl::InternalError(
          absl::StrCat("laying out sequence ", seq.id, ": ", added.message()));
    }
  }
  builder.Finish({.align = 1, .min_rows = in.ribbon_rows});
  return absl::OkStatus();
}

}  // namespace ribbon
