// The host side of memory measurement on Linux: the process's resident memory and its peak
// (/proc/self/status VmRSS, VmHWM; the peak resets by writing "5" to /proc/self/clear_refs), and
// the memory budget the process lives under: the tightest of its cgroup limits (v2 memory.max or
// v1 memory.limit_in_bytes, of its cgroup and their ancestors) and of what the machine can still
// give it (MemAvailable plus what the process already holds), never more than MemTotal.
//
// The parsers are pure functions over file text so that tests can feed them any layout.
// Threads: any; the peak is per process, so measurements must not overlap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ribbon::memory {

struct ProcessMemory {
  int64_t resident_bytes = 0;       // VmRSS
  int64_t peak_resident_bytes = 0;  // VmHWM: highest resident since start or the last reset
};

// Parses /proc/<pid>/status text. INVALID_ARGUMENT when VmRSS or VmHWM is missing.
absl::StatusOr<ProcessMemory> ParseProcStatus(std::string_view status_text);
absl::StatusOr<ProcessMemory> ReadProcessMemory();
// Sets the peak resident figure back to the current resident one.
absl::Status ResetPeakResident();

// A cgroup memory limit file's value; nullopt for "max" and for v1's "no limit" (a value at or
// above 2^62) or text that is not a number.
std::optional<int64_t> ParseCgroupLimit(std::string_view text);

// The limit files that apply to a process, from its /proc/self/cgroup text: its own cgroup's
// and every ancestor's, for cgroup v2 and for a v1 memory hierarchy mounted under `root`.
std::vector<std::string> CgroupLimitFiles(std::string_view proc_cgroup_text,
                                          const std::string& root = "/sys/fs/cgroup");

struct MemoryBudget {
  int64_t bytes = 0;
  std::string source;  // where the figure came from, e.g. "/sys/fs/cgroup/memory.max"
};

// The budget from the texts DetectMemoryBudget reads: /proc/meminfo, this process's resident
// bytes, and each applicable cgroup limit file's (path, text). Why MemAvailable: on a host shared
// with other work, planning against MemTotal sized the KV cache into memory others held, and the
// kernel's OOM killer ended ribbond when they grew. INVALID_ARGUMENT when meminfo lacks MemTotal.
absl::StatusOr<MemoryBudget> ChooseMemoryBudget(
    std::string_view meminfo_text, int64_t resident_bytes,
    const std::vector<std::pair<std::string, std::string>>& cgroup_limit_texts);

// ChooseMemoryBudget over this machine's and this process's files.
absl::StatusOr<MemoryBudget> DetectMemoryBudget();

}  // namespace ribbon::memory
