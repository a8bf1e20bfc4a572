#include "core/engine/step_pipeline.h"

namespace ribbon {

StepPipeline::StepPipeline(bool overlap) {
  if (overlap) worker_ = std::make_unique<ForwardWorker>();
}

StepPipeline::~StepPipeline() {
  while (!launched_.empty()) Land();
}

void StepPipeline::Launch(std::unique_ptr<Step> step, std::function<void(Step&)> run) {
  Step* previous = newest();
  launched_.push_back(std::move(step));
  Step* s = launched_.back().get();
  if (!worker_) {
    run(*s);
    return;
  }
  worker_->Launch([s, previous, run = std::move(run)] {
    if (previous && !previous->forward_status.ok()) {
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
