// HttpServer: an asynchronous HTTP/1.1 server (Boost.Beast on Asio) for the OpenAI-compatible
// API. A fixed number of threads serve every connection: a connection waiting on generation
// costs a socket and a few buffers, never a thread, so thousands of streams need no more
// threads than eight.
//
// Each request is parsed (header and body limits: 413 past max_body_bytes), then handed to the
// HttpHandler with an HttpConnection, which the handler answers exactly once: Respond (a whole
// response), or StreamWrite... then StreamEnd (server-sent events over chunked encoding).
// Keep-alive connections then read the next request. A 429 carries `Retry-After: 1` (the
// queue was full; OpenAI's clients wait that long before they retry).
//
// Threads: every HttpConnection method may be called from any thread (each posts to the
// connection's strand). Ownership: the server owns the io_context and its threads; a connection
// lives while an operation of its own is pending or a holder keeps its shared_ptr.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon::server::openai {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string authorization;
  std::string body;
};

class HttpConnection {
 public:
  virtual ~HttpConnection() = default;
  // A whole response. `status` is the HTTP status code.
  virtual void Respond(int status, std::string content_type, std::string body) = 0;
  // Streaming (text/event-stream): the first write sends the 200 header. `data` stays valid
  // until `done(ok)` runs; ok false means the client is gone.
  virtual void StreamWrite(const std::string* data, std::function<void(bool ok)> done) = 0;
  // Ends a stream with `tail` (more events, may be empty). Before any StreamWrite no event
  // stream has begun: a whole application/json response with `status` and `body` goes instead
  // (an error refused before the first token reaches the client as JSON, not as events).
  virtual void StreamEnd(int status, std::string tail, std::string body) = 0;
  // Calls `gone` once if the client closes the connection before the answer is complete.
  virtual void WatchDisconnect(std::function<void()> gone) = 0;
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void Handle(std::shared_ptr<HttpConnection> connection, HttpRequest request) = 0;
};

struct HttpServerOptions {
  std::string listen;  // host:port, port 0 picks one
  int threads = 2;
  int64_t max_body_bytes = 4 << 20;
  std::string tls_cert_path;  // both set: serve HTTPS
  std::string tls_key_path;
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads; returns the bound port. `handler` must outlive Stop.
  absl::StatusOr<int> Start(const HttpServerOptions& options, HttpHandler* handler);
  void Stop();  // idempotent; closes every connection

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ribbon::server::openai
