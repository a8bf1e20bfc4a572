#include "core/sampling/step_sampler.h"

#include <limits>

namespace ribbon {
void SampleStep(const StepPlan& plan, std::span<float> logits, int64_t vocab,
                std::span<const int32_t> row_tokens, std::vector<SampledToken>& out) {
  const size_t n = plan.sample_rows.size();
  out.resize(n);
  std::vector<int32_t> history;  // only for penalised rows whose newest token is linked
  for (size_t i = 0; i < n; ++i) {
    const RowSampling& rs = plan.sampling[i];
    std::span<float> row(logits.data() + i * vocab, static_cast<size_t>(vocab));
    for (int32_t id : rs.banned)
      if (id < vocab) row[id] = -std::numeric_limits<float>::infinity();
    for (const auto& [id, bias] : rs.params.logit_bias)
      if (id >= 0 && id < vocab) row[id] += bias;
    SamplingContext context;
    context.output_index = rs.output_index;
    if (rs.params.uses_penalties()) {
      std::span<const int32_t> all(rs.history);
      if (rs.append_row_token) {
        history.assign(rs.history.begin(), rs.history.end());
        history.push_back(row_tokens[plan.sample_rows[i]]);
        all = history;
      }
      const size_t prompt = std::min(all.size(), static_cast<size_t>(rs.history_prompt_len));
      context.prompt = all.subspan(0, prompt);
      context.output = all.subspan(prompt);
    }
    out[i] = SampleToken(row, rs.params, context);
  }
}

}  // namespace ribbon
