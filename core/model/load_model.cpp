// LoadModel: the device factory behind ModelRunner (core/model/model_runner.h). It sits in a
// library of its own, above both runners, so that the CPU runner (ribbon_model) and the CUDA
// runner (ribbon_model_cuda) do not depend on each other.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/model/cpu_model.h"
#include "core/model/cuda/cuda_model.h"
#include "core/model/model_runner.h"

namespace ribbon {

absl::StatusOr<std::unique_ptr<ModelRunner>> LoadModel(const ModelLoadOptions& options) {
  if (absl::StartsWith(options.device, "cuda")) return LoadCudaModel(options);
  if (options.device != "cpu") {
    return absl::UnimplementedError(
        absl::StrCat("device \"", options.device, "\" is not supported by this build"));
  }
  return LoadCpuModel(options);
}

}  // namespace ribbon
