// The command line of `ribbon-batch`, parsed into plain values. Pure functions; any thread.
//
//   ribbon-batch --model DIR --in prompts.jsonl --out results.jsonl [--max-ribbon-tokens N]
//                [--batching packed|padded] [--threads N] [--align N] [--kv-blocks N]
//                [--max-new-tokens N] [--dtype D] [--device D] [--report FILE] [--quiet]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/scheduler/scheduler.h"

namespace ribbon::batch {

// Exit codes of `ribbon-batch`.
enum ExitCode : int {
  kExitOk = 0,
  kExitSomeFailed = 1,  // results were written; some requests ended in an error
  kExitUsage = 2,       // bad command line or bad input lines: nothing was run
  kExitFailed = 3,      // the model, the engine or a file failed
};

struct BatchArgs {
  std::string model;                 // Hugging Face checkpoint directory (and its tokenizer)
  std::string in;                    // input JSONL
  std::string out;                   // output JSONL
  std::string report;                // optional: the final report as JSON
  int32_t max_ribbon_tokens = 2048;  // tokens per ribbon (step budget)
  sched::BatchingMode batching = sched::BatchingMode::kPacked;
  int32_t align = 16;
  int32_t threads = 0;          // CPU intra-op threads; 0 = torch's default
  int32_t kv_blocks = 0;        // 0 = the engine's default
  int32_t max_new_tokens = 16;  // for lines that do not say
  std::string dtype = "auto";
  std::string device = "cpu";
  bool quiet = false;  // no progress display
  bool help = false;
};

std::string BatchUsage();

// INVALID_ARGUMENT naming the flag on any error (unknown flag, missing value, bad number,
// missing --model/--in/--out).
absl::StatusOr<BatchArgs> ParseBatchArgs(const std::vector<std::string>& args);

}  // namespace ribbon::batch
