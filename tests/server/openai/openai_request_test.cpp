// ParseOpenAiRequest on chat message content parts: text parts are joined into the message, any
// other part is refused as INVALID_ARGUMENT naming the message, and no part's JSON type can make
// the parser throw (crash 6 of docs/perf/reliability-2026-12-04.md: a part whose `type` was a
// number made json::value() throw out of the parser).
#include "server/openai/openai_request.h"

#include <catch2/catch.hpp>
#include <string>

using ribbon::server::openai::Endpoint;
using ribbon::server::openai::kParamPayload;
using ribbon::server::openai::OpenAiRequest;
using ribbon::server::openai::ParseOpenAiRequest;

namespace {

// A chat body whose second message's content is the JSON list `parts`.
std::string ChatWithParts(const std::string& parts) {
  return R"({"model": "stories260k", "messages": [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": )" +
         parts + "}]}";
}

absl::StatusOr<OpenAiRequest> ParseChat(const std::string& body) {
  absl::StatusOr<OpenAiRequest> parsed = absl::InternalError("not parsed");
  // Anything thrown would cross the module boundary (and end ribbond's handler thread).
  REQUIRE_NOTHROW(parsed = ParseOpenAiRequest(Endpoint::kChat, body, "stories260k"));
  return parsed;
}

// The `param` payload of a refusal (what the OpenAI error's "param" says).
std::string Param(const absl::Status& status) {
  const auto payload = status.GetPayload(kParamPayload);
  return payload ? std::string(*payload) : std::string();
}

}  // namespace

TEST_CASE("text content parts are joined into the message", "[openai]") {
  const auto parsed = ParseChat(
      ChatWithParts(R"([{"type": "text", "text": "Hi"}, {"type": "text", "text": "!"}])"));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->prompts.size() == 1);
  const auto& messages = parsed->prompts[0].chat().messages();
  REQUIRE(messages.size() == 2);
  CHECK(messages[1].role() == "user");
  CHECK(messages[1].content() == "Hi!");
}

TEST_CASE("a content part whose type is a number is refused naming the message, not thrown",
          "[openai]") {
  // The input the fuzzer found (tests/fuzz/corpus/openai_request/regress_content_part_type_number).
  const auto parsed = ParseChat(ChatWithParts(R"([{"type": 8.88888, "text": "Hi"}])"));
  REQUIRE(!parsed.ok());
  CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Param(parsed.status()) == "messages[1]");
  const std::string message(parsed.status().message());
  CHECK(message.find("messages[1]") != std::string::npos);
  CHECK(message.find("only text parts") != std::string::npos);
}

TEST_CASE("a content part of any other JSON shape is refused naming the message", "[openai]") {
  const char* const parts[] = {
      R"([{"type": 1, "text": "Hi"}])",
      R"([{"type": null, "text": "Hi"}])",
      R"([{"type": true, "text": "Hi"}])",
      R"([{"type": ["text"], "text": "Hi"}])",
      R"([{"type": {"a": 1}, "text": "Hi"}])",
      R"([{"text": "Hi"}])",
      R"([{"type": "text", "text": 5}])",
      R"([{"type": "text"}])",
      R"([{"type": "image_url", "image_url": {"url": "x"}}])",
      R"(["Hi"])",
      R"([7])",
      R"([{"type": "text", "text": "ok"}, {"type": 2.5}])",
  };
  for (const char* part : parts) {
    INFO(part);
    const auto parsed = ParseChat(ChatWithParts(part));
    REQUIRE(!parsed.ok());
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Param(parsed.status()) == "messages[1]");
  }
}
