// ribbon: the command-line client. See cli_args.h for the commands and exit codes.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "core/common/files.h"
#include "ribbon/v1/generation.grpc.pb.h"
#include "server/cli/cli_args.h"

extern char** environ;

namespace ribbon::cli {
namespace {

using ribbon::v1::Generation;

// An unreadable CA file is an error, not an empty root set (which would fail every handshake
// with a message that does not name the file).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options) {
  if (options.tls_ca_path.empty()) {
    return grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials());
  }
  absl::StatusOr<std::string> roots = ReadTextFile(options.tls_ca_path, "--tls-ca");
  if (!roots.ok()) return roots.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *std::move(roots);
  return grpc::CreateChannel(options.address, grpc::SslCredentials(ssl));
}

void Prepare(const ClientOptions& options, grpc::ClientContext& context) {
  if (!options.token.empty()) context.AddMetadata("authorization", "Bearer " + options.token);
  if (options.timeout_seconds > 0) {
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::microseconds(static_cast<int64_t>(options.timeout_seconds * 1e6)));
  }
}

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "ribbon: %s: %s\n",
               absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
               status.error_message().c_str());
  const bool unreachable = status.error_code() == grpc::StatusCode::UNAVAILABLE;
  return unreachable ? kExitUnavailable : kExitRequestFailed;
}

const char* FinishName(ribbon::v1::FinishReason reason) {
  return ribbon::v1::FinishReason_Name(reason).c_str();
}

void PrintStats(const CliInvocation& cli, ribbon::v1::FinishReason reason,
                const ribbon::v1::Usage& usage, const ribbon::v1::Timings& timings,
                const std::vector<int32_t>& ids) {
  if (cli.show_ids) std::printf("\n[%s]\n", absl::StrJoin(ids, ", ").c_str());
  if (!cli.show_stats) return;
  std::fprintf(
      stderr,
      "\nfinish=%s prompt_tokens=%u generated_tokens=%u queue=%.3fs ttft=%.3fs total=%.3fs\n",
      FinishName(reason), usage.prompt_tokens(), usage.generated_tokens(), timings.queue_seconds(),
      timings.time_to_first_token_seconds(), timings.total_seconds());
}

// --verbose: what the user felt, measured here (request sent -> first token -> last message).
// tokens/s counts the tokens after the first over the time after it: the decode rate.
struct StreamClock {
  using Clock = std::chrono::steady_clock;
  Clock::time_point sent = Clock::now();
  std::optional<Clock::time_point> first_token;

  void Saw(const ribbon::v1::GenerateResponse& message) {
    if (!first_token && message.token_ids_size() > 0) first_token = Clock::now();
  }
  void Print(size_t tokens) const {
    const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const double total = seconds(Clock::now() - sent);
    const double ttft = first_token ? seconds(*first_token - sent) : total;
    const double rate = tokens > 1 && total > ttft ? (tokens - 1) / (total - ttft) : 0.0;
    std::fprintf(stderr,
                 "\ntime to first token %.3f s, %zu tokens in %.3f s, %.1f tokens/s after the "
                 "first\n",
                 ttft, tokens, total, rate);
  }
};

int Generate(const CliInvocation& cli, Generation::Stub& stub) {
  grpc::ClientContext context;
  Prepare(cli.client, context);
  std::vector<int32_t> ids;
  StreamClock clock;
  if (cli.use_complete) {
    ribbon::v1::GenerateResult result;
    const grpc::Status status = stub.Complete(&context, cli.generate, &result);
    if (!status.ok()) return Fail(status);
    std::fwrite(result.text().data(), 1, result.text().size(), stdout);
    ids.assign(result.token_ids().begin(), result.token_ids().end());
    PrintStats(cli, result.finish_reason(), result.usage(), result.timings(), ids);
    std::printf("\n");
    std::fflush(stdout);
    if (cli.verbose) clock.Print(ids.size());  // one answer: the first token came with the last
    return kExitOk;
  }
  auto reader = stub.Generate(&context, cli.generate);
  ribbon::v1::GenerateResponse message, last;
  while (reader->Read(&message)) {
    clock.Saw(message);
    std::fwrite(message.text().data(), 1, message.text().size(), stdout);
    std::fflush(stdout);
    ids.insert(ids.end(), message.token_ids().begin(), message.token_ids().end());
    last = message;
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    std::printf("\n");
    return Fail(status);
  }
  PrintStats(cli, last.finish_reason(), last.usage(), last.timings(), ids);
  std::printf("\n");
  std::fflush(stdout);
  if (cli.verbose) clock.Print(ids.size());
  return kExitOk;
}

int Tokenize(const CliInvocation& cli, Generation::Stub& stub) {
  grpc::ClientContext context;
  Prepare(cli.client, context);
  ribbon::v1::TokenizeRequest request;
  request.set_text(cli.text);
  request.set_add_special_tokens(cli.add_special_tokens);
  ribbon::v1::TokenizeResponse response;
  const grpc::Status status = stub.Tokenize(&context, request, &response);
  if (!status.ok()) return Fail(status);
  std::printf("%s\n", absl::StrJoin(response.token_ids(), " ").c_str());
  return kExitOk;
}

int Detokenize(const CliInvocation& cli, Generation::Stub& stub) {
  grpc::ClientContext context;
  Prepare(cli.client, context);
  ribbon::v1::DetokenizeRequest request;
  request.mutable_token_ids()->Add(cli.ids.begin(), cli.ids.end());
  ribbon::v1::DetokenizeResponse response;
  const grpc::Status status = stub.Detokenize(&context, request, &response);
  if (!status.ok()) return Fail(status);
  std::printf("%s\n", response.text().c_str());
  return kExitOk;
}

int Info(const CliInvocation& cli, Generation::Stub& stub) {
  ribbon::v1::ModelInfo model;
  ribbon::v1::ServerInfo server;
  {
    grpc::ClientContext context;
    Prepare(cli.client, context);
    const grpc::Status status = stub.GetModelInfo(&context, {}, &model);
    if (!status.ok()) return Fail(status);
  }
  {
    grpc::ClientContext context;
    Prepare(cli.client, context);
    const grpc::Status status = stub.GetServerInfo(&context, {}, &server);
    if (!status.ok()) return Fail(status);
  }
  std::printf(
      "model:        %s (%s, %s)\ncontext:      %u tokens\nvocab:        %u\nparameters:   %lu\n"
      "bos/eos:      %d / %s\nserver:       ribbond %s on %s\nkv blocks:    %u free of %u "
      "(block size %u)\nrequests:     %u running, %u waiting\n",
      model.model_path().c_str(), model.architecture().c_str(), model.dtype().c_str(),
      model.context_length(), model.vocab_size(), static_cast<unsigned long>(model.parameters()),
      model.bos_token_id(), absl::StrJoin(model.eos_token_ids(), ",").c_str(),
      server.version().c_str(), server.device().c_str(), server.kv_blocks_free(),
      server.kv_blocks_total(), server.kv_block_size(), server.requests_running(),
      server.requests_waiting());
  return kExitOk;
}

// grpc.health.v1.Health/Check with the messages encoded by hand: HealthCheckRequest is
// {string service = 1}, HealthCheckResponse is {ServingStatus status = 1} (1 = SERVING).
int Health(const CliInvocation& cli, const std::shared_ptr<grpc::Channel>& channel) {
  const std::string service = "ribbon.v1.Generation";
  const std::string wire =
      absl::StrCat("\x0a", std::string(1, static_cast<char>(service.size())), service);
  grpc::Slice slice(wire);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  Prepare(cli.client, context);
  if (cli.client.timeout_seconds <= 0) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return Fail(status);
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  const bool serving = bytes.size() >= 2 && bytes[0] == 0x08 && bytes[1] == 0x01;
  std::printf("%s\n", serving ? "SERVING" : "NOT_SERVING");
  return serving ? kExitOk : kExitUnavailable;
}

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const size_t eq = text.find('=');
    if (eq != std::string::npos) environment[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return environment;
}

}  // namespace
}  // namespace ribbon::cli

int main(int argc, char** argv) {
  using namespace ribbon::cli;
  absl::StatusOr<CliInvocation> cli = ParseCli({argv + 1, argv + argc}, Environment());
  if (!cli.ok()) {
    std::fprintf(stderr, "ribbon: %s\n\n%s", std::string(cli.status().message()).c_str(),
                 CliUsage().c_str());
    return kExitUsage;
  }
  if (cli->command == "help") {
    std::fputs(CliUsage().c_str(), stdout);
    return kExitOk;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> made = MakeChannel(cli->client);
  if (!made.ok()) {
    std::fprintf(stderr, "ribbon: %s\n", std::string(made.status().message()).c_str());
    return kExitUsage;
  }
  std::shared_ptr<grpc::Channel> channel = *std::move(made);
  if (cli->command == "health") return Health(*cli, channel);
  auto stub = ribbon::v1::Generation::NewStub(channel);
  if (cli->command == "generate" || cli->command == "chat") return Generate(*cli, *stub);
  if (cli->command == "tokenize") return Tokenize(*cli, *stub);
  if (cli->command == "detokenize") return Detokenize(*cli, *stub);
  return Info(*cli, *stub);
}
