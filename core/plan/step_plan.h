// StepPlan: everything one forward step over a ribbon needs, built once per step by one builder
// (core/plan/plan_builder.h) and read, never modified, by every layer, kernel and the sampler.
//
// A ribbon lays the query tokens of many sequences end to end, with no padding between them:
// sequence s owns rows [cu_seqlens[s], cu_seqlens[s+1]). Rows past cu_seqlens[num_seqs] (up to
// num_rows) are alignment padding for GPU tiles: they attend to nothing, write no KV and are
// never sampled, so a runner may skip them (the CPU runner does).
// In padded batching mode a sequence's segment may end with pad rows (token kPadToken) that do
// attend and write KV, exactly as a rectangular [B, Lmax] batch would.
//
// Pipelining: a row listed in `linked_rows` takes its token id from the tokens the previous step
// sampled (that step's output number `source`), not from token_ids (which holds kPadToken there).
// The runner resolves the link when it runs the step; the plan itself never changes.
//
// Ownership: plain values; the engine owns the plan and keeps it alive for the whole step.
// Threads: built on the engine thread (or a tool's), then read-only.
#pragma once

#include <cstdint>
#include <vector>

#include "core/sampling/sampling_params.h"

namespace ribbon {

// Everything the sampler needs for one sample row, fixed when the plan is built.
struct RowSampling {
  SamplingParams params;
  // Index of the token being drawn among the sequence's generated tokens: the Philox counter.
  uint64_t output_index = 0;
  // Tokens whose logits are set to -inf before sampling (stop tokens before min_new_tokens).
  std::vector<int32_t> banned;
  // Penalty history, filled only when params use a penalty: the prompt (history_prompt_len
  // tokens) followed by the generated tokens known when the plan was built.
  std::vector<int32_t> history;
  int32_t history_prompt_len = 0;
  // The sample row's own token (a linked one) is the newest generated token and is not in
  // `history` yet: the sampler appends it.
  bool append_row_token = false;
};

struct LinkedRow {
  int32_t row = 0;     // row of this plan
  int32_t source = 0;  // index of the token among the previous step's sampled outputs
};

struct StepPlan {
  // Query rows, including alignment padding: num_rows >= cu_seqlens.back(), num_rows % align == 0.
  int32_t num_rows = 0;
  int32_t num_seqs = 0;

  // Per row (size num_rows).
  std::vector<int32_t> token_ids;
  std::vector<int32_t> positions;     // absolute position of the row's token in its sequence
  std::vector<int32_t> slot_mapping;  // KV cache slot (block * block_size + offset); -1 = no write

  // Per sequence.
  std::vector<int32_t> cu_seqlens;    // size num_seqs + 1; query row offsets
  std::vector<int32_t> kv_lens;       // keys visible to the segment's last row (its position + 1)
  std::vector<int32_t> block_tables;  // num_seqs x max_blocks_per_seq, row-major, unused = 0
  int32_t max_blocks_per_seq = 0;
  int32_t block_size = 16;

  // Rows that sample a token, in output order, each with its sampling inputs (same size).
  std::vector<int32_t> sample_rows;
  std::vector<RowSampling> sampling;

  // Rows whose token is sampled by the step before this one (see above).
  std::vector<LinkedRow> linked_rows;

  // Rows that carry a real token of some sequence (excludes alignment and padded-mode pads).
  int32_t real_tokens = 0;

  static constexpr int32_t kPadToken = 0;
};

}  // namespace ribbon
