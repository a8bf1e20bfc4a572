// The bearer-token check shared by the gRPC service and the OpenAI HTTP front end.
// Pure function; any thread.
#pragma once

#include <string>
#include <string_view>

namespace ribbon::server {

// True when `authorization` is exactly "Bearer <token>" (or no token is configured). Compares
// without an early exit so the time taken does not reveal how much of a token matched.
inline bool BearerTokenMatches(std::string_view authorization, const std::string& token) {
  if (token.empty()) return true;
  const std::string expected = "Bearer " + token;
  if (authorization.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < expected.size(); ++i) diff |= authorization[i] ^ expected[i];
  return diff == 0;
}

}  // namespace ribbon::server
