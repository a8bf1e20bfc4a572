#include "server/call_group.h"

#include "absl/strings/str_cat.h"
#include "server/logging.h"

namespace ribbon::server {
namespace {

double Seconds(TimeNs from, TimeNs to) {
  return to > from && from > 0 ? NsToSeconds(to - from) : 0;
}

}  // namespace

absl::Status StatusFromFinish(const FinishInfo& info) {
  switch (info.reason) {
    case FinishReason::kStopToken:
    case FinishReason::kLength:
    case FinishReason::kStopString:
      return absl::OkStatus();
    case FinishReason::kCancelled:
      if (info.status.ok()) return absl::CancelledError("request cancelled");
      break;
    case FinishReason::kDeadline:
      if (info.status.ok()) return absl::DeadlineExceededError("the request's deadline passed");
      break;
    case FinishReason::kError:
      if (info.status.ok()) return absl::InternalError("generation failed");
      break;
  }
  return info.status;
}

CallGroup::CallGroup(CallGroupOptions options) : options_(std::move(options)) {}

void CallGroup::Start(Engine* engine, TaskPool* pool, std::shared_ptr<const Tokenizer> tokenizer,
                      std::vector<PreparedCall> prepared, bool logprobs) {
  logprobs_ = logprobs;
  const EngineCancel cancel = [engine](uint64_t id, FinishReason reason) {
    engine->Cancel(id, reason);
  };
  std::vector<std::shared_ptr<GenerationCall>> calls;
  for (size_t i = 0; i < prepared.size(); ++i) {
    const std::vector<int32_t>& prompt = prepared[i].request.prompt;
    if (i == 0 || prompt != prepared[i - 1].request.prompt) prompt_tokens_ += prompt.size();
    prompt_sizes_.push_back(static_cast<int32_t>(prompt.size()));
    OutputProcessor processor(tokenizer, std::move(prepared[i].processing));
    calls.push_back(std::make_shared<GenerationCall>(static_cast<int>(i), std::move(processor),
                                                     pool, cancel, shared_from_this()));
  }
  {
    std::lock_guard lock(mu_);
    calls_ = calls;
    infos_.resize(calls.size());
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    std::optional<absl::Status> ended;
    {
      std::lock_guard lock(mu_);
      ended = status_;
    }
    if (ended) {  // the response already ended (or a sibling was refused): never submit
      const absl::Status status = ended->ok() ? absl::CancelledError("cancelled") : *ended;
      // Counted as the engine counts what it ends: ribbon_requests_total covers every request
      // the access log reports, this one too (a client gone before its request was submitted).
      if (options_.count_refused) options_.count_refused(status.code());
      calls[i]->FailBeforeEngine(status);
      continue;
    }
    absl::StatusOr<uint64_t> id = engine->Submit(std::move(prepared[i].request), calls[i]);
    if (!id.ok()) {
      if (options_.count_refused) options_.count_refused(id.status().code());
      calls[i]->FailBeforeEngine(id.status());
      continue;
    }
    calls[i]->SetEngineId(*id);
  }
}

bool CallGroup::done() const {
  std::lock_guard lock(mu_);
  return access_logged_;
}

void CallGroup::OutputFinished(const absl::Status& status) {
  {
    std::lock_guard lock(mu_);
    if (output_status_) return;
    output_status_ = status;
  }
  MaybeLogAccess();
}

int64_t CallGroup::generated_tokens() const {
  std::lock_guard lock(mu_);
  int64_t total = 0;
  for (const auto& info : infos_) total += info ? info->generated_tokens : 0;
  return total;
}

int64_t CallGroup::cached_prompt_tokens() const {
  std::lock_guard lock(mu_);
  for (const auto& info : infos_)
    if (info) return info->cached_prompt_tokens;
  return 0;
}

void CallGroup::OnCallOutput(int index, const OutputChunk& chunk) {
  std::lock_guard emit(emit_mu_);
  {
    std::lock_guard lock(mu_);
    if (output_ended_) return;
  }
  EmitChunk(index, chunk);
}

void CallGroup::OnCallFinished(int index, const FinishInfo& finished) {
  FinishInfo info = finished;
  info.prompt_tokens = prompt_sizes_[index];
  {
    std::lock_guard emit(emit_mu_);
    const absl::Status status = StatusFromFinish(info);
    bool failed_now = false;
    bool emit_end = false;
    bool end_output = false;
    {
      std::lock_guard lock(mu_);
      infos_[index] = info;
      ++finished_;
      failed_now = !status.ok() && !status_;
      if (failed_now) status_ = status;
      emit_end = status.ok() && !output_ended_;
      if (!status_ && finished_ == static_cast<int>(infos_.size())) status_ = absl::OkStatus();
      end_output = status_ && !output_ended_;
      if (end_output) output_ended_ = true;
    }
    if (failed_now) CancelAll(FinishReason::kCancelled);
    if (emit_end) EmitSequenceEnd(index, info);
    if (end_output) EndOutput(*status_);
  }
  MaybeLogAccess();
}

void CallGroup::TransportEnded(const absl::Status& status) {
  {
    std::lock_guard lock(mu_);
    if (!status_) status_ = status;
    output_ended_ = true;
  }
  CancelAll(absl::IsDeadlineExceeded(status) ? FinishReason::kDeadline : FinishReason::kCancelled);
  MaybeLogAccess();
}

void CallGroup::CancelAll(FinishReason reason) {
  std::vector<std::shared_ptr<GenerationCall>> calls;
  {
    std::lock_guard lock(mu_);
    calls = calls_;
  }
  for (const auto& call : calls) call->Cancel(reason);
}

void CallGroup::MaybeLogAccess() {
  nlohmann::ordered_json fields;
  {
    std::lock_guard lock(mu_);
    if (access_logged_ || !output_status_ || finished_ < static_cast<int>(infos_.size())) return;
    access_logged_ = true;
    calls_.clear();  // every call has finished: nothing left to cancel
    if (!options_.access_log) return;
    const absl::Status& status = *output_status_;
    fields = {{"request_id", options_.request_id},
              {"client_request_id", options_.client_request_id},
              {"method", options_.method},
              {"status", absl::StatusCodeToString(status.code())},
              {"prompt_tokens", prompt_tokens_},
              {"duration_seconds", RoundedSeconds(NsToSeconds(SteadyNowNs() - received_))}};
    if (!status.ok()) fields["message"] = std::string(status.message());
    int64_t generated = 0, computed = 0, preemptions = 0;
    for (const auto& info : infos_) {
      generated += info->generated_tokens;
      computed += info->prompt_tokens_computed;
      preemptions += info->preemptions;
    }
    if (infos_.size() > 1) fields["sequences"] = infos_.size();
    if (!infos_.empty()) {
      const FinishInfo& first = *infos_[0];
      const TimeNs queue_end = first.first_scheduled > 0 ? first.first_scheduled : first.finished;
      fields["finish_reason"] = FinishReasonName(first.reason);
      fields["queue_seconds"] = RoundedSeconds(Seconds(first.arrival, queue_end));
      fields["ttft_seconds"] = RoundedSeconds(Seconds(first.arrival, first.first_token));
    }
    fields["generated_tokens"] = generated;
    fields["prompt_tokens_computed"] = computed;
    fields["preemptions"] = preemptions;
  }
  LogEvent(spdlog::level::info, "access", fields);
}

}  // namespace ribbon::server
