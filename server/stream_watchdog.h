// StreamWatchdog: every 25 ms asks each live response (a CallGroup, gRPC or HTTP) whether its
// reader has been too slow for too long (CallGroup::CheckSlowReader ends it then), and drops the
// responses that are done. Its size is the daemon's count of active generation calls.
//
// Ownership: owned by the daemon; holds the groups weakly. Threads: Add and active from any
// thread; the check runs on a thread of its own, started by the constructor and joined by the
// destructor.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "server/call_group.h"

namespace ribbon::server {

class StreamWatchdog {
 public:
  StreamWatchdog();
  ~StreamWatchdog();
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  void Add(std::weak_ptr<CallGroup> group);
  // Responses not yet done (pruned every 25 ms).
  int active();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::weak_ptr<CallGroup>> groups_;
  std::thread thread_;
};

}  // namespace ribbon::server
