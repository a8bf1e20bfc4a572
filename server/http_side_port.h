// HttpSidePort: the plain-HTTP port for operators (cpp-httplib, default 127.0.0.1:9400):
//   GET /healthz  200 "ok" while the process runs (liveness)
//   GET /readyz   200 "ready" or 503 "not ready" (the same state as gRPC health readiness)
//   GET /metrics  Prometheus text exposition, when a metrics source is given
//
// Ownership: owned by the daemon; the handlers must stay valid until Stop. Threads: Start and
// Stop from one thread; the handlers run on httplib's threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace ribbon::server {

struct HttpSidePortHandlers {
  std::function<bool()> ready;
  std::function<std::string()> metrics;  // empty: /metrics answers 404
};

class HttpSidePort {
 public:
  HttpSidePort();
  ~HttpSidePort();
  HttpSidePort(const HttpSidePort&) = delete;
  HttpSidePort& operator=(const HttpSidePort&) = delete;

  // Binds `listen` ("host:port"; port 0 picks one) and serves on a thread of its own.
  // Returns the bound port.
  absl::StatusOr<int> Start(const std::string& listen, HttpSidePortHandlers handlers);
  void Stop();  // idempotent

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  HttpSidePortHandlers handlers_;
};

// Splits "host:port" (IPv6 hosts in brackets); INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address,
                                                          const std::string& what);

}  // namespace ribbon::server
