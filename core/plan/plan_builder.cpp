#include "core/plan/plan_builder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ribbon {

PlanBuilder::PlanBuilder(int32_t block_size, int32_t max_position)
    : block_size_(block_size), max_position_(max_position) {}

void PlanBuilder::Reset(StepPlan& plan) {
  plan_ = &plan;
  plan.num_rows = 0;
  plan.num_seqs = 0;
  plan.token_ids.clear();
  plan.positions.clear();
  plan.slot_mapping.clear();
  plan.cu_seqlens.assign(1, 0);
  plan.kv_lens.clear();
  plan.block_tables.clear();
  plan.max_blocks_per_seq = 0;
  plan.block_size = block_size_;
  plan.sample_rows.clear();
  plan.sampling.clear();
  plan.linked_rows.clear();
  plan.real_tokens = 0;
  tables_.clear();
  table_begin_.assign(1, 0);
}

void PlanBuilder::AddRow(int32_t token, int32_t position, int32_t slot) {
  plan_->token_ids.push_back(token);
  plan_->positions.push_back(position);
  plan_->slot_mapping.push_back(slot);
}

absl::Status PlanBuilder::Add(const SegmentSpec& seg) {
  const int32_t rows = seg.num_tokens + seg.pad_rows;
  const int32_t end = seg.start + rows;
  if (seg.num_tokens < 0 || seg.pad_rows < 0 || seg.start < 0 || rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat("plan segment: start ", seg.start, ", ",
                                                   seg.num_tokens, " tokens, ", seg.pad_rows,
                                                   " pad rows"));
  }
  // Padded-mode pad rows past the context run at its last position and write nothing.
  const int32_t kv_end = std::min(end, max_position_);
  if (seg.start + seg.num_tokens > max_position_) {
    return absl::InvalidArgumentError(absl::StrCat("plan segment: positions up to ",
                                                   seg.start + seg.num_tokens - 1,
                                                   " reach the context (", max_position_, ")"));
  }
  if (static_cast<int64_t>(seg.block_table.size()) * block_size_ < kv_end) {
    return absl::InvalidArgumentError(absl::StrCat("plan segment: a block table of ",
                                                   seg.block_table.size(), " blocks cannot hold ",
                                                   kv_end, " positions"));
  }
  const int32_t known = static_cast<int32_t>(seg.tokens.size());
  if (known < seg.num_tokens && (known + 1 < seg.num_tokens || seg.link_source < 0)) {
    return absl::InvalidArgumentError(absl::StrCat("plan segment: ", seg.num_tokens - known,
                                                   " rows without a token; only one may be "
                                                   "linked to the previous step"));
  }
  const int32_t first_row = static_cast<int32_t>(plan_->token_ids.size());
  for (int32_t j = 0; j < rows; ++j) {
    const int32_t pos = seg.start + j;
    const bool fits = pos < max_position_;
    const int32_t slot = seg.write_kv && fits
                             ? seg.block_table[pos / block_size_] * block_size_ + pos % block_size_
                             : -1;
    const bool real = j < seg.num_tokens;
    if (real && j >= known) plan_->linked_rows.push_back({first_row + j, seg.link_source});
    AddRow(real && j < known ? seg.tokens[j] : StepPlan::kPadToken, fits ? pos : max_position_ - 1,
           slot);
  }
  plan_->real_tokens += seg.num_tokens;
  plan_->cu_seqlens.push_back(first_row + rows);
  plan_->kv_lens.push_back(kv_end);
  ++plan_->num_seqs;
  tables_.insert(tables_.end(), seg.block_table.begin(), seg.block_table.end());
  table_begin_.push_back(static_cast<int32_t>(tables_.size()));
  if (seg.sample && seg.num_tokens > 0) {
    const int32_t from = std::max(0, seg.num_tokens - std::max(1, seg.sample_count));
    for (int32_t j = from; j < seg.num_tokens; ++j) {
      plan_->sample_rows.push_back(first_row + j);
      plan_->sampling.push_back(*seg.sample);
    }
  }
  return absl::OkStatus();
}

void PlanBuilder::Finish(const FinishOptions& options) {
  StepPlan& plan = *plan_;
  while (plan.num_seqs < options.pad_seqs_to) {
    AddRow(StepPlan::kPadToken, 0, -1);
    plan.cu_seqlens.push_back(static_cast<int32_t>(plan.token_ids.size()));
    plan.kv_lens.push_back(1);
    table_begin_.push_back(static_cast<int32_t>(tables_.size()));
    ++plan.num_seqs;
  }
  int32_t max_blocks = 1;
  for (int32_t s = 0; s < plan.num_seqs; ++s)
    max_blocks = std::max(max_blocks, table_begin_[s + 1] - table_begin_[s]);
  plan.max_blocks_per_seq = max_blocks;
  plan.block_tables.assign(static_cast<size_t>(plan.num_seqs) * max_blocks, 0);
  for (int32_t s = 0; s < plan.num_seqs; ++s) {
    std::copy(tables_.begin() + table_begin_[s], tables_.begin() + table_begin_[s + 1],
              plan.block_tables.begin() + static_cast<size_t>(s) * max_blocks);
  }
  const int32_t used = static_cast<int32_t>(plan.token_ids.size());
  const int32_t align = std::max(1, options.align);
  int32_t rows = std::max(used, options.min_rows);
  rows = (rows + align - 1) / align * align;
  for (int32_t r = used; r < rows; ++r) AddRow(StepPlan::kPadToken, 0, -1);
  plan.num_rows = rows;
  plan_ = nullptr;
}

}  // namespace ribbon
