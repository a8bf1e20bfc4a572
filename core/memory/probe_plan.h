// The worst-case step the memory probe runs: a ribbon of `rows` query rows laid out so that
// attention reads the most KV it can. One sequence of `rows` tokens ending at the last position
// of the context (every row attends to up to `context_tokens` keys); a ribbon longer than the
// context is split into full-context sequences, the last one ending at the end of the context.
// Up to `max_sample_rows` rows ask for logits: the logits GEMM and buffer of a step in which
// that many sequences sample.
//
// Torch-free; the KV slots and block tables come from a BlockManager the caller owns.
// Threads: plain functions over caller-owned data; any thread.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "core/kv/block_manager.h"
#include "core/plan/step_plan.h"

namespace ribbon::memory {

struct ProbePlanOptions {
  int32_t context_tokens = 0;   // positions per sequence (the model's context length)
  int32_t block_size = 16;      // KV cache block size, as the engine will use it
  int32_t max_sample_rows = 1;  // rows that request logits, at most `rows`
};

// Sequences a worst-case plan of `rows` rows has: ceil(rows / context_tokens).
int32_t ProbeSequences(int32_t rows, int32_t context_tokens);

// KV blocks a worst-case plan of `rows` rows needs: a whole context for each of its sequences.
// Always at least one context and at least `rows` tokens' worth.
int32_t ProbeKvBlocks(int32_t rows, const ProbePlanOptions& options);

// Rows that request logits in a worst-case plan of `rows` rows.
int32_t ProbeSampleRows(int32_t rows, const ProbePlanOptions& options);

// Fills `plan` with the worst-case step over `rows` rows, allocating each sequence's blocks from
// `blocks` (which must have ProbeKvBlocks(rows) free blocks; sequence ids 0..n-1, freed again
// by the caller with blocks.Free or by dropping the manager). INVALID_ARGUMENT for rows <= 0 or
// a non-positive context; RESOURCE_EXHAUSTED when `blocks` is too small.
absl::Status BuildProbePlan(int32_t rows, const ProbePlanOptions& options, BlockManager& blocks,
                            StepPlan& plan);

}  // namespace ribbon::memory
