#include "server/stream_watchdog.h"

#include <chrono>

namespace ribbon::server {

StreamWatchdog::StreamWatchdog() : thread_([this] { Run(); }) {}

StreamWatchdog::~StreamWatchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StreamWatchdog::Add(std::weak_ptr<CallGroup> group) {
  std::lock_guard lock(mu_);
  groups_.push_back(std::move(group));
}

int StreamWatchdog::active() {
  std::lock_guard lock(mu_);
  return static_cast<int>(groups_.size());
}

void StreamWatchdog::Run() {
  constexpr auto kPeriod = std::chrono::milliseconds(25);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, kPeriod, [this] { return stopping_; });
    std::vector<std::weak_ptr<CallGroup>> groups = groups_;
    lock.unlock();
    const TimeNs now = SteadyNowNs();
    std::vector<bool> live(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      std::shared_ptr<CallGroup> group = groups[i].lock();
      live[i] = group != nullptr && group->CheckSlowReader(now);
    }
    lock.lock();
    // Groups added meanwhile sit past the snapshot; keep them.
    std::vector<std::weak_ptr<CallGroup>> kept;
    for (size_t i = 0; i < groups_.size(); ++i) {
      if (i >= groups.size() || live[i]) kept.push_back(groups_[i]);
    }
    groups_.swap(kept);
  }
}

}  // namespace ribbon::server
