#include "server/generation_call.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/logging.h"
#include "server/status_mapping.h"

namespace ribbon::server {
namespace {

using ribbon::v1::GenerateResponse;

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

grpc::Status StatusFromFinish(const FinishInfo& info) {
  switch (info.reason) {
    case FinishReason::kStopToken:
    case FinishReason::kLength:
    case FinishReason::kStopString:
      return grpc::Status::OK;
    case FinishReason::kCancelled:
      if (info.status.ok()) return grpc::Status(grpc::StatusCode::CANCELLED, "request cancelled");
      break;
    case FinishReason::kDeadline:
      if (info.status.ok()) {
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the request's deadline passed");
      }
      break;
    case FinishReason::kError:
      if (info.status.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "generation failed");
      break;
  }
  return ToGrpcStatus(info.status);
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

// Appends `chunk` to `message`; returns the bytes it adds on the wire (near enough).
int64_t MergeChunk(const OutputChunk& chunk, bool logprobs, GenerateResponse& message) {
  GenerateResponse delta;
  for (const SampledToken& token : chunk.tokens) {
    delta.add_token_ids(token.token);
    if (!logprobs) continue;
    ribbon::v1::TokenLogprob* entry = delta.add_logprobs();
    entry->set_token_id(token.token);
    entry->set_logprob(token.logprob);
    for (const TopLogprob& top : token.top) {
      ribbon::v1::TopLogprob* alternative = entry->add_top();
      alternative->set_token_id(top.token);
      alternative->set_logprob(top.logprob);
    }
  }
  delta.set_text(chunk.text);
  const int64_t bytes = static_cast<int64_t>(delta.ByteSizeLong());
  // MergeFrom appends repeated fields but overwrites `text`, a singular field: append it here.
  message.mutable_token_ids()->MergeFrom(delta.token_ids());
  message.mutable_logprobs()->MergeFrom(delta.logprobs());
  message.mutable_text()->append(chunk.text);
  return bytes;
}

}  // namespace

GenerationCall::GenerationCall(GenerationCallOptions options, Engine* engine, TaskPool* output_pool,
                               OutputProcessor processor)
    : options_(std::move(options)),
      engine_(engine),
      output_pool_(output_pool),
      processor_(std::move(processor)) {}

void GenerationCall::Attach(CallOutput* output) {
  std::lock_guard lock(mu_);
  output_ = output;
}

void GenerationCall::SetEngineId(uint64_t id) {
  std::optional<FinishReason> cancel;
  {
    std::lock_guard lock(mu_);
    engine_id_ = id;
    if (cancel_before_id_ && !engine_finish_) {
      cancel = cancel_before_id_;
      engine_cancel_sent_ = true;
    }
  }
  if (cancel) engine_->Cancel(id, *cancel);
}

void GenerationCall::FailBeforeEngine(const grpc::Status& status) {
  {
    std::lock_guard lock(mu_);
    awaiting_engine_ = false;
    if (!final_status_) final_status_ = status;
  }
  Pump();
  MaybeLogAccess();
}

void GenerationCall::OnTokens(std::span<const SampledToken> tokens) {
  std::lock_guard lock(inbox_mu_);
  inbox_.tokens.insert(inbox_.tokens.end(), tokens.begin(), tokens.end());
  PostDrain();
}

void GenerationCall::OnFinish(const FinishInfo& info) {
  std::lock_guard lock(inbox_mu_);
  inbox_.finish = info;
  PostDrain();
}

void GenerationCall::PostDrain() {
  if (inbox_.drain_posted) return;
  inbox_.drain_posted = true;
  output_pool_->Post([self = shared_from_this()] { self->Drain(); });
}

void GenerationCall::Drain() {
  while (true) {
    std::vector<SampledToken> tokens;
    std::optional<FinishInfo> finish;
    {
      std::lock_guard lock(inbox_mu_);
      if (inbox_.tokens.empty() && !inbox_.finish) {
        inbox_.drain_posted = false;
        return;
      }
      tokens.swap(inbox_.tokens);
      finish.swap(inbox_.finish);
    }
    OutputChunk chunk = processor_.OnTokens(tokens);
    if (chunk.stop_string_matched) CancelEngineRequest(FinishReason::kStopString);
    if (!finish) {
      if (!chunk.empty()) AppendOutput(chunk, nullptr);
      continue;
    }
    // A stop string found by the server outranks the reason the engine saw at that step.
    if (processor_.stop_string_matched()) {
      finish->reason = FinishReason::kStopString;
      finish->status = absl::OkStatus();
    }
    OutputChunk last = processor_.OnFinish(finish->reason);
    chunk.tokens.insert(chunk.tokens.end(), last.tokens.begin(), last.tokens.end());
    chunk.text += last.text;
    finish->generated_tokens = processor_.emitted_tokens();
    AppendOutput(chunk, &*finish);
  }
}

void GenerationCall::CancelEngineRequest(FinishReason reason) {
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (engine_cancel_sent_ || engine_finish_ || !awaiting_engine_) return;
    if (!engine_id_) {
      if (!cancel_before_id_) cancel_before_id_ = reason;
      return;
    }
    engine_cancel_sent_ = true;
    id = *engine_id_;
  }
  engine_->Cancel(id, reason);
}

void GenerationCall::AppendOutput(const OutputChunk& chunk, const FinishInfo* final) {
  {
    std::lock_guard lock(mu_);
    if (final != nullptr) engine_finish_ = *final;
    if (!final_status_) {
      pending_bytes_ += MergeChunk(chunk, options_.logprobs, pending_);
      has_pending_ = has_pending_ || !chunk.empty();
      if (final != nullptr) {
        final_status_ = StatusFromFinish(*final);
        if (final_status_->ok()) {
          pending_.set_finish_reason(ProtoFinishReason(final->reason));
          pending_.mutable_usage()->set_prompt_tokens(options_.prompt_tokens);
          pending_.mutable_usage()->set_generated_tokens(final->generated_tokens);
          SetTimings(*final, *pending_.mutable_timings());
          pending_.set_request_id(options_.request_id);
          has_pending_ = true;
        }
      }
    }
  }
  Pump();
  if (final != nullptr) MaybeLogAccess();
}

void GenerationCall::Abort(const grpc::Status& status) {
  {
    std::lock_guard lock(mu_);
    if (finish_called_) return;
    final_status_ = status;
    aborted_ = true;
    pending_.Clear();
    has_pending_ = false;
    pending_bytes_ = 0;
  }
  Pump();
}

void GenerationCall::Pump() {
  // Loops rather than recursing: each pass starts at most one write or the Finish.
  while (true) {
    enum class Action { kNone, kWrite, kFinish } action = Action::kNone;
    CallOutput* output = nullptr;
    grpc::Status status;
    GenerateResponse rest;
    {
      std::lock_guard lock(mu_);
      if (output_ == nullptr || finish_called_ || starting_write_) return;
      output = output_;
      if (output->streaming() && !in_flight_ && has_pending_) {
        in_flight_message_.Clear();
        in_flight_message_.Swap(&pending_);
        has_pending_ = false;
        pending_bytes_ = 0;
        over_limit_since_ = 0;
        in_flight_ = true;
        starting_write_ = true;
        action = Action::kWrite;
      } else if (final_status_ && (!in_flight_ || aborted_ || !output->streaming())) {
        finish_called_ = true;
        status = *final_status_;
        rest.Swap(&pending_);
        action = Action::kFinish;
      }
    }
    if (action == Action::kNone) return;
    if (action == Action::kFinish) {
      output->FinishCall(status, std::move(rest));
      MaybeLogAccess();
      return;
    }
    // The reactor may run OnWriteDone inline, which locks mu_ again: call it unlocked.
    output->WriteMessage(&in_flight_message_);
    std::lock_guard lock(mu_);
    starting_write_ = false;
  }
}

void GenerationCall::OnWriteDone(bool ok) {
  bool broken = false;
  {
    std::lock_guard lock(mu_);
    in_flight_ = false;
    broken = !ok && !finish_called_;
  }
  if (broken) {
    CancelEngineRequest(FinishReason::kCancelled);
    Abort(grpc::Status(grpc::StatusCode::CANCELLED, "the stream was closed by the client"));
    return;
  }
  Pump();
}

void GenerationCall::OnRpcCancelled(bool deadline_passed) {
  CancelEngineRequest(deadline_passed ? FinishReason::kDeadline : FinishReason::kCancelled);
  Abort(deadline_passed
            ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the request's deadline passed")
            : grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
}

void GenerationCall::Detach() {
  std::lock_guard lock(mu_);
  output_ = nullptr;
}

bool GenerationCall::CheckSlowReader(TimeNs now) {
  int64_t bytes = 0;
  {
    std::lock_guard lock(mu_);
    if (finish_called_) return false;
    if (output_ == nullptr || !output_->streaming()) return true;
    if (pending_bytes_ <= options_.max_pending_bytes) {
      over_limit_since_ = 0;
      return true;
    }
    if (over_limit_since_ == 0) over_limit_since_ = now;
    if (now - over_limit_since_ < options_.slow_reader_timeout_ms * 1'000'000) return true;
    bytes = pending_bytes_;
  }
  LogEvent(spdlog::level::warn, "slow_reader",
           {{"request_id", options_.request_id}, {"pending_bytes", bytes}});
  CancelEngineRequest(FinishReason::kCancelled);
  Abort(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("the client did not read the stream: ", bytes,
                                  " bytes pending for over ", options_.slow_reader_timeout_ms,
                                  " ms (stream.max_pending_bytes = ", options_.max_pending_bytes,
                                  ", stream.slow_reader_timeout_ms)")));
  return false;
}

void GenerationCall::MaybeLogAccess() {
  nlohmann::ordered_json fields;
  {
    std::lock_guard lock(mu_);
    if (access_logged_ || !finish_called_ || (awaiting_engine_ && !engine_finish_)) return;
    access_logged_ = true;
    if (!options_.access_log) return;
    const grpc::Status& status = *final_status_;
    fields = {
        {"request_id", options_.request_id},
        {"client_request_id", options_.client_request_id},
        {"method", options_.method},
        {"status", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
        {"prompt_tokens", options_.prompt_tokens},
        {"duration_seconds", RoundedSeconds(NsToSeconds(SteadyNowNs() - received_))}};
    if (!status.ok()) fields["message"] = status.error_message();
    if (engine_finish_) {
      const FinishInfo& info = *engine_finish_;
      ribbon::v1::Timings timings;
      SetTimings(info, timings);
      fields["finish_reason"] = FinishReasonName(info.reason);
      fields["generated_tokens"] = info.generated_tokens;
      fields["prompt_tokens_computed"] = info.prompt_tokens_computed;
      fields["preemptions"] = info.preemptions;
      fields["queue_seconds"] = RoundedSeconds(timings.queue_seconds());
      fields["ttft_seconds"] = RoundedSeconds(timings.time_to_first_token_seconds());
    } else {
      fields["generated_tokens"] = 0;
      fields["prompt_tokens_computed"] = 0;
    }
  }
  LogEvent(spdlog::level::info, "access", fields);
}

}  // namespace ribbon::server
