// WriteQueue: the output side of one response, whatever carries it (a gRPC reactor, an HTTP
// server-sent-events stream). It keeps exactly one write in flight, merges output that arrives
// meanwhile into pending messages, ends the response exactly once, and tells a slow reader
// (pending output above `max_pending_bytes` for longer than `slow_reader_timeout_ms`) from one
// that is merely behind.
//
// States (WriteState), each change made by Transition() and nowhere else:
//   kIdle      open, no write in flight (pending output, if any, is being started)
//   kWriting   open, one write in flight
//   kClosing   the output is complete (Close), a write in flight or pending output still to go
//   kFinished  Finish handed to the transport; terminal. Reached from any state by Abort, which
//              drops pending output and does not wait for the write in flight.
// A non-streaming queue (a unary response) never writes: everything merges into pending and
// Close hands it to Finish.
//
// Threads: every method may be called from any thread. The transport is called without the
// queue's lock held (it may call OnWriteDone inline); at most one transport call is in progress
// at a time. Ownership: the transport is borrowed from Attach until Detach; the message passed
// to StartWrite stays valid until the matching OnWriteDone.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "core/common/time.h"

namespace ribbon::server {

enum class WriteState { kIdle, kWriting, kClosing, kFinished };

const char* WriteStateName(WriteState state);

// True for the moves the state diagram above allows.
bool WriteTransitionAllowed(WriteState from, WriteState to);

template <typename Message>
class WriteTransport {
 public:
  virtual ~WriteTransport() = default;
  // Writes one message; the transport answers with WriteQueue::OnWriteDone.
  virtual void StartWrite(const Message* message) = 0;
  // Ends the response. `rest` is the output never written (all of it for a unary response).
  virtual void Finish(const absl::Status& status, std::vector<Message>&& rest) = 0;
};

template <typename Message>
struct WriteQueueOptions {
  bool streaming = true;
  int64_t max_pending_bytes = 1 << 20;
  int64_t slow_reader_timeout_ms = 10000;
  // Merges `delta` into `into` when both can travel as one message (false: queue it apart).
  bool (*try_merge)(Message& into, Message& delta) = nullptr;
  int64_t (*bytes)(const Message& message) = nullptr;  // wire size, near enough
};

template <typename Message>
class WriteQueue {
 public:
  explicit WriteQueue(WriteQueueOptions<Message> options) : options_(options) {}

  // Output queued before the transport came is started now.
  void Attach(WriteTransport<Message>* transport) {
    {
      std::lock_guard lock(mu_);
      transport_ = transport;
    }
    Pump();
  }
  void Detach() {
    std::lock_guard lock(mu_);
    transport_ = nullptr;
  }

  // Queues output; ignored once the output is complete or the response has ended.
  void Push(Message message) {
    {
      std::lock_guard lock(mu_);
      if (state_ == WriteState::kClosing || state_ == WriteState::kFinished) return;
      pending_bytes_ += options_.bytes(message);
      if (pending_.empty() || !options_.try_merge(pending_.back(), message)) {
        pending_.push_back(std::move(message));
      }
    }
    Pump();
  }

  // The output is complete: the pending output is written, then the response ends with `status`.
  void Close(const absl::Status& status) {
    {
      std::lock_guard lock(mu_);
      if (state_ == WriteState::kClosing || state_ == WriteState::kFinished) return;
      final_status_ = status;
      Transition(WriteState::kClosing);
    }
    Pump();
  }

  // Ends the response now with `status`: pending output is dropped. False if it had ended.
  bool Abort(const absl::Status& status) {
    std::vector<Message> none;
    WriteTransport<Message>* transport = nullptr;
    {
      std::lock_guard lock(mu_);
      if (state_ == WriteState::kFinished) return false;
      final_status_ = status;
      pending_.clear();
      pending_bytes_ = 0;
      abort_pending_ = true;
      // The thread starting a write finishes it when it returns; Attach finishes it if no
      // transport is there yet.
      if (starting_ || transport_ == nullptr) return true;
      Transition(WriteState::kFinished);
      transport = transport_;
    }
    if (transport != nullptr) transport->Finish(status, std::move(none));
    return true;
  }

  // The write in flight landed; `ok` false means the reader is gone (returns true then, once:
  // the caller cancels the work feeding this queue).
  bool OnWriteDone(bool ok) {
    {
      std::lock_guard lock(mu_);
      if (state_ == WriteState::kWriting) Transition(WriteState::kIdle);
      write_in_flight_ = false;
    }
    if (!ok) return Abort(absl::CancelledError("the stream was closed by the client"));
    Pump();
    return false;
  }

  // Watchdog: true when the reader has been too slow for too long; the queue is then aborted
  // with RESOURCE_EXHAUSTED and the caller cancels the work feeding it.
  bool CheckSlowReader(TimeNs now);

  WriteState state() const {
    std::lock_guard lock(mu_);
    return state_;
  }
  bool finished() const { return state() == WriteState::kFinished; }
  int64_t pending_bytes() const {
    std::lock_guard lock(mu_);
    return pending_bytes_;
  }
  // The status the response ended (or will end) with, once decided.
  std::optional<absl::Status> final_status() const {
    std::lock_guard lock(mu_);
    return final_status_;
  }

 private:
  // The one place the state changes; an illegal move is a bug, kept out of production paths.
  void Transition(WriteState to) {
    if (!WriteTransitionAllowed(state_, to)) return;
    state_ = to;
  }

  // Starts the next write or the Finish, if one is due. Loops rather than recursing, since
  // OnWriteDone may run inside StartWrite.
  void Pump();

  const WriteQueueOptions<Message> options_;
  mutable std::mutex mu_;
  WriteTransport<Message>* transport_ = nullptr;
  WriteState state_ = WriteState::kIdle;
  std::deque<Message> pending_;
  int64_t pending_bytes_ = 0;
  Message in_flight_{};
  bool write_in_flight_ = false;
  bool starting_ = false;       // a thread is inside StartWrite: no other transport call now
  bool abort_pending_ = false;  // Abort came while starting_: finish when StartWrite returns
  std::optional<absl::Status> final_status_;
  TimeNs over_limit_since_ = 0;
};

template <typename Message>
void WriteQueue<Message>::Pump() {
  while (true) {
    WriteTransport<Message>* transport = nullptr;
    std::vector<Message> rest;
    absl::Status status;
    bool finish = false;
    {
      std::lock_guard lock(mu_);
      if (transport_ == nullptr || starting_ || state_ == WriteState::kFinished) return;
      transport = transport_;
      if (abort_pending_) {
        Transition(WriteState::kFinished);
        status = *final_status_;
        finish = true;
      } else if (options_.streaming && !write_in_flight_ && !pending_.empty()) {
        in_flight_ = std::move(pending_.front());
        pending_.pop_front();
        pending_bytes_ = 0;
        for (const Message& m : pending_) pending_bytes_ += options_.bytes(m);
        over_limit_since_ = 0;
        write_in_flight_ = true;
        starting_ = true;
        if (state_ == WriteState::kIdle) Transition(WriteState::kWriting);
      } else if (state_ == WriteState::kClosing && (!write_in_flight_ || !options_.streaming)) {
        Transition(WriteState::kFinished);
        rest.assign(std::make_move_iterator(pending_.begin()),
                    std::make_move_iterator(pending_.end()));
        pending_.clear();
        status = *final_status_;
        finish = true;
      } else {
        return;
      }
    }
    if (finish) {
      transport->Finish(status, std::move(rest));
      return;
    }
    transport->StartWrite(&in_flight_);
    std::lock_guard lock(mu_);
    starting_ = false;
  }
}

template <typename Message>
bool WriteQueue<Message>::CheckSlowReader(TimeNs now) {
  int64_t bytes = 0;
  {
    std::lock_guard lock(mu_);
    if (state_ == WriteState::kFinished || !options_.streaming) return false;
    if (pending_bytes_ <= options_.max_pending_bytes) {
      over_limit_since_ = 0;
      return false;
    }
    if (over_limit_since_ == 0) over_limit_since_ = now;
    if (now - over_limit_since_ < options_.slow_reader_timeout_ms * 1'000'000) return false;
    bytes = pending_bytes_;
  }
  return Abort(absl::ResourceExhaustedError(
      "the client did not read the stream: " + std::to_string(bytes) + " bytes pending for over " +
      std::to_string(options_.slow_reader_timeout_ms) + " ms (stream.max_pending_bytes = " +
      std::to_string(options_.max_pending_bytes) + ", stream.slow_reader_timeout_ms)"));
}

}  // namespace ribbon::server
