// ModelRunner: the mechanism that runs one forward step over a ribbon. Torch-free interface;
// implementations (core/model/*.cpp) use libtorch privately.
//
// Ownership: the engine owns the runner. Threads: Forward() and AllocateKvCache() from one
// thread at a time (the engine thread); spec() from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/model_config.h"
#include "core/plan/step_plan.h"

namespace ribbon {

struct ModelLoadOptions {
  std::string path;            // Hugging Face checkpoint directory
  std::string device = "cpu";  // "cpu" or "cuda[:N]"
  std::string dtype = "auto";  // compute dtype: "auto", "float32", "bfloat16", "float16"
  std::string attention_backend = "auto";  // "auto", "reference", "flash", "cudnn"
  int32_t num_threads = 0;                 // CPU intra-op threads; 0 = leave torch's default
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  virtual const ModelConfig& config() const = 0;
  // Human-readable description of the device, dtype and attention backend in use.
  virtual std::string Describe() const = 0;
  virtual int64_t weight_bytes() const = 0;
  // Bytes of KV cache per block of `block_size` tokens, over all layers.
  virtual int64_t KvBytesPerBlock(int32_t block_size) const = 0;

  // (Re)allocates the paged KV cache; discards its contents.
  virtual absl::Status AllocateKvCache(int32_t num_blocks, int32_t block_size) = 0;

  // Runs the model over the plan. Writes float32 logits for plan.sample_rows, row-major
  // [sample_rows.size(), vocab], into `logits` (host memory).
  virtual absl::Status Forward(const StepPlan& plan, std::span<float> logits) = 0;
};

absl::StatusOr<std::unique_ptr<ModelRunner>> LoadModel(const ModelLoadOptions& options);

}  // namespace ribbon
