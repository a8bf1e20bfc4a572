// load_memory_tool: loads a checkpoint and reports how much resident memory loading took.
//
//   load_memory_tool MODEL_DIR
// Prints JSON: weight_bytes (the loaded weights), rss_before, peak_during (VmHWM after the
// high-water mark was reset just before loading), rss_after, all in bytes.
#include <fstream>
#include <iostream>
#include <string>

#include "core/model/model_runner.h"

namespace {

int64_t StatusField(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: load_memory_tool MODEL_DIR\n";
    return 2;
  }
  const int64_t before = StatusField("VmRSS");
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
  auto model = ribbon::LoadModel({.path = argv[1], .num_threads = 1});
  if (!model.ok()) {
    std::cerr << model.status() << "\n";
    return 1;
  }
  std::cout << "{\"weight_bytes\": " << (*model)->weight_bytes() << ", \"rss_before\": " << before
            << ", \"peak_during\": " << StatusField("VmHWM")
            << ", \"rss_after\": " << StatusField("VmRSS") << "}\n";
  return 0;
}
