// libFuzzer target for the safetensors reader (core/model/safetensors.h): the input is a whole
// .safetensors file (u64 header length, JSON header, data). It is written to a scratch file and
// opened; besides the sanitizers' own checks it requires that every tensor handed out
//   * lies inside the file's data section (its bytes are all read),
//   * spans exactly numel * dtype size bytes, with no negative dimension,
// and that an error is a Status with a message (never a throw or a crash).
// Built and run by tests/fuzz/run_fuzz.sh safetensors; seeds: tests/fuzz/corpus/safetensors/.
#include <cstdint>
#include <cstring>
#include <string>

#include "core/model/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

using ribbon::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = (ribbon::fuzz::ScratchDir() / "model.safetensors").string();
  ribbon::fuzz::WriteFile(path, ribbon::fuzz::AsText(data, size));
  auto file = ribbon::SafetensorsFile::Open(path);
  if (!file.ok()) {
    Require(!file.status().message().empty(), "an error without a message");
    return 0;
  }
  Require(size >= 8, "a file shorter than its length prefix opened");
  uint64_t header_len = 0;
  std::memcpy(&header_len, data, 8);
  const size_t data_begin = 8 + header_len;
  for (const auto& [name, view] : (*file)->tensors()) {
    Require(view.name == name, "tensor name differs from its key");
    int64_t numel = 1;
    for (const int64_t dim : view.shape) {
      Require(dim >= 0, "negative dimension in tensor " + name);
      Require(dim == 0 || numel <= INT64_MAX / dim, "element count overflows in tensor " + name);
      numel *= dim;
    }
    Require(view.numel() == numel, "numel() disagrees with the shape of " + name);
    Require(static_cast<uint64_t>(numel) * ribbon::DTypeSize(view.dtype) == view.nbytes,
            "byte size disagrees with the shape of " + name);
    // The view must point into this input's data section: compare its bytes with the input's.
    if (view.nbytes == 0) continue;
    bool found = false;
    for (size_t at = data_begin; at + view.nbytes <= size && !found; ++at) {
      found = std::memcmp(data + at, view.data, view.nbytes) == 0;
    }
    Require(found, "the bytes of tensor " + name + " are not in the file's data section");
    (*file)->Release(view);
  }
  return 0;
}
