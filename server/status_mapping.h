// The one place where an absl::Status becomes a grpc::Status. The canonical codes are the same
// numbers in both libraries, so the mapping is one-to-one and keeps the message.
// Pure functions; any thread.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace ribbon::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for the CLI and tests that hold a grpc::Status.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace ribbon::server
