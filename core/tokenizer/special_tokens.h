// Special-token settings that live beside tokenizer.json / tokenizer.model in a model
// directory: tokenizer_config.json (bos_token, eos_token, add_bos_token, add_eos_token) and
// generation_config.json (bos_token_id, eos_token_id). Internal to ribbon_tokenizer.
//
// Threads: plain functions over caller-owned data; safe to call concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"

namespace ribbon {

// The BOS and EOS ids a tokenizer reports.
struct SpecialTokenIds {
  std::optional<int32_t> bos;
  std::vector<int32_t> eos;  // every id that ends generation
};

// What the two JSON files say; every field is optional.
struct ModelTokenConfig {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;
};

// Reads `dir`/tokenizer_config.json and `dir`/generation_config.json. Missing files give an
// empty config; unreadable or malformed ones are INVALID_ARGUMENT naming the file.
absl::StatusOr<ModelTokenConfig> ReadModelTokenConfig(const std::string& dir);

// BOS: the named bos_token, else generation_config's id, else `defaults`. EOS: the named
// eos_token followed by generation_config's ids (no repeats), else `defaults`.
SpecialTokenIds ResolveSpecialIds(const ModelTokenConfig& config, const Tokenizer& tokenizer,
                                  const SpecialTokenIds& defaults);

}  // namespace ribbon
