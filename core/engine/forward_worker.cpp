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

void ForwardWorker::Launch(std::function<absl::Status()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = std::move(job);
    busy_ = true;
    done_ = false;
  }
  cv_.notify_all();
}

absl::Status ForwardWorker::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_; });
  done_ = false;
  return result_;
}

void ForwardWorker::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return busy_ || stop_; });
    if (stop_) return;
    auto job = std::move(job_);
    lock.unlock();
    absl::Status status = job();
    lock.lock();
    result_ = std::move(status);
    busy_ = false;
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace ribbon
