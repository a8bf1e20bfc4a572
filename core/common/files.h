// Small file helpers shared by the loaders. Any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace ribbon {

// The whole file as bytes; NOT_FOUND naming the path when it cannot be opened. `what` names the
// option or role the file was given for ("server.tls_cert_path"); when set, the message starts
// with it so the user knows which setting to fix.
absl::StatusOr<std::string> ReadTextFile(const std::string& path, const std::string& what = {});

}  // namespace ribbon
