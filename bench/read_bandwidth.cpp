// read_bandwidth: the memory read bandwidth a decode step's weight stream can reach on this
// machine, the roofline's denominator in bench/peers/side_by_side.py.
//
//   read_bandwidth [--threads 2] [--mib 1024]
// Each thread sums its contiguous share of a buffer (2 MiB-aligned, advised for transparent huge
// pages, as ribbon's packed CPU weights are) with several independent vector accumulators; the
// best of 7 passes is printed as JSON: {"threads": T, "bytes": B, "read_bytes_per_s": R}.
// Why not a copy: a copy also writes (and reads each destination line first), and its figure
// put llama.cpp's decode above 100% of the "roofline".
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// Eight independent sums so the loop is bound by loads, not by the adds' latency.
float SumRange(const float* p, size_t n) {
  float acc[8] = {};
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
#pragma GCC unroll 8
    for (int a = 0; a < 8; ++a) {
#pragma omp simd
      for (int l = 0; l < 8; ++l) acc[l] += p[i + a * 8 + l];
    }
  }
  for (; i < n; ++i) acc[0] += p[i];
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  size_t mib = 1024;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads") {
      threads = std::max(1, std::atoi(argv[i + 1]));
    } else if (k == "--mib") {
      mib = std::max<size_t>(64, std::strtoul(argv[i + 1], nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: read_bandwidth [--threads 2] [--mib 1024]\n");
      return 2;
    }
  }
  const size_t bytes = mib << 20, align = size_t{2} << 20;
  void* map =
      mmap(nullptr, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    std::fprintf(stderr, "read_bandwidth: cannot map %zu MiB\n", mib);
    return 1;
  }
  float* data =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(map) + align - 1) & ~(align - 1));
  madvise(data, bytes, MADV_HUGEPAGE);
  const size_t n = bytes / sizeof(float);
  for (size_t i = 0; i < n; ++i) data[i] = 1.0f;
  double best = 1e30;
  std::vector<float> sums(threads);
  for (int pass = 0; pass < 7; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const size_t begin = n / threads * t, end = t + 1 == threads ? n : n / threads * (t + 1);
        sums[t] = SumRange(data + begin, end - begin);
      });
    }
    for (std::thread& w : workers) w.join();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  float total = 0;
  for (float s : sums) total += s;
  if (total <= 0) return 1;  // keeps the sums live
  std::printf("{\"threads\": %d, \"bytes\": %zu, \"read_bytes_per_s\": %.0f}\n", threads, bytes,
              static_cast<double>(bytes) / best);
  munmap(map, bytes + align);
  return 0;
}
