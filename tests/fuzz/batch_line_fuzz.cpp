// libFuzzer target for ribbon-batch's input lines (server/batch/batch_input.h): the input is a
// JSONL file; every line that is not blank is parsed against stories260K's tokenizer and
// limits, and each accepted line's result line is formatted (with the prompt's first ids as
// the "generated" tokens). Besides the sanitizers' own checks it requires:
//   * a refused line is INVALID_ARGUMENT whose message starts with "line N: ";
//   * an accepted line is within every bound the engine relies on (non-empty prompt that fits
//     the context, ids in the vocabulary, 1 <= max_new_tokens, min_new_tokens <= max_new_tokens);
//   * the result line is one line of JSON that echoes the id back.
// Built and run by tests/fuzz/run_fuzz.sh batch_line; seeds: tests/fuzz/corpus/batch_line/.
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/batch/batch_input.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ribbon::fuzz::Require;

const std::shared_ptr<const ribbon::Tokenizer>& Stories260kTokenizer() {
  static const auto* tokenizer = [] {
    const std::string dir = ribbon::fuzz::SharedData() + "/stories260k";
    auto loaded = ribbon::Tokenizer::Load(dir);
    Require(loaded.ok(), "cannot load " + dir + ": " + loaded.status().ToString());
    return new std::shared_ptr<const ribbon::Tokenizer>(*loaded);
  }();
  return *tokenizer;
}

void CheckItem(const ribbon::batch::BatchItem& item,
               const ribbon::batch::BatchInputLimits& limits) {
  const ribbon::GenerationRequest& r = item.request;
  Require(!r.prompt.empty(), "an empty prompt was accepted");
  Require(static_cast<int64_t>(r.prompt.size()) <= limits.context_length, "prompt past context");
  for (const int32_t id : r.prompt) Require(id >= 0 && id < limits.vocab_size, "prompt id range");
  for (const int32_t id : r.stop.stop_token_ids) {
    Require(id >= 0 && id < limits.vocab_size, "stop id range");
  }
  Require(r.stop.max_new_tokens >= 1 && r.stop.max_new_tokens <= limits.context_length,
          "max_new_tokens outside [1, context]");
  Require(r.stop.min_new_tokens >= 0 && r.stop.min_new_tokens <= r.stop.max_new_tokens,
          "min_new_tokens outside [0, max_new_tokens]");
}

void CheckResultLine(const ribbon::batch::BatchItem& item) {
  ribbon::offline::OfflineResult result;
  const size_t n = std::min<size_t>(item.request.prompt.size(), item.request.stop.max_new_tokens);
  result.tokens.assign(item.request.prompt.begin(), item.request.prompt.begin() + n);
  result.finish.reason = ribbon::FinishReason::kLength;
  const std::string line = ribbon::batch::FormatResultLine(item, result, Stories260kTokenizer());
  Require(line.find('\n') == std::string::npos, "a result line holds a newline");
  const auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  Require(!parsed.is_discarded() && parsed.is_object(), "a result line is not a JSON object");
  Require(parsed["id"] == item.id, "the result line does not echo the id");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ribbon::batch::BatchInputLimits limits{.vocab_size = 512, .context_length = 512};
  std::string_view input = ribbon::fuzz::AsText(data, size);
  for (int64_t line = 1; !input.empty(); ++line) {
    const size_t end = std::min(input.find('\n'), input.size());
    const std::string_view text = input.substr(0, end);
    input.remove_prefix(std::min(end + 1, input.size()));
    if (ribbon::batch::IsBlankLine(text)) continue;
    auto item = ribbon::batch::ParseBatchLine(text, line, limits, Stories260kTokenizer().get());
    if (!item.ok()) {
      Require(absl::IsInvalidArgument(item.status()),
              "unexpected code: " + item.status().ToString());
      Require(absl::StartsWith(item.status().message(), absl::StrCat("line ", line, ": ")),
              "the message does not name the line: " + item.status().ToString());
      continue;
    }
    Require(item->line == line, "the item has another line number");
    CheckItem(*item, limits);
    CheckResultLine(*item);
  }
  return 0;
}
