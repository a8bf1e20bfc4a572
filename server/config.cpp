#include "server/config.h"

#include <cmath>
#include <cstdlib>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/common/files.h"
#include "core/common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/http_side_port.h"

namespace ribbon::server {
namespace {

using nlohmann::json;

template <typename Section, typename T>
std::function<OptionField(ServerConfig&)> Field(Section ServerConfig::*section,
                                                T Section::*member) {
  return [section, member](ServerConfig& c) -> OptionField { return &(c.*section.*member); };
}

ConfigOption Str(std::string key, std::string help, std::function<OptionField(ServerConfig&)> f,
                 std::vector<std::string> choices = {}) {
  return {std::move(key), std::move(help), std::move(f), 0, 0, std::move(choices)};
}

ConfigOption Num(std::string key, std::string help, std::function<OptionField(ServerConfig&)> f,
                 double min, double max) {
  return {std::move(key), std::move(help), std::move(f), min, max, {}};
}

// Upper bound for "unbounded" integer options (well inside what a JSON double holds exactly).
constexpr double kMaxInt = 9.0e15;

void AddModelAndServerOptions(std::vector<ConfigOption>& o) {
  using C = ServerConfig;
  o.push_back(Str("model.path", "Hugging Face checkpoint directory to serve (required).",
                  Field(&C::model, &ModelSection::path)));
  o.push_back(Str("model.tokenizer_path", "Directory with tokenizer.json; \"\" = model.path.",
                  Field(&C::model, &ModelSection::tokenizer_path)));
  o.push_back(
      Str("model.device", "\"cpu\" or \"cuda[:N]\".", Field(&C::model, &ModelSection::device)));
  o.push_back(Str("model.dtype", "Compute dtype; \"auto\" = the checkpoint's.",
                  Field(&C::model, &ModelSection::dtype),
                  {"auto", "float32", "bfloat16", "float16"}));
  o.push_back(Str("model.kv_cache_dtype",
                  "KV cache element type; \"auto\" = float32 on the CPU, the compute dtype on "
                  "a GPU. \"float16\" (CPU) halves what attention reads.",
                  Field(&C::model, &ModelSection::kv_cache_dtype), {"auto", "float32", "float16"}));
  o.push_back(Str("model.attention_backend", "Attention implementation; \"auto\" picks per device.",
                  Field(&C::model, &ModelSection::attention_backend),
                  {"auto", "reference", "flash", "cudnn", "flashinfer"}));
  o.push_back(Str("model.sampling",
                  "Where tokens are sampled: \"auto\" (on the GPU where its sampler covers the "
                  "step) or \"host\".",
                  Field(&C::model, &ModelSection::sampling), {"auto", "host"}));
  o.push_back(Num("model.num_threads", "CPU intra-op threads; 0 = torch's default.",
                  Field(&C::model, &ModelSection::num_threads), 0, 1024));
  o.push_back(Str("model.chat_template", "Jinja file replacing the model's chat template.",
                  Field(&C::model, &ModelSection::chat_template)));
  o.push_back(Str("server.listen", "gRPC address host:port; port 0 picks a free port.",
                  Field(&C::server, &ServerSection::listen)));
  o.push_back(Str("server.port_file",
                  "If set, written once listening: {\"grpc_port\": N, \"http_port\": M}.",
                  Field(&C::server, &ServerSection::port_file)));
  o.push_back(Str("server.tls_cert_path", "PEM certificate chain; with tls_key_path enables TLS.",
                  Field(&C::server, &ServerSection::tls_cert_path)));
  o.push_back(Str("server.tls_key_path", "PEM private key for server.tls_cert_path.",
                  Field(&C::server, &ServerSection::tls_key_path)));
  ConfigOption token =
      Str("server.auth_token",
          "If set, Generation calls need metadata 'authorization: Bearer <token>'.",
          Field(&C::server, &ServerSection::auth_token));
  token.secret = true;
  o.push_back(std::move(token));
  o.push_back(Num("server.max_receive_message_bytes", "Largest request message accepted.",
                  Field(&C::server, &ServerSection::max_receive_message_bytes), 1024, 1 << 30));
  o.push_back(Num("server.max_send_message_bytes", "Largest response message sent.",
                  Field(&C::server, &ServerSection::max_send_message_bytes), 1024, 1 << 30));
  o.push_back(Num("server.output_threads",
                  "Threads that detokenize and match stop strings (off the engine thread).",
                  Field(&C::server, &ServerSection::output_threads), 1, 64));
  o.push_back(Num("server.shutdown_grace_seconds",
                  "On SIGTERM/SIGINT, how long in-flight requests may run before UNAVAILABLE.",
                  Field(&C::server, &ServerSection::shutdown_grace_seconds), 0, 86400));
  o.push_back(Num("server.max_connection_age_seconds",
                  "Connections older than this are ended with GOAWAY so clients re-resolve and "
                  "rebalance; in-flight calls get server.shutdown_grace_seconds more. 0 = never.",
                  Field(&C::server, &ServerSection::max_connection_age_seconds), 0, 86400));
}

void AddLimitsAndStreamOptions(std::vector<ConfigOption>& o) {
  using C = ServerConfig;
  o.push_back(Num("limits.default_max_new_tokens",
                  "max_new_tokens when a request leaves it unset (capped by the context).",
                  Field(&C::limits, &LimitsSection::default_max_new_tokens), 1, 1 << 24));
  o.push_back(Num("limits.max_stop_strings", "Most stop strings per request.",
                  Field(&C::limits, &LimitsSection::max_stop_strings), 0, 4096));
  o.push_back(Num("limits.max_stop_string_bytes", "Longest stop string, in bytes.",
                  Field(&C::limits, &LimitsSection::max_stop_string_bytes), 1, 65536));
  o.push_back(Num("limits.max_stop_token_ids", "Most stop token ids per request.",
                  Field(&C::limits, &LimitsSection::max_stop_token_ids), 0, 65536));
  o.push_back(Num("limits.max_top_logprobs", "Most top_logprobs alternatives per token.",
                  Field(&C::limits, &LimitsSection::max_top_logprobs), 0, 1024));
  o.push_back(Num("limits.max_client_request_id_bytes", "Longest client_request_id.",
                  Field(&C::limits, &LimitsSection::max_client_request_id_bytes), 0, 4096));
  o.push_back(Num("stream.max_pending_bytes",
                  "A stream's unsent output above this many bytes counts as a slow reader.",
                  Field(&C::stream, &StreamSection::max_pending_bytes), 1, kMaxInt));
  o.push_back(Num("stream.slow_reader_timeout_ms",
                  "A slow reader over max_pending_bytes this long is ended (RESOURCE_EXHAUSTED).",
                  Field(&C::stream, &StreamSection::slow_reader_timeout_ms), 1, kMaxInt));
}

void AddEngineOptions(std::vector<ConfigOption>& o) {
  using C = ServerConfig;
  o.push_back(Num("engine.num_kv_blocks",
                  "KV cache blocks; 0 = measured (memory.probe) or sized by the engine.",
                  Field(&C::engine, &EngineSection::num_kv_blocks), 0, 1 << 30));
  o.push_back(Num("engine.block_size", "Tokens per KV block.",
                  Field(&C::engine, &EngineSection::block_size), 1, 64));
  o.push_back(Str("engine.scheduler_policy", "Batch packing policy.",
                  Field(&C::engine, &EngineSection::scheduler_policy), {"ffd", "fcfs"}));
  ConfigOption budget = Num("engine.max_ribbon_tokens",
                            "Token budget of one step; \"auto\" = the smallest step within 5% of "
                            "the best tokens/s, timed at start-up (needs memory.probe).",
                            Field(&C::engine, &EngineSection::max_ribbon_tokens), 1, 1 << 24);
  budget.auto_value = kAutoMaxRibbonTokens;
  o.push_back(std::move(budget));
  o.push_back(Num("engine.max_running_seqs", "Most sequences running at once.",
                  Field(&C::engine, &EngineSection::max_running_seqs), 1, 1 << 20));
  o.push_back(Num("engine.align", "Step rows are rounded up to a multiple of this; 1 = off.",
                  Field(&C::engine, &EngineSection::align), 1, 1024));
  o.push_back(Num("engine.max_blocks_per_seq", "KV blocks one sequence may hold; 0 = unlimited.",
                  Field(&C::engine, &EngineSection::max_blocks_per_seq), 0, 1 << 30));
  o.push_back(Str("engine.batching_mode", "Step layout.",
                  Field(&C::engine, &EngineSection::batching_mode), {"packed", "padded"}));
  o.push_back({"engine.pipeline",
               "Plan and queue step N+1 while step N runs (docs/perf/pipeline.md); false = one "
               "step at a time.",
               Field(&C::engine, &EngineSection::pipeline),
               0,
               0,
               {}});
  o.push_back({"engine.prefix_cache",
               "Reuse the KV of shared prompt prefixes (core/kv/block_manager.h).",
               Field(&C::engine, &EngineSection::prefix_cache),
               0,
               0,
               {}});
  o.push_back(Num("engine.max_queued_requests", "Waiting requests; beyond this RESOURCE_EXHAUSTED.",
                  Field(&C::engine, &EngineSection::max_queued_requests), 1, 1 << 24));
  o.push_back(Num("engine.max_queued_prompt_tokens",
                  "Prompt tokens of waiting requests; beyond this RESOURCE_EXHAUSTED.",
                  Field(&C::engine, &EngineSection::max_queued_prompt_tokens), 1, kMaxInt));
}

void AddMemoryHttpLogDebugOptions(std::vector<ConfigOption>& o) {
  using C = ServerConfig;
  o.push_back({"memory.probe",
               "Measure capacity at start-up (largest step, KV blocks); readiness waits for it. "
               "false = engine.num_kv_blocks and engine.max_ribbon_tokens as configured.",
               Field(&C::memory, &MemorySection::probe),
               0,
               0,
               {}});
  o.push_back(Num("memory.budget_bytes",
                  "CPU memory the probe plans within; 0 = the tightest of the cgroup limit and the "
                  "memory available at start.",
                  Field(&C::memory, &MemorySection::budget_bytes), 0, kMaxInt));
  o.push_back(Num("memory.fraction",
                  "Fraction of the budget (CPU) or device memory (CUDA) to plan for.",
                  Field(&C::memory, &MemorySection::fraction), 0.05, 1.0));
  o.push_back(Str("http.listen", "HTTP side port (/metrics, /healthz, /readyz); \"\" = off.",
                  Field(&C::http, &HttpSection::listen)));
  o.push_back(Str("openai.listen", "OpenAI-compatible HTTP API host:port; \"\" = off.",
                  Field(&C::openai, &OpenAiSection::listen)));
  o.push_back(Str("openai.served_model_name", "Model name for OpenAI clients; \"\" = directory.",
                  Field(&C::openai, &OpenAiSection::served_model_name)));
  o.push_back(Num("openai.threads", "Threads serving every HTTP connection of the OpenAI API.",
                  Field(&C::openai, &OpenAiSection::threads), 1, 64));
  o.push_back(Num("openai.max_body_bytes", "Largest request body (bigger: 413).",
                  Field(&C::openai, &OpenAiSection::max_body_bytes), 1024, 1 << 30));
  o.push_back(Str("log.level", "Least severe level logged.", Field(&C::log, &LogSection::level),
                  {"trace", "debug", "info", "warn", "error", "off"}));
  o.push_back(Str("log.format", "\"text\" lines or \"json\" lines.",
                  Field(&C::log, &LogSection::format), {"text", "json"}));
  o.push_back(Str("log.file", "Log file; \"\" = stderr.", Field(&C::log, &LogSection::file)));
  o.push_back({"log.access_log",
               "One line per finished request.",
               Field(&C::log, &LogSection::access_log),
               0,
               0,
               {}});
  o.push_back(Num("debug.step_delay_ms",
                  "TEST ONLY: sleep this long before each engine step; 0 = off.",
                  Field(&C::debug, &DebugSection::step_delay_ms), 0, 60000));
  o.push_back(Num("debug.oom_every_steps",
                  "TEST ONLY: every Nth engine step fails as out of memory (the engine recovers by "
                  "shrinking its step budget); 0 = off.",
                  Field(&C::debug, &DebugSection::oom_every_steps), 0, 1000000));
}

std::vector<ConfigOption> BuildOptions() {
  std::vector<ConfigOption> options;
  AddModelAndServerOptions(options);
  AddLimitsAndStreamOptions(options);
  AddEngineOptions(options);
  AddMemoryHttpLogDebugOptions(options);
  return options;
}

const ConfigOption* FindOption(const std::string& key) {
  for (const ConfigOption& option : ConfigOptions()) {
    if (option.key == key) return &option;
  }
  return nullptr;
}

std::string NormalizeKey(std::string key) {
  for (char& c : key) {
    if (c == '-') c = '_';
  }
  return key;
}

absl::Status OutOfRange(const ConfigOption& option, const std::string& value,
                        const std::string& source) {
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": ", option.key, " = ", value, " is outside [", option.min, ", ", option.max, "]"));
}

absl::Status CheckChoice(const ConfigOption& option, const std::string& value,
                         const std::string& source) {
  if (option.choices.empty()) return absl::OkStatus();
  for (const std::string& choice : option.choices) {
    if (choice == value) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": ", option.key, " = \"", value,
                   "\" is not one of: ", absl::StrJoin(option.choices, ", ")));
}

absl::Status SetFromJson(const ConfigOption& option, const json& value, const std::string& source,
                         ServerConfig& config) {
  OptionField field = option.field(config);
  const auto wrong_type = [&](const char* wanted) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", option.key, " must be ", wanted, ", got ", value.dump()));
  };
  if (auto* s = std::get_if<std::string*>(&field)) {
    if (!value.is_string()) return wrong_type("a string");
    **s = value.get<std::string>();
  } else if (auto* i = std::get_if<int64_t*>(&field)) {
    if (option.auto_value && value == "auto") {
      **i = *option.auto_value;
      return absl::OkStatus();
    }
    if (!value.is_number_integer())
      return wrong_type(option.auto_value ? "an integer or \"auto\"" : "an integer");
    **i = value.get<int64_t>();
  } else if (auto* d = std::get_if<double*>(&field)) {
    if (!value.is_number()) return wrong_type("a number");
    **d = value.get<double>();
  } else if (auto* b = std::get_if<bool*>(&field)) {
    if (!value.is_boolean()) return wrong_type("true or false");
    **b = value.get<bool>();
  }
  return absl::OkStatus();
}

absl::Status ApplyJsonObject(const json& object, const std::string& prefix,
                             const std::string& source, ServerConfig& config) {
  for (const auto& [name, value] : object.items()) {
    if (name.rfind("//", 0) == 0) continue;
    const std::string key = prefix.empty() ? name : absl::StrCat(prefix, ".", name);
    if (value.is_object()) {
      RETURN_IF_ERROR(ApplyJsonObject(value, key, source, config));
      continue;
    }
    const ConfigOption* option = FindOption(key);
    if (option == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": unknown option \"", key, "\""));
    }
    RETURN_IF_ERROR(SetFromJson(*option, value, source, config));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ParseBool(const std::string& text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return absl::InvalidArgumentError("expected true or false");
}

std::string EnvName(const std::string& key) {
  std::string name = "RIBBON_";
  for (char c : key) name += c == '.' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
  return name;
}

json OptionValueJson(const ConfigOption& option, ServerConfig& config) {
  OptionField field = option.field(config);
  if (auto* s = std::get_if<std::string*>(&field)) {
    if (option.secret && !(*s)->empty()) return "<redacted>";
    return **s;
  }
  if (auto* i = std::get_if<int64_t*>(&field)) {
    if (option.auto_value && **i == *option.auto_value) return "auto";
    return **i;
  }
  if (auto* d = std::get_if<double*>(&field)) return **d;
  return *std::get<bool*>(field);
}

// Short flags people type; each maps to a dotted option.
const std::map<std::string, std::string>& FlagAliases() {
  static const auto* aliases = new std::map<std::string, std::string>{
      {"model", "model.path"},
      {"listen", "server.listen"},
      {"port_file", "server.port_file"},
      {"http_listen", "http.listen"},
      {"log_level", "log.level"},
      {"log_format", "log.format"},
      {"chat_template", "model.chat_template"},
      {"served_model_name", "openai.served_model_name"},
      {"openai_listen", "openai.listen"},
  };
  return *aliases;
}

}  // namespace

const std::vector<ConfigOption>& ConfigOptions() {
  static const auto* options = new std::vector<ConfigOption>(BuildOptions());
  return *options;
}

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine command_line;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == 0 && arg == "probe") {
      command_line.probe = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\" (options are --key=value; see --help)"));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    name = NormalizeKey(name);
    if (name == "help" || name == "check_config" || name == "version" || name == "probe") {
      if (value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      bool& flag = name == "help"      ? command_line.help
                   : name == "version" ? command_line.version
                   : name == "probe"   ? command_line.probe
                                       : command_line.check_config;
      flag = true;
      continue;
    }
    if (auto alias = FlagAliases().find(name); alias != FlagAliases().end()) name = alias->second;
    if (name != "config" && FindOption(name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (name == "config") {
      command_line.config_path = *value;
    } else {
      command_line.overrides.emplace_back(name, *value);
    }
  }
  return command_line;
}

absl::Status ApplyConfigJson(const std::string& json_text, const std::string& source,
                             ServerConfig& config) {
  const json document = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!document.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the top level must be an object"));
  }
  return ApplyJsonObject(document, "", source, config);
}

absl::Status ApplyOptionText(const std::string& key, const std::string& value,
                             const std::string& source, ServerConfig& config) {
  const ConfigOption* option = FindOption(NormalizeKey(key));
  if (option == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": unknown option \"", key, "\""));
  }
  OptionField field = option->field(config);
  const auto bad = [&](const char* wanted) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", option->key, " must be ", wanted, ", got \"", value, "\""));
  };
  if (auto* s = std::get_if<std::string*>(&field)) {
    **s = value;
  } else if (auto* i = std::get_if<int64_t*>(&field)) {
    if (option->auto_value && value == "auto") {
      **i = *option->auto_value;
    } else if (!absl::SimpleAtoi(value, *i)) {
      return bad(option->auto_value ? "an integer or \"auto\"" : "an integer");
    }
  } else if (auto* d = std::get_if<double*>(&field)) {
    if (!absl::SimpleAtod(value, *d)) return bad("a number");
  } else if (auto* b = std::get_if<bool*>(&field)) {
    absl::StatusOr<bool> parsed = ParseBool(value);
    if (!parsed.ok()) return bad("true or false");
    **b = *parsed;
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const ServerConfig& config) {
  ServerConfig copy = config;
  for (const ConfigOption& option : ConfigOptions()) {
    OptionField field = option.field(copy);
    const std::string source = "config";
    if (auto* s = std::get_if<std::string*>(&field)) {
      RETURN_IF_ERROR(CheckChoice(option, **s, source));
    } else if (auto* i = std::get_if<int64_t*>(&field)) {
      const bool is_auto = option.auto_value && **i == *option.auto_value;
      if (!is_auto && (**i < option.min || **i > option.max))
        return OutOfRange(option, absl::StrCat(**i), source);
    } else if (auto* d = std::get_if<double*>(&field)) {
      if (!std::isfinite(**d) || **d < option.min || **d > option.max) {
        return OutOfRange(option, absl::StrCat(**d), source);
      }
    }
  }
  if (config.model.path.empty()) {
    return absl::InvalidArgumentError(
        "config: model.path is required (--model DIR, RIBBON_MODEL_PATH or the config file)");
  }
  if (config.server.tls_cert_path.empty() != config.server.tls_key_path.empty()) {
    return absl::InvalidArgumentError(
        "config: server.tls_cert_path and server.tls_key_path must be set together");
  }
  if (config.engine.max_ribbon_tokens == kAutoMaxRibbonTokens && !config.memory.probe) {
    return absl::InvalidArgumentError(
        "config: engine.max_ribbon_tokens = auto times steps during the memory probe; it needs "
        "memory.probe = true (or set a number)");
  }
  const double age = config.server.max_connection_age_seconds;
  if (age > 0 && age < 1) {
    // gRPC takes whole milliseconds, and ages under a second would churn connections.
    return absl::InvalidArgumentError(absl::StrCat(
        "config: server.max_connection_age_seconds = ", age, " must be 0 (off) or at least 1"));
  }
  RETURN_IF_ERROR(SplitHostPort(config.server.listen, "config: server.listen").status());
  if (!config.http.listen.empty()) {
    RETURN_IF_ERROR(SplitHostPort(config.http.listen, "config: http.listen").status());
  }
  if (!config.openai.listen.empty()) {
    RETURN_IF_ERROR(SplitHostPort(config.openai.listen, "config: openai.listen").status());
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerConfig> ResolveConfig(const CommandLine& command_line,
                                           const std::map<std::string, std::string>& environment) {
  ServerConfig config;
  std::string config_path = command_line.config_path;
  if (config_path.empty()) {
    if (auto it = environment.find("RIBBON_CONFIG"); it != environment.end())
      config_path = it->second;
  }
  if (!config_path.empty()) {
    ASSIGN_OR_RETURN(const std::string text, ReadTextFile(config_path, "config file"));
    RETURN_IF_ERROR(ApplyConfigJson(text, config_path, config));
  }
  for (const ConfigOption& option : ConfigOptions()) {
    const std::string name = EnvName(option.key);
    if (auto it = environment.find(name); it != environment.end()) {
      RETURN_IF_ERROR(ApplyOptionText(option.key, it->second, "environment " + name, config));
    }
  }
  for (const auto& [key, value] : command_line.overrides) {
    RETURN_IF_ERROR(ApplyOptionText(key, value, "flag --" + key, config));
  }
  RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

std::string ConfigToJson(const ServerConfig& config) {
  ServerConfig copy = config;
  nlohmann::ordered_json document = nlohmann::ordered_json::object();
  for (const ConfigOption& option : ConfigOptions()) {
    document[nlohmann::ordered_json::json_pointer(
        "/" + absl::StrReplaceAll(option.key, {{".", "/"}}))] = OptionValueJson(option, copy);
  }
  // Paths and other strings may hold bytes that are not UTF-8 (the shell passes them through);
  // they are replaced with U+FFFD rather than letting dump() throw out of --check-config or
  // GetServerInfo.
  return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string HelpText() {
  ServerConfig defaults;
  std::string text =
      "ribbond: the ribbon LLM inference daemon (gRPC service ribbon.v1.Generation).\n\n"
      "Usage: ribbond --model DIR [--config FILE] [--key=value ...]\n"
      "       ribbond --check-config [...]   print the resolved config, or the exact error\n"
      "       ribbond probe --model DIR [...]  measure capacity, print the table, exit\n"
      "       ribbond --help | --version\n\n"
      "Precedence: defaults < config file (--config, RIBBON_CONFIG) < RIBBON_* environment\n"
      "variables (RIBBON_SERVER_LISTEN for server.listen) < flags. Aliases: --model, --listen,\n"
      "--http-listen, --port-file, --log-level, --log-format. SIGTERM/SIGINT drain gracefully.\n\n"
      "Options (default in brackets):\n";
  for (const ConfigOption& option : ConfigOptions()) {
    absl::StrAppend(&text, "  --", option.key, " [", OptionValueJson(option, defaults).dump(),
                    "]\n      ", option.help);
    if (!option.choices.empty())
      absl::StrAppend(&text, " One of: ", absl::StrJoin(option.choices, ", "), ".");
    absl::StrAppend(&text, "\n");
  }
  return text;
}

}  // namespace ribbon::server
