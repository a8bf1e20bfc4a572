// StepPipeline: steps land in launch order with or without overlap; overlapping, a step queued
// behind a failed one is not run (aborted) and the rest still land in order.
#include "core/engine/step_pipeline.h"

#include <catch2/catch.hpp>
#include <vector>

namespace ribbon::testing {

TEST_CASE("steps land in launch order and a step behind a failure is not run") {
  for (bool overlap : {false, true}) {
    DYNAMIC_SECTION("overlap " << overlap) {
      StepPipeline pipeline(overlap);
      CHECK(pipeline.overlap() == overlap);
      std::vector<int> ran;  // written by the run functions: the worker's only, in order
      auto launch = [&](int id, bool ok) {
        auto step = std::make_unique<Step>();
        step->report.ribbon_rows = id;
        pipeline.Launch(std::move(step), [&ran, id, ok](Step& s) {
          ran.push_back(id);
          s.forward_status = ok ? absl::OkStatus() : absl::InternalError("boom");
        });
      };
      launch(1, true);
      CHECK(pipeline.newest()->report.ribbon_rows == 1);
      launch(2, false);
      if (overlap) launch(3, true);  // queued behind the failing step 2
      auto first = pipeline.Land();
      CHECK(first->report.ribbon_rows == 1);
      CHECK(first->forward_status.ok());
      auto second = pipeline.Land();
      CHECK(second->report.ribbon_rows == 2);
      CHECK(second->forward_status.code() == absl::StatusCode::kInternal);
      if (overlap) {
        auto third = pipeline.Land();
        CHECK(third->aborted);
        CHECK(third->forward_status.code() == absl::StatusCode::kAborted);
        CHECK(ran == std::vector<int>{1, 2});
      } else {
        CHECK(ran == std::vector<int>{1, 2});
      }
      CHECK(pipeline.empty());
      launch(4, true);  // usable after a failure
      CHECK(pipeline.Land()->forward_status.ok());
    }
  }
}

}  // namespace ribbon::testing
