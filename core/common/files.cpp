#include "core/common/files.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace ribbon {

absl::StatusOr<std::string> ReadTextFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(what.empty() ? absl::StrCat("cannot open ", path)
                                            : absl::StrCat(what, ": cannot open ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace ribbon
