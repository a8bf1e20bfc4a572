// OpenAiResponse: the output of one /v1/chat/completions or /v1/completions request. A CallGroup
// (one call per choice) that formats output in OpenAI's shapes and is the transport of its own
// WriteQueue<std::string>, which carries the bytes to the HttpConnection:
//   stream   server-sent events, one chunk object per write (merged while a write is in
//            flight), a final chunk per choice with its finish_reason, the usage chunk when
//            stream_options.include_usage, then "data: [DONE]"
//   unary    one JSON body when every choice has finished
// A client that disconnects, or stops reading for longer than stream.slow_reader_timeout_ms
// with more than stream.max_pending_bytes pending, ends the response and cancels every choice.
//
// Threads and ownership as CallGroup; the connection is held weakly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "server/call_group.h"
#include "server/openai/http_server.h"
#include "server/openai/openai_request.h"
#include "server/write_queue.h"

namespace ribbon::server::openai {

struct OpenAiResponseOptions {
  Endpoint endpoint = Endpoint::kChat;
  bool stream = false;
  bool include_usage = false;
  int completion_logprobs = -1;  // completions' legacy logprobs (-1 = off)
  bool chat_logprobs = false;
  std::string model;  // the served name, echoed in every object
  int64_t max_pending_bytes = 1 << 20;
  int64_t slow_reader_timeout_ms = 10000;
};

// HTTP status for a Status (OK 200, INVALID_ARGUMENT 400, NOT_FOUND 404, ...).
int HttpStatusFor(const absl::Status& status);
// {"error": {"message", "type", "param", "code"}} for a non-OK status.
std::string ErrorBody(const absl::Status& status);

class OpenAiResponse final : public CallGroup, public WriteTransport<std::string> {
 public:
  OpenAiResponse(CallGroupOptions group, OpenAiResponseOptions options,
                 std::shared_ptr<const Tokenizer> tokenizer,
                 std::weak_ptr<HttpConnection> connection);

  // Attaches the queue and watches the connection for a disconnect. Call once, first.
  void Open();
  // Ends a request refused before any engine call (bad request, loading, ...).
  void Refuse(const absl::Status& status);
  bool CheckSlowReader(TimeNs now) override;

  // WriteTransport.
  void StartWrite(const std::string* data) override;
  void Finish(const absl::Status& status, std::vector<std::string>&& rest) override;

 protected:
  void EmitChunk(int index, const OutputChunk& chunk) override;
  void EmitSequenceEnd(int index, const FinishInfo& info) override;
  void EndOutput(const absl::Status& status) override;

 private:
  struct Choice {
    std::string text;
    nlohmann::json logprobs;  // accumulated (unary), or null
    bool role_sent = false;
    const char* finish_reason = nullptr;
    int64_t text_offset = 0;
  };

  nlohmann::json ChunkObject(nlohmann::json choices) const;
  nlohmann::json LogprobsFor(const OutputChunk& chunk, Choice& choice) const;
  nlohmann::json Usage() const;
  void PushEvent(const nlohmann::json& object);
  void ClientGone(const absl::Status& status);

  const OpenAiResponseOptions options_;
  const std::shared_ptr<const Tokenizer> tokenizer_;
  const std::weak_ptr<HttpConnection> connection_;
  const int64_t created_;
  const int32_t context_id_;  // decoding context for a token's text in logprobs
  const std::string context_text_;
  WriteQueue<std::string> queue_;
  std::vector<Choice> choices_;  // Emit* only (serialized by the group)
};

}  // namespace ribbon::server::openai
