// GenerationCall: one engine request, from submission to its single finish. It is the
// RequestSink the engine holds; it turns sampled tokens into client output (OutputProcessor:
// detokenizing, stop strings) off the engine thread and hands that output to a CallListener.
// How the output travels (gRPC messages, HTTP server-sent events) is the listener's business.
//
// States (CallState), each change made by Transition() and nowhere else:
//   kCreated     not yet in the engine (no engine id)
//   kRunning     the engine took it (SetEngineId)
//   kCancelling  a cancel is on its way to the engine (sent, or held until the id is known)
//   kFinished    the listener has had OnCallFinished; terminal
// Moves: created -> running | cancelling | finished (refused); running -> cancelling | finished;
// cancelling -> finished. Every other move is refused (and counted, for the tests).
//
//   engine thread   OnTokens/OnFinish only queue the tokens and post a drain to the TaskPool.
//   pool threads    Drain(): detokenize, match stop strings (cancelling the engine request with
//                   kStopString on a match), hand output and then the finish to the listener.
//   any thread      SetEngineId, FailBeforeEngine, Cancel.
//
// Ownership: shared by the engine (as its sink), posted tasks and the CallGroup; the call holds
// its listener until it has delivered OnCallFinished, then lets it go.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "core/engine/request.h"
#include "server/output_processor.h"
#include "server/task_pool.h"

namespace ribbon::server {

enum class CallState { kCreated, kRunning, kCancelling, kFinished };

const char* CallStateName(CallState state);
bool CallTransitionAllowed(CallState from, CallState to);

// Receives one call's output on a TaskPool thread: OnCallOutput any number of times (never an
// empty chunk), then OnCallFinished exactly once. One call's events never overlap; the events
// of different calls may.
class CallListener {
 public:
  virtual ~CallListener() = default;
  virtual void OnCallOutput(int index, const OutputChunk& chunk) = 0;
  // `info.generated_tokens` counts the tokens handed out; a call refused before the engine
  // finishes with reason kError and the refusal as its status.
  virtual void OnCallFinished(int index, const FinishInfo& info) = 0;
};

// Forwards a cancel to the engine (Engine::Cancel in production).
using EngineCancel = std::function<void(uint64_t engine_id, FinishReason reason)>;

class GenerationCall final : public RequestSink,
                             public std::enable_shared_from_this<GenerationCall> {
 public:
  GenerationCall(int index, OutputProcessor processor, TaskPool* pool, EngineCancel cancel,
                 std::shared_ptr<CallListener> listener);

  // The engine took the request; a cancel that came before is forwarded now.
  void SetEngineId(uint64_t id);
  // The engine never took it: finishes with kError and `status`.
  void FailBeforeEngine(const absl::Status& status);
  // Asks the engine to end the request (the finish still comes through OnFinish). Idempotent.
  void Cancel(FinishReason reason);

  // RequestSink, on the engine thread.
  void OnTokens(std::span<const SampledToken> tokens) override;
  void OnFinish(const FinishInfo& info) override;

  int index() const { return index_; }
  CallState state() const;
  // Moves Transition refused (a bug if ever non-zero; the state tests check it).
  int refused_transitions() const;

 private:
  struct Inbox {
    std::vector<SampledToken> tokens;
    std::optional<FinishInfo> finish;
    bool drain_posted = false;
  };

  // Under mu_. False (and counted) when `to` is not a legal move from the current state.
  bool Transition(CallState to);
  void PostDrain();
  void Drain();
  // The engine's finish, after the processor flushed: to the listener, once.
  void Deliver(const OutputChunk& chunk, const FinishInfo* finish);

  const int index_;
  TaskPool* const pool_;
  const EngineCancel cancel_;

  // Only the drain (serialized by Inbox::drain_posted) touches the processor.
  OutputProcessor processor_;

  std::mutex inbox_mu_;
  Inbox inbox_;

  mutable std::mutex mu_;
  CallState state_ = CallState::kCreated;
  std::optional<uint64_t> engine_id_;
  std::optional<FinishReason> cancel_reason_;  // set once a cancel was asked for
  bool cancel_sent_ = false;
  int refused_transitions_ = 0;
  std::shared_ptr<CallListener> listener_;  // released after OnCallFinished
};

}  // namespace ribbon::server
