// ribbon-bench over an OpenAI-compatible HTTP API: POST /v1/completions with the prompt as a
// token id array, stream: true (server-sent events). Each request opens its own connection, as
// a fleet of independent clients would.
//
// Token counting: a chunk's "tokens" array when the server sends one; otherwise one token per
// chunk whose choice carries text (llama-server sends a chunk per token, holding a token back
// only while it ends in an incomplete UTF-8 character, so its count can fall short of its usage:
// the mismatch is reported, not hidden). Usage: the "usage" object of the last chunk
// (prompt_tokens, completion_tokens).
// Small SSE writes and requests must not wait on Nagle's algorithm.
#define CPPHTTPLIB_TCP_NODELAY true
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "bench/serving/client.h"

namespace ribbon::bench {
namespace {

using nlohmann::json;

// Reads server-sent events from a byte stream that arrives in arbitrary pieces.
class EventReader {
 public:
  explicit EventReader(RequestRecord& rec) : rec_(rec) {}

  void Feed(const char* data, size_t size) {
    buffer_.append(data, size);
    size_t end;
    while ((end = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("data:", 0) == 0)
        OnData(line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5));
    }
  }

  bool done() const { return done_; }

 private:
  void OnData(const std::string& payload) {
    if (payload == "[DONE]") {
      done_ = true;
      return;
    }
    const double now = SteadyNow();
    json chunk = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (chunk.is_discarded()) {
      rec_.error = "unparsable event: " + payload.substr(0, 200);
      return;
    }
    if (chunk.contains("error")) rec_.error = chunk["error"].dump();
    int tokens = 0;
    if (chunk.contains("tokens") && chunk["tokens"].is_array()) {
      tokens = static_cast<int>(chunk["tokens"].size());
    } else if (chunk.contains("choices") && chunk["choices"].is_array() &&
               !chunk["choices"].empty()) {
      const json& choice = chunk["choices"][0];
      if (choice.contains("token_ids") && choice["token_ids"].is_array()) {
        tokens = static_cast<int>(choice["token_ids"].size());
      } else if (choice.contains("text") && choice["text"].is_string() &&
                 !choice["text"].get<std::string>().empty()) {
        tokens = 1;
      }
    }
    if (tokens > 0) {
      rec_.chunks.push_back({now, tokens});
      rec_.tokens_streamed += tokens;
    }
    if (chunk.contains("usage") && chunk["usage"].is_object()) {
      rec_.usage_seen = true;
      rec_.usage_prompt = chunk["usage"].value("prompt_tokens", 0);
      rec_.usage_generated = chunk["usage"].value("completion_tokens", 0);
    }
  }

  RequestRecord& rec_;
  std::string buffer_;
  bool done_ = false;
};

class HttpClient final : public Client {
 public:
  HttpClient(const ClientOptions& options, std::string host, int port)
      : options_(options), host_(std::move(host)), port_(port) {}

  RequestRecord Run(const BenchRequest& request) override {
    RequestRecord rec;
    rec.prompt_sent = static_cast<int>(request.prompt.size());
    rec.max_new_tokens = request.max_new_tokens;
    json body = {{"model", options_.model},
                 {"prompt", request.prompt},
                 {"max_tokens", request.max_new_tokens},
                 {"temperature", 0},
                 {"stream", true},
                 {"stream_options", {{"include_usage", true}}},
                 {"ignore_eos", options_.ignore_eos}};
    httplib::Client http(host_, port_);
    const auto timeout = static_cast<time_t>(options_.timeout_s);
    http.set_read_timeout(timeout, 0);
    http.set_write_timeout(timeout, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.set_header("Accept", "text/event-stream");
    EventReader events(rec);
    req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
      events.Feed(data, size);
      return true;
    };
    rec.sent = SteadyNow();
    httplib::Result result = http.send(req);
    rec.done = SteadyNow();
    if (!result) {
      rec.error = absl::StrCat("http: ", httplib::to_string(result.error()));
    } else if (result->status != 200) {
      rec.error = absl::StrCat("http status ", result->status, ": ", result->body.substr(0, 300));
    }
    rec.ok = rec.error.empty();
    return rec;
  }

  // An OpenAI server does not say its vocabulary size: the caller gives it (--vocab).
  int VocabSize() override { return 0; }
  std::string Kind() const override { return "http"; }

 private:
  ClientOptions options_;
  std::string host_;
  int port_;
};

}  // namespace

std::unique_ptr<Client> MakeHttpClient(const ClientOptions& options, const std::string& host,
                                       int port) {
  return std::make_unique<HttpClient>(options, host, port);
}

}  // namespace ribbon::bench
