// Decoders of tokenizer.json ("decoder"): turn the token strings of some ids back into text,
// as Hugging Face `tokenizers`' decode_chain does. Internal to ribbon_tokenizer.
//
// Supported types: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder,
// Sequence. Anything else is an UNIMPLEMENTED error naming the type.
//
// Ownership: built once at load, immutable. Threads: DecodeChain is const and safe to call
// concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace ribbon::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings in place; the decoded text is their concatenation.
  virtual void DecodeChain(std::vector<std::string>& tokens) const = 0;
};

// Builds the decoder described by `config` (a JSON object with a "type").
absl::StatusOr<std::unique_ptr<Decoder>> DecoderFromJson(const nlohmann::json& config);

}  // namespace ribbon::tok
