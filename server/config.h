// ServerConfig: every option of ribbond, its default, and how it is resolved.
//
// Sources, lowest to highest precedence: the compiled-in defaults (identical to
// config/ribbond.json, which documents every option), a JSON config file (--config or
// RIBBON_CONFIG), RIBBON_* environment variables (RIBBON_ + the dotted key upper-cased with
// '.' -> '_', e.g. RIBBON_SERVER_LISTEN), then command-line flags (--server.listen=ADDR or
// --server.listen ADDR; '-' and '_' are interchangeable in keys; a few short aliases).
// Every option is described once, in the table returned by ConfigOptions(); parsing, range
// checks, --help and the JSON dump are all driven by that table.
//
// Plain values and pure functions; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon::server {

struct ModelSection {
  std::string path;            // Hugging Face checkpoint directory (required)
  std::string tokenizer_path;  // "" = model.path
  std::string device = "cpu";
  std::string dtype = "auto";
  std::string kv_cache_dtype = "auto";
  std::string attention_backend = "auto";
  std::string sampling = "auto";  // "auto" or "host" (ModelLoadOptions::sampling)
  int64_t num_threads = 0;
  std::string chat_template;  // Jinja file overriding the model's chat template; "" = the model's

  bool operator==(const ModelSection&) const = default;
};

struct ServerSection {
  std::string listen = "127.0.0.1:9300";
  std::string port_file;  // written once listening: {"grpc_port", "http_port", "openai_port"}
  std::string tls_cert_path;
  std::string tls_key_path;
  std::string auth_token;  // "" = no authentication
  int64_t max_receive_message_bytes = 4 << 20;
  int64_t max_send_message_bytes = 16 << 20;
  int64_t output_threads = 2;
  double shutdown_grace_seconds = 30.0;
  // > 0: connections older than this get GOAWAY (clients re-resolve; in-flight calls may run
  // for up to shutdown_grace_seconds more). 0 = connections live forever.
  double max_connection_age_seconds = 0.0;

  bool operator==(const ServerSection&) const = default;
};

struct LimitsSection {
  int64_t default_max_new_tokens = 256;
  int64_t max_stop_strings = 16;
  int64_t max_stop_string_bytes = 256;
  int64_t max_stop_token_ids = 64;
  int64_t max_top_logprobs = 20;
  int64_t max_client_request_id_bytes = 128;

  bool operator==(const LimitsSection&) const = default;
};

struct StreamSection {
  int64_t max_pending_bytes = 1 << 20;
  int64_t slow_reader_timeout_ms = 10000;

  bool operator==(const StreamSection&) const = default;
};

// engine.max_ribbon_tokens = "auto": the daemon times steps and picks the budget (step_budget.h).
inline constexpr int64_t kAutoMaxRibbonTokens = 0;

struct EngineSection {
  int64_t num_kv_blocks = 0;
  int64_t block_size = 16;
  std::string scheduler_policy = "ffd";
  int64_t max_ribbon_tokens = 2048;  // kAutoMaxRibbonTokens = "auto"
  int64_t max_running_seqs = 256;
  int64_t align = 16;
  int64_t max_blocks_per_seq = 0;
  std::string batching_mode = "packed";
  bool pipeline = false;
  bool prefix_cache = true;
  int64_t max_queued_requests = 1024;
  int64_t max_queued_prompt_tokens = 1 << 20;

  bool operator==(const EngineSection&) const = default;
};

struct MemorySection {
  bool probe = true;         // measure capacity at start-up (core/memory/capacity.h)
  int64_t budget_bytes = 0;  // CPU: 0 = memory::DetectMemoryBudget()
  double fraction = 0.90;    // of the budget (CPU) or device memory (CUDA) to plan for

  bool operator==(const MemorySection&) const = default;
};

struct HttpSection {
  std::string listen = "127.0.0.1:9400";  // "" = no HTTP side port

  bool operator==(const HttpSection&) const = default;
};

struct OpenAiSection {
  std::string listen = "127.0.0.1:8000";  // "" = no OpenAI-compatible HTTP API
  std::string served_model_name;          // "" = the model directory's name
  int64_t threads = 2;                    // HTTP threads serving every connection
  int64_t max_body_bytes = 4 << 20;

  bool operator==(const OpenAiSection&) const = default;
};

struct LogSection {
  std::string level = "info";
  std::string format = "text";
  std::string file;  // "" = stderr
  bool access_log = true;

  bool operator==(const LogSection&) const = default;
};

struct DebugSection {
  int64_t step_delay_ms = 0;
  int64_t oom_every_steps = 0;  // test only: every Nth engine step fails as out of memory

  bool operator==(const DebugSection&) const = default;
};

struct ServerConfig {
  ModelSection model;
  ServerSection server;
  LimitsSection limits;
  StreamSection stream;
  EngineSection engine;
  MemorySection memory;
  HttpSection http;
  OpenAiSection openai;
  LogSection log;
  DebugSection debug;

  bool operator==(const ServerConfig&) const = default;
};

// A pointer to one option's storage inside a ServerConfig.
using OptionField = std::variant<std::string*, int64_t*, double*, bool*>;

// One documented option. `min`/`max` bound numbers; `choices` (if any) bound strings.
struct ConfigOption {
  std::string key;   // dotted, e.g. "server.listen"
  std::string help;  // one sentence: what it is, units, what 0 or "" means
  std::function<OptionField(ServerConfig&)> field;
  double min = 0;
  double max = 0;
  std::vector<std::string> choices;
  bool secret = false;  // redacted when the config is printed
  // Integer options that also take the word "auto" (the daemon then chooses): stored as this
  // value, which lies outside [min, max], and printed back as "auto".
  std::optional<int64_t> auto_value;
};

const std::vector<ConfigOption>& ConfigOptions();

// What the command line asked for, before it is merged with the other sources.
struct CommandLine {
  bool help = false;
  bool probe = false;  // `ribbond probe` / --probe: measure capacity, print the table, exit
  bool check_config = false;
  bool version = false;
  std::string config_path;  // "" = none (RIBBON_CONFIG is consulted)
  std::vector<std::pair<std::string, std::string>> overrides;  // dotted key -> text value
};

// INVALID_ARGUMENT naming the flag for unknown flags or a missing value.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// Applies a JSON document (nested objects keyed like the dotted names; keys starting with "//"
// are comments). `source` names the file in error messages.
absl::Status ApplyConfigJson(const std::string& json_text, const std::string& source,
                             ServerConfig& config);

// Sets one option from text (environment variables and flags); `source` names the origin.
absl::Status ApplyOptionText(const std::string& key, const std::string& value,
                             const std::string& source, ServerConfig& config);

// Range and cross-field checks. The model path is required.
absl::Status ValidateConfig(const ServerConfig& config);

// Defaults <- file <- environment <- flags, then ValidateConfig.
absl::StatusOr<ServerConfig> ResolveConfig(const CommandLine& command_line,
                                           const std::map<std::string, std::string>& environment);

// The resolved configuration as pretty JSON, secrets redacted.
std::string ConfigToJson(const ServerConfig& config);

// `ribbond --help`: usage plus every option with its default and help.
std::string HelpText();

}  // namespace ribbon::server
