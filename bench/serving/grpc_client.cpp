// ribbon-bench over ribbond's gRPC API: one shared channel (HTTP/2 multiplexes the streams), a
// Generate stream per request, greedy decoding with ignore_eos so every request's length is
// the one the workload asked for.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "bench/serving/client.h"
#include "ribbon/v1/generation.grpc.pb.h"

namespace ribbon::bench {
namespace {

class GrpcClient final : public Client {
 public:
  GrpcClient(const ClientOptions& options, const std::string& address)
      : options_(options),
        stub_(ribbon::v1::Generation::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

  RequestRecord Run(const BenchRequest& request) override {
    RequestRecord rec;
    rec.prompt_sent = static_cast<int>(request.prompt.size());
    rec.max_new_tokens = request.max_new_tokens;
    ribbon::v1::GenerateRequest message;
    message.mutable_token_ids()->mutable_ids()->Assign(request.prompt.begin(),
                                                       request.prompt.end());
    message.set_max_new_tokens(request.max_new_tokens);
    message.set_temperature(0);
    message.set_ignore_eos(options_.ignore_eos);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_s * 1e3)));
    rec.sent = SteadyNow();
    auto reader = stub_->Generate(&context, message);
    ribbon::v1::GenerateResponse response;
    while (reader->Read(&response)) {
      const double now = SteadyNow();
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
    const grpc::Status status = reader->Finish();
    rec.done = SteadyNow();
    rec.ok = status.ok();
    if (!rec.ok)
      rec.error = absl::StrCat("grpc ", status.error_code(), ": ", status.error_message());
    return rec;
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
  ClientOptions options_;
  std::unique_ptr<ribbon::v1::Generation::Stub> stub_;
};

}  // namespace

std::unique_ptr<Client> MakeGrpcClient(const ClientOptions& options, const std::string& address) {
  return std::make_unique<GrpcClient>(options, address);
}

}  // namespace ribbon::bench
