#include "server/cli/cli_args.h"

#include <functional>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/common/status_macros.h"

namespace ribbon::cli {
namespace {

using ribbon::v1::GenerateRequest;
using Setter = std::function<absl::Status(const std::string& value, CliInvocation& out)>;

struct Flag {
  const char* name;
  const char* help;
  bool takes_value;
  Setter set;
};

absl::Status BadValue(const std::string& flag, const std::string& value, const char* wanted) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " needs ", wanted, ", got \"", value, "\""));
}

template <typename T>
Setter Number(const char* flag, void (GenerateRequest::*set)(T)) {
  return [flag, set](const std::string& value, CliInvocation& out) -> absl::Status {
    if constexpr (std::is_floating_point_v<T>) {
      double parsed = 0;
      if (!absl::SimpleAtod(value, &parsed)) return BadValue(flag, value, "a number");
      (out.generate.*set)(static_cast<T>(parsed));
    } else {
      int64_t parsed = 0;
      if (!absl::SimpleAtoi(value, &parsed)) return BadValue(flag, value, "an integer");
      (out.generate.*set)(static_cast<T>(parsed));
    }
    return absl::OkStatus();
  };
}

absl::StatusOr<std::vector<int32_t>> ParseIds(const std::string& flag, const std::string& text) {
  std::vector<int32_t> ids;
  for (absl::string_view piece : absl::StrSplit(text, absl::ByAnyChar(", "), absl::SkipEmpty())) {
    int32_t id = 0;
    if (!absl::SimpleAtoi(piece, &id)) return BadValue(flag, std::string(piece), "token ids");
    ids.push_back(id);
  }
  return ids;
}

const std::vector<Flag>& GenerateFlags() {
  using G = GenerateRequest;
  static const auto* flags = new std::vector<Flag>{
      {"max-new-tokens", "tokens to generate at most", true,
       Number("max-new-tokens", &G::set_max_new_tokens)},
      {"min-new-tokens", "stop tokens are ignored before this many", true,
       Number("min-new-tokens", &G::set_min_new_tokens)},
      {"temperature", "0 = greedy", true, Number("temperature", &G::set_temperature)},
      {"top-k", "0 = off", true, Number("top-k", &G::set_top_k)},
      {"top-p", "(0, 1]", true, Number("top-p", &G::set_top_p)},
      {"min-p", "[0, 1]", true, Number("min-p", &G::set_min_p)},
      {"repetition-penalty", "> 0; 1 = off", true,
       Number("repetition-penalty", &G::set_repetition_penalty)},
      {"presence-penalty", "[-2, 2]", true, Number("presence-penalty", &G::set_presence_penalty)},
      {"frequency-penalty", "[-2, 2]", true,
       Number("frequency-penalty", &G::set_frequency_penalty)},
      {"seed", "sampling seed", true, Number("seed", &G::set_seed)},
      {"priority", "higher runs first", true, Number("priority", &G::set_priority)},
      {"top-logprobs", "alternatives per token", true,
       Number("top-logprobs", &G::set_top_logprobs)},
      {"stop", "stop string (repeatable)", true,
       [](const std::string& v, CliInvocation& out) {
         out.generate.add_stop(v);
         return absl::OkStatus();
       }},
      {"stop-token-id", "stop token id (repeatable)", true,
       [](const std::string& v, CliInvocation& out) -> absl::Status {
         ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseIds("stop-token-id", v));
         for (int32_t id : ids) out.generate.add_stop_token_ids(id);
         return absl::OkStatus();
       }},
      {"ids", "prompt as token ids \"1,2,3\" instead of text", true,
       [](const std::string& v, CliInvocation& out) -> absl::Status {
         ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseIds("ids", v));
         out.generate.mutable_token_ids()->mutable_ids()->Add(ids.begin(), ids.end());
         return absl::OkStatus();
       }},
      {"request-id", "client request id (appears in server logs)", true,
       [](const std::string& v, CliInvocation& out) {
         out.generate.set_client_request_id(v);
         return absl::OkStatus();
       }},
      {"ignore-eos", "keep generating past EOS", false,
       [](const std::string&, CliInvocation& out) {
         out.generate.set_ignore_eos(true);
         return absl::OkStatus();
       }},
      {"logprobs", "return each token's logprob", false,
       [](const std::string&, CliInvocation& out) {
         out.generate.set_logprobs(true);
         return absl::OkStatus();
       }},
      {"complete", "one answer at the end instead of a stream", false,
       [](const std::string&, CliInvocation& out) {
         out.use_complete = true;
         return absl::OkStatus();
       }},
      {"show-ids", "print the token ids after the text", false,
       [](const std::string&, CliInvocation& out) {
         out.show_ids = true;
         return absl::OkStatus();
       }},
      {"stats", "print finish reason, usage and timings to stderr", false,
       [](const std::string&, CliInvocation& out) {
         out.show_stats = true;
         return absl::OkStatus();
       }},
      {"verbose", "print time to first token and tokens/s to stderr", false,
       [](const std::string&, CliInvocation& out) {
         out.verbose = true;
         return absl::OkStatus();
       }},
  };
  return *flags;
}

// Flags of `chat` beyond the generate flags (which it takes too, except --ids).
const std::vector<Flag>& ChatFlags() {
  static const auto* flags = new std::vector<Flag>{
      {"system", "a system message before yours (else the template's default)", true,
       [](const std::string& v, CliInvocation& out) {
         out.system_prompt = v;
         return absl::OkStatus();
       }},
  };
  return *flags;
}

const std::vector<Flag>& GlobalFlags() {
  static const auto* flags = new std::vector<Flag>{
      {"address", "server host:port [$RIBBON_ADDRESS or 127.0.0.1:9300]", true,
       [](const std::string& v, CliInvocation& out) {
         out.client.address = v;
         return absl::OkStatus();
       }},
      {"token", "bearer token [$RIBBON_AUTH_TOKEN]", true,
       [](const std::string& v, CliInvocation& out) {
         out.client.token = v;
         return absl::OkStatus();
       }},
      {"tls-ca", "PEM root certificates; enables TLS", true,
       [](const std::string& v, CliInvocation& out) {
         out.client.tls_ca_path = v;
         return absl::OkStatus();
       }},
      {"timeout", "deadline in seconds (0 = none)", true,
       [](const std::string& v, CliInvocation& out) -> absl::Status {
         if (!absl::SimpleAtod(v, &out.client.timeout_seconds) || out.client.timeout_seconds < 0) {
           return BadValue("timeout", v, "seconds >= 0");
         }
         return absl::OkStatus();
       }},
      {"no-special", "tokenize without special tokens (BOS)", false,
       [](const std::string&, CliInvocation& out) {
         out.add_special_tokens = false;
         return absl::OkStatus();
       }},
  };
  return *flags;
}

const Flag* FindFlag(const std::string& name, const std::string& command) {
  for (const Flag& flag : GlobalFlags()) {
    if (name == flag.name) return &flag;
  }
  if (command == "chat") {
    for (const Flag& flag : ChatFlags()) {
      if (name == flag.name) return &flag;
    }
    if (name == "ids") return nullptr;  // a chat prompt is messages, not token ids
  }
  if (command != "generate" && command != "chat") return nullptr;
  for (const Flag& flag : GenerateFlags()) {
    if (name == flag.name) return &flag;
  }
  return nullptr;
}

// The chat request's messages: the optional system message, then the user's.
void SetChatMessages(const std::string& user_message, CliInvocation& out) {
  ribbon::v1::ChatPrompt* chat = out.generate.mutable_chat();
  if (!out.system_prompt.empty()) {
    ribbon::v1::ChatMessage* system = chat->add_messages();
    system->set_role("system");
    system->set_content(out.system_prompt);
  }
  ribbon::v1::ChatMessage* user = chat->add_messages();
  user->set_role("user");
  user->set_content(user_message);
}

absl::Status TakePositionals(const std::vector<std::string>& positionals, CliInvocation& out) {
  const std::string& command = out.command;
  if (command == "info" || command == "health" || command == "help") {
    if (!positionals.empty()) return absl::InvalidArgumentError(command + " takes no arguments");
    return absl::OkStatus();
  }
  if (command == "detokenize") {
    for (const std::string& text : positionals) {
      ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseIds("detokenize", text));
      out.ids.insert(out.ids.end(), ids.begin(), ids.end());
    }
    return absl::OkStatus();
  }
  const bool ids_prompt = command == "generate" && out.generate.has_token_ids();
  if (positionals.size() != (ids_prompt ? 0u : 1u)) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, " takes one quoted text argument",
                     command == "generate" ? " (or --ids 1,2,3 and no text)" : ""));
  }
  if (ids_prompt) return absl::OkStatus();
  if (command == "generate") {
    out.generate.set_text(positionals[0]);
  } else if (command == "chat") {
    SetChatMessages(positionals[0], out);
  } else {
    out.text = positionals[0];
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CliInvocation> ParseCli(const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& environment) {
  CliInvocation out;
  if (auto it = environment.find("RIBBON_ADDRESS"); it != environment.end())
    out.client.address = it->second;
  if (auto it = environment.find("RIBBON_AUTH_TOKEN"); it != environment.end())
    out.client.token = it->second;
  std::vector<std::string> positionals;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out.command = "help";
      return out;
    }
    if (arg.rfind("--", 0) != 0) {
      if (out.command.empty()) {
        out.command = arg;
      } else {
        positionals.push_back(arg);
      }
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Flag* flag = FindFlag(name, out.command);
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (flag->takes_value && !value) {
      if (i + 1 >= args.size())
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = args[++i];
    }
    if (!flag->takes_value && value)
      return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
    RETURN_IF_ERROR(flag->set(value.value_or(""), out));
  }
  static const char* kCommands[] = {"generate", "chat",   "tokenize", "detokenize",
                                    "info",     "health", "help"};
  if (out.command.empty()) return absl::InvalidArgumentError("no command given");
  if (std::find(std::begin(kCommands), std::end(kCommands), out.command) == std::end(kCommands)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", out.command, "\""));
  }
  RETURN_IF_ERROR(TakePositionals(positionals, out));
  return out;
}

std::string CliUsage() {
  std::string text =
      "ribbon: command-line client for ribbond.\n\n"
      "Usage: ribbon [global flags] COMMAND [flags]\n"
      "  generate \"prompt\"   stream generated text as it arrives (or --ids 1,2,3)\n"
      "  chat \"message\"      stream the model's answer to a chat message (the server applies\n"
      "                      the model's chat template); takes the generate flags and --system\n"
      "  tokenize \"text\"     print the token ids\n"
      "  detokenize ID...    print the text of token ids\n"
      "  info                model and server facts\n"
      "  health              exit 0 when the server is ready to serve\n\n"
      "Exit codes: 0 ok, 1 the server answered with an error, 2 bad command line,\n"
      "3 server unreachable or not ready.\n\nGlobal flags:\n";
  for (const Flag& flag : GlobalFlags()) {
    absl::StrAppend(&text, "  --", flag.name, flag.takes_value ? " VALUE" : "", "  ", flag.help,
                    "\n");
  }
  absl::StrAppend(&text, "\ngenerate flags:\n");
  for (const Flag& flag : GenerateFlags()) {
    absl::StrAppend(&text, "  --", flag.name, flag.takes_value ? " VALUE" : "", "  ", flag.help,
                    "\n");
  }
  absl::StrAppend(&text, "\nchat flags (and the generate flags but --ids):\n");
  for (const Flag& flag : ChatFlags()) {
    absl::StrAppend(&text, "  --", flag.name, flag.takes_value ? " VALUE" : "", "  ", flag.help,
                    "\n");
  }
  return text;
}

}  // namespace ribbon::cli
