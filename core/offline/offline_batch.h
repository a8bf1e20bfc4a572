// Offline batches: runs many generation requests through an Engine on the calling thread and
// reports how well the ribbons were used. The engine's scheduler does the packing (with the
// default "ffd" policy, First-Fit-Decreasing over every waiting prompt), so an offline job sees
// exactly the policy the daemon runs; this layer only feeds the queue, drives StepOnce and counts.
//
// Ownership: the caller owns the Engine and passes the requests by value. RunOfflineBatch
// borrows the engine for the call and installs its own EngineObserver for the duration, which
// forwards every callback to OfflineBatchOptions::observer; that observer is left installed
// when the call returns.
// Threads: call from one thread. The engine must not have been Start()ed, and nothing else may
// submit to it or step it during the call. The progress callback runs on the calling thread,
// between steps.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/engine/request.h"

namespace ribbon::offline {

struct OfflineBatchOptions {
  // Also receives every step and finish (e.g. metrics); may be null.
  std::shared_ptr<EngineObserver> observer;
  // Start the longest decode chains first. A request that decodes for n tokens needs n steps
  // after its prompt, one per ribbon, whatever else runs: started late, it alone stretches the
  // job past the lower bound while the ribbons around its tail run nearly empty. When set, the
  // requests are submitted longest max_new_tokens first and each one's priority becomes
  // (its own priority, then max_new_tokens), so that the scheduler admits and packs the long
  // chains' prompts ahead of the short ones of the same priority. Results keep input order.
  bool longest_chain_first = true;
};

// One request's outcome, at the request's index in the input.
struct OfflineResult {
  std::vector<int32_t> tokens;  // generated ids, in order (a stop token is not included)
  FinishInfo finish;            // reason and status; status is the Submit error if never queued
};

// How the batch used the engine. "Tokens" are rows of a ribbon that carry a real token.
struct OfflineReport {
  int64_t requests = 0;
  int64_t failed = 0;            // finished with a non-OK status (incl. rejected by Submit)
  int64_t prompt_tokens = 0;     // sum of the prompts' lengths (requests that were queued)
  int64_t generated_tokens = 0;  // sum of the outputs' lengths
  // Tokens the model had to compute at the least: every prompt token, plus every generated
  // token that was fed back (all but the last of a request that stopped on its length).
  int64_t required_tokens = 0;
  int64_t computed_tokens = 0;  // real tokens run, incl. recomputation after preemption
  int64_t rows = 0;             // ribbon rows run: computed tokens + padding
  int64_t ribbons = 0;          // steps that ran a forward to completion
  int32_t capacity = 0;         // tokens per ribbon: the engine's aligned step budget
  // No schedule could use fewer ribbons: the larger of ceil(required_tokens / capacity) and,
  // for any one request, its prompt's ceil(prompt / capacity) ribbons plus one per fed-back
  // output token (decode steps of one sequence cannot share a ribbon).
  int64_t lower_bound = 0;
  int64_t preemptions = 0;
  int64_t oom_recoveries = 0;     // steps retried smaller after running out of memory
  int64_t step_errors = 0;        // StepOnce calls that failed (their requests end in kError)
  absl::Status first_step_error;  // the first of those, OK if none
  double seconds = 0;             // wall time from the first submission to the last finish

  double computed_tokens_per_second() const { return seconds > 0 ? computed_tokens / seconds : 0; }
  double generated_tokens_per_second() const {
    return seconds > 0 ? generated_tokens / seconds : 0;
  }
  // Share of the ribbon rows that carried no real token.
  double padding_fraction() const {
    return rows > 0 ? static_cast<double>(rows - computed_tokens) / rows : 0;
  }
  // Ribbon rows run per real token (1.0 = no padding).
  double rows_per_token() const {
    return computed_tokens > 0 ? static_cast<double>(rows) / computed_tokens : 1;
  }
};

struct OfflineProgress {
  int64_t finished = 0;  // requests finished (any outcome)
  int64_t total = 0;
  int64_t ribbons = 0;
  int64_t computed_tokens = 0;
  int64_t generated_tokens = 0;
  double seconds = 0;
};

// Called after every step; must be cheap (rate-limit any printing yourself).
using ProgressCallback = std::function<void(const OfflineProgress&)>;

struct OfflineBatchResult {
  std::vector<OfflineResult> results;  // one per request, in input order
  OfflineReport report;
};

// Submits the requests (as many at a time as the engine's queue accepts, so that the scheduler
// sees as many waiting prompts as possible) and steps the engine until every one has finished.
// A request the engine refuses (Submit's INVALID_ARGUMENT) becomes an OfflineResult with
// reason kError and that status; the others still run. A failed step is counted in the report
// and the run goes on (the engine ends that step's requests with kError).
// Errors: FAILED_PRECONDITION if the engine stops making progress while requests remain (a bug,
// reported rather than spun on); the unfinished requests are then cancelled.
absl::StatusOr<OfflineBatchResult> RunOfflineBatch(Engine& engine,
                                                   std::vector<GenerationRequest> requests,
                                                   const OfflineBatchOptions& options,
                                                   const ProgressCallback& progress = nullptr);

// The lower bound on ribbons for these outcomes (see OfflineReport::lower_bound).
int64_t RibbonLowerBound(std::span<const OfflineResult> results, int32_t capacity);

}  // namespace ribbon::offline
