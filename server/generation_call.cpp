#include "server/generation_call.h"

namespace ribbon::server {

const char* CallStateName(CallState state) {
  switch (state) {
    case CallState::kCreated:
      return "created";
    case CallState::kRunning:
      return "running";
    case CallState::kCancelling:
      return "cancelling";
    case CallState::kFinished:
      return "finished";
  }
  return "unknown";
}

bool CallTransitionAllowed(CallState from, CallState to) {
  switch (from) {
    case CallState::kCreated:
      return to == CallState::kRunning || to == CallState::kCancelling ||
             to == CallState::kFinished;
    case CallState::kRunning:
      return to == CallState::kCancelling || to == CallState::kFinished;
    case CallState::kCancelling:
      return to == CallState::kFinished;
    case CallState::kFinished:
      return false;
  }
  return false;
}

GenerationCall::GenerationCall(int index, OutputProcessor processor, TaskPool* pool,
                               EngineCancel cancel, std::shared_ptr<CallListener> listener)
    : index_(index),
      pool_(pool),
      cancel_(std::move(cancel)),
      processor_(std::move(processor)),
      listener_(std::move(listener)) {}

bool GenerationCall::Transition(CallState to) {
  if (!CallTransitionAllowed(state_, to)) {
    ++refused_transitions_;
    return false;
  }
  state_ = to;
  return true;
}

CallState GenerationCall::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

int GenerationCall::refused_transitions() const {
  std::lock_guard lock(mu_);
  return refused_transitions_;
}

void GenerationCall::SetEngineId(uint64_t id) {
  std::optional<FinishReason> forward;
  {
    std::lock_guard lock(mu_);
    engine_id_ = id;
    if (state_ == CallState::kCreated) {
      Transition(CallState::kRunning);
    } else if (state_ == CallState::kCancelling && !cancel_sent_) {
      forward = cancel_reason_;
      cancel_sent_ = true;
    }
  }
  if (forward) cancel_(id, *forward);
}

void GenerationCall::Cancel(FinishReason reason) {
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (state_ != CallState::kCreated && state_ != CallState::kRunning) return;
    Transition(CallState::kCancelling);
    cancel_reason_ = reason;
    if (!engine_id_) return;  // forwarded by SetEngineId
    cancel_sent_ = true;
    id = *engine_id_;
  }
  cancel_(id, reason);
}

void GenerationCall::FailBeforeEngine(const absl::Status& status) {
  FinishInfo info;
  info.reason = FinishReason::kError;
  info.status = status;
  Deliver(OutputChunk{}, &info);
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
  pool_->Post([self = shared_from_this()] { self->Drain(); });
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
    if (chunk.stop_string_matched) Cancel(FinishReason::kStopString);
    if (!finish) {
      Deliver(chunk, nullptr);
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
    Deliver(chunk, &*finish);
  }
}

void GenerationCall::Deliver(const OutputChunk& chunk, const FinishInfo* finish) {
  std::shared_ptr<CallListener> listener;
  {
    std::lock_guard lock(mu_);
    if (state_ == CallState::kFinished) return;
    listener = listener_;
    if (finish != nullptr) {
      Transition(CallState::kFinished);
      listener_.reset();
    }
  }
  if (listener == nullptr) return;
  if (!chunk.empty()) listener->OnCallOutput(index_, chunk);
  if (finish != nullptr) listener->OnCallFinished(index_, *finish);
}

}  // namespace ribbon::server
