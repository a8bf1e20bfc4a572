// The Catch2 main of every GPU test executable (tests/kernels, tests/gpu): without a CUDA device
// it prints "SKIPPED: no CUDA device" and exits 0, which CTest reports as skipped
// (SKIP_REGULAR_EXPRESSION); with one, it runs the tests. Run the executables directly on a GPU
// machine, or `ctest -L gpu`.
#define CATCH_CONFIG_RUNNER
#include <cuda_runtime.h>
#include <catch2/catch.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    std::printf("SKIPPED: no CUDA device (cudaGetDeviceCount: %s, %d devices)\n",
                error == cudaSuccess ? "ok" : cudaGetErrorString(error), count);
    return 0;
  }
  cudaDeviceProp props{};
  cudaGetDeviceProperties(&props, 0);
  std::printf("CUDA device 0: %s (sm_%d%d)\n", props.name, props.major, props.minor);
  return Catch::Session().run(argc, argv);
}
