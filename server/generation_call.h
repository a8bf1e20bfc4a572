// GenerationCall: one Generate or Complete RPC from submission to its single Finish. It is the
// RequestSink the engine holds, and it drives the RPC's output.
//
//   engine thread   OnTokens/OnFinish only queue the tokens and post a drain to the TaskPool.
//   output threads  Drain(): detokenize, match stop strings (Engine::Cancel(kStopString) on a
//                   match), merge the new output into the one pending message, pump.
//   gRPC threads    OnWriteDone starts the next write (exactly one write in flight); OnCancel
//                   (client cancel, disconnect or deadline) cancels the engine request and
//                   finishes at once; OnDone detaches the output under the mutex.
//   watchdog        CheckSlowReader ends a stream whose unsent output stays above
//                   stream.max_pending_bytes for longer than stream.slow_reader_timeout_ms.
//
// Ownership: shared by the engine (as its sink), the reactor (until OnDone), the call registry
// (weakly) and posted tasks. The CallOutput (the reactor) is borrowed: valid from Attach until
// Detach, and the call never touches it after calling FinishCall. All methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "core/common/time.h"
#include "core/engine/engine.h"
#include "core/engine/request.h"
#include "ribbon/v1/generation.pb.h"
#include "server/output_processor.h"
#include "server/task_pool.h"

namespace ribbon::server {

// Where a call's output goes: a streaming reactor (one message per write) or a unary reactor
// (everything in one result). Implemented by the reactors in generation_service.cpp.
class CallOutput {
 public:
  virtual ~CallOutput() = default;
  virtual bool streaming() const = 0;
  // Streaming only; `message` stays valid until the write completes (OnWriteDone).
  virtual void WriteMessage(const ribbon::v1::GenerateResponse* message) = 0;
  // Ends the RPC. `rest` is the output not yet written (for a unary call: all of it).
  virtual void FinishCall(const grpc::Status& status, ribbon::v1::GenerateResponse&& rest) = 0;
};

struct GenerationCallOptions {
  std::string request_id;         // the server's id (logs, responses)
  std::string client_request_id;  // as the client sent it (logs)
  const char* method = "Generate";
  int32_t prompt_tokens = 0;
  bool logprobs = false;  // return each token's logprob (and its top alternatives, if any)
  int64_t max_pending_bytes = 1 << 20;
  int64_t slow_reader_timeout_ms = 10000;
  bool access_log = true;
};

class GenerationCall final : public RequestSink,
                             public std::enable_shared_from_this<GenerationCall> {
 public:
  GenerationCall(GenerationCallOptions options, Engine* engine, TaskPool* output_pool,
                 OutputProcessor processor);

  // Called once by the handler before Submit.
  void Attach(CallOutput* output);
  // Submit succeeded: remembers the engine id (and forwards a cancel that arrived before it).
  void SetEngineId(uint64_t id);
  // Submit failed (or the request was refused before it): finishes the RPC with `status`.
  void FailBeforeEngine(const grpc::Status& status);

  // RequestSink, on the engine thread.
  void OnTokens(std::span<const SampledToken> tokens) override;
  void OnFinish(const FinishInfo& info) override;

  // Reactor events, on gRPC threads.
  void OnWriteDone(bool ok);
  void OnRpcCancelled(bool deadline_passed);
  void Detach();

  // Watchdog, any thread. Returns false once the call has finished (drop it from the registry).
  bool CheckSlowReader(TimeNs now);

  const std::string& request_id() const { return options_.request_id; }

 private:
  struct Inbox {
    std::vector<SampledToken> tokens;
    std::optional<FinishInfo> finish;
    bool drain_posted = false;
  };

  void PostDrain();
  void Drain();
  void CancelEngineRequest(FinishReason reason);
  // Merges `chunk` into the pending message; `final` marks the end of the output.
  void AppendOutput(const OutputChunk& chunk, const FinishInfo* final);
  // Ends the RPC with `status` without waiting for more output (pending output is dropped).
  void Abort(const grpc::Status& status);
  // Starts the next write or the Finish, if one is due. Calls into the reactor unlocked.
  void Pump();
  void MaybeLogAccess();

  const GenerationCallOptions options_;
  Engine* const engine_;
  TaskPool* const output_pool_;
  const TimeNs received_ = SteadyNowNs();

  // Only the drain (serialized by Inbox::drain_posted) touches the processor.
  OutputProcessor processor_;

  std::mutex inbox_mu_;
  Inbox inbox_;

  std::mutex mu_;
  CallOutput* output_ = nullptr;
  std::optional<uint64_t> engine_id_;
  std::optional<FinishReason> cancel_before_id_;
  bool engine_cancel_sent_ = false;
  bool in_flight_ = false;
  // Between deciding on a write and StartWrite returning: nothing else may start a write or
  // call Finish meanwhile (OnWriteDone may even run inside StartWrite).
  bool starting_write_ = false;
  ribbon::v1::GenerateResponse in_flight_message_;
  ribbon::v1::GenerateResponse pending_;
  bool has_pending_ = false;
  int64_t pending_bytes_ = 0;
  TimeNs over_limit_since_ = 0;
  std::optional<grpc::Status> final_status_;  // set once the output is complete or aborted
  bool finish_called_ = false;
  std::optional<FinishInfo> engine_finish_;  // for the access log
  bool awaiting_engine_ = true;              // false when the engine never took the request
  bool aborted_ = false;                     // finish without waiting for the write in flight
  bool access_logged_ = false;
};

}  // namespace ribbon::server
