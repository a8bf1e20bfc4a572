#include "bench/serving/report.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace ribbon::bench {
namespace {

using nlohmann::json;

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

json ToJson(const Percentiles& p) {
  return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"count", p.count}};
}

// Per-request token check; an empty string means the request passed.
std::string CheckTokens(const RequestRecord& r, bool exact) {
  if (!r.usage_seen) return "no usage in the stream";
  if (r.tokens_streamed != r.usage_generated) {
    return absl::StrCat("streamed ", r.tokens_streamed, " tokens, usage says ", r.usage_generated);
  }
  if (r.usage_prompt != r.prompt_sent) {
    return absl::StrCat("sent ", r.prompt_sent, " prompt tokens, usage says ", r.usage_prompt);
  }
  if (exact && r.usage_generated != r.max_new_tokens) {
    return absl::StrCat("asked for ", r.max_new_tokens, " tokens, got ", r.usage_generated);
  }
  return "";
}

}  // namespace

Percentiles Summarize(std::vector<double> values) {
  Percentiles p;
  p.count = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  p.mean = sum / static_cast<double>(values.size());
  p.p50 = Quantile(values, 0.5);
  p.p90 = Quantile(values, 0.9);
  p.p99 = Quantile(values, 0.99);
  return p;
}

json BuildReport(const std::vector<RequestRecord>& records, const ReportOptions& options,
                 double client_cpu_s) {
  std::vector<double> ttft, tpot, itl, e2e;
  double first = std::numeric_limits<double>::max(), last = 0;
  long prompt_tokens = 0, output_tokens = 0;
  int failed = 0, good = 0, mismatches = 0;
  json errors = json::array(), mismatch_list = json::array();
  for (const RequestRecord& r : records) {
    first = std::min(first, r.sent);
    last = std::max(last, r.done);
    if (!r.ok) {
      ++failed;
      if (errors.size() < 5) errors.push_back(r.error);
      continue;
    }
    if (const std::string bad = CheckTokens(r, options.expect_exact_length); !bad.empty()) {
      ++mismatches;
      if (mismatch_list.size() < 5) mismatch_list.push_back(bad);
    }
    prompt_tokens += r.usage_seen ? r.usage_prompt : r.prompt_sent;
    output_tokens += r.tokens_streamed;
    if (r.chunks.empty()) continue;
    const double t_first = (r.chunks.front().at - r.sent) * 1e3;
    const double t_e2e = (r.done - r.sent) * 1e3;
    ttft.push_back(t_first);
    e2e.push_back(t_e2e);
    double t_pot = 0;
    if (r.tokens_streamed > 1) {
      t_pot = (r.chunks.back().at - r.chunks.front().at) * 1e3 / (r.tokens_streamed - 1);
      tpot.push_back(t_pot);
    }
    for (size_t i = 1; i < r.chunks.size(); ++i) {
      itl.push_back((r.chunks[i].at - r.chunks[i - 1].at) * 1e3);
    }
    const bool ttft_ok = options.goodput_ttft_ms <= 0 || t_first <= options.goodput_ttft_ms;
    const bool tpot_ok = options.goodput_tpot_ms <= 0 || t_pot <= options.goodput_tpot_ms;
    good += (ttft_ok && tpot_ok) ? 1 : 0;
  }
  const double duration = records.empty() ? 0 : last - first;
  const double per_s = duration > 0 ? 1.0 / duration : 0;
  const int completed = static_cast<int>(records.size()) - failed;
  return json{
      {"requests", records.size()},
      {"completed", completed},
      {"failed", failed},
      {"errors", errors},
      {"duration_s", duration},
      {"request_throughput", completed * per_s},
      {"input_tok_s", static_cast<double>(prompt_tokens) * per_s},
      {"output_tok_s", static_cast<double>(output_tokens) * per_s},
      {"total_tok_s", static_cast<double>(prompt_tokens + output_tokens) * per_s},
      {"prompt_tokens", prompt_tokens},
      {"output_tokens", output_tokens},
      {"ttft_ms", ToJson(Summarize(ttft))},
      {"tpot_ms", ToJson(Summarize(tpot))},
      {"itl_ms", ToJson(Summarize(itl))},
      {"e2e_ms", ToJson(Summarize(e2e))},
      {"goodput",
       {{"ttft_limit_ms", options.goodput_ttft_ms},
        {"tpot_limit_ms", options.goodput_tpot_ms},
        {"requests_met", good},
        {"request_throughput", good * per_s}}},
      {"token_check",
       {{"requests_checked", completed},
        {"mismatches", mismatches},
        {"first_mismatches", mismatch_list}}},
      {"client",
       {{"cpu_s", client_cpu_s},
        {"cpu_ms_per_request", completed > 0 ? client_cpu_s * 1e3 / completed : 0},
        {"cpu_share_of_duration", duration > 0 ? client_cpu_s / duration : 0}}},
  };
}

}  // namespace ribbon::bench
