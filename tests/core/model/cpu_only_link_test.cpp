// ribbon_model (the CPU runner) builds and links on its own: this test links ribbon_model and
// not ribbon_model_cuda nor ribbon_model_loader (the device factory that sits above both), and
// runs a step through LoadCpuModel.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "core/model/cpu_model.h"
#include "core/plan/plan_builder.h"

namespace ribbon::testing {

TEST_CASE("the CPU runner loads and runs a step without the CUDA runner linked") {
  const char* env = std::getenv("RIBBON_SHARED_DATA");
  const std::string path = std::string(env ? env : "../shared/data") + "/stories260k";
  auto model = LoadCpuModel({.path = path, .num_threads = 1});
  REQUIRE(model.ok());
  REQUIRE((*model)->AllocateKvCache(4, 16).ok());
  const std::vector<int32_t> tokens = {1, 403, 9}, table = {0};
  StepPlan plan;
  PlanBuilder builder(16, 512);
  builder.Reset(plan);
  REQUIRE(
      builder
          .Add({.tokens = tokens, .num_tokens = 3, .block_table = table, .sample = RowSampling{}})
          .ok());
  builder.Finish({});
  StepOutput out;
  REQUIRE((*model)->Run(plan, out).ok());
  CHECK(out.sampled.size() == 1);
}

}  // namespace ribbon::testing
