// OutputProcessor: turns one request's sampled tokens into what the client sees: token ids,
// UTF-8 text deltas (never splitting a character) and logprobs, with stop strings cut out.
//
// A token that would end the request (EOS unless ignore_eos, or a stop token id) is held back
// until the next token or the finish decides it: when the request ends with kStopToken it is not
// part of the output (token ids and text stop before it), otherwise it is released.
//
// Belongs to one request; used from one thread at a time, never the engine thread (detokenizing
// and stop-string matching are the server's work).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/engine/request.h"
#include "core/tokenizer/tokenizer.h"
#include "server/stop_matcher.h"

namespace ribbon::server {

struct OutputProcessorOptions {
  std::vector<int32_t> prompt;            // decoding context for the first delta
  std::vector<std::string> stop_strings;
  std::vector<int32_t> stop_token_ids;    // stop tokens besides EOS
  std::vector<int32_t> eos_token_ids;     // the model's; ignored when ignore_eos
  bool ignore_eos = false;
};

// New output since the last call.
struct OutputChunk {
  std::vector<SampledToken> tokens;
  std::string text;
  bool stop_string_matched = false;  // the request should now be cancelled with kStopString

  bool empty() const { return tokens.empty() && text.empty(); }
};

class OutputProcessor {
 public:
  OutputProcessor(std::shared_ptr<const Tokenizer> tokenizer, OutputProcessorOptions options);

  OutputChunk OnTokens(std::span<const SampledToken> tokens);
  // The request ended for `reason`: decides the held-back stop token and flushes the text.
  OutputChunk OnFinish(FinishReason reason);

  // Token ids handed out so far (the usage figure reported to the client).
  int32_t emitted_tokens() const { return emitted_tokens_; }
  bool stop_string_matched() const { return matcher_.matched(); }

 private:
  void Emit(const SampledToken& token, OutputChunk& chunk);

  IncrementalDecoder decoder_;
  StopStringMatcher matcher_;
  std::unordered_set<int32_t> ending_tokens_;
  std::optional<SampledToken> held_token_;
  int32_t emitted_tokens_ = 0;
};

}  // namespace ribbon::server
