// Drives a Client through a list of requests and keeps every record.
//
// Contract:
//   - Closed loop (rate <= 0): `concurrency` workers, each sending its next request as soon as
//     its previous one ends; arrival times are ignored.
//   - Open loop (rate > 0): each request is sent at its arrival time (relative to the start of
//     the run) whatever is in flight, up to `max_in_flight` (0 = no cap); a request held back by
//     the cap is sent as soon as a slot frees, and its late start counts in its latencies.
//   - Records come back in request order. A progress bar (requests done, tokens, elapsed) is
//     drawn on stderr when `progress` is set: redrawn in place on a terminal, one line per 10%
//     otherwise.
#ifndef RIBBON_BENCH_SERVING_RUNNER_H_
#define RIBBON_BENCH_SERVING_RUNNER_H_

#include <string>
#include <vector>

#include "bench/serving/client.h"

namespace ribbon::bench {

struct RunOptions {
  int concurrency = 1;
  double rate = 0;
  int max_in_flight = 0;
  bool progress = true;
  std::string label = "run";
};

std::vector<RequestRecord> RunRequests(Client& client, const std::vector<BenchRequest>& requests,
                                       const RunOptions& options);

// CPU seconds (user + system) this process has used so far.
double ProcessCpuSeconds();

}  // namespace ribbon::bench

#endif  // RIBBON_BENCH_SERVING_RUNNER_H_
