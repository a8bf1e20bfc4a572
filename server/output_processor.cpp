#include "server/output_processor.h"

namespace ribbon::server {

OutputProcessor::OutputProcessor(std::shared_ptr<const Tokenizer> tokenizer,
                                 OutputProcessorOptions options)
    : decoder_(std::move(tokenizer), options.prompt, /*skip_special_tokens=*/false),
      matcher_(std::move(options.stop_strings)),
      special_tokens_(std::move(options.special_tokens)) {}

std::shared_ptr<const std::vector<bool>> FindSpecialTokens(const Tokenizer& tokenizer) {
  auto special = std::make_shared<std::vector<bool>>(tokenizer.vocab_size(), false);
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const std::span<const int32_t> one(&id, 1);
    (*special)[id] = tokenizer.Decode(one, true).empty() && !tokenizer.Decode(one, false).empty();
  }
  return special;
}

bool OutputProcessor::IsSpecial(int32_t id) const {
  return special_tokens_ != nullptr && id >= 0 &&
         id < static_cast<int32_t>(special_tokens_->size()) && (*special_tokens_)[id];
}

void OutputProcessor::Emit(const SampledToken& token, OutputChunk& chunk) {
  if (matcher_.matched()) return;
  chunk.tokens.push_back(token);
  ++emitted_tokens_;
  const int32_t id = token.token;
  if (IsSpecial(id)) return;
  StopStringMatcher::Result result = matcher_.Push(decoder_.Push(std::span<const int32_t>(&id, 1)));
  chunk.text += result.text;
  chunk.stop_string_matched |= result.matched;
}

OutputChunk OutputProcessor::OnTokens(std::span<const SampledToken> tokens) {
  OutputChunk chunk;
  for (const SampledToken& token : tokens) Emit(token, chunk);
  return chunk;
}

OutputChunk OutputProcessor::OnFinish(FinishReason reason) {
  OutputChunk chunk;
  if (!matcher_.matched()) {
    StopStringMatcher::Result result = matcher_.Push(decoder_.Flush());
    chunk.text += result.text;
    chunk.stop_string_matched |= result.matched;
    chunk.text += matcher_.Flush();
  }
  return chunk;
}

}  // namespace ribbon::server
