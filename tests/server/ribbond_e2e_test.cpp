// Black-box: the real ribbond on loopback with stories260K, driven by a C++ gRPC client.
// 64 concurrent streams (and then 64 concurrent Completes) cycle through the 10 golden prompts,
// both lengths and both stop settings; every one must match llama2.c's greedy output.
#include <grpcpp/create_channel.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "ribbon/v1/generation.grpc.pb.h"
#include "tests/server/ribbond_process.h"

using ribbon::testing::RibbondProcess;
namespace v1 = ribbon::v1;

namespace {

struct GoldenCombo {
  std::vector<int32_t> prompt;
  int max_new_tokens = 0;
  bool stop_ids = false;  // stop ids {1, 2}; otherwise EOS ignored
  std::vector<int32_t> want_ids;
  std::string want_text;  // only with stop ids
  v1::FinishReason want_reason = v1::FINISH_REASON_LENGTH;
};

std::string Stories() { return std::string(std::getenv("RIBBON_SHARED_DATA")) + "/stories260k"; }

std::vector<GoldenCombo> LoadCombos() {
  std::ifstream in(Stories() + "/golden.json");
  const nlohmann::json golden = nlohmann::json::parse(in);
  std::vector<GoldenCombo> combos;
  for (const auto& c : golden["cases"]) {
    for (const auto& cont : c["continuations"]) {
      for (bool stop_ids : {false, true}) {
        GoldenCombo combo;
        combo.prompt = c["prompt_ids"].get<std::vector<int32_t>>();
        combo.max_new_tokens = cont["max_new_tokens"];
        combo.stop_ids = stop_ids;
        combo.want_ids = cont[stop_ids ? "ids_until_stop" : "ids"].get<std::vector<int32_t>>();
        if (stop_ids) combo.want_text = cont["text_until_stop"];
        if (stop_ids && static_cast<int>(combo.want_ids.size()) < combo.max_new_tokens) {
          combo.want_reason = v1::FINISH_REASON_STOP_TOKEN;
        }
        combos.push_back(std::move(combo));
      }
    }
  }
  return combos;
}

v1::GenerateRequest RequestFor(const GoldenCombo& combo) {
  v1::GenerateRequest request;
  request.mutable_token_ids()->mutable_ids()->Add(combo.prompt.begin(), combo.prompt.end());
  request.set_max_new_tokens(combo.max_new_tokens);
  if (combo.stop_ids) {
    request.add_stop_token_ids(1);
    request.add_stop_token_ids(2);
  } else {
    request.set_ignore_eos(true);
  }
  return request;
}

struct Outcome {
  grpc::Status status;
  std::vector<int32_t> ids;
  std::string text;
  v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED;
  uint32_t generated_tokens = 0;
  int messages = 0;
};

Outcome Stream(v1::Generation::Stub& stub, const GoldenCombo& combo) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  Outcome outcome;
  auto reader = stub.Generate(&context, RequestFor(combo));
  v1::GenerateResponse message;
  while (reader->Read(&message)) {
    outcome.ids.insert(outcome.ids.end(), message.token_ids().begin(), message.token_ids().end());
    outcome.text += message.text();
    outcome.reason = message.finish_reason();
    outcome.generated_tokens = message.usage().generated_tokens();
    ++outcome.messages;
  }
  outcome.status = reader->Finish();
  return outcome;
}

Outcome Complete(v1::Generation::Stub& stub, const GoldenCombo& combo) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::GenerateResult result;
  Outcome outcome;
  outcome.status = stub.Complete(&context, RequestFor(combo), &result);
  outcome.ids.assign(result.token_ids().begin(), result.token_ids().end());
  outcome.text = result.text();
  outcome.reason = result.finish_reason();
  outcome.generated_tokens = result.usage().generated_tokens();
  outcome.messages = 1;
  return outcome;
}

// Runs `call` for 64 combos on 64 threads at once and checks every outcome.
template <typename Call>
void RunConcurrentAndCheck(v1::Generation::Stub& stub, const std::vector<GoldenCombo>& combos,
                           Call call) {
  constexpr int kConcurrency = 64;
  std::vector<Outcome> outcomes(kConcurrency);
  std::vector<std::thread> threads;
  for (int i = 0; i < kConcurrency; ++i) {
    threads.emplace_back([&, i] { outcomes[i] = call(stub, combos[i % combos.size()]); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kConcurrency; ++i) {
    const GoldenCombo& combo = combos[i % combos.size()];
    INFO("stream " << i << " max_new_tokens " << combo.max_new_tokens << " stop_ids "
                   << combo.stop_ids);
    REQUIRE(outcomes[i].status.ok());
    CHECK(outcomes[i].ids == combo.want_ids);
    if (combo.stop_ids) CHECK(outcomes[i].text == combo.want_text);
    CHECK(outcomes[i].reason == combo.want_reason);
    CHECK(outcomes[i].generated_tokens == combo.want_ids.size());
  }
}

}  // namespace

TEST_CASE("64 concurrent streams and completes match the golden outputs", "[e2e]") {
  const std::vector<GoldenCombo> combos = LoadCombos();
  REQUIRE(combos.size() == 40);
  RibbondProcess daemon(Stories());
  REQUIRE(daemon.running());
  auto channel = grpc::CreateChannel(daemon.address(), grpc::InsecureChannelCredentials());
  REQUIRE(channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)));
  auto stub = v1::Generation::NewStub(channel);

  // Readiness: GetModelInfo answers UNAVAILABLE until the model is loaded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  grpc::Status info_status;
  do {
    grpc::ClientContext context;
    v1::ModelInfo info;
    info_status = stub->GetModelInfo(&context, {}, &info);
    if (!info_status.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (!info_status.ok() && std::chrono::steady_clock::now() < deadline);
  REQUIRE(info_status.ok());

  RunConcurrentAndCheck(*stub, combos, Stream);
  RunConcurrentAndCheck(*stub, combos, Complete);
  CHECK(daemon.Stop() == 0);
}
