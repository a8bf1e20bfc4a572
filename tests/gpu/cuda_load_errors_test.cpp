// LoadCudaModel's errors, on any machine: without a CUDA device it answers FAILED_PRECONDITION
// (never crashes); with one, bad devices, dtypes and attention backends are INVALID_ARGUMENT
// with the reason. Not a GPU-only test: it runs in `make test` everywhere.
#include <catch2/catch.hpp>

#include "core/model/cuda/cuda_model.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

absl::Status Load(const std::string& device, const std::string& dtype, const std::string& backend) {
  return LoadCudaModel({.path = Stories260k(),
                        .device = device,
                        .dtype = dtype,
                        .attention_backend = backend})
      .status();
}

bool Mentions(const absl::Status& status, const std::string& text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("LoadCudaModel without a CUDA device answers FAILED_PRECONDITION", "[cuda][load]") {
  if (CudaDeviceCount() > 0) {
    WARN("a CUDA device is present; the no-device branch is not exercised here");
    return;
  }
  const absl::Status status = Load("cuda", "auto", "auto");
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Mentions(status, "no CUDA device"));
  const absl::Status random =
      CreateRandomCudaModel(ModelConfig{}, {.path = "", .device = "cuda:0"}, {}).status();
  CHECK(random.code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("LoadCudaModel rejects bad devices, dtypes and backends with the reason",
          "[cuda][load]") {
  if (CudaDeviceCount() == 0) {
    WARN("no CUDA device: only the no-device answer is checked");
    CHECK(Load("cuda:99", "auto", "auto").code() == absl::StatusCode::kFailedPrecondition);
    return;
  }
  const absl::Status index = Load("cuda:99", "auto", "auto");
  CHECK(index.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Mentions(index, "CUDA device(s) present"));
  CHECK(Load("cuda:x", "auto", "auto").code() == absl::StatusCode::kInvalidArgument);
  CHECK(Load("cuda", "int8", "auto").code() == absl::StatusCode::kInvalidArgument);
  CHECK(Load("cuda", "auto", "magic").code() == absl::StatusCode::kInvalidArgument);
  // stories260K has head_dim 8 and float32 here: the fused kernels cannot take it.
  const absl::Status flash32 = Load("cuda", "float32", "flash");
  CHECK(flash32.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Mentions(flash32, "float16 or bfloat16"));
}

}  // namespace ribbon::testing
