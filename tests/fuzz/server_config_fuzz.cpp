// libFuzzer target for ribbond's configuration (server/config.h): a config file, command-line
// flags and RIBBON_* environment variables, resolved together. The input holds three parts
// separated by kPartSeparator lines (tests/fuzz/fuzz_util.h):
//   the JSON config file; the flags, one argument a line; the environment, NAME=value a line.
// A --config flag or RIBBON_CONFIG is pointed at the first part (written to a scratch file), so
// the input never names a file of the machine. Besides the sanitizers' own checks it requires:
//   * errors are INVALID_ARGUMENT with a message (no throw, no crash);
//   * a configuration that resolves passes ValidateConfig, and its JSON dump (ConfigToJson) is
//     valid JSON that, applied to the defaults, gives the same configuration back (secrets and
//     strings that are not UTF-8 aside: the dump redacts the one and replaces the other).
// Built and run by tests/fuzz/run_fuzz.sh server_config; seeds: tests/fuzz/corpus/server_config/.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/utf8.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ribbon::fuzz::Require;
using ribbon::server::ServerConfig;

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

void RequireInvalidArgument(const absl::Status& status) {
  Require(absl::IsInvalidArgument(status), "not INVALID_ARGUMENT: " + status.ToString());
  Require(!status.message().empty(), "an error without a message");
}

// True when every string option is valid UTF-8 (the dump replaces invalid bytes).
bool StringsAreUtf8(const ServerConfig& config) {
  ServerConfig copy = config;
  for (const ribbon::server::ConfigOption& option : ribbon::server::ConfigOptions()) {
    const ribbon::server::OptionField field = option.field(copy);
    const auto* text = std::get_if<std::string*>(&field);
    if (text != nullptr && ribbon::server::FindInvalidUtf8(**text).has_value()) return false;
  }
  return true;
}

// ConfigToJson, applied to the defaults, must give `config` back (invalid UTF-8 aside).
void CheckRoundTrip(const ServerConfig& config) {
  const std::string dumped = ribbon::server::ConfigToJson(config);
  ServerConfig again;
  const absl::Status applied = ribbon::server::ApplyConfigJson(dumped, "dump", again);
  Require(applied.ok(), "the dump does not apply: " + applied.ToString() + "\n" + dumped);
  if (!StringsAreUtf8(config)) return;
  again.server.auth_token = config.server.auth_token;  // redacted in the dump
  Require(again == config, "the dump does not give the configuration back:\n" + dumped);
  Require(ribbon::server::ValidateConfig(again).ok(), "the dump does not validate");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = ribbon::fuzz::SplitParts(ribbon::fuzz::AsText(data, size), 3);
  const std::string file = (ribbon::fuzz::ScratchDir() / "ribbond.json").string();
  ribbon::fuzz::WriteFile(file, parts[0]);

  ServerConfig direct;
  const absl::Status applied = ribbon::server::ApplyConfigJson(std::string(parts[0]), "f", direct);
  if (!applied.ok()) RequireInvalidArgument(applied);

  auto command_line = ribbon::server::ParseCommandLine(
      parts.size() > 1 ? Lines(parts[1]) : std::vector<std::string>{});
  if (!command_line.ok()) {
    RequireInvalidArgument(command_line.status());
    return 0;
  }
  if (!command_line->config_path.empty()) command_line->config_path = file;
  std::map<std::string, std::string> environment;
  for (const std::string& line : parts.size() > 2 ? Lines(parts[2]) : std::vector<std::string>{}) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) environment[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (environment.count("RIBBON_CONFIG") != 0) environment["RIBBON_CONFIG"] = file;

  auto config = ribbon::server::ResolveConfig(*command_line, environment);
  if (!config.ok()) {
    RequireInvalidArgument(config.status());
    return 0;
  }
  Require(ribbon::server::ValidateConfig(*config).ok(), "a resolved config does not validate");
  CheckRoundTrip(*config);
  return 0;
}
