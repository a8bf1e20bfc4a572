// libFuzzer target for the OpenAI request parser (server/openai/openai_request.h) and the
// preparation behind it: the input is a request body, parsed for both /v1/chat/completions and
// /v1/completions; each prompt of an accepted body is prepared and validated against
// stories260K with a ChatML template (tests/fuzz/serving_fixture.h), and a validation error is
// reworded with ToOpenAiError, as the HTTP front end does. Besides the sanitizers' own checks it
// requires:
//   * a refused body is INVALID_ARGUMENT (naming the parameter in the payload), NOT_FOUND (another
//     model) or UNIMPLEMENTED (a known, unimplemented feature), with a message;
//   * a reworded validation error keeps its code and names a parameter;
//   * an accepted request is within every bound the engine relies on (CheckPrepared).
// Built and run by tests/fuzz/run_fuzz.sh openai_request; seeds: tests/fuzz/corpus/openai_request/.
#include <cstdint>
#include <string>

#include "server/openai/openai_request.h"
#include "tests/fuzz/serving_fixture.h"

namespace {

using ribbon::fuzz::Require;
using ribbon::server::openai::Endpoint;

void CheckParseError(const absl::Status& status) {
  Require(!status.message().empty(), "an error without a message");
  if (absl::IsInvalidArgument(status)) {
    Require(status.GetPayload(ribbon::server::openai::kParamPayload).has_value(),
            "INVALID_ARGUMENT without the param payload: " + status.ToString());
    return;
  }
  Require(absl::IsNotFound(status) || absl::IsUnimplemented(status),
          "unexpected code: " + status.ToString());
}

void ParseAndPrepare(Endpoint endpoint, std::string_view body) {
  const ribbon::server::ServingBackend& backend = ribbon::fuzz::Backend();
  auto parsed = ribbon::server::openai::ParseOpenAiRequest(endpoint, body, "stories260k");
  if (!parsed.ok()) {
    CheckParseError(parsed.status());
    return;
  }
  Require(!parsed->prompts.empty(), "an accepted body without prompts");
  const ribbon::server::LimitsSection limits;
  for (const ribbon::v1::GenerateRequest& prompt : parsed->prompts) {
    auto prepared = ribbon::server::PrepareRequest(prompt, backend, limits, "fuzz", 0);
    if (prepared.ok()) {
      ribbon::fuzz::CheckPrepared(*prepared, prompt.n(), limits);
      continue;
    }
    ribbon::fuzz::CheckRefusal(prepared.status());
    const absl::Status reworded =
        ribbon::server::openai::ToOpenAiError(prepared.status(), endpoint);
    Require(reworded.code() == prepared.status().code(), "ToOpenAiError changed the code");
    Require(!reworded.message().empty(), "ToOpenAiError lost the message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = ribbon::fuzz::AsText(data, size);
  ParseAndPrepare(Endpoint::kChat, body);
  ParseAndPrepare(Endpoint::kCompletions, body);
  return 0;
}
