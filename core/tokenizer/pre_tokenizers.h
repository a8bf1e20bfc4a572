// Pre-tokenizers of tokenizer.json ("pre_tokenizer"): split normalized text into the words
// the model encodes one by one, as in Hugging Face `tokenizers`. Internal to ribbon_tokenizer.
//
// Supported types: ByteLevel, Split, Metaspace, Digits, WhitespaceSplit, CharDelimiterSplit,
// Sequence. Anything else is an UNIMPLEMENTED error naming the type. (Punctuation is refused on
// purpose: `tokenizers` classifies punctuation with Unicode 8-era tables, so a newer table
// would silently disagree on about a hundred characters.)
//
// Ownership: built once at load, immutable. Threads: PreTokenize is const and safe to call
// concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace ribbon::tok {

// One piece of text on its way to the model.
struct PreToken {
  std::string text;
  // Whether the piece begins at byte 0 of the caller's input (Metaspace's "first" scheme
  // prepends its replacement only there).
  bool at_input_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces every piece by its sub-pieces, in order; empty pieces are dropped.
  virtual void PreTokenize(std::vector<PreToken>& pieces) const = 0;
};

// Builds the pre-tokenizer described by `config` (a JSON object with a "type").
absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const nlohmann::json& config);

}  // namespace ribbon::tok
