#include "core/engine/forward_worker.h"

namespace ribbon {

void Gate::Open() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
  }
  cv_.notify_all();
}

void Gate::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return open_; });
}

ForwardWorker::ForwardWorker() : thread_([this] { Run(); }) {}

ForwardWorker::~ForwardWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ForwardWorker::Launch(std::function<absl::Status()> job) {
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
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return !queued_.empty() || stop_; });
    if (queued_.empty()) return;  // stopping, nothing left to run
    auto job = std::move(queued_.front());
    queued_.pop_front();
    lock.unlock();
    absl::Status status = job();
    lock.lock();
    results_.push_back(std::move(status));
    cv_.notify_all();
  }
}

}  // namespace ribbon
