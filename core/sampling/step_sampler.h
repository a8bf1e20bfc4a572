// SampleStep: draws every token a step samples, on the host, from the step's logits and the
// sampling inputs its plan carries (StepPlan::sampling). Shared by the runners that sample on the
// host (the CPU runner; the CUDA runner for rows its device sampler does not cover).
//
// Per sample row, in order: banned tokens to -inf, logit_bias added, then SampleToken
// (core/sampling/sampler.h: penalties over RowSampling::history, temperature, filters, one
// Philox draw keyed by (seed, output_index)). Raw logprobs therefore see the ban and the bias.
//
// Threads: any; rows are independent. Allocates only the outputs' top-logprob lists.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/plan/step_plan.h"
#include "core/sampling/sampler.h"

namespace ribbon {

// `logits`: [plan.sample_rows.size(), vocab] row-major, scratch (overwritten).
// `row_tokens`: the token id each plan row actually ran with (links resolved), size num_rows.
// `out` is resized to one SampledToken per sample row.
void SampleStep(const StepPlan& plan, std::span<float> logits, int64_t vocab,
                std::span<const int32_t> row_tokens, std::vector<SampledToken>& out);

}  // namespace ribbon
