// Test helper: runs the real ribbond binary on loopback (ports picked by the daemon and read back
// from --port-file), and always stops it: SIGTERM in the destructor, SIGKILL if it lingers.
// Used from the test's main thread.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

extern char** environ;

namespace ribbon::testing {

class RibbondProcess {
 public:
  // Starts ribbond on `model` with `extra_args`; returns once the port file exists (or fails the
  // test after 60 s, or when the daemon exits early).
  RibbondProcess(const std::string& model, std::vector<std::string> extra_args = {}) {
    const std::string build = std::getenv("RIBBON_BUILD");
    dir_ = std::filesystem::temp_directory_path() /
           ("ribbond_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    const std::string port_file = (dir_ / "ports.json").string();
    std::vector<std::string> args = {build + "/server/ribbond",
                                     "--model",
                                     model,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--http-listen",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     port_file,
                                     "--log.file",
                                     (dir_ / "log.txt").string(),
                                     "--memory.probe",
                                     "false"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(port_file)) {
        std::ifstream in(port_file);
        grpc_port_ = nlohmann::json::parse(in)["grpc_port"].get<int>();
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  ~RibbondProcess() {
    Stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  bool running() const { return pid_ > 0 && grpc_port_ > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

  // SIGTERM, wait up to 30 s, then SIGKILL. Returns the exit status (or -1).
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int grpc_port_ = 0;
  int exit_code_ = -1;
};

}  // namespace ribbon::testing
