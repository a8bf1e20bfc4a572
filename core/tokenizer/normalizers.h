// Normalizers of tokenizer.json ("normalizer"): text-to-text steps applied before
// pre-tokenization, as in Hugging Face `tokenizers`. Internal to ribbon_tokenizer.
//
// Supported types: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace, ByteLevel,
// Sequence. Anything else is an UNIMPLEMENTED error naming the type. (StripAccents is refused on
// purpose: `tokenizers` decides what a combining mark is with Unicode 9-era tables, so a newer
// table would silently strip about 350 more characters.)
//
// Ownership: built once at load, immutable. Threads: Normalize is const and safe to call
// concurrently.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace ribbon::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites valid UTF-8 `text` in place.
  virtual void Normalize(std::string& text) const = 0;
};

// Builds the normalizer described by `config` (a JSON object with a "type").
absl::StatusOr<std::unique_ptr<Normalizer>> NormalizerFromJson(const nlohmann::json& config);

}  // namespace ribbon::tok
