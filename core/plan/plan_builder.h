// PlanBuilder: the one way a StepPlan is made: by the engine, the memory probe, the offline
// drivers, the GPU tests and the benches. Segments in (one per sequence), Finish(...) out.
//
// A segment is the rows one sequence runs this step: `num_tokens` real rows at positions
// start, start + 1, ..., then `pad_rows` padded-mode pad rows (they attend and write KV). Row
// tokens come from `tokens`; a real row past tokens.size() is linked to the previous step's
// output `link_source` (pipelining: only the first unknown row can be, and it must be linked).
// KV slots come from the segment's block table; `write_kv = false` makes every row write none
// (a sequence that finished after it was scheduled). When `sample` is set the last
// `sample_count` real rows sample with those inputs (1: the next token; num_tokens: every row,
// teacher forcing).
//
// Finish lays out the block tables and appends padding: whole padding sequences (one row each,
// writing no KV, never sampled) up to `pad_seqs_to` sequences — a decode batch of a fixed size,
// as CUDA graphs need — then alignment rows up to a multiple of `align` and at least `min_rows`.
//
// Errors: Add returns INVALID_ARGUMENT naming the problem (a row past max_position, a block
// table too short for the rows, an unknown row with no link); the plan is then unusable until
// the next Reset. Ownership: the builder writes into the caller's plan (cleared by Reset) and
// keeps scratch buffers across steps. Threads: one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "core/plan/step_plan.h"

namespace ribbon {

struct SegmentSpec {
  std::span<const int32_t> tokens;  // tokens of the first rows, at positions start, ...
  int32_t start = 0;                // position of the first row; [0, start) is already cached
  int32_t num_tokens = 0;           // real rows
  int32_t pad_rows = 0;             // padded-mode pad rows after the real ones
  std::span<const int32_t> block_table;
  bool write_kv = true;
  int32_t link_source = -1;  // previous step's output that the first unknown row takes
  std::optional<RowSampling> sample;
  int32_t sample_count = 1;
};

struct FinishOptions {
  int32_t align = 1;        // num_rows becomes a multiple of this
  int32_t min_rows = 0;     // and at least this
  int32_t pad_seqs_to = 0;  // padding sequences until num_seqs reaches this
};

class PlanBuilder {
 public:
  // `max_position`: positions must stay below it (the model's context).
  PlanBuilder(int32_t block_size, int32_t max_position);

  // Clears `plan` and starts a new one in it. The plan must outlive Finish.
  void Reset(StepPlan& plan);
  absl::Status Add(const SegmentSpec& segment);
  // Completes the plan; Add may not be called again before Reset.
  void Finish(const FinishOptions& options);

 private:
  void AddRow(int32_t token, int32_t position, int32_t slot);

  int32_t block_size_;
  int32_t max_position_;
  StepPlan* plan_ = nullptr;
  std::vector<int32_t> tables_;       // every segment's block table, end to end
  std::vector<int32_t> table_begin_;  // per segment: offset into tables_ (size num_seqs + 1)
};

}  // namespace ribbon
