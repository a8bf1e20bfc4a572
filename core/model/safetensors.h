// Memory-mapped reader for the safetensors format: u64 little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}}, then raw little-endian tensor data.
// Every offset, size and dtype is validated before any tensor is handed out. Torch-free.
//
// Ownership: a SafetensorsFile owns its mapping; TensorView data pointers stay valid until it is
// destroyed. Threads: immutable after Open; any thread may read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ribbon {

enum class DType { kF32, kF16, kBF16 };

const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const;
};

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const TensorView* Find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }

  // Tells the kernel that the pages behind `view` are no longer needed (they were copied), so
  // loading never holds the file and its copy in memory at once.
  void Release(const TensorView& view) const;

 private:
  SafetensorsFile() = default;
  absl::Status ParseHeader();

  std::string path_;
  const std::byte* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace ribbon
