// The transports ribbon-bench drives: ribbond's gRPC Generation.Generate stream, or an
// OpenAI-compatible HTTP server's streamed /v1/completions (llama-server, ribbond's HTTP API).
//
// Contract:
//   - Client::Run sends one request, blocks until its stream ends, and returns what the client
//     saw: when it sent, when each chunk of tokens arrived (steady clock, seconds), how many
//     tokens it counted in the stream, and the server's usage (prompt and generated tokens) from
//     the last message. Transport and server errors land in `error` (ok = false); Run never
//     throws. Run is called from many threads at once.
//   - Tokens are counted from the stream itself (token ids in gRPC messages; the "tokens" array
//     of an HTTP chunk, or one per chunk with text when the server sends no ids), never from the
//     usage, so that the two can be checked against each other.
//   - MakeClient reads a target "grpc://HOST:PORT" or "http://HOST:PORT".
#ifndef RIBBON_BENCH_SERVING_CLIENT_H_
#define RIBBON_BENCH_SERVING_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/serving/workload.h"

namespace ribbon::bench {

struct Chunk {
  double at = 0;   // arrival, seconds on the steady clock
  int tokens = 0;  // tokens in this chunk
};

struct RequestRecord {
  bool ok = false;
  std::string error;
  double sent = 0;
  double done = 0;
  std::vector<Chunk> chunks;
  int tokens_streamed = 0;
  bool usage_seen = false;
  int usage_prompt = 0;
  int usage_generated = 0;
  int prompt_sent = 0;
  int max_new_tokens = 0;
};

struct ClientOptions {
  std::string target;      // grpc://HOST:PORT or http://HOST:PORT
  std::string model;       // HTTP: the "model" field
  double timeout_s = 600;  // per request
  bool ignore_eos = true;  // every request generates exactly max_new_tokens
};

class Client {
 public:
  virtual ~Client() = default;
  virtual RequestRecord Run(const BenchRequest& request) = 0;
  // The model's vocabulary size as the server reports it, or 0 when the transport cannot ask.
  virtual int VocabSize() = 0;
  virtual std::string Kind() const = 0;
};

double SteadyNow();

absl::StatusOr<std::unique_ptr<Client>> MakeClient(const ClientOptions& options);
std::unique_ptr<Client> MakeGrpcClient(const ClientOptions& options, const std::string& address);
std::unique_ptr<Client> MakeHttpClient(const ClientOptions& options, const std::string& host,
                                       int port);

}  // namespace ribbon::bench

#endif  // RIBBON_BENCH_SERVING_CLIENT_H_
