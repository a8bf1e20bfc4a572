// Request preparation shared by the gRPC service and the OpenAI front end: one
// ribbon.v1.GenerateRequest (the OpenAI front end translates its JSON into one) becomes the
// engine requests behind a response.
//   chat prompt  rendered with the model's chat template, tokenized without adding special
//                tokens again (the template places them); a template that raises answers
//                INVALID_ARGUMENT with the template's message
//   validation   every field, as request_validation.h (errors name the field)
//   n            n engine requests; request i > 0 samples with seed DeriveSeed(seed, i)
//
// Pure functions over their arguments; any thread (tokenizing a long prompt takes a while: the
// front ends call this on the TaskPool, not on a network thread).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ribbon/v1/generation.pb.h"
#include "server/call_group.h"
#include "server/config.h"
#include "server/serving_backend.h"

namespace ribbon::server {

inline constexpr uint32_t kMaxSequencesPerRequest = 64;

// The seed of sequence `index` (index 0 keeps `seed`, so that n = 1 is the plain request).
uint64_t DeriveSeed(uint64_t seed, uint32_t index);

// Renders and tokenizes `chat` (see above).
absl::StatusOr<std::vector<int32_t>> RenderChatPrompt(const ribbon::v1::ChatPrompt& chat,
                                                      const ServingBackend& backend);

struct PreparedRequest {
  std::vector<PreparedCall> calls;  // n of them
  bool logprobs = false;            // the client asked for logprobs
};

// `request_id` and `deadline` are stamped on every engine request.
absl::StatusOr<PreparedRequest> PrepareRequest(const ribbon::v1::GenerateRequest& proto,
                                               const ServingBackend& backend,
                                               const LimitsSection& limits,
                                               const std::string& request_id, TimeNs deadline);

}  // namespace ribbon::server
