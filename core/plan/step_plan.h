// StepPlan: everything one forward step over a ribbon needs, built once per step by the engine
// from the scheduler's decision and read (never modified) by every layer and kernel.
//
// A ribbon lays the query tokens of many sequences end to end, with no padding between them:
// sequence s owns rows [cu_seqlens[s], cu_seqlens[s+1]). Rows past cu_seqlens[num_seqs] (up to
// num_rows) are alignment padding for GPU tiles: they attend to nothing, write no KV and are
// never sampled, so a runner may skip them (the CPU runner does).
// In padded batching mode a sequence's segment may end with pad rows (token kPadToken) that do
// attend and write KV, exactly as a rectangular [B, Lmax] batch would.
//
// Ownership: plain values; the engine owns the plan and keeps it alive for the whole step.
// Threads: built on the engine (or packing) thread, then read-only.
#pragma once

#include <cstdint>
#include <vector>

namespace ribbon {

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

  // Rows whose logits are needed, in output order (one per sequence that samples this step).
  std::vector<int32_t> sample_rows;

  // Rows that carry a real token of some sequence (excludes alignment and padded-mode pads).
  int32_t real_tokens = 0;

  static constexpr int32_t kPadToken = 0;
};

}  // namespace ribbon
