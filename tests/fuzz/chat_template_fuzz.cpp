// libFuzzer target for ribbon_chat: the input is a chat template. It is parsed and, when it
// parses, rendered over a fixed conversation (system, user, assistant with tool calls, tool
// result; tools; special tokens) under small step and output limits. Besides the sanitizers'
// own checks it requires that Parse and Render return a Status (never throw or crash) and that
// a successful render respects the output limit.
// Built and run by tests/fuzz/run_fuzz.sh chat_template (clang-14, -fsanitize=fuzzer,address);
// seeds: the shared chat templates and tests/fuzz/corpus/chat_template/. See
// docs/chat_templates.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/chat/chat_template.h"

namespace {

const ribbon::chat::ChatInputs& Inputs() {
  static const auto* inputs = [] {
    auto* in = new ribbon::chat::ChatInputs;
    in->messages = nlohmann::ordered_json::parse(R"([
      {"role": "system", "content": "You are helpful. Grüße 🚀"},
      {"role": "user", "content": "Weather in Zürich?"},
      {"role": "assistant", "content": "", "reasoning_content": "think",
       "tool_calls": [{"id": "a1b2c3d4e", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
      {"role": "tool", "tool_call_id": "a1b2c3d4e", "content": "{\"t\": 21.5}"},
      {"role": "user", "content": [{"type": "text", "text": "thanks"}]}])");
    in->tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {
      "name": "get_weather", "description": "d", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
    in->add_generation_prompt = true;
    in->special_tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
    return in;
  }();
  return *inputs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view source(reinterpret_cast<const char*>(data), size);
  auto parsed = ribbon::chat::ChatTemplate::Parse(source);
  if (!parsed.ok()) return 0;
  ribbon::chat::RenderOptions options;
  options.now_unix_seconds = 1780000000;
  options.max_steps = 200000;
  options.max_output_bytes = 1 << 20;
  auto out = parsed->Apply(Inputs(), options);
  if (out.ok() && out->size() > options.max_output_bytes) {
    std::fprintf(stderr, "render exceeded max_output_bytes: %zu\n", out->size());
    std::abort();
  }
  return 0;
}
