// StepPipeline: the steps launched and not yet landed, oldest first, and where they run. Without
// overlap a step runs to completion inside Launch on the caller's thread. With overlap a worker
// thread (ForwardWorker) runs them in launch order, so the engine thread plans and queues step
// N+1 while step N runs, and the worker goes straight from one to the next; a step queued behind
// one that failed is not run (aborted = true, status ABORTED), since its plan assumed that
// step's tokens.
//
// Ownership: holds the launched steps until Land hands them back. Threads: every method from the
// engine thread; `run` functions run on the worker when overlapping and must touch only their
// step (and the model runner, which only the pipeline drives while steps are launched).
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include "core/engine/forward_worker.h"
#include "core/engine/step.h"

namespace ribbon {

class StepPipeline {
 public:
  explicit StepPipeline(bool overlap);
  ~StepPipeline();  // waits for the steps still running

  bool overlap() const { return worker_ != nullptr; }
  bool empty() const { return launched_.empty(); }
  int size() const { return static_cast<int>(launched_.size()); }
  // The newest launched step, or null.
  Step* newest() const { return launched_.empty() ? nullptr : launched_.back().get(); }

  // Launches `step`: `run(step)` sets step.forward_status.
  void Launch(std::unique_ptr<Step> step, std::function<void(Step&)> run);
  // Waits for the oldest launched step to end and hands it back. Not on an empty pipeline.
  std::unique_ptr<Step> Land();

 private:
  std::deque<std::unique_ptr<Step>> launched_;
  std::unique_ptr<ForwardWorker> worker_;
};

}  // namespace ribbon
