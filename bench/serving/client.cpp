#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/serving/client.h"

namespace ribbon::bench {

double SteadyNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

absl::StatusOr<std::unique_ptr<Client>> MakeClient(const ClientOptions& options) {
  const std::string& t = options.target;
  const size_t scheme_end = t.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : t.substr(0, scheme_end);
  const std::string rest = scheme_end == std::string::npos ? t : t.substr(scheme_end + 3);
  if (scheme == "grpc") return MakeGrpcClient(options, rest);
  if (scheme == "http") {
    const size_t colon = rest.rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(rest.substr(colon + 1), &port) ||
        port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("--target: '", t, "' has no valid port"));
    }
    return MakeHttpClient(options, rest.substr(0, colon), port);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--target: '", t, "' must start with grpc:// or http://"));
}

}  // namespace ribbon::bench
