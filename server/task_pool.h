// TaskPool: a fixed set of threads running posted tasks in FIFO order. The server's output
// work (detokenizing, stop strings, building messages) runs here so that the engine thread
// only queues tokens and returns.
//
// Ownership: owned by the daemon; tasks own what they capture. Threads: Post from any thread;
// Stop (also run by the destructor) from one thread, not from a task. Tasks must not throw.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ribbon::server {

class TaskPool {
 public:
  explicit TaskPool(int num_threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Runs `task` on a pool thread. After Stop, tasks are dropped.
  void Post(std::function<void()> task);
  // Runs the tasks already posted, then joins the threads. Idempotent.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ribbon::server
