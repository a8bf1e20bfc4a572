// ribbon-bench over ribbond's gRPC API: one shared channel (HTTP/2 multiplexes the streams), a
// Generate stream per request, greedy decoding with ignore_eos so every request's length is
// the one the workload asked for.
//
// Every stream is driven by one completion-queue thread (the async API), which also stamps each
// message's arrival; Run only starts its call and sleeps until the call ends. With the sync API
// each of the runner's threads polled the same connection for its own stream, and at concurrency
// 32 on two cores that contention, not the server, set the floor the bench measured (a mean e2e
// of 32 ms for 64 instant tokens against 0.45 ms at concurrency 1).
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/serving/client.h"
#include "ribbon/v1/generation.grpc.pb.h"

namespace ribbon::bench {
namespace {

using ribbon::v1::GenerateResponse;

// One request's stream. The completion-queue thread owns everything but `mu`/`done` from
// StartCall until it sets `done` (under `mu`); Run reads `rec` only after that.
struct Call {
  enum class State { kStarting, kReading, kFinishing };
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncReader<GenerateResponse>> reader;
  GenerateResponse response;
  grpc::Status status;
  RequestRecord rec;
  State state = State::kStarting;
  std::mutex mu;
  std::condition_variable finished;
  bool done = false;  // guarded by mu
};

class GrpcClient final : public Client {
 public:
  GrpcClient(const ClientOptions& options, const std::string& address)
      : options_(options),
        stub_(ribbon::v1::Generation::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
        poller_([this] { Poll(); }) {}

  // Every Run has returned by now (the runner joins its threads first), so no call is pending.
  ~GrpcClient() override {
    cq_.Shutdown();
    poller_.join();
  }

  RequestRecord Run(const BenchRequest& request) override {
    Call call;
    call.rec.prompt_sent = static_cast<int>(request.prompt.size());
    call.rec.max_new_tokens = request.max_new_tokens;
    ribbon::v1::GenerateRequest message;
    message.mutable_token_ids()->mutable_ids()->Assign(request.prompt.begin(),
                                                       request.prompt.end());
    message.set_max_new_tokens(request.max_new_tokens);
    message.set_temperature(0);
    message.set_ignore_eos(options_.ignore_eos);
    call.context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_s * 1e3)));
    call.reader = stub_->PrepareAsyncGenerate(&call.context, message, &cq_);
    call.rec.sent = SteadyNow();
    call.reader->StartCall(&call);
    std::unique_lock<std::mutex> lock(call.mu);
    call.finished.wait(lock, [&] { return call.done; });
    return std::move(call.rec);
  }

  int VocabSize() override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ribbon::v1::ModelInfo info;
    if (!stub_->GetModelInfo(&context, ribbon::v1::GetModelInfoRequest(), &info).ok()) return 0;
    return static_cast<int>(info.vocab_size());
  }

  std::string Kind() const override { return "grpc"; }

 private:
  void Poll() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) Advance(*static_cast<Call*>(tag), ok);
  }

  // One completion of `call`'s current operation: a message goes into the record and the next
  // read is posted; a failed start or read (the stream ended) asks for the status.
  static void Advance(Call& call, bool ok) {
    switch (call.state) {
      case Call::State::kStarting:
      case Call::State::kReading:
        if (!ok) {
          call.state = Call::State::kFinishing;
          call.reader->Finish(&call.status, &call);
          return;
        }
        if (call.state == Call::State::kReading) Record(call.response, SteadyNow(), call.rec);
        call.state = Call::State::kReading;
        call.reader->Read(&call.response, &call);
        return;
      case Call::State::kFinishing: {
        call.rec.done = SteadyNow();
        call.rec.ok = call.status.ok();
        if (!call.rec.ok) {
          call.rec.error =
              absl::StrCat("grpc ", call.status.error_code(), ": ", call.status.error_message());
        }
        std::lock_guard<std::mutex> lock(call.mu);
        call.done = true;
        call.finished.notify_one();
        return;
      }
    }
  }

  static void Record(const GenerateResponse& response, double now, RequestRecord& rec) {
    if (response.token_ids_size() > 0) {
      rec.chunks.push_back({now, response.token_ids_size()});
      rec.tokens_streamed += response.token_ids_size();
    }
    if (response.has_usage()) {
      rec.usage_seen = true;
      rec.usage_prompt = static_cast<int>(response.usage().prompt_tokens());
      rec.usage_generated = static_cast<int>(response.usage().generated_tokens());
    }
  }

  ClientOptions options_;
  std::unique_ptr<ribbon::v1::Generation::Stub> stub_;
  grpc::CompletionQueue cq_;
  std::thread poller_;  // last: starts once the queue and stub exist
};

}  // namespace

std::unique_ptr<Client> MakeGrpcClient(const ClientOptions& options, const std::string& address) {
  return std::make_unique<GrpcClient>(options, address);
}

}  // namespace ribbon::bench
