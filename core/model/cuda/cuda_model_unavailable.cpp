// The CUDA entry points of a build without CUDA (RIBBON_CUDA off: no nvcc or no libtorch_cuda):
// the same torch-free API, answering that this build cannot run on a GPU. Linked instead of
// the real runner, so callers need no conditional compilation.
#include "core/model/cuda/cuda_model.h"

namespace ribbon {
namespace {

absl::Status Unavailable(const std::string& device) {
  return absl::UnimplementedError("device \"" + device +
                                  "\": this build of ribbon has no CUDA support");
}

}  // namespace

int32_t CudaDeviceCount() { return 0; }

absl::StatusOr<std::unique_ptr<ModelRunner>> LoadCudaModel(const ModelLoadOptions& options) {
  return Unavailable(options.device);
}

absl::StatusOr<std::unique_ptr<ModelRunner>> CreateRandomCudaModel(const ModelConfig&,
                                                                   const ModelLoadOptions& options,
                                                                   const RandomWeightsOptions&) {
  return Unavailable(options.device);
}

}  // namespace ribbon
