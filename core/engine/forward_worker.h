// ForwardWorker: runs one job at a time (the model's forward pass) on a thread of its own, so the
// engine thread can schedule and build the next step meanwhile. Engine-internal.
// Threads: Launch and Wait from one thread (the engine thread), alternately.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/status.h"

namespace ribbon {

class ForwardWorker {
 public:
  ForwardWorker();
  ~ForwardWorker();
  ForwardWorker(const ForwardWorker&) = delete;
  ForwardWorker& operator=(const ForwardWorker&) = delete;

  void Launch(std::function<absl::Status()> job);
  absl::Status Wait();  // the launched job's status

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<absl::Status()> job_;
  absl::Status result_;
  bool busy_ = false;
  bool done_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ribbon
