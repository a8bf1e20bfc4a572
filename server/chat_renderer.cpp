#include "server/chat_renderer.h"

#include <memory>

#include "core/chat/template_loader.h"

namespace ribbon::server {

absl::StatusOr<ChatRenderer> LoadChatRenderer(const std::string& tokenizer_dir,
                                              const std::string& override_file) {
  absl::StatusOr<chat::ModelChatTemplates> loaded =
      chat::LoadChatTemplates(tokenizer_dir, override_file);
  if (absl::IsNotFound(loaded.status()) && override_file.empty()) return ChatRenderer();
  if (!loaded.ok()) return loaded.status();
  auto templates = std::make_shared<const chat::ModelChatTemplates>(*std::move(loaded));
  return ChatRenderer(
      [templates](const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                  bool add_generation_prompt,
                  const nlohmann::ordered_json& kwargs) -> absl::StatusOr<std::string> {
        const bool has_tools = tools.is_array() && !tools.empty();
        const chat::ChatTemplate* chosen = templates->Select(has_tools);
        if (chosen == nullptr) {
          return absl::FailedPreconditionError("messages: no chat template fits this request");
        }
        chat::ChatInputs inputs;
        inputs.messages = messages;
        inputs.tools = tools;
        inputs.add_generation_prompt = add_generation_prompt;
        inputs.special_tokens = templates->special_tokens;
        inputs.kwargs = kwargs;
        absl::StatusOr<std::string> text = chosen->Apply(inputs);
        if (!text.ok() && !absl::IsInvalidArgument(text.status())) {
          return absl::InvalidArgumentError(text.status().message());
        }
        return text;
      });
}

}  // namespace ribbon::server
