// WriteQueue states and transitions: one write in flight, merging pending output, the slow
// reader ended, a cancel during a write, finishing exactly once (also under threads).
#include "server/write_queue.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

using namespace ribbon;
using namespace ribbon::server;

namespace {

bool AppendMerge(std::string& into, std::string& delta) {
  into += delta;
  return true;
}
int64_t Size(const std::string& message) { return static_cast<int64_t>(message.size()); }

WriteQueueOptions<std::string> Options(bool streaming = true, int64_t max_pending = 1 << 20,
                                       int64_t timeout_ms = 10000) {
  return {.streaming = streaming,
          .max_pending_bytes = max_pending,
          .slow_reader_timeout_ms = timeout_ms,
          .try_merge = &AppendMerge,
          .bytes = &Size};
}

// Records what the queue asks of it; completes writes only when told to (or inline).
class FakeTransport : public WriteTransport<std::string> {
 public:
  explicit FakeTransport(WriteQueue<std::string>* queue) : queue_(queue) {}
  void StartWrite(const std::string* message) override {
    std::lock_guard lock(mu);
    writes.push_back(*message);
    if (inline_done) {
      mu.unlock();
      queue_->OnWriteDone(true);
      mu.lock();
    }
    if (abort_inside_write) {
      abort_inside_write = false;
      mu.unlock();
      queue_->Abort(absl::CancelledError("inside"));
      mu.lock();
    }
  }
  void Finish(const absl::Status& status, std::vector<std::string>&& rest) override {
    std::lock_guard lock(mu);
    finishes.push_back(status);
    rest_at_finish = rest;
  }
  std::mutex mu;
  std::vector<std::string> writes;
  std::vector<absl::Status> finishes;
  std::vector<std::string> rest_at_finish;
  bool inline_done = false;
  bool abort_inside_write = false;

 private:
  WriteQueue<std::string>* queue_;
};

}  // namespace

TEST_CASE("write queue: one write in flight, later output merged into one pending write") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  queue.Attach(&transport);
  CHECK(queue.state() == WriteState::kIdle);
  queue.Push("a");
  CHECK(queue.state() == WriteState::kWriting);
  queue.Push("b");
  queue.Push("c");
  REQUIRE(transport.writes == std::vector<std::string>{"a"});  // still one in flight
  CHECK(queue.pending_bytes() == 2);
  CHECK_FALSE(queue.OnWriteDone(true));
  REQUIRE(transport.writes == std::vector<std::string>{"a", "bc"});  // merged
  CHECK(queue.state() == WriteState::kWriting);
  queue.OnWriteDone(true);
  CHECK(queue.state() == WriteState::kIdle);
  CHECK(transport.finishes.empty());
}

TEST_CASE("write queue: close waits for the write in flight and the pending output, once") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  queue.Attach(&transport);
  queue.Push("a");
  queue.Push("b");
  queue.Close(absl::OkStatus());
  CHECK(queue.state() == WriteState::kClosing);
  CHECK(transport.finishes.empty());
  queue.Push("ignored after close");
  queue.OnWriteDone(true);  // "b" goes out
  CHECK(transport.writes == std::vector<std::string>{"a", "b"});
  CHECK(transport.finishes.empty());
  queue.OnWriteDone(true);  // then the finish
  REQUIRE(transport.finishes.size() == 1);
  CHECK(transport.finishes[0].ok());
  CHECK(queue.state() == WriteState::kFinished);
  queue.Close(absl::InternalError("again"));
  CHECK_FALSE(queue.Abort(absl::CancelledError("again")));
  CHECK(transport.finishes.size() == 1);
}

TEST_CASE("write queue: close on an idle queue finishes at once") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  queue.Attach(&transport);
  queue.Close(absl::DeadlineExceededError("late"));
  REQUIRE(transport.finishes.size() == 1);
  CHECK(absl::IsDeadlineExceeded(transport.finishes[0]));
}

TEST_CASE("write queue: output before the transport is attached is written on attach") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  queue.Push("early");
  queue.Close(absl::InvalidArgumentError("refused"));
  queue.Attach(&transport);
  CHECK(transport.writes == std::vector<std::string>{"early"});
  queue.OnWriteDone(true);
  REQUIRE(transport.finishes.size() == 1);
  CHECK(absl::IsInvalidArgument(transport.finishes[0]));
}

TEST_CASE("write queue: a cancel during a write finishes without waiting for it") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  queue.Attach(&transport);
  queue.Push("a");
  queue.Push("pending");
  CHECK(queue.Abort(absl::CancelledError("client cancelled")));
  REQUIRE(transport.finishes.size() == 1);
  CHECK(absl::IsCancelled(transport.finishes[0]));
  CHECK(transport.rest_at_finish.empty());  // pending output dropped
  CHECK(queue.state() == WriteState::kFinished);
  CHECK_FALSE(queue.OnWriteDone(false));  // the write in flight lands after: nothing more
  CHECK(transport.finishes.size() == 1);
  CHECK(transport.writes.size() == 1);
}

TEST_CASE("write queue: a failed write means the reader is gone") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  queue.Attach(&transport);
  queue.Push("a");
  CHECK(queue.OnWriteDone(false));  // the caller cancels the work feeding the queue
  REQUIRE(transport.finishes.size() == 1);
  CHECK(absl::IsCancelled(transport.finishes[0]));
}

TEST_CASE("write queue: a slow reader is ended after the timeout, a catching-up one is not") {
  WriteQueue<std::string> queue(Options(true, /*max_pending=*/4, /*timeout_ms=*/100));
  FakeTransport transport(&queue);
  queue.Attach(&transport);
  const TimeNs ms = 1'000'000;
  queue.Push("first");
  queue.Push("0123456789");  // 10 bytes pending, over the limit
  CHECK_FALSE(queue.CheckSlowReader(1000 * ms));
  CHECK_FALSE(queue.CheckSlowReader(1050 * ms));
  // The reader catches up: the clock restarts.
  queue.OnWriteDone(true);
  queue.Push("abcdefgh");
  CHECK_FALSE(queue.CheckSlowReader(1120 * ms));
  CHECK_FALSE(queue.CheckSlowReader(1200 * ms));
  CHECK(queue.CheckSlowReader(1221 * ms));
  REQUIRE(transport.finishes.size() == 1);
  CHECK(absl::IsResourceExhausted(transport.finishes[0]));
  CHECK(std::string(transport.finishes[0].message()).find("stream.max_pending_bytes") !=
        std::string::npos);
  CHECK_FALSE(queue.CheckSlowReader(5000 * ms));  // ended once
}

TEST_CASE("write queue: a transport that completes inline writes everything in order") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  transport.inline_done = true;
  queue.Attach(&transport);
  for (const char* piece : {"a", "b", "c"}) queue.Push(piece);
  queue.Close(absl::OkStatus());
  CHECK(transport.writes == std::vector<std::string>{"a", "b", "c"});
  CHECK(transport.finishes.size() == 1);
}

TEST_CASE("write queue: an abort from inside StartWrite finishes once StartWrite returns") {
  WriteQueue<std::string> queue(Options());
  FakeTransport transport(&queue);
  transport.abort_inside_write = true;
  queue.Attach(&transport);
  queue.Push("a");
  REQUIRE(transport.finishes.size() == 1);
  CHECK(absl::IsCancelled(transport.finishes[0]));
  CHECK(queue.state() == WriteState::kFinished);
}

TEST_CASE("write queue: a unary queue never writes and hands everything to Finish") {
  WriteQueue<std::string> queue(Options(/*streaming=*/false));
  FakeTransport transport(&queue);
  queue.Attach(&transport);
  queue.Push("a");
  queue.Push("b");
  CHECK(transport.writes.empty());
  CHECK_FALSE(queue.CheckSlowReader(1'000'000'000'000));
  queue.Close(absl::OkStatus());
  REQUIRE(transport.finishes.size() == 1);
  CHECK(transport.rest_at_finish == std::vector<std::string>{"ab"});
}

TEST_CASE("write queue: the transition table allows exactly the diagram's moves") {
  using S = WriteState;
  const std::vector<S> all = {S::kIdle, S::kWriting, S::kClosing, S::kFinished};
  const std::set<std::pair<S, S>> legal = {{S::kIdle, S::kWriting},    {S::kIdle, S::kClosing},
                                           {S::kIdle, S::kFinished},   {S::kWriting, S::kIdle},
                                           {S::kWriting, S::kClosing}, {S::kWriting, S::kFinished},
                                           {S::kClosing, S::kFinished}};
  for (S from : all) {
    for (S to : all) {
      INFO(WriteStateName(from) << " -> " << WriteStateName(to));
      CHECK(WriteTransitionAllowed(from, to) == (legal.count({from, to}) == 1));
    }
  }
}

TEST_CASE("write queue: producers, a closer and a completing transport on threads finish once") {
  for (int round = 0; round < 50; ++round) {
    WriteQueue<std::string> queue(Options());
    FakeTransport transport(&queue);
    queue.Attach(&transport);
    std::atomic<bool> stop{false};
    std::thread completer([&] {
      while (!stop.load()) {
        if (queue.state() == WriteState::kWriting || queue.state() == WriteState::kClosing) {
          queue.OnWriteDone(true);
        }
        std::this_thread::yield();
      }
    });
    std::thread producer([&] {
      for (int i = 0; i < 100; ++i) queue.Push(std::to_string(i % 10));
    });
    producer.join();
    queue.Close(absl::OkStatus());
    while (!queue.finished()) std::this_thread::yield();
    stop.store(true);
    completer.join();
    std::lock_guard lock(transport.mu);
    REQUIRE(transport.finishes.size() == 1);
    std::string all;
    for (const std::string& write : transport.writes) all += write;
    std::string want;
    for (int i = 0; i < 100; ++i) want += std::to_string(i % 10);
    CHECK(all == want);  // nothing lost, nothing reordered
  }
}
