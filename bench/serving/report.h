// ribbon-bench's figures, computed from the per-request records of the measured phase.
//
// Contract (definitions as in vLLM's and SGLang's serving benchmarks, so figures compare):
//   - duration: first send to last completion of the measured requests (warm-up excluded).
//   - TTFT: first token chunk - send. E2E: end of stream - send. TPOT per request:
//     (E2E - TTFT) / (tokens - 1), for requests with more than one token. ITL: the gap between
//     consecutive token chunks, one sample per gap, over all requests.
//   - Each latency: mean, p50, p90, p99 (linear interpolation between order statistics), ms.
//   - Goodput: requests/s that met both limits (TTFT <= ttft_ms, TPOT <= tpot_ms; a limit <= 0
//     is off).
//   - Token check, per request: tokens counted in the stream == usage.generated tokens ==
//     max_new_tokens (when EOS is ignored), and usage.prompt tokens == the prompt sent. Every
//     mismatch is counted and the first few are listed.
#ifndef RIBBON_BENCH_SERVING_REPORT_H_
#define RIBBON_BENCH_SERVING_REPORT_H_

#include <nlohmann/json.hpp>
#include <vector>

#include "bench/serving/client.h"

namespace ribbon::bench {

struct ReportOptions {
  double goodput_ttft_ms = 0;
  double goodput_tpot_ms = 0;
  bool expect_exact_length = true;  // EOS ignored: every request yields max_new_tokens
};

struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
  size_t count = 0;
};

Percentiles Summarize(std::vector<double> values);

// The figures as JSON (see the contract); `client_cpu_s` is the bench's own CPU time over the
// measured phase.
nlohmann::json BuildReport(const std::vector<RequestRecord>& records, const ReportOptions& options,
                           double client_cpu_s);

}  // namespace ribbon::bench

#endif  // RIBBON_BENCH_SERVING_REPORT_H_
