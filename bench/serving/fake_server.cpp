// ribbon-bench-fake-server: a trivial server for measuring ribbon-bench's own overhead. It
// answers ribbon.v1.Generation.Generate (gRPC) and POST /v1/completions (OpenAI-style SSE) by
// streaming max_new_tokens tokens, one message per token, with the usage a real server would
// report. Whatever latency ribbon-bench measures against it is the bench's own cost plus the
// transport's, the floor under any figure it reports.
//
//   ribbon-bench-fake-server [--grpc 127.0.0.1:0] [--http-port 0] [--port-file FILE]
//                            [--vocab 512] [--max-seconds 600] [--ttft-us 0] [--itl-us 0]
// Listens on loopback only; exits after --max-seconds (so a forgotten one does not linger).
// By default every token goes out at once, back to back: the bench then receives a whole
// stream's messages one after another, the most its per-message cost can add. With --ttft-us /
// --itl-us, token i is due ttft + i * itl after the request arrived (as a real server paces
// them, so the bench's work on one message overlaps the wait for the next); what the bench
// then measures beyond ttft + (n - 1) * itl is what it and the transport add to a real stream.
//
// The HTTP side is a plain socket server (a thread per connection, a listen backlog of 1,024)
// rather than cpp-httplib: Debian ships httplib compiled, with a listen backlog of 5 and 8 worker
// threads that its header's macros cannot change, and at concurrency 8-32 the kernel dropped
// connections ("http: Read" failures, and a mean e2e of 66-317 ms against 1 ms at concurrency 1)
// that then measured as the bench's own overhead.
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "ribbon/v1/generation.grpc.pb.h"

namespace {

using nlohmann::json;
int g_vocab = 512;

// When token i of a stream that started at `start` is due (--ttft-us, --itl-us; 0, 0: at once).
struct Pacing {
  int64_t ttft_us = 0, itl_us = 0;
  bool on() const { return ttft_us > 0 || itl_us > 0; }
  std::chrono::system_clock::time_point Due(std::chrono::system_clock::time_point start,
                                            int i) const {
    return start + std::chrono::microseconds(ttft_us + i * itl_us);
  }
};
Pacing g_pacing;

// Timed waits on this thread end when due, not up to 50 us later (Linux's default timer slack
// for a normal thread), which the bench would otherwise have measured as its own cost.
void ExactTimers() { prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); }

// Runs callbacks at their due times, on one thread of its own. (grpc::Alarm's callbacks came
// up to a millisecond late and in bunches, which paced nothing.)
class Pacer {
 public:
  static Pacer& Get() {
    static Pacer* pacer = new Pacer();  // lives as long as the process; its thread never ends
    return *pacer;
  }
  void At(std::chrono::system_clock::time_point due, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push({due, seq_++, std::move(fn)});
    }
    wake_.notify_one();
  }

 private:
  struct Item {
    std::chrono::system_clock::time_point due;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  Pacer() {
    std::thread([this] {
      ExactTimers();
      Run();
    }).detach();
  }
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (queue_.empty()) {
        wake_.wait(lock);
        continue;
      }
      const auto due = queue_.top().due;
      if (std::chrono::system_clock::now() < due) {
        wake_.wait_until(lock, due);
        continue;
      }
      std::function<void()> fn = queue_.top().fn;
      queue_.pop();
      lock.unlock();
      fn();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable wake_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;
  uint64_t seq_ = 0;
};

// One Generate stream: writes its tokens one message at a time, each as soon as the previous
// one is written. The callback API runs it on gRPC's own threads; with the sync API every
// stream held a thread that blocked on each write, and at concurrency 32 on two cores those
// threads' wake-ups, not the client, set the floor the bench measured.
class TokenStream final : public grpc::ServerWriteReactor<ribbon::v1::GenerateResponse> {
 public:
  explicit TokenStream(const ribbon::v1::GenerateRequest& request)
      : n_(request.has_max_new_tokens() ? static_cast<int>(request.max_new_tokens()) : 16),
        prompt_(request.token_ids().ids_size()) {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::CANCELLED);
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (sent_ == n_) return Finish(grpc::Status::OK);
    const auto due = g_pacing.Due(start_, sent_);
    if (g_pacing.on() && std::chrono::system_clock::now() < due) {
      // The pacer's thread runs Write when due; nothing else touches the stream till then.
      Pacer::Get().At(due, [this] { Write(); });
      return;
    }
    Write();
  }
  void Write() {
    message_.Clear();
    message_.add_token_ids(3 + sent_ % (g_vocab - 3));
    message_.set_text("x");
    if (++sent_ == n_) {
      message_.set_finish_reason(ribbon::v1::FINISH_REASON_LENGTH);
      message_.mutable_usage()->set_prompt_tokens(prompt_);
      message_.mutable_usage()->set_generated_tokens(n_);
      // The last message and the status go out together: the cheapest end a stream can have,
      // so the floor holds as little of the server's own cost as it can.
      return StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
    }
    StartWrite(&message_);
  }

  const int n_;
  const int prompt_;
  const std::chrono::system_clock::time_point start_ = std::chrono::system_clock::now();
  int sent_ = 0;
  ribbon::v1::GenerateResponse message_;
};

class FakeGeneration final : public ribbon::v1::Generation::CallbackService {
  grpc::ServerWriteReactor<ribbon::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext*, const ribbon::v1::GenerateRequest* request) override {
    return new TokenStream(*request);
  }
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const ribbon::v1::GetModelInfoRequest*,
                                         ribbon::v1::ModelInfo* info) override {
    info->set_vocab_size(g_vocab);
    info->set_architecture("fake");
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// The SSE answer to one /v1/completions body: one event per token, then the usage and [DONE].
std::vector<std::string> CompletionEvents(const std::string& request_body, int* status) {
  const json body = json::parse(request_body, nullptr, false);
  if (body.is_discarded() || !body.contains("prompt") || !body["prompt"].is_array()) {
    *status = 400;
    return {R"({"error":"prompt: expected a token id array"})"};
  }
  *status = 200;
  const int n = body.value("max_tokens", 16);
  const int prompt = static_cast<int>(body["prompt"].size());
  std::vector<std::string> events;
  for (int i = 0; i < n; ++i) {
    json chunk = {{"choices", {{{"text", "x"}, {"index", 0}, {"finish_reason", nullptr}}}}};
    events.push_back("data: " + chunk.dump() + "\n\n");
  }
  json last = {{"choices", json::array()},
               {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", n}}}};
  events.push_back("data: " + last.dump() + "\n\n");
  events.push_back("data: [DONE]\n\n");
  return events;
}

bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string Chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

// One connection's requests, read by Content-Length; each answered with one chunked write per
// event, as a streaming server does. Returns when the peer closes or anything is unexpected.
void ServeRequests(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // small writes go out at once
  std::string in;
  char buf[16384];
  for (;;) {
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    size_t length = 0;
    const size_t at = in.find("Content-Length: ");
    if (at != std::string::npos && at < header_end) length = std::stoul(in.substr(at + 16));
    while (in.size() < header_end + 4 + length) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    const auto arrived = std::chrono::system_clock::now();
    const bool completions = in.rfind("POST /v1/completions ", 0) == 0;
    int status = 404;
    std::vector<std::string> events;
    if (completions) events = CompletionEvents(in.substr(header_end + 4, length), &status);
    in.erase(0, header_end + 4 + length);
    if (status != 200) {
      const std::string body = status == 404 ? "" : events[0];
      SendAll(fd, "HTTP/1.1 " + std::to_string(status) +
                      " Error\r\nContent-Type: application/json" +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
      continue;
    }
    bool ok = SendAll(fd,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < events.size(); ++i) {
      // The token events are paced; the usage and [DONE] follow the last token at once.
      if (g_pacing.on() && i + 2 < events.size()) {
        std::this_thread::sleep_until(g_pacing.Due(arrived, static_cast<int>(i)));
      }
      ok = ok && SendAll(fd, Chunk(events[i]));
    }
    if (!ok || !SendAll(fd, "0\r\n\r\n")) return;
  }
}

void ServeConnection(int fd) {
  ExactTimers();  // its paced sleeps
  ServeRequests(fd);
  close(fd);
}

// Listens on 127.0.0.1:port (0 = any free port); returns the socket and sets *port, or -1.
int ListenHttp(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(*port));
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 1024) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
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
    else if (k == "--ttft-us")
      g_pacing.ttft_us = std::stoll(v);
    else if (k == "--itl-us")
      g_pacing.itl_us = std::stoll(v);
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
  const int http_fd = ListenHttp(&http_port);
  if (http_fd < 0) {
    std::fprintf(stderr, "ribbon-bench-fake-server: cannot bind the HTTP port\n");
    return 1;
  }
  std::thread([http_fd] {
    for (int fd; (fd = accept(http_fd, nullptr, nullptr)) >= 0;)
      std::thread(ServeConnection, fd).detach();
  }).detach();
  if (!port_file.empty()) {
    std::ofstream(port_file) << json{{"grpc_port", grpc_port}, {"http_port", http_port}}.dump();
  }
  std::fprintf(stderr, "fake server: grpc 127.0.0.1:%d http 127.0.0.1:%d\n", grpc_port, http_port);
  std::this_thread::sleep_for(std::chrono::duration<double>(max_seconds));
  grpc_server->Shutdown();
  return 0;
}
