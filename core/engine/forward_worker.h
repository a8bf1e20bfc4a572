// ForwardWorker: runs jobs (forward passes) in launch order on a thread of its own, so the engine
// thread can schedule, build and queue the next step while one runs. With the next step already
// queued, the worker goes straight from one forward to the next: no thread hand-off sits between
// them. Engine-internal.
// Threads: Launch and Wait from one thread (the engine thread); Wait returns the statuses in
// launch order.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/status.h"

namespace ribbon {

class ForwardWorker {
 public:
  ForwardWorker();
  ~ForwardWorker();  // finishes the queued jobs first
  ForwardWorker(const ForwardWorker&) = delete;
  ForwardWorker& operator=(const ForwardWorker&) = delete;

  // A job is handed the status of the job the worker ran before it (OK for the first): the
  // caller may already have waited for that one and freed what it ran on.
  using Job = std::function<absl::Status(const absl::Status& before)>;

  void Launch(Job job);  // queued behind the jobs not yet run
  absl::Status Wait();   // the status of the oldest job not yet waited for

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queued_;
  std::deque<absl::Status> results_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ribbon
