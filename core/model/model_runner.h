// ModelRunner: the contract between the engine and whatever runs the model (the CPU runner, the
// CUDA runner, the test fakes). Torch-free interface; implementations use libtorch privately.
//
// A step is asynchronous in shape: Launch(plan) starts it, Collect(out) waits for it and hands
// back the sampled token ids (and logprobs where asked): no logits cross this interface, so a
// runner may sample on its device and overlap steps without the engine changing. A plan's
// linked rows (StepPlan::linked_rows) take their tokens from the previous collected step's
// output, which the runner keeps.
//
// Ownership: the engine owns the runner; Launch borrows the plan until the matching Collect.
// Threads: every method except config/Describe/weight_bytes/KvBytesPerBlock (any thread) from
// one thread at a time; Launch and Collect alternate (one step launched and not collected).
// Errors: nothing throws across this interface. RESOURCE_EXHAUSTED = out of memory (host or
// device): the runner stays usable, the step had no effect the engine can see (KV slots it may
// have written are written again by the retry), the KV cache is intact unless the call was
// AllocateKvCache. INVALID_ARGUMENT = a plan or argument the runner rejects (named);
// FAILED_PRECONDITION = no KV cache; INTERNAL = anything else (the device may be unusable).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/model_config.h"
#include "core/plan/step_plan.h"
#include "core/sampling/sampler.h"

namespace ribbon {

// A compute dtype and its names ("auto", "float32", "bfloat16", "float16"): the one place the
// names are parsed. Each runner says which it supports and what "auto" means on its device.
enum class ComputeDtype { kAuto, kFloat32, kBFloat16, kFloat16 };
inline std::optional<ComputeDtype> ParseComputeDtype(std::string_view name) {
  if (name == "auto") return ComputeDtype::kAuto;
  if (name == "float32") return ComputeDtype::kFloat32;
  if (name == "bfloat16") return ComputeDtype::kBFloat16;
  if (name == "float16") return ComputeDtype::kFloat16;
  return std::nullopt;
}

struct ModelLoadOptions {
  std::string path;            // Hugging Face checkpoint directory
  std::string device = "cpu";  // "cpu" or "cuda[:N]"
  std::string dtype = "auto";  // compute dtype: "auto", "float32", "bfloat16", "float16"
  // KV cache element type: "auto" (float32 on the CPU, the compute dtype on a GPU), "float32",
  // "float16" (CPU: half the bytes attention reads, each key and value rounded once).
  std::string kv_cache_dtype = "auto";
  std::string attention_backend = "auto";  // "auto", "reference", "flash", "cudnn", "flashinfer"
  int32_t num_threads = 0;                 // CPU intra-op threads; 0 = leave torch's default
  // "auto": a CUDA runner samples on the device the steps its sampler covers (the rest on the
  // host); "host": every step's logits come back and are sampled on the host (the CPU runner
  // always samples on the host).
  std::string sampling = "auto";
};

// What a step hands back.
struct StepOutput {
  std::vector<SampledToken> sampled;  // one per plan.sample_rows, in that order
  double sample_seconds = 0;          // of the step, the time spent sampling (for metrics)
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

  // (Re)allocates the paged KV cache, discarding its contents; the old cache is freed first, so
  // the two never coexist. num_blocks == 0 releases the cache. On RESOURCE_EXHAUSTED the runner
  // holds no cache and stays usable.
  virtual absl::Status AllocateKvCache(int32_t num_blocks, int32_t block_size) = 0;

  // Starts running the model over `plan` and sampling its sample rows with the inputs the plan
  // carries. The plan must stay alive and unchanged until Collect returns. When Launch fails
  // nothing was launched: do not call Collect.
  virtual absl::Status Launch(const StepPlan& plan) = 0;
  // Waits for the launched step and fills `out`. Returns the step's status (see the errors
  // above); after an error the next plan may not link to this step's output.
  virtual absl::Status Collect(StepOutput& out) = 0;

  // Launch then Collect: for callers with nothing to overlap.
  absl::Status Run(const StepPlan& plan, StepOutput& out) {
    if (absl::Status launched = Launch(plan); !launched.ok()) return launched;
    return Collect(out);
  }
};

absl::StatusOr<std::unique_ptr<ModelRunner>> LoadModel(const ModelLoadOptions& options);

}  // namespace ribbon
