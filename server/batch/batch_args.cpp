#include "server/batch/batch_args.h"

#include <functional>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ribbon::batch {
namespace {

absl::Status ParseInt(const std::string& flag, const std::string& value, int32_t lo, int32_t& out) {
  int32_t n = 0;
  if (!absl::SimpleAtoi(value, &n) || n < lo) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected an integer >= ", lo, ", got '", value, "'"));
  }
  out = n;
  return absl::OkStatus();
}

absl::Status ParseBatching(const std::string& value, sched::BatchingMode& out) {
  const std::optional<sched::BatchingMode> mode = sched::ParseBatchingMode(value);
  if (!mode) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batching: expected packed or padded, got '", value, "'"));
  }
  out = *mode;
  return absl::OkStatus();
}

using Setter = std::function<absl::Status(BatchArgs&, const std::string&)>;

const std::map<std::string, Setter>& ValueFlags() {
  static const std::map<std::string, Setter> flags = {
      {"--model",
       [](BatchArgs& a, const std::string& v) {
         a.model = v;
         return absl::OkStatus();
       }},
      {"--in",
       [](BatchArgs& a, const std::string& v) {
         a.in = v;
         return absl::OkStatus();
       }},
      {"--out",
       [](BatchArgs& a, const std::string& v) {
         a.out = v;
         return absl::OkStatus();
       }},
      {"--report",
       [](BatchArgs& a, const std::string& v) {
         a.report = v;
         return absl::OkStatus();
       }},
      {"--dtype",
       [](BatchArgs& a, const std::string& v) {
         a.dtype = v;
         return absl::OkStatus();
       }},
      {"--device",
       [](BatchArgs& a, const std::string& v) {
         a.device = v;
         return absl::OkStatus();
       }},
      {"--max-ribbon-tokens",
       [](BatchArgs& a, const std::string& v) {
         return ParseInt("--max-ribbon-tokens", v, 1, a.max_ribbon_tokens);
       }},
      {"--align",
       [](BatchArgs& a, const std::string& v) { return ParseInt("--align", v, 1, a.align); }},
      {"--threads",
       [](BatchArgs& a, const std::string& v) { return ParseInt("--threads", v, 0, a.threads); }},
      {"--kv-blocks",
       [](BatchArgs& a, const std::string& v) {
         return ParseInt("--kv-blocks", v, 0, a.kv_blocks);
       }},
      {"--max-new-tokens",
       [](BatchArgs& a, const std::string& v) {
         return ParseInt("--max-new-tokens", v, 1, a.max_new_tokens);
       }},
      {"--batching",
       [](BatchArgs& a, const std::string& v) { return ParseBatching(v, a.batching); }},
  };
  return flags;
}

}  // namespace

std::string BatchUsage() {
  return "usage: ribbon-batch --model DIR --in prompts.jsonl --out results.jsonl [options]\n"
         "  Runs every request of the input through the engine, packing waiting prompts into as "
         "few\n"
         "  ribbons as possible, and writes one result line per input line, in input order.\n"
         "options:\n"
         "  --max-ribbon-tokens N   tokens per ribbon (step budget), default 2048\n"
         "  --batching packed|padded  packed (default) or rectangular [B, Lmax] batches, for "
         "comparison\n"
         "  --align N               ribbon rows rounded up to a multiple of N, default 16 (1 = "
         "off)\n"
         "  --threads N             CPU threads, default 0 (torch's default)\n"
         "  --kv-blocks N           KV cache blocks of 16 tokens, default 0 (engine's default)\n"
         "  --max-new-tokens N      for input lines without max_new_tokens, default 16\n"
         "  --dtype D               auto, float32, bfloat16 or float16, default auto\n"
         "  --device D              cpu or cuda[:N], default cpu\n"
         "  --report FILE           also write the final report as JSON\n"
         "  --quiet                 no progress display\n"
         "input lines: {\"id\": ..., \"prompt\": \"text\"} or {\"id\": ..., \"prompt_ids\": "
         "[...]}, optional\n"
         "  max_new_tokens, min_new_tokens, ignore_eos, stop_token_ids, temperature, top_k, top_p, "
         "min_p,\n"
         "  repetition_penalty, presence_penalty, frequency_penalty, seed, priority (see "
         "docs/offline.md)\n"
         "exit codes: 0 ok, 1 some requests failed, 2 bad command line or input, 3 "
         "model/engine/file error\n";
}

absl::StatusOr<BatchArgs> ParseBatchArgs(const std::vector<std::string>& args) {
  BatchArgs a;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      a.help = true;
      return a;
    }
    if (flag == "--quiet") {
      a.quiet = true;
      continue;
    }
    auto it = ValueFlags().find(flag);
    if (it == ValueFlags().end())
      return absl::InvalidArgumentError(absl::StrCat("unknown argument '", flag, "'"));
    if (i + 1 >= args.size())
      return absl::InvalidArgumentError(absl::StrCat(flag, ": missing value"));
    if (absl::Status s = it->second(a, args[++i]); !s.ok()) return s;
  }
  for (const auto& [flag, value] : {std::pair<const char*, const std::string*>{"--model", &a.model},
                                    {"--in", &a.in},
                                    {"--out", &a.out}}) {
    if (value->empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is required"));
  }
  return a;
}

}  // namespace ribbon::batch
