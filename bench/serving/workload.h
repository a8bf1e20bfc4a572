// Workloads of ribbon-bench: the requests a run sends, made deterministically from a seed.
//
// Contract:
//   - ParseLengthSpec reads "fixed:N", "uniform:LO:HI" or "lognormal:MEDIAN:SIGMA[:LO:HI]"
//     (ShareGPT-like lengths: a lognormal around MEDIAN, clipped to [LO, HI]); a bad spec is
//     InvalidArgument naming `field`.
//   - MakeWorkload draws every request's prompt (random token ids in [token_lo, vocab)), its
//     output length and, for an open loop (rate > 0), its arrival time: gamma-distributed gaps
//     with mean 1/rate and shape `burstiness` (1 = Poisson; < 1 burstier). rate <= 0 means every
//     request is due at time 0 (closed loop ignores arrival times). Same seed -> same workload.
#ifndef RIBBON_BENCH_SERVING_WORKLOAD_H_
#define RIBBON_BENCH_SERVING_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon::bench {

struct LengthSpec {
  enum class Kind { kFixed, kUniform, kLognormal };
  Kind kind = Kind::kFixed;
  double a = 0;  // fixed: N; uniform: LO; lognormal: MEDIAN
  double b = 0;  // uniform: HI; lognormal: SIGMA
  int lo = 1;    // clip range (all kinds)
  int hi = 1 << 20;
};

absl::StatusOr<LengthSpec> ParseLengthSpec(const std::string& text, const std::string& field);
std::string DescribeLengthSpec(const LengthSpec& spec);

struct BenchRequest {
  std::vector<int32_t> prompt;
  int max_new_tokens = 0;
  double arrival_s = 0;  // open loop: when to send, relative to the start of the measured phase
};

struct WorkloadOptions {
  int num_requests = 0;
  LengthSpec input;
  LengthSpec output;
  int vocab = 0;
  int token_lo = 3;  // skip ids usually special (BOS/EOS/UNK) so a prompt is plain text
  double rate = 0;   // requests/s; <= 0: all due at once
  double burstiness = 1.0;
  uint64_t seed = 0;
};

absl::StatusOr<std::vector<BenchRequest>> MakeWorkload(const WorkloadOptions& options);

}  // namespace ribbon::bench

#endif  // RIBBON_BENCH_SERVING_WORKLOAD_H_
