// The `ribbon` command line: what each subcommand and flag means, parsed into plain values and
// a ribbon.v1.GenerateRequest. Pure functions; any thread.
//
//   ribbon [--address HOST:PORT] [--token T] [--tls-ca FILE] [--timeout S] COMMAND ...
//   ribbon generate "prompt" [sampling flags]   stream text as it arrives
//   ribbon chat "message" [--system S] [flags]  the same for a chat message, rendered by the
//                                               server with the model's chat template
//   ribbon tokenize "text" [--no-special]       print token ids
//   ribbon detokenize ID...                     print text
//   ribbon info                                 model and server facts
//   ribbon health                               exit 0 when ready to serve
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ribbon/v1/generation.pb.h"

namespace ribbon::cli {

// Exit codes of `ribbon`.
enum ExitCode : int {
  kExitOk = 0,
  kExitRequestFailed = 1,  // the server answered with an error
  kExitUsage = 2,          // the command line is wrong
  kExitUnavailable = 3,    // no server, not ready, or the connection failed
};

struct ClientOptions {
  std::string address = "127.0.0.1:9300";  // RIBBON_ADDRESS
  std::string token;                       // RIBBON_AUTH_TOKEN; sent as a bearer token
  std::string tls_ca_path;                 // PEM roots; set = use TLS
  double timeout_seconds = 0;              // 0 = no deadline
};

struct CliInvocation {
  std::string command;  // generate, chat, tokenize, detokenize, info, health, help
  ClientOptions client;
  ribbon::v1::GenerateRequest generate;
  bool use_complete = false;  // generate through Complete instead of the stream
  bool show_ids = false;      // print token ids after the text
  bool show_stats = false;    // print finish reason, usage and timings to stderr
  bool verbose = false;       // print time to first token and tokens/s to stderr
  std::string system_prompt;  // chat: a system message before the user's (empty = none)
  std::string text;           // tokenize
  bool add_special_tokens = true;
  std::vector<int32_t> ids;  // detokenize
};

absl::StatusOr<CliInvocation> ParseCli(const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& environment);

std::string CliUsage();

}  // namespace ribbon::cli
