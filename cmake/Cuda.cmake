# CUDA sources in kernels/ compile whenever nvcc is present, GPU or not: sm_90a (Hopper) plus PTX.
# RIBBON_CUDA is ON when they do; the engine then also links libtorch's CUDA backend so that the
# same binary runs on a GPU machine.
include(CheckLanguage)
option(RIBBON_ENABLE_CUDA "Compile the CUDA kernels and link libtorch's CUDA backend when nvcc exists" ON)
set(RIBBON_CUDA OFF)
if(RIBBON_ENABLE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER AND EXISTS "${RIBBON_TORCH_LIBDIR}/libtorch_cuda.so")
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "90a-real;90-virtual")
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 20)
    find_package(CUDAToolkit REQUIRED)
    set(RIBBON_CUDA ON)
  endif()
endif()
message(STATUS "ribbon CUDA kernels: ${RIBBON_CUDA}")

add_library(ribbon_torch_cuda INTERFACE)
if(RIBBON_CUDA)
  target_link_libraries(ribbon_torch_cuda INTERFACE ribbon::torch_cpu
    "-Wl,--no-as-needed" "${RIBBON_TORCH_LIBDIR}/libtorch_cuda.so" "${RIBBON_TORCH_LIBDIR}/libc10_cuda.so"
    "-Wl,--as-needed" CUDA::cudart)
  target_compile_definitions(ribbon_torch_cuda INTERFACE RIBBON_WITH_CUDA=1)
else()
  target_link_libraries(ribbon_torch_cuda INTERFACE ribbon::torch_cpu)
endif()
add_library(ribbon::torch_cuda ALIAS ribbon_torch_cuda)
