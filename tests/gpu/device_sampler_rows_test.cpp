// Which steps the CUDA runner samples on its device (core/model/cuda/device_sampler.h) and the
// parameters the kernel gets. Host logic: runs everywhere with a CUDA build (label cuda).
#include <catch2/catch.hpp>

#include "core/model/cuda/device_sampler.h"

namespace ribbon::gpu {
namespace {

TEST_CASE("the device covers all but penalised and logprob rows") {
  RowSampling row;
  row.params.temperature = 0.8f;
  row.params.top_k = 40;
  row.params.top_p = 0.9f;
  row.params.min_p = 0.05f;
  row.params.seed = 0x1234567890ABCDEFull;
  row.output_index = 77;
  CHECK(DeviceSamplable(row));
  const kernels::DeviceSamplingParams d = ToDeviceParams(row);
  CHECK(d.temperature == 0.8f);
  CHECK(d.top_k == 40);
  CHECK(d.top_p == 0.9f);
  CHECK(d.min_p == 0.05f);
  CHECK(d.seed == 0x1234567890ABCDEFull);
  CHECK(d.output_index == 77);

  const auto covered = [&](auto change) {
    RowSampling other = row;
    change(other);
    return DeviceSamplable(other);
  };
  CHECK_FALSE(covered([](RowSampling& r) { r.params.repetition_penalty = 1.1f; }));
  CHECK_FALSE(covered([](RowSampling& r) { r.params.presence_penalty = 0.5f; }));
  CHECK_FALSE(covered([](RowSampling& r) { r.params.frequency_penalty = -0.5f; }));
  CHECK(covered([](RowSampling& r) { r.params.logit_bias = {{3, 1.0f}}; }));
  CHECK(covered([](RowSampling& r) { r.banned = {2}; }));
  CHECK_FALSE(covered([](RowSampling& r) { r.params.logprobs = true; }));
  CHECK_FALSE(covered([](RowSampling& r) { r.params.top_logprobs = 2; }));
}

TEST_CASE("a step is sampled on the device only when every row is covered") {
  StepPlan plan;
  CHECK(DeviceSamplesStep(plan));  // nothing to sample
  plan.sampling.resize(3);
  CHECK(DeviceSamplesStep(plan));
  plan.sampling[2].params.top_logprobs = 1;
  CHECK_FALSE(DeviceSamplesStep(plan));
}

}  // namespace
}  // namespace ribbon::gpu
