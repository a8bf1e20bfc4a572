// sampling_probs_cli: runs the sampler over cases read as JSON from stdin and prints what it
// computed as JSON on stdout, for tests/python/sampling to compare with a numpy reference.
//
// Input:  {"cases": [{"logits": [...], "params": {...}, "prompt": [...], "output": [...],
//                     "output_index": n}, ...]}
//   logits entries are numbers or the strings "inf", "-inf", "nan"; params keys are the
//   SamplingParams field names, each optional.
// Output: {"results": [{"probs": [...], "token": t, "uniform": u, "logprob": lp,
//                       "top": [[token, logprob], ...]}, ...]}
//   probs is FilteredProbabilities; token, logprob and top come from SampleToken; uniform is
//   the Philox draw for (seed, output_index). A -inf logprob prints as null.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sampling/philox.h"
#include "core/sampling/sampler.h"

namespace {

using nlohmann::json;

std::vector<float> ParseLogits(const json& values) {
  std::vector<float> logits;
  logits.reserve(values.size());
  for (const json& value : values) {
    logits.push_back(value.is_string() ? std::stof(value.get<std::string>()) : value.get<float>());
  }
  return logits;
}

ribbon::SamplingParams ParseParams(const json& in) {
  ribbon::SamplingParams params;
  params.temperature = in.value("temperature", params.temperature);
  params.top_k = in.value("top_k", params.top_k);
  params.top_p = in.value("top_p", params.top_p);
  params.min_p = in.value("min_p", params.min_p);
  params.repetition_penalty = in.value("repetition_penalty", params.repetition_penalty);
  params.presence_penalty = in.value("presence_penalty", params.presence_penalty);
  params.frequency_penalty = in.value("frequency_penalty", params.frequency_penalty);
  params.seed = in.value("seed", params.seed);
  params.top_logprobs = in.value("top_logprobs", params.top_logprobs);
  params.logprobs = in.value("logprobs", params.logprobs);
  return params;
}

json RunCase(const json& in) {
  const std::vector<float> logits = ParseLogits(in.at("logits"));
  const ribbon::SamplingParams params = ParseParams(in.value("params", json::object()));
  const auto prompt = in.value("prompt", std::vector<int32_t>{});
  const auto output = in.value("output", std::vector<int32_t>{});
  const ribbon::SamplingContext context{
      .prompt = prompt, .output = output, .output_index = in.value("output_index", uint64_t{0})};

  std::vector<float> scratch = logits;
  json result;
  result["probs"] = ribbon::FilteredProbabilities(scratch, params, context);
  scratch = logits;
  const ribbon::SampledToken sampled = ribbon::SampleToken(scratch, params, context);
  result["token"] = sampled.token;
  result["logprob"] = sampled.logprob;
  json top = json::array();
  for (const auto& alternative : sampled.top)
    top.push_back({alternative.token, alternative.logprob});
  result["top"] = std::move(top);
  result["uniform"] = ribbon::SamplingUniform(params.seed, context.output_index);
  return result;
}

}  // namespace

int main() {
  try {
    const json input = json::parse(std::cin);
    json results = json::array();
    for (const json& one : input.at("cases")) results.push_back(RunCase(one));
    std::cout << json{{"results", std::move(results)}}.dump() << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "sampling_probs_cli: %s\n", error.what());
    return 1;
  }
}
