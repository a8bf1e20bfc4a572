#include "server/config.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"

using namespace ribbon::server;

namespace {

std::string SourcePath(const std::string& relative) {
  const char* source = std::getenv("RIBBON_SOURCE");
  REQUIRE(source != nullptr);
  return std::string(source) + "/" + relative;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

CommandLine Flags(std::vector<std::string> args) {
  auto parsed = ParseCommandLine(args);
  REQUIRE(parsed.ok());
  return *parsed;
}

}  // namespace

TEST_CASE("config/ribbond.json holds exactly the defaults and documents every option", "[config]") {
  const std::string text = ReadAll(SourcePath("config/ribbond.json"));
  ServerConfig from_file;
  REQUIRE(ApplyConfigJson(text, "config/ribbond.json", from_file).ok());
  CHECK(from_file == ServerConfig{});

  const nlohmann::json document = nlohmann::json::parse(text);
  size_t documented_values = 0;
  for (const ConfigOption& option : ConfigOptions()) {
    const size_t dot = option.key.find('.');
    const std::string section = option.key.substr(0, dot), leaf = option.key.substr(dot + 1);
    INFO(option.key);
    REQUIRE(document.contains(section));
    CHECK(document[section].contains(leaf));
    REQUIRE(document[section].contains("//" + leaf));
    CHECK(document[section]["//" + leaf].get<std::string>().size() > 10);
    CHECK(!option.help.empty());
    ++documented_values;
  }
  size_t values_in_file = 0;
  for (const auto& [section, body] : document.items()) {
    if (!body.is_object()) continue;
    for (const auto& [key, value] : body.items()) values_in_file += key.rfind("//", 0) == 0 ? 0 : 1;
  }
  CHECK(values_in_file == documented_values);
}

TEST_CASE("precedence: defaults < file < environment < flags", "[config]") {
  const std::string path = std::string(std::getenv("RIBBON_BUILD")) + "/server_config_test.json";
  {
    std::ofstream out(path);
    out << R"({"model": {"path": "/from/file"}, "server": {"listen": "127.0.0.1:1111",
              "output_threads": 3}, "log": {"format": "json"}})";
  }
  const std::map<std::string, std::string> environment = {
      {"RIBBON_CONFIG", path},
      {"RIBBON_SERVER_LISTEN", "127.0.0.1:2222"},
      {"RIBBON_LOG_ACCESS_LOG", "false"},
      {"RIBBON_BUILD", "/ignored/unrelated/variable"}};
  auto config = ResolveConfig(
      Flags({"--listen", "127.0.0.1:3333", "--engine.max-queued-requests=7"}), environment);
  REQUIRE(config.ok());
  CHECK(config->model.path == "/from/file");                             // file
  CHECK(config->server.output_threads == 3);                             // file
  CHECK(config->log.format == "json");                                   // file
  CHECK(config->log.access_log == false);                                // environment
  CHECK(config->server.listen == "127.0.0.1:3333");                      // flag beats environment
  CHECK(config->engine.max_queued_requests == 7);                        // flag
  CHECK(config->engine.block_size == ServerConfig{}.engine.block_size);  // default

  auto without_flags = ResolveConfig(Flags({}), environment);
  REQUIRE(without_flags.ok());
  CHECK(without_flags->server.listen == "127.0.0.1:2222");  // environment beats file
}

TEST_CASE("configuration errors are exact", "[config]") {
  ServerConfig config;
  auto status = ApplyConfigJson(R"({"server": {"lisen": "x"}})", "f.json", config);
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(MessageOf(status) == "f.json: unknown option \"server.lisen\"");

  status = ApplyConfigJson(R"({"server": {"output_threads": "two"}})", "f.json", config);
  CHECK(MessageOf(status) == "f.json: server.output_threads must be an integer, got \"two\"");

  CHECK(MessageOf(ApplyConfigJson("{not json", "f.json", config)) == "f.json: not valid JSON");

  const std::map<std::string, std::string> no_env;
  auto resolved = ResolveConfig(Flags({"--model", "/m", "--server.output_threads", "0"}), no_env);
  CHECK(MessageOf(resolved.status()) == "config: server.output_threads = 0 is outside [1, 64]");

  resolved = ResolveConfig(Flags({"--model", "/m", "--log.format", "xml"}), no_env);
  CHECK(MessageOf(resolved.status()) == "config: log.format = \"xml\" is not one of: text, json");

  resolved = ResolveConfig(Flags({"--model", "/m", "--model.sampling", "gpu"}), no_env);
  CHECK(MessageOf(resolved.status()) ==
        "config: model.sampling = \"gpu\" is not one of: auto, host");
  resolved = ResolveConfig(Flags({"--model", "/m", "--model.sampling", "host"}), no_env);
  REQUIRE(resolved.ok());
  CHECK(resolved->model.sampling == "host");

  resolved = ResolveConfig(Flags({"--model", "/m", "--debug.step_delay_ms", "fast"}), no_env);
  CHECK(MessageOf(resolved.status()) ==
        "flag --debug.step_delay_ms: debug.step_delay_ms must be an integer, got \"fast\"");

  resolved = ResolveConfig(Flags({}), no_env);
  CHECK(MessageOf(resolved.status()).find("model.path is required") != std::string::npos);

  resolved =
      ResolveConfig(Flags({"--model", "/m", "--server.max_connection_age_seconds", "0.5"}), no_env);
  CHECK(MessageOf(resolved.status()) ==
        "config: server.max_connection_age_seconds = 0.5 must be 0 (off) or at least 1");
  resolved =
      ResolveConfig(Flags({"--model", "/m", "--server.max_connection_age_seconds", "-1"}), no_env);
  CHECK(MessageOf(resolved.status()) ==
        "config: server.max_connection_age_seconds = -1 is outside [0, 86400]");
  resolved =
      ResolveConfig(Flags({"--model", "/m", "--server.max_connection_age_seconds=90"}), no_env);
  REQUIRE(resolved.ok());
  CHECK(resolved->server.max_connection_age_seconds == 90.0);

  resolved = ResolveConfig(Flags({"--model", "/m", "--server.tls_cert_path", "/c.pem"}), no_env);
  CHECK(MessageOf(resolved.status()).find("must be set together") != std::string::npos);

  resolved =
      ResolveConfig(Flags({"--config", "/nonexistent/ribbond.json", "--model", "/m"}), no_env);
  CHECK(resolved.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("command-line parsing", "[config]") {
  auto parsed = ParseCommandLine({"--check-config", "--model=/m", "--http-listen", "", "--help"});
  REQUIRE(parsed.ok());
  CHECK(parsed->check_config);
  CHECK(parsed->help);
  REQUIRE(parsed->overrides.size() == 2);
  CHECK(parsed->overrides[0] == std::pair<std::string, std::string>{"model.path", "/m"});
  CHECK(parsed->overrides[1] == std::pair<std::string, std::string>{"http.listen", ""});

  CHECK(MessageOf(ParseCommandLine({"--nope=1"}).status()) == "unknown flag --nope (see --help)");
  CHECK(MessageOf(ParseCommandLine({"--listen"}).status()) == "flag --server.listen needs a value");
  CHECK(!ParseCommandLine({"positional"}).ok());
  CHECK(!ParseCommandLine({"--help=yes"}).ok());
}

TEST_CASE("the printed config redacts the token and reads back", "[config]") {
  ServerConfig config;
  config.model.path = "/models/x";
  config.server.auth_token = "s3cret";
  config.engine.max_running_seqs = 9;
  const std::string printed = ConfigToJson(config);
  CHECK(printed.find("s3cret") == std::string::npos);
  CHECK(printed.find("<redacted>") != std::string::npos);
  ServerConfig read_back;
  REQUIRE(ApplyConfigJson(printed, "printed", read_back).ok());
  read_back.server.auth_token = config.server.auth_token;
  CHECK(read_back == config);
}

// Found by tests/fuzz/server_config_fuzz.cpp: dump() threw on a path that is not UTF-8, which
// ended ribbond --check-config and a GetServerInfo call.
TEST_CASE("the printed config survives strings that are not UTF-8", "[config]") {
  ServerConfig config;
  config.model.path = "/models/caf\xe9";  // Latin-1, as a shell may pass it
  const std::string printed = ConfigToJson(config);
  CHECK(printed.find("/models/caf\xef\xbf\xbd") != std::string::npos);  // U+FFFD
  ServerConfig read_back;
  CHECK(ApplyConfigJson(printed, "printed", read_back).ok());
}

TEST_CASE("--help lists every option", "[config]") {
  const std::string help = HelpText();
  for (const ConfigOption& option : ConfigOptions()) {
    INFO(option.key);
    CHECK(help.find(std::string("--").append(option.key).append(" [")) != std::string::npos);
  }
}
