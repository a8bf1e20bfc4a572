#include "core/memory/host_memory.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/common/files.h"
#include "core/common/status_macros.h"

namespace ribbon::memory {
namespace {

// v1 reports "no limit" as the largest page-aligned int64; anything this large is no limit.
constexpr int64_t kNoLimitAbove = int64_t{1} << 62;

// Debian's Abseil has its own string_view class; the parsing below works in it.
absl::string_view Absl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// The value of a "Key:   123 kB" line, in bytes.
std::optional<int64_t> KilobyteField(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumeSuffix(&line, "kB")) return std::nullopt;
    int64_t kib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

// `path` and each of its ancestors up to "/", deepest first.
std::vector<std::string> SelfAndAncestors(std::string path) {
  std::vector<std::string> out;
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    out.push_back(path);
    const size_t slash = path.rfind('/');
    if (path.empty() || slash == std::string::npos) break;
    path.resize(slash);
  }
  return out;
}

}  // namespace

absl::StatusOr<ProcessMemory> ParseProcStatus(std::string_view status_text) {
  const auto rss = KilobyteField(Absl(status_text), "VmRSS");
  const auto hwm = KilobyteField(Absl(status_text), "VmHWM");
  if (!rss || !hwm) return absl::InvalidArgumentError("process status has no VmRSS/VmHWM lines");
  return ProcessMemory{*rss, *hwm};
}

absl::StatusOr<ProcessMemory> ReadProcessMemory() {
  ASSIGN_OR_RETURN(const std::string text, ReadTextFile("/proc/self/status"));
  return ParseProcStatus(text);
}

absl::Status ResetPeakResident() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  if (!out)
    return absl::UnavailableError("cannot write /proc/self/clear_refs to reset the resident peak");
  return absl::OkStatus();
}

std::optional<int64_t> ParseCgroupLimit(std::string_view text) {
  int64_t bytes = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(Absl(text)), &bytes) || bytes <= 0 ||
      bytes >= kNoLimitAbove) {
    return std::nullopt;
  }
  return bytes;
}

std::vector<std::string> CgroupLimitFiles(std::string_view proc_cgroup_text,
                                          const std::string& root) {
  std::vector<std::string> files;
  for (absl::string_view line :
       absl::StrSplit(Absl(proc_cgroup_text), '\n', absl::SkipWhitespace())) {
    const std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    const bool v2 = fields[0] == "0" && fields[1].empty();
    const std::vector<absl::string_view> controllers = absl::StrSplit(fields[1], ',');
    const bool v1_memory =
        std::find(controllers.begin(), controllers.end(), "memory") != controllers.end();
    if (!v2 && !v1_memory) continue;
    const std::string base = v2 ? root : root + "/memory";
    const std::string file = v2 ? "/memory.max" : "/memory.limit_in_bytes";
    for (const std::string& dir : SelfAndAncestors(std::string(fields[2])))
      files.push_back(base + dir + file);
  }
  return files;
}

absl::StatusOr<MemoryBudget> ChooseMemoryBudget(
    std::string_view meminfo_text, int64_t resident_bytes,
    const std::vector<std::pair<std::string, std::string>>& cgroup_limit_texts) {
  const auto physical = KilobyteField(Absl(meminfo_text), "MemTotal");
  if (!physical) return absl::InvalidArgumentError("/proc/meminfo has no MemTotal line");
  MemoryBudget budget{*physical, "physical memory (/proc/meminfo MemTotal)"};
  if (const auto available = KilobyteField(Absl(meminfo_text), "MemAvailable")) {
    const int64_t reachable = *available + std::max<int64_t>(resident_bytes, 0);
    if (reachable < budget.bytes) {
      budget = {reachable,
                "available memory (/proc/meminfo MemAvailable + this process's resident)"};
    }
  }
  for (const auto& [file, text] : cgroup_limit_texts) {
    const auto limit = ParseCgroupLimit(text);
    if (limit && *limit < budget.bytes) budget = {*limit, file};
  }
  return budget;
}

absl::StatusOr<MemoryBudget> DetectMemoryBudget() {
  ASSIGN_OR_RETURN(const std::string meminfo, ReadTextFile("/proc/meminfo"));
  ASSIGN_OR_RETURN(const ProcessMemory self, ReadProcessMemory());
  std::vector<std::pair<std::string, std::string>> limits;
  if (const auto cgroups = ReadTextFile("/proc/self/cgroup"); cgroups.ok()) {
    for (const std::string& file : CgroupLimitFiles(*cgroups)) {
      if (auto text = ReadTextFile(file); text.ok()) limits.emplace_back(file, *std::move(text));
    }
  }
  return ChooseMemoryBudget(meminfo, self.resident_bytes, limits);
}

}  // namespace ribbon::memory
