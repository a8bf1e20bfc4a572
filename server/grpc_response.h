// GrpcResponse: the output of one Generate (streamed) or Complete (unary) RPC. A CallGroup that
// formats each sequence's output as ribbon.v1.GenerateResponse messages (tagged with the
// sequence's index) and sends them through a WriteQueue, whose transport is the RPC's reactor.
//
// Reactor events: OnWriteDone and OnCancel end the group when the client is gone (every engine
// request cancelled); OnDone detaches the queue and deletes the reactor.
//
// Ownership: the reactor holds the response until OnDone; see call_group.h for the rest.
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "ribbon/v1/generation.grpc.pb.h"
#include "server/call_group.h"
#include "server/write_queue.h"

namespace ribbon::server {

class GrpcResponse final : public CallGroup {
 public:
  GrpcResponse(CallGroupOptions options, bool streaming, int64_t max_pending_bytes,
               int64_t slow_reader_timeout_ms);

  WriteQueue<ribbon::v1::GenerateResponse>& queue() { return queue_; }
  // Ends a response that never reached the engine (refused, invalid): finishes the RPC with
  // `status` and logs the refusal.
  void Refuse(const absl::Status& status);
  bool CheckSlowReader(TimeNs now) override;

 protected:
  void EmitChunk(int index, const OutputChunk& chunk) override;
  void EmitSequenceEnd(int index, const FinishInfo& info) override;
  void EndOutput(const absl::Status& status) override;

 private:
  WriteQueue<ribbon::v1::GenerateResponse> queue_;
};

// Streams a Generate call: each write is the output of one sequence merged since its last write.
class GrpcStreamReactor final : public grpc::ServerWriteReactor<ribbon::v1::GenerateResponse>,
                                public WriteTransport<ribbon::v1::GenerateResponse> {
 public:
  explicit GrpcStreamReactor(grpc::CallbackServerContext* context) : context_(context) {}
  // Set once, before any output can flow.
  void Bind(std::shared_ptr<GrpcResponse> response);

  void StartWrite(const ribbon::v1::GenerateResponse* message) override;
  void Finish(const absl::Status& status,
              std::vector<ribbon::v1::GenerateResponse>&& rest) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  grpc::CallbackServerContext* const context_;
  std::shared_ptr<GrpcResponse> response_;
};

// Answers a Complete call once, with everything the request produced (sequences 1.. in `more`).
class GrpcUnaryReactor final : public grpc::ServerUnaryReactor,
                               public WriteTransport<ribbon::v1::GenerateResponse> {
 public:
  GrpcUnaryReactor(grpc::CallbackServerContext* context, ribbon::v1::GenerateResult* result)
      : context_(context), result_(result) {}
  void Bind(std::shared_ptr<GrpcResponse> response);

  void StartWrite(const ribbon::v1::GenerateResponse*) override {}
  void Finish(const absl::Status& status,
              std::vector<ribbon::v1::GenerateResponse>&& rest) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  grpc::CallbackServerContext* const context_;
  ribbon::v1::GenerateResult* const result_;
  std::shared_ptr<GrpcResponse> response_;
};

}  // namespace ribbon::server
