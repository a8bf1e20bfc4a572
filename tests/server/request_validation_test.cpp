#include "server/request_validation.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using namespace ribbon::server;
using ribbon::v1::GenerateRequest;

namespace {

const ModelLimits kModel{.vocab_size = 512, .context_length = 512};
const LimitsSection kLimits;

GenerateRequest IdsPrompt(std::vector<int32_t> ids) {
  GenerateRequest request;
  request.mutable_token_ids()->mutable_ids()->Add(ids.begin(), ids.end());
  return request;
}

// The INVALID_ARGUMENT message for `request`; fails the test if the request is accepted.
std::string Rejection(const GenerateRequest& request) {
  auto result = ValidateGenerateRequest(request, kLimits, kModel, nullptr);
  REQUIRE(!result.ok());
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

}  // namespace

TEST_CASE("a well-formed request becomes an engine request", "[validation]") {
  GenerateRequest request = IdsPrompt({1, 403, 407});
  request.set_max_new_tokens(64);
  request.set_min_new_tokens(2);
  request.set_temperature(0.7f);
  request.set_top_k(40);
  request.set_top_p(0.9f);
  request.set_seed(42);
  request.add_stop("\n\n");
  request.add_stop_token_ids(2);
  request.set_ignore_eos(true);
  request.set_top_logprobs(3);
  request.set_priority(5);
  auto result = ValidateGenerateRequest(request, kLimits, kModel, nullptr);
  REQUIRE(result.ok());
  const ribbon::GenerationRequest& out = result->request;
  CHECK(out.prompt == std::vector<int32_t>{1, 403, 407});
  CHECK(out.stop.max_new_tokens == 64);
  CHECK(out.stop.min_new_tokens == 2);
  CHECK(out.stop.stop_token_ids == std::vector<int32_t>{2});
  CHECK(out.stop.ignore_eos);
  CHECK(out.sampling.temperature == Approx(0.7f));
  CHECK(out.sampling.top_k == 40);
  CHECK(out.sampling.top_p == Approx(0.9f));
  CHECK(out.sampling.seed == 42);
  CHECK(out.sampling.top_logprobs == 3);
  CHECK(out.sampling.logprobs);
  CHECK(out.priority == 5);
  CHECK(result->stop_strings == std::vector<std::string>{"\n\n"});
  CHECK(!result->prompt_was_text);
}

TEST_CASE("unset max_new_tokens takes the default, capped by the context", "[validation]") {
  auto result = ValidateGenerateRequest(IdsPrompt({1, 2}), kLimits, kModel, nullptr);
  REQUIRE(result.ok());
  CHECK(result->request.stop.max_new_tokens == 256);
  auto near_end =
      ValidateGenerateRequest(IdsPrompt(std::vector<int32_t>(500, 5)), kLimits, kModel, nullptr);
  REQUIRE(near_end.ok());
  CHECK(near_end->request.stop.max_new_tokens == 12);
}

TEST_CASE("each bad field is named with its allowed range", "[validation]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  GenerateRequest r = IdsPrompt({1, 2, 3});
  CHECK(Rejection(GenerateRequest()) == "prompt: set either text or token_ids");
  CHECK(Rejection(IdsPrompt({})) == "token_ids: the prompt is empty");
  CHECK(Rejection(IdsPrompt({1, 600})) == "token_ids[1] = 600 is outside the vocabulary [0, 512)");
  CHECK(Rejection(IdsPrompt({1, -1})) == "token_ids[1] = -1 is outside the vocabulary [0, 512)");
  CHECK(Rejection(IdsPrompt(std::vector<int32_t>(600, 5))) ==
        "prompt: 600 tokens do not fit the model's context of 512 tokens (at least one token must "
        "be left to generate)");
  GenerateRequest text;
  text.set_text("");
  CHECK(Rejection(text) == "text: the prompt is empty");
  text.set_text("ok \xff\xfe");
  CHECK(Rejection(text) == "text: invalid UTF-8 at byte 3 of 5");

  auto with = [&](auto&& mutate) {
    GenerateRequest copy = r;
    mutate(copy);
    return Rejection(copy);
  };
  CHECK(with([](auto& q) { q.set_max_new_tokens(0); }) ==
        "max_new_tokens = 0 is outside [1, 509] (context 512 tokens - prompt 3 tokens)");
  CHECK(with([](auto& q) {
          q.set_max_new_tokens(1u << 31);
        }).rfind("max_new_tokens = 2147483648", 0) == 0);
  CHECK(with([](auto& q) {
          q.set_max_new_tokens(10);
          q.set_min_new_tokens(11);
        }) == "min_new_tokens = 11 is outside [0, 10] (max_new_tokens)");
  CHECK(with([](auto& q) { q.set_temperature(-0.5f); }) ==
        "temperature = -0.5 is outside [0, 100]");
  CHECK(with([&](auto& q) { q.set_temperature(nan); }) == "temperature = nan is outside [0, 100]");
  CHECK(with([](auto& q) { q.set_top_p(0.0f); }) == "top_p = 0 is outside (0, 1]");
  CHECK(with([](auto& q) { q.set_top_p(1.5f); }) == "top_p = 1.5 is outside (0, 1]");
  CHECK(with([](auto& q) { q.set_top_k(-1); }) ==
        "top_k = -1 is outside [0, 2147483647] (0 = off)");
  CHECK(with([](auto& q) { q.set_min_p(2.0f); }) == "min_p = 2 is outside [0, 1]");
  CHECK(with([](auto& q) { q.set_repetition_penalty(0.0f); }) ==
        "repetition_penalty = 0 is outside (0, 100]");
  CHECK(with([](auto& q) { q.set_presence_penalty(3.0f); }) ==
        "presence_penalty = 3 is outside [-2, 2]");
  CHECK(with([&](auto& q) { q.set_frequency_penalty(nan); }) ==
        "frequency_penalty = nan is outside [-2, 2]");
  CHECK(with([](auto& q) { q.set_top_logprobs(21); }) == "top_logprobs = 21 is outside [0, 20]");
  CHECK(with([](auto& q) { q.add_stop(""); }) == "stop[0]: a stop string is empty");
  CHECK(with([](auto& q) {
          q.add_stop("ok");
          q.add_stop("\xc0\xaf");
        }) == "stop[1]: invalid UTF-8 at byte 0 of 2");
  CHECK(with([](auto& q) { q.add_stop(std::string(300, 'a')); }) ==
        "stop[0]: 300 bytes; at most 256 allowed");
  CHECK(with([](auto& q) {
          for (int i = 0; i < 10000; ++i) q.add_stop("x");
        }) == "stop: 10000 stop strings; at most 16 are allowed");
  CHECK(with([](auto& q) { q.add_stop_token_ids(512); }) ==
        "stop_token_ids[0] = 512 is outside the vocabulary [0, 512)");
  CHECK(with([](auto& q) { q.set_client_request_id(std::string(200, 'r')); }) ==
        "client_request_id: 200 bytes; at most 128 allowed");
}

TEST_CASE("text prompts need a tokenizer", "[validation]") {
  GenerateRequest text;
  text.set_text("Once upon a time");
  auto result = ValidateGenerateRequest(text, kLimits, kModel, nullptr);
  CHECK(result.status().code() == absl::StatusCode::kFailedPrecondition);
}
