// Helpers shared by the libFuzzer targets in tests/fuzz/ (header-only; each target is its own
// executable). A target checks its invariants with Require, which prints what broke and aborts,
// so libFuzzer (and the replay test, tests/fuzz/replay_main.cpp) report it as a crash.
//
// Several targets read one input as several files: the parts are separated by kPartSeparator
// (a line of its own, so hand-written seeds stay readable).
// Threads: one per process (libFuzzer runs inputs one after another).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace ribbon::fuzz {

inline constexpr std::string_view kPartSeparator = "\n--8<--\n";

[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

inline void Require(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input split at every kPartSeparator; at most `max_parts` parts (the last keeps the rest).
inline std::vector<std::string_view> SplitParts(std::string_view input, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = input.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(input.substr(0, at));
    input.remove_prefix(at + kPartSeparator.size());
  }
  parts.push_back(input);
  return parts;
}

// $RIBBON_SHARED_DATA (set by tests/fuzz/run_fuzz.sh and by ctest); abort when unset.
inline std::string SharedData() {
  const char* dir = std::getenv("RIBBON_SHARED_DATA");
  if (dir == nullptr) Fail("RIBBON_SHARED_DATA is not set (the shared data directory)");
  return dir;
}

// A directory of this process's own under $TMPDIR (or /tmp), made on first use. Inputs that are
// files on disk (safetensors, checkpoints) are written here; each run overwrites the last.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path path = std::filesystem::path(tmp != nullptr ? tmp : "/tmp") /
                                 ("ribbon-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

inline void WriteFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  Require(out.good(), "cannot write " + path.string());
}

}  // namespace ribbon::fuzz
