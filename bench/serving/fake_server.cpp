// ribbon-bench-fake-server: a trivial server for measuring ribbon-bench's own overhead. It
// answers ribbon.v1.Generation.Generate (gRPC) and POST /v1/completions (OpenAI-style SSE) by
// streaming max_new_tokens tokens at once, one message per token, with the usage a real server
// would report. Whatever latency ribbon-bench measures against it is the bench's own cost plus
// the transport's, the floor under any figure it reports.
//
//   ribbon-bench-fake-server [--grpc 127.0.0.1:0] [--http-port 0] [--port-file FILE]
//                            [--vocab 512] [--max-seconds 600]
// Listens on loopback only; exits after --max-seconds (so a forgotten one does not linger).
#include <grpcpp/grpcpp.h>
// Small SSE writes and requests must not wait on Nagle's algorithm.
#define CPPHTTPLIB_TCP_NODELAY true
// httplib's default listen backlog (5) overflows when 8-32 clients connect at once; the kernel
// then drops SYNs and the client retries after a second, which measured as the bench's own
// "overhead" at concurrency 8 and 32 (mean e2e 128-430 ms against 1 ms at concurrency 1). A
// thread per connection up to the highest concurrency the harness runs.
#define CPPHTTPLIB_LISTEN_BACKLOG 256
#define CPPHTTPLIB_THREAD_POOL_COUNT 64
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "ribbon/v1/generation.grpc.pb.h"

namespace {

using nlohmann::json;
int g_vocab = 512;

class FakeGeneration final : public ribbon::v1::Generation::Service {
  grpc::Status Generate(grpc::ServerContext*, const ribbon::v1::GenerateRequest* request,
                        grpc::ServerWriter<ribbon::v1::GenerateResponse>* writer) override {
    const int n = request->has_max_new_tokens() ? static_cast<int>(request->max_new_tokens()) : 16;
    for (int i = 0; i < n; ++i) {
      ribbon::v1::GenerateResponse message;
      message.add_token_ids(3 + i % (g_vocab - 3));
      message.set_text("x");
      if (i + 1 == n) {
        message.set_finish_reason(ribbon::v1::FINISH_REASON_LENGTH);
        message.mutable_usage()->set_prompt_tokens(request->token_ids().ids_size());
        message.mutable_usage()->set_generated_tokens(n);
      }
      if (!writer->Write(message)) return grpc::Status::CANCELLED;
    }
    return grpc::Status::OK;
  }
  grpc::Status GetModelInfo(grpc::ServerContext*, const ribbon::v1::GetModelInfoRequest*,
                            ribbon::v1::ModelInfo* info) override {
    info->set_vocab_size(g_vocab);
    info->set_architecture("fake");
    return grpc::Status::OK;
  }
};

void ServeCompletion(const httplib::Request& req, httplib::Response& res) {
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.contains("prompt") || !body["prompt"].is_array()) {
    res.status = 400;
    res.set_content(R"({"error":"prompt: expected a token id array"})", "application/json");
    return;
  }
  const int n = body.value("max_tokens", 16);
  const int prompt = static_cast<int>(body["prompt"].size());
  std::string events;
  for (int i = 0; i < n; ++i) {
    json chunk = {{"choices", {{{"text", "x"}, {"index", 0}, {"finish_reason", nullptr}}}}};
    events += "data: " + chunk.dump() + "\n\n";
  }
  json last = {{"choices", json::array()},
               {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", n}}}};
  events += "data: " + last.dump() + "\n\ndata: [DONE]\n\n";
  // One write per event, as a streaming server does.
  res.set_chunked_content_provider("text/event-stream", [events](size_t, httplib::DataSink& sink) {
    size_t pos = 0;
    while (pos < events.size()) {
      const size_t end = events.find("\n\n", pos) + 2;
      sink.write(events.data() + pos, end - pos);
      pos = end;
    }
    sink.done();
    return true;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string grpc_address = "127.0.0.1:0", port_file;
  int http_port = 0;
  double max_seconds = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--grpc")
      grpc_address = v;
    else if (k == "--http-port")
      http_port = std::stoi(v);
    else if (k == "--port-file")
      port_file = v;
    else if (k == "--vocab")
      g_vocab = std::stoi(v);
    else if (k == "--max-seconds")
      max_seconds = std::stod(v);
    else {
      std::fprintf(stderr, "ribbon-bench-fake-server: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  FakeGeneration service;
  int grpc_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(grpc_address, grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(&service);
  auto grpc_server = builder.BuildAndStart();
  if (!grpc_server) {
    std::fprintf(stderr, "ribbon-bench-fake-server: cannot listen on %s\n", grpc_address.c_str());
    return 1;
  }
  httplib::Server http;
  http.Post("/v1/completions", ServeCompletion);
  if (http_port == 0) {
    http_port = http.bind_to_any_port("127.0.0.1");
  } else if (!http.bind_to_port("127.0.0.1", http_port)) {
    http_port = -1;
  }
  if (http_port < 0) {
    std::fprintf(stderr, "ribbon-bench-fake-server: cannot bind the HTTP port\n");
    return 1;
  }
  std::thread http_thread([&] { http.listen_after_bind(); });
  if (!port_file.empty()) {
    std::ofstream(port_file) << json{{"grpc_port", grpc_port}, {"http_port", http_port}}.dump();
  }
  std::fprintf(stderr, "fake server: grpc 127.0.0.1:%d http 127.0.0.1:%d\n", grpc_port, http_port);
  std::this_thread::sleep_for(std::chrono::duration<double>(max_seconds));
  http.stop();
  http_thread.join();
  grpc_server->Shutdown();
  return 0;
}
