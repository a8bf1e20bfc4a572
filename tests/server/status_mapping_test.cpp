#include "server/status_mapping.h"

#include <catch2/catch.hpp>

using namespace ribbon::server;

TEST_CASE("every canonical code maps one-to-one and keeps the message", "[status]") {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "why " + std::to_string(code));
    const grpc::Status mapped = ToGrpcStatus(status);
    INFO(code);
    CHECK(static_cast<int>(mapped.error_code()) == code);
    CHECK(mapped.error_message() == "why " + std::to_string(code));
    CHECK(FromGrpcStatus(mapped) == status);
  }
  CHECK(ToGrpcStatus(absl::OkStatus()).ok());
  CHECK(FromGrpcStatus(grpc::Status::OK).ok());
  CHECK(ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(99), "odd")).error_code() ==
        grpc::StatusCode::UNKNOWN);
}
