// libFuzzer target for loading a tokenizer.json (HfTokenizer::FromJson, core/tokenizer/): the
// input is the file's text. When it loads, a few fixed texts are encoded (with and without
// special tokens), decoded and streamed. Besides the sanitizers' own checks it requires:
//   * a malformed or unsupported file is a Status with a message (no throw, no crash);
//   * every id Encode returns is in [0, vocab_size), and IdToToken answers for it;
//   * every Decode and every streamed delta is valid UTF-8.
// tokenizer_fuzz covers encoding arbitrary text with fixed tokenizers; this one the loader.
// Built and run by tests/fuzz/run_fuzz.sh tokenizer_json; seeds: tests/fuzz/corpus/tokenizer_json/.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/hf_tokenizer.h"
#include "core/tokenizer/unicode.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ribbon::fuzz::Require;

// Plain words, spaces, digits, punctuation, accents, CJK, an emoji, control characters and a
// few special-token spellings.
constexpr std::string_view kTexts[] = {
    "Once upon a time, there was a little dog.",
    "  leading and  double   spaces\n\ttabs\r\n",
    "12345 + 678 = 999; (x) [y] {z} 'quote' \"dq\"",
    "caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x9a\x80 A\xcc\x8a",
    "<s> </s> <unk> <|endoftext|> <|im_start|>user",
    "\x01\x7f",
};

void CheckText(const std::shared_ptr<const ribbon::Tokenizer>& tokenizer, std::string_view text) {
  const int32_t vocab = tokenizer->vocab_size();
  for (const bool special : {false, true}) {
    const std::vector<int32_t> ids = tokenizer->Encode(text, special);
    for (const int32_t id : ids) {
      Require(id >= 0 && id < vocab, "Encode returned an id outside [0, vocab_size)");
      (void)tokenizer->IdToToken(id);
    }
    for (const bool skip : {false, true}) {
      Require(ribbon::tok::IsValidUtf8(tokenizer->Decode(ids, skip)), "Decode is not UTF-8");
    }
    ribbon::IncrementalDecoder stream(tokenizer, {}, /*skip_special_tokens=*/false);
    for (size_t i = 0; i < ids.size() && i < 64; ++i) {
      Require(ribbon::tok::IsValidUtf8(stream.Push(std::span<const int32_t>(&ids[i], 1))),
              "a streamed delta is not UTF-8");
    }
    Require(ribbon::tok::IsValidUtf8(stream.Flush()), "the stream's flush is not UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto loaded = ribbon::HfTokenizer::FromJson(ribbon::fuzz::AsText(data, size));
  if (!loaded.ok()) {
    Require(!loaded.status().message().empty(), "an error without a message");
    return 0;
  }
  std::shared_ptr<const ribbon::Tokenizer> tokenizer = *std::move(loaded);
  Require(tokenizer->vocab_size() >= 0, "negative vocab_size");
  for (const std::string_view text : kTexts) CheckText(tokenizer, text);
  // Ids around the vocabulary's edges decode without reading outside it.
  const int32_t vocab = tokenizer->vocab_size();
  const std::vector<int32_t> edges = {0, vocab / 2, vocab - 1, vocab, -1};
  Require(ribbon::tok::IsValidUtf8(tokenizer->Decode(edges, false)), "Decode of edge ids");
  return 0;
}
