#include "server/grpc_response.h"

#include "server/logging.h"
#include "server/status_mapping.h"

namespace ribbon::server {
namespace {

using ribbon::v1::GenerateResponse;
using ribbon::v1::GenerateResult;

ribbon::v1::FinishReason ProtoFinishReason(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStopString:
      return ribbon::v1::FINISH_REASON_STOP_STRING;
    case FinishReason::kStopToken:
      return ribbon::v1::FINISH_REASON_STOP_TOKEN;
    case FinishReason::kLength:
      return ribbon::v1::FINISH_REASON_LENGTH;
    case FinishReason::kCancelled:
      return ribbon::v1::FINISH_REASON_CANCELLED;
    case FinishReason::kDeadline:
      return ribbon::v1::FINISH_REASON_DEADLINE;
    case FinishReason::kError:
      break;
  }
  return ribbon::v1::FINISH_REASON_UNSPECIFIED;
}

double Seconds(TimeNs from, TimeNs to) {
  return to > from && from > 0 ? NsToSeconds(to - from) : 0;
}

void SetTimings(const FinishInfo& info, ribbon::v1::Timings& timings) {
  const TimeNs queue_end = info.first_scheduled > 0 ? info.first_scheduled : info.finished;
  timings.set_queue_seconds(Seconds(info.arrival, queue_end));
  timings.set_time_to_first_token_seconds(Seconds(info.arrival, info.first_token));
  timings.set_total_seconds(Seconds(info.arrival, info.finished));
}

// Merges `delta` into `into` when both belong to the same sequence and `into` is not its last.
bool TryMerge(GenerateResponse& into, GenerateResponse& delta) {
  if (into.index() != delta.index() ||
      into.finish_reason() != ribbon::v1::FINISH_REASON_UNSPECIFIED) {
    return false;
  }
  // MergeFrom appends repeated fields but overwrites `text`, a singular field: append it here.
  std::string text = into.text() + delta.text();
  into.MergeFrom(delta);
  into.set_text(std::move(text));
  return true;
}

int64_t Bytes(const GenerateResponse& message) {
  return static_cast<int64_t>(message.ByteSizeLong());
}

// Appends a unary result's sequence output.
void AppendTo(GenerateResponse& from, GenerateResult& to) {
  to.set_index(from.index());
  to.mutable_token_ids()->MergeFrom(from.token_ids());
  to.mutable_text()->append(from.text());
  to.mutable_logprobs()->MergeFrom(from.logprobs());
  if (from.finish_reason() != ribbon::v1::FINISH_REASON_UNSPECIFIED) {
    to.set_finish_reason(from.finish_reason());
    to.mutable_usage()->Swap(from.mutable_usage());
    to.mutable_timings()->Swap(from.mutable_timings());
    to.set_request_id(from.request_id());
  }
}

}  // namespace

GrpcResponse::GrpcResponse(CallGroupOptions options, bool streaming, int64_t max_pending_bytes,
                           int64_t slow_reader_timeout_ms)
    : CallGroup(std::move(options)),
      queue_({.streaming = streaming,
              .max_pending_bytes = max_pending_bytes,
              .slow_reader_timeout_ms = slow_reader_timeout_ms,
              .try_merge = &TryMerge,
              .bytes = &Bytes}) {}

void GrpcResponse::Refuse(const absl::Status& status) {
  TransportEnded(status);
  queue_.Close(status);
}

bool GrpcResponse::CheckSlowReader(TimeNs now) {
  if (queue_.CheckSlowReader(now)) {
    LogEvent(spdlog::level::warn, "slow_reader",
             {{"request_id", request_id()}, {"pending_bytes", queue_.pending_bytes()}});
    TransportEnded(*queue_.final_status());
  }
  return !done();
}

void GrpcResponse::EmitChunk(int index, const OutputChunk& chunk) {
  GenerateResponse message;
  message.set_index(static_cast<uint32_t>(index));
  for (const SampledToken& token : chunk.tokens) {
    message.add_token_ids(token.token);
    if (!logprobs()) continue;
    ribbon::v1::TokenLogprob* entry = message.add_logprobs();
    entry->set_token_id(token.token);
    entry->set_logprob(token.logprob);
    for (const TopLogprob& top : token.top) {
      ribbon::v1::TopLogprob* alternative = entry->add_top();
      alternative->set_token_id(top.token);
      alternative->set_logprob(top.logprob);
    }
  }
  message.set_text(chunk.text);
  queue_.Push(std::move(message));
}

void GrpcResponse::EmitSequenceEnd(int index, const FinishInfo& info) {
  GenerateResponse message;
  message.set_index(static_cast<uint32_t>(index));
  message.set_finish_reason(ProtoFinishReason(info.reason));
  message.mutable_usage()->set_prompt_tokens(static_cast<uint32_t>(info.prompt_tokens));
  message.mutable_usage()->set_generated_tokens(static_cast<uint32_t>(info.generated_tokens));
  message.mutable_usage()->set_cached_prompt_tokens(
      static_cast<uint32_t>(info.cached_prompt_tokens));
  SetTimings(info, *message.mutable_timings());
  message.set_request_id(request_id());
  queue_.Push(std::move(message));
}

void GrpcResponse::EndOutput(const absl::Status& status) { queue_.Close(status); }

void GrpcStreamReactor::Bind(std::shared_ptr<GrpcResponse> response) {
  response_ = std::move(response);
  response_->queue().Attach(this);
}

void GrpcStreamReactor::StartWrite(const GenerateResponse* message) {
  grpc::ServerWriteReactor<GenerateResponse>::StartWrite(message);
}

void GrpcStreamReactor::Finish(const absl::Status& status, std::vector<GenerateResponse>&&) {
  // OnDone may delete this reactor as soon as Finish is called: keep the response.
  std::shared_ptr<GrpcResponse> response = response_;
  grpc::ServerWriteReactor<GenerateResponse>::Finish(ToGrpcStatus(status));
  response->OutputFinished(status);
}

void GrpcStreamReactor::OnWriteDone(bool ok) {
  if (response_ && response_->queue().OnWriteDone(ok)) {
    response_->TransportEnded(absl::CancelledError("the stream was closed by the client"));
  }
}

namespace {

absl::Status CancelStatus(const grpc::CallbackServerContext& context) {
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("the request's deadline passed");
  }
  return absl::CancelledError("cancelled by the client");
}

}  // namespace

void GrpcStreamReactor::OnCancel() {
  if (!response_) return;
  const absl::Status status = CancelStatus(*context_);
  response_->TransportEnded(status);
  response_->queue().Abort(status);
}

void GrpcStreamReactor::OnDone() {
  if (response_) response_->queue().Detach();
  delete this;
}

void GrpcUnaryReactor::Bind(std::shared_ptr<GrpcResponse> response) {
  response_ = std::move(response);
  response_->queue().Attach(this);
}

void GrpcUnaryReactor::Finish(const absl::Status& status, std::vector<GenerateResponse>&& rest) {
  if (status.ok()) {
    for (GenerateResponse& message : rest) {
      const uint32_t index = message.index();
      if (index == 0) {
        AppendTo(message, *result_);
        continue;
      }
      while (static_cast<uint32_t>(result_->more_size()) < index) result_->add_more();
      AppendTo(message, *result_->mutable_more(static_cast<int>(index) - 1));
    }
  }
  std::shared_ptr<GrpcResponse> response = response_;
  grpc::ServerUnaryReactor::Finish(ToGrpcStatus(status));
  response->OutputFinished(status);
}

void GrpcUnaryReactor::OnCancel() {
  if (!response_) return;
  const absl::Status status = CancelStatus(*context_);
  response_->TransportEnded(status);
  response_->queue().Abort(status);
}

void GrpcUnaryReactor::OnDone() {
  if (response_) response_->queue().Detach();
  delete this;
}

}  // namespace ribbon::server
