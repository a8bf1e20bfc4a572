// kernels/cuda/flashinfer_attention.h when ribbon is configured with RIBBON_FLASHINFER=OFF (or
// the FlashInfer headers are missing): every shape is rejected with the reason, so the
// "flashinfer" attention backend answers INVALID_ARGUMENT at load instead of failing to link.
#include "kernels/cuda/flashinfer_attention.h"

namespace ribbon::kernels {
namespace {

constexpr char kWhy[] =
    "ribbon was built without FlashInfer (RIBBON_FLASHINFER=OFF or no flashinfer-python headers "
    "in the Python environment)";

}  // namespace

std::string FlashInferRejects(const FlashInferShape&) { return kWhy; }

absl::Status BuildFlashInferIndices(const FlashInferShape&, const FlashInferStepInput&,
                                    FlashInferIndices&) {
  return absl::UnimplementedError(kWhy);
}

absl::StatusOr<FlashInferWorkspaceBytes> FlashInferWorkspaceNeeds(const FlashInferShape&,
                                                                  const FlashInferIndices&) {
  return absl::UnimplementedError(kWhy);
}

absl::StatusOr<FlashInferPlan> PlanFlashInferStep(const FlashInferShape&, const FlashInferIndices&,
                                                  const FlashInferWorkspace&, cudaStream_t) {
  return absl::UnimplementedError(kWhy);
}

absl::Status RunFlashInfer(const FlashInferPlan&, const FlashInferRunArgs&, cudaStream_t) {
  return absl::UnimplementedError(kWhy);
}

}  // namespace ribbon::kernels
