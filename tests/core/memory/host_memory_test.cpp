// Host memory figures: the /proc and cgroup parsers on fixed texts, and the live figures of this
// process moving as it touches and returns memory.
#include <catch2/catch.hpp>

#include <sys/mman.h>

#include <cstring>

#include "core/memory/host_memory.h"

namespace ribbon::memory {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

TEST_CASE("VmRSS and VmHWM are read from a status text in bytes") {
  const auto parsed = ParseProcStatus(
      "Name:\tribbond\nVmPeak:\t  900 kB\nVmHWM:\t   2048 kB\nVmRSS:\t    1024 kB\n");
  REQUIRE(parsed.ok());
  CHECK(parsed->resident_bytes == 1024 * 1024);
  CHECK(parsed->peak_resident_bytes == 2048 * 1024);
  CHECK(absl::IsInvalidArgument(ParseProcStatus("Name:\tx\nVmRSS:\t1 kB\n").status()));
}

TEST_CASE("cgroup limit files: numbers are limits, max and v1's huge value are not") {
  CHECK(ParseCgroupLimit("1073741824\n") == int64_t{1} << 30);
  CHECK_FALSE(ParseCgroupLimit("max\n").has_value());
  CHECK_FALSE(ParseCgroupLimit("9223372036854771712\n").has_value());
  CHECK_FALSE(ParseCgroupLimit("").has_value());
}

TEST_CASE("the limit files of a cgroup and its ancestors, for v2 and v1") {
  CHECK(CgroupLimitFiles("0::/system.slice/ribbond.service\n", "/cg") ==
        std::vector<std::string>{"/cg/system.slice/ribbond.service/memory.max",
                                 "/cg/system.slice/memory.max", "/cg/memory.max"});
  CHECK(CgroupLimitFiles("0::/\n", "/cg") == std::vector<std::string>{"/cg/memory.max"});
  CHECK(CgroupLimitFiles("5:cpu,cpuacct:/a\n4:memory:/pod/x\n0::/\n", "/cg") ==
        std::vector<std::string>{"/cg/memory/pod/x/memory.limit_in_bytes",
                                 "/cg/memory/pod/memory.limit_in_bytes",
                                 "/cg/memory/memory.limit_in_bytes", "/cg/memory.max"});
}

TEST_CASE("this process's resident figures follow touched memory and the peak resets") {
  const auto before = ReadProcessMemory();
  REQUIRE(before.ok());
  CHECK(before->resident_bytes > 0);
  CHECK(before->peak_resident_bytes >= before->resident_bytes);

  const size_t bytes = 64 * kMiB;
  void* block = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(block != MAP_FAILED);
  std::memset(block, 1, bytes);
  const auto touched = ReadProcessMemory();
  REQUIRE(touched.ok());
  CHECK(touched->resident_bytes - before->resident_bytes >= 60 * kMiB);
  munmap(block, bytes);

  REQUIRE(ResetPeakResident().ok());
  const auto after = ReadProcessMemory();
  REQUIRE(after.ok());
  CHECK(after->resident_bytes < touched->resident_bytes - 60 * kMiB);
  CHECK(after->peak_resident_bytes < touched->peak_resident_bytes - 60 * kMiB);
}

TEST_CASE("the detected budget is positive and names its source") {
  const auto budget = DetectMemoryBudget();
  REQUIRE(budget.ok());
  CHECK(budget->bytes > 0);
  CHECK_FALSE(budget->source.empty());
}

TEST_CASE("the budget is the tightest of MemTotal, what is available to us, and cgroup limits") {
  constexpr int64_t kGiB = int64_t{1} << 30;
  const std::string idle =
      "MemTotal:       25165824 kB\nMemFree: 1 kB\nMemAvailable:   23068672 kB\n";
  const std::string busy = "MemTotal:       25165824 kB\nMemAvailable:    4194304 kB\n";
  // A machine to ourselves: what is available plus what we hold already (the loaded weights).
  auto b = ChooseMemoryBudget(idle, 1 * kGiB, {});
  REQUIRE(b.ok());
  CHECK(b->bytes == 22 * kGiB + 1 * kGiB);
  CHECK(b->source.find("MemAvailable") != std::string::npos);
  // Never more than the machine has.
  b = ChooseMemoryBudget(idle, 8 * kGiB, {});
  REQUIRE(b.ok());
  CHECK(b->bytes == 24 * kGiB);
  CHECK(b->source.find("MemTotal") != std::string::npos);
  // Shared with other work: only what others leave us (this sized a 17 GB KV cache into a
  // 23 GiB machine whose other servers then grew, and the OOM killer ended ribbond).
  b = ChooseMemoryBudget(busy, 2 * kGiB, {});
  REQUIRE(b.ok());
  CHECK(b->bytes == 6 * kGiB);
  // A cgroup limit tighter than that wins and is named; "max" is no limit.
  b = ChooseMemoryBudget(
      busy, 2 * kGiB,
      {{"/sys/fs/cgroup/a/memory.max", "max\n"}, {"/sys/fs/cgroup/memory.max", "3221225472\n"}});
  REQUIRE(b.ok());
  CHECK(b->bytes == 3 * kGiB);
  CHECK(b->source == "/sys/fs/cgroup/memory.max");
  // A kernel without MemAvailable (before 3.14): MemTotal and the limits.
  b = ChooseMemoryBudget("MemTotal: 1048576 kB\n", 0, {});
  REQUIRE(b.ok());
  CHECK(b->bytes == kGiB);
  CHECK_FALSE(ChooseMemoryBudget("MemFree: 1 kB\n", 0, {}).ok());
}

}  // namespace
}  // namespace ribbon::memory
