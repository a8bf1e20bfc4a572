#include "core/engine/forward_worker.h"

namespace ribbon {

ForwardWorker::ForwardWorker() : thread_([this] { Run(); }) {}

ForwardWorker::~ForwardWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ForwardWorker::Launch(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back(std::move(job));
  }
  cv_.notify_all();
}

absl::Status ForwardWorker::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !results_.empty(); });
  absl::Status status = std::move(results_.front());
  results_.pop_front();
  return status;
}

void ForwardWorker::Run() {
  Job job;
  absl::Status before;  // of the job run last
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !queued_.empty() || stop_; });
      if (queued_.empty()) return;  // stopping, nothing left to run
      job = std::move(queued_.front());
      queued_.pop_front();
    }
    for (;;) {
      absl::Status status = job(before);
      before = status;
      bool more;
      {
        // Publish the result and take the next job in one critical section, and wake the engine
        // thread only after leaving it: the next forward starts without waiting on that thread.
        std::lock_guard<std::mutex> lock(mu_);
        results_.push_back(std::move(status));
        more = !queued_.empty();
        if (more) {
          job = std::move(queued_.front());
          queued_.pop_front();
        }
      }
      cv_.notify_all();
      if (!more) break;
    }
  }
}

}  // namespace ribbon
