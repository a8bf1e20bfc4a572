// CallGroup: the engine requests behind one response (n sequences of one prompt, or one per
// prompt of a list) and what they add up to. A front end (gRPC, OpenAI HTTP) derives from it,
// formats each call's output into its own messages and pushes them into its WriteQueue.
//
// The group's status is the first of: a call that ends badly (cancelled, deadline, error: the
// others are then cancelled) or the transport ending the response (client gone, slow reader,
// RPC cancelled: every call is cancelled). Its access-log line is written once, when every call
// has finished and the transport has ended the response (with the status the client saw).
//
// Threads: Emit* hooks run on TaskPool threads, serialized by the group (never two at once, and
// EndOutput after every other); TransportEnded and CheckSlowReader from any thread.
// Ownership: shared by the transport (reactor, HTTP connection), the watchdog (weakly) and its
// calls until they finish.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/common/time.h"
#include "core/engine/engine.h"
#include "server/generation_call.h"

namespace ribbon::server {

// One engine request of the group, validated and ready to submit.
struct PreparedCall {
  GenerationRequest request;  // request_id and deadline set
  OutputProcessorOptions processing;
};

struct CallGroupOptions {
  std::string request_id;         // the server's id (logs, responses)
  std::string client_request_id;  // as the client sent it (logs)
  const char* method = "Generate";
  bool access_log = true;
  // Counts a call the engine refused (queue full, shutting down); may be empty.
  std::function<void(absl::StatusCode)> count_refused;
};

// The status a finished request maps to: OK for stop and length, else why it ended.
absl::Status StatusFromFinish(const FinishInfo& info);

class CallGroup : public CallListener, public std::enable_shared_from_this<CallGroup> {
 public:
  explicit CallGroup(CallGroupOptions options);
  ~CallGroup() override = default;

  // Submits every call (index = position). A refused submit ends the group with its status.
  // `logprobs`: the client asked for logprobs (the formats include them).
  void Start(Engine* engine, TaskPool* pool, std::shared_ptr<const Tokenizer> tokenizer,
             std::vector<PreparedCall> calls, bool logprobs);
  // The response ended on the transport's side with `status`: every call is cancelled.
  void TransportEnded(const absl::Status& status);
  // The transport has ended the response with `status` (what the client saw): the access log
  // reports this status, once every call has finished too.
  void OutputFinished(const absl::Status& status);
  // Watchdog: false once the group is done (drop it from the registry).
  virtual bool CheckSlowReader(TimeNs now) = 0;

  // CallListener.
  void OnCallOutput(int index, const OutputChunk& chunk) final;
  void OnCallFinished(int index, const FinishInfo& info) final;

  const std::string& request_id() const { return options_.request_id; }
  bool done() const;

 protected:
  // A piece of output for sequence `index`.
  virtual void EmitChunk(int index, const OutputChunk& chunk) = 0;
  // Sequence `index` ended normally (stop or length).
  virtual void EmitSequenceEnd(int index, const FinishInfo& info) = 0;
  // Every sequence ended normally (`status` OK), or the group failed with `status`.
  virtual void EndOutput(const absl::Status& status) = 0;

  bool logprobs() const { return logprobs_; }
  int num_calls() const { return static_cast<int>(prompt_sizes_.size()); }
  // Prompt tokens over distinct prompts, and generated tokens over all sequences.
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t generated_tokens() const;
  // Prompt tokens the prefix cache supplied, for the first sequence that has finished.
  int64_t cached_prompt_tokens() const;

 private:
  void CancelAll(FinishReason reason);
  void MaybeLogAccess();

  const CallGroupOptions options_;
  const TimeNs received_ = SteadyNowNs();
  int64_t prompt_tokens_ = 0;
  std::vector<int32_t> prompt_sizes_;  // per call; written by Start before any call runs
  bool logprobs_ = false;              // likewise

  std::mutex emit_mu_;  // serializes Emit*/EndOutput; taken before mu_, never after

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<GenerationCall>> calls_;
  std::vector<std::optional<FinishInfo>> infos_;
  int finished_ = 0;
  std::optional<absl::Status> status_;  // decided: the first failure, or OK when all ended well
  bool output_ended_ = false;
  std::optional<absl::Status> output_status_;  // set by OutputFinished
  bool access_logged_ = false;
};

}  // namespace ribbon::server
