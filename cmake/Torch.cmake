# Finds libtorch inside the pinned Python environment's torch wheel and checks its C++ ABI.
# Exposes ribbon::torch_cpu (and ribbon::torch_cuda when the CUDA libraries are usable), and
# ribbon::torch_openmp for code that calls at::parallel_for.
# Include directories stay PRIVATE to the targets that link these.
execute_process(
  COMMAND ${RIBBON_PYTHON} -c "import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.__version__)"
  OUTPUT_VARIABLE _torch_info OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _torch_rc)
if(NOT _torch_rc EQUAL 0)
  message(FATAL_ERROR "torch is not importable from ${RIBBON_PYTHON}; run scripts/setup.sh")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 _torch_prefix)
list(GET _torch_info 1 _torch_abi)
list(GET _torch_info 2 RIBBON_TORCH_VERSION)
if(NOT _torch_abi EQUAL 1)
  message(FATAL_ERROR "torch was built with the pre-C++11 ABI; ribbon links Debian's gRPC and needs _GLIBCXX_USE_CXX11_ABI=1")
endif()
if(NOT RIBBON_TORCH_VERSION MATCHES "^2\\.11\\.")
  message(FATAL_ERROR "ribbon pins torch 2.11, found ${RIBBON_TORCH_VERSION}")
endif()
get_filename_component(RIBBON_TORCH_ROOT "${_torch_prefix}/../.." ABSOLUTE)
set(RIBBON_TORCH_LIBDIR "${RIBBON_TORCH_ROOT}/lib")
message(STATUS "libtorch ${RIBBON_TORCH_VERSION} at ${RIBBON_TORCH_ROOT}")

# libtorch's own CMake config insists on a CUDA toolkit matching the wheel and pulls in every
# CUDA library; the CPU targets need only torch_cpu and c10, so import them directly.
add_library(ribbon_torch_cpu INTERFACE)
target_include_directories(ribbon_torch_cpu SYSTEM INTERFACE
  "${RIBBON_TORCH_ROOT}/include" "${RIBBON_TORCH_ROOT}/include/torch/csrc/api/include")
target_link_libraries(ribbon_torch_cpu INTERFACE
  "${RIBBON_TORCH_LIBDIR}/libtorch_cpu.so" "${RIBBON_TORCH_LIBDIR}/libc10.so")
target_compile_definitions(ribbon_torch_cpu INTERFACE _GLIBCXX_USE_CXX11_ABI=1)
target_link_options(ribbon_torch_cpu INTERFACE "-Wl,-rpath,${RIBBON_TORCH_LIBDIR}")
add_library(ribbon::torch_cpu ALIAS ribbon_torch_cpu)

# at::parallel_for is a header template: compiled without -fopenmp (no _OPENMP), it runs its body
# serially on the calling thread. Code that calls it compiles with -fopenmp and links the wheel's
# own libgomp, so the process has one OpenMP runtime and one thread pool, torch's.
if(NOT EXISTS "${RIBBON_TORCH_LIBDIR}/libgomp.so.1")
  message(FATAL_ERROR "the torch wheel has no lib/libgomp.so.1; ribbon needs torch's OpenMP runtime")
endif()
add_library(ribbon_torch_openmp INTERFACE)
target_compile_options(ribbon_torch_openmp INTERFACE -fopenmp)
target_link_libraries(ribbon_torch_openmp INTERFACE "${RIBBON_TORCH_LIBDIR}/libgomp.so.1")
add_library(ribbon::torch_openmp ALIAS ribbon_torch_openmp)
