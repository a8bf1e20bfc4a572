// Post-processors of tokenizer.json ("post_processor"): add the special tokens of a single
// sequence (BOS/EOS, CLS/SEP) when encoding with add_special_tokens. Internal to
// ribbon_tokenizer.
//
// Supported types: TemplateProcessing, ByteLevel (ids unchanged), RobertaProcessing,
// BertProcessing, Sequence. Anything else is an UNIMPLEMENTED error naming the type.
//
// Ownership: built once at load, immutable. Threads: Process is const and safe to call
// concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace ribbon::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Rewrites the ids of one encoded sequence as its single-sequence template says.
  virtual void Process(std::vector<int32_t>& ids) const = 0;
};

// Builds the post-processor described by `config` (a JSON object with a "type").
absl::StatusOr<std::unique_ptr<PostProcessor>> PostProcessorFromJson(const nlohmann::json& config);

}  // namespace ribbon::tok
