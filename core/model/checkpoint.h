// Checkpoint: a Hugging Face checkpoint directory opened for loading: config.json,
// generation_config.json, and model.safetensors or a sharded model.safetensors.index.json.
// Torch-free; tensors are memory-mapped views validated against the config by Get().
//
// Ownership: owns the mapped files; views live as long as the Checkpoint. Threads: one loader.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/model_config.h"
#include "core/model/safetensors.h"

namespace ribbon {

class Checkpoint {
 public:
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  const ModelConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }

  bool Has(const std::string& name) const { return Lookup(name) != nullptr; }
  // The tensor `name`, which must have exactly `shape`: NOT_FOUND or INVALID_ARGUMENT naming it.
  absl::StatusOr<const TensorView*> Get(const std::string& name,
                                        const std::vector<int64_t>& shape) const;
  // Drops the pages of a tensor that has been copied (see SafetensorsFile::Release).
  void Release(const TensorView& view) const;
  int64_t total_bytes() const;

 private:
  const TensorView* Lookup(const std::string& name) const;
  const SafetensorsFile* FileOf(const TensorView& view) const;

  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
};

}  // namespace ribbon
