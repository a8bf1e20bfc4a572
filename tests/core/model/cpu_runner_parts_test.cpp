// Parts of the CPU runner checked on their own: SiluMul's vectorised exp against libm over the
// whole range an activation takes (it replaced a scalar std::exp call); the fused gate/up GEMM
// and SiLU-mul of a decode step against the two run one after the other; AdviseHugePages' advice
// reaching exactly the pages asked for, never memory outside the allocation (read back from the
// kernel's /proc/self/smaps).
#include <sys/mman.h>

#include <ATen/ops/randn.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/model/cpu_huge_pages.h"
#include "core/model/cpu_ops.h"
#include "core/model/cpu_packed_weights.h"

namespace ribbon {
namespace {

TEST_CASE("SiluMul agrees with x / (1 + exp(-x)) * up to a few float32 roundings", "[model]") {
  constexpr int64_t kInter = 4001;  // odd: the vector loop's remainder runs too
  std::vector<float> gate_up(2 * kInter), out(kInter);
  for (int64_t i = 0; i < kInter; ++i) {
    gate_up[i] = -120.0f + 240.0f * static_cast<float>(i) / (kInter - 1);  // both tails, and 0
    gate_up[kInter + i] = 0.5f + static_cast<float>(i % 7);
  }
  cpu::SiluMul(gate_up.data(), out.data(), 1, kInter);
  int64_t checked = 0;
  for (int64_t i = 0; i < kInter; ++i) {
    const double x = gate_up[i], up = gate_up[kInter + i];
    const double want = x / (1.0 + std::exp(-x)) * up;
    INFO("x = " << x);
    CHECK(std::isfinite(out[i]));
    // Relative 2e-6 (a handful of float32 roundings and the exp's 2e-7), or absolute where the
    // result underflows towards 0 for very negative x.
    CHECK(std::abs(out[i] - want) <= 2e-6 * std::abs(want) + 1e-30);
    ++checked;
  }
  CHECK(checked == kInter);
  // Exactly 0 at 0, and silu(x) -> x for large x.
  CHECK(out[(kInter - 1) / 2] == 0.0f);
  CHECK(out[kInter - 1] == gate_up[kInter - 1] * gate_up[2 * kInter - 1]);
}

TEST_CASE("PackedGemmSiluMul equals PackedGemm then SiluMul, bit for bit", "[model]") {
  // inter 320 (5 panels: uneven thread shares), k 96; float32 and bfloat16 weights; rows from a
  // lone decode to the largest decode-sized step, and one past it, which it declines.
  constexpr int64_t kInter = 320, kK = 96;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const kernels::PackedDtype dtype :
       {kernels::PackedDtype::kFloat32, kernels::PackedDtype::kBFloat16}) {
    at::Tensor w = at::randn({2 * kInter, kK});
    at::Tensor* weights[] = {&w};
    std::vector<PackedLinear> linears;
    auto packed = PackedWeights::Pack(weights, dtype, &linears);
    REQUIRE(packed.ok());
    for (const int64_t rows : {1, 3, 8, 48}) {
      std::vector<float> in(rows * kK);
      for (float& x : in) x = normal(rng);
      std::vector<float> want_gate_up(rows * 2 * kInter), want_act(rows * kInter);
      PackedGemm(linears[0], in.data(), want_gate_up.data(), rows, /*accumulate=*/false);
      cpu::SiluMul(want_gate_up.data(), want_act.data(), rows, kInter);
      std::vector<float> gate_up(rows * 2 * kInter, -1.0f), act(rows * kInter, -1.0f);
      INFO("rows " << rows << " bfloat16 " << (dtype == kernels::PackedDtype::kBFloat16));
      REQUIRE(PackedGemmSiluMul(linears[0], in.data(), gate_up.data(), act.data(), rows, kInter));
      CHECK(gate_up == want_gate_up);
      CHECK(act == want_act);
    }
    std::vector<float> in(49 * kK), gate_up(49 * 2 * kInter), act(49 * kInter);
    CHECK_FALSE(PackedGemmSiluMul(linears[0], in.data(), gate_up.data(), act.data(), 49, kInter));
  }
}

constexpr uintptr_t kMiB = uintptr_t{1} << 20;

// The [start, end) ranges of this process's mappings inside [lo, hi) that carry the huge-page
// advice ("hg" among smaps' VmFlags).
std::vector<std::pair<uintptr_t, uintptr_t>> AdvisedRanges(uintptr_t lo, uintptr_t hi) {
  std::ifstream smaps("/proc/self/smaps");
  std::vector<std::pair<uintptr_t, uintptr_t>> advised;
  uintptr_t start = 0, end = 0;
  for (std::string line; std::getline(smaps, line);) {
    if (line.rfind("VmFlags:", 0) == 0) {
      if (start < hi && end > lo && (line + " ").find(" hg ") != std::string::npos) {
        advised.emplace_back(std::max(start, lo), std::min(end, hi));
      }
      continue;
    }
    const size_t dash = line.find('-');
    if (dash == std::string::npos || dash > 16 || line.find(' ') < dash) continue;
    start = std::stoull(line.substr(0, dash), nullptr, 16);
    end = std::stoull(line.substr(dash + 1, line.find(' ') - dash - 1), nullptr, 16);
  }
  return advised;
}

bool TransparentHugePagesOff() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(f, mode);
  return mode.empty() || mode.find("[never]") != std::string::npos;
}

TEST_CASE("AdviseHugePages advises the 2 MiB pages asked for, inside the allocation only",
          "[model]") {
  if (TransparentHugePagesOff()) {
    WARN("transparent huge pages are off on this machine: nothing to check");
    return;
  }
  // 12 MiB mapped; the "allocation" starts 4 KiB past a 2 MiB boundary and ends 4 KiB short of
  // one, so its first and last 2 MiB pages straddle its edges.
  const size_t mapped = 12 * kMiB;
  void* map = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(map != MAP_FAILED);
  const uintptr_t region = reinterpret_cast<uintptr_t>(map);
  const uintptr_t aligned = (region + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
  const uintptr_t begin = aligned + 4096, end = aligned + 8 * kMiB - 4096;
  std::span<std::byte> allocation(reinterpret_cast<std::byte*>(begin), end - begin);

  // One byte 3 MiB in: exactly the 2 MiB page holding it.
  REQUIRE(AdviseHugePages(allocation, 3 * kMiB, 1));
  const uintptr_t page = (begin + 3 * kMiB) / (2 * kMiB) * (2 * kMiB);
  CHECK(AdvisedRanges(region, region + mapped) ==
        std::vector<std::pair<uintptr_t, uintptr_t>>{{page, page + 2 * kMiB}});

  // The whole allocation: everything in it, and nothing of the straddling pages outside it.
  REQUIRE(AdviseHugePages(allocation, 0, allocation.size()));
  CHECK(AdvisedRanges(region, region + mapped) ==
        std::vector<std::pair<uintptr_t, uintptr_t>>{{begin, end}});
  munmap(map, mapped);
}

}  // namespace
}  // namespace ribbon
