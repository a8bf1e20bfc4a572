// libFuzzer target for a gRPC GenerateRequest through the server's preparation and validation
// (server/prepare_request.h, server/request_validation.h): the input bytes are parsed as the
// ribbon.v1.GenerateRequest wire format (libprotobuf-mutator is not packaged in Debian 12, so
// plain byte mutation; the seeds are valid messages of every prompt kind), then prepared against
// stories260K with a ChatML template (tests/fuzz/serving_fixture.h). Besides the sanitizers' own
// checks it requires that a refused request is INVALID_ARGUMENT or FAILED_PRECONDITION with a
// message, and that an accepted one is within every bound the engine relies on (CheckPrepared).
// Built and run by tests/fuzz/run_fuzz.sh generate_request; seeds:
// tests/fuzz/corpus/generate_request/ (made by tests/fuzz/make_proto_seeds.sh).
#include <cstdint>

#include "ribbon/v1/generation.pb.h"
#include "tests/fuzz/serving_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ribbon::v1::GenerateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const ribbon::server::LimitsSection limits;
  auto prepared =
      ribbon::server::PrepareRequest(request, ribbon::fuzz::Backend(), limits, "fuzz", 0);
  if (!prepared.ok()) {
    ribbon::fuzz::CheckRefusal(prepared.status());
    return 0;
  }
  ribbon::fuzz::CheckPrepared(*prepared, request.n(), limits);
  return 0;
}
