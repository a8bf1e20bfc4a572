#include "core/engine/step_pipeline.h"

namespace ribbon {

StepPipeline::StepPipeline(bool overlap) {
  if (overlap) worker_ = std::make_unique<ForwardWorker>();
}

StepPipeline::~StepPipeline() {
  while (!launched_.empty()) Land();
}

void StepPipeline::Launch(std::unique_ptr<Step> step, std::function<void(Step&)> run) {
  // Queued behind a step in flight, this one assumed that step's tokens. Whether that step
  // failed comes from the worker, not from the step: by the time this one starts, the engine
  // thread may have landed and freed it (ThreadSanitizer caught the read of a freed step).
  const bool behind = !launched_.empty();
  launched_.push_back(std::move(step));
  Step* s = launched_.back().get();
  if (!worker_) {
    run(*s);
    return;
  }
  worker_->Launch([s, behind, run = std::move(run)](const absl::Status& before) {
    if (behind && !before.ok()) {
      s->aborted = true;
      s->forward_status = absl::AbortedError("the step before it failed");
    } else {
      run(*s);
    }
    return s->forward_status;
  });
}

std::unique_ptr<Step> StepPipeline::Land() {
  if (worker_) worker_->Wait().IgnoreError();  // the step holds its own status
  std::unique_ptr<Step> step = std::move(launched_.front());
  launched_.pop_front();
  return step;
}

}  // namespace ribbon
