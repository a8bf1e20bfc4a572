#include "core/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ribbon {
namespace {

absl::StatusOr<DType> ParseDType(const std::string& name) {
  if (name == "F32") return DType::kF32;
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  return absl::UnimplementedError(
      absl::StrCat("unsupported dtype \"", name, "\" (supported: F32, F16, BF16)"));
}

absl::StatusOr<TensorView> ParseEntry(const std::string& name, const nlohmann::json& entry,
                                      const std::byte* data, size_t data_size) {
  auto fail = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\": ", why));
  };
  if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
      !entry.contains("shape") || !entry["shape"].is_array() || !entry.contains("data_offsets") ||
      !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) {
    return fail("entry needs dtype, shape and data_offsets [begin, end]");
  }
  TensorView view;
  view.name = name;
  auto dtype = ParseDType(entry["dtype"].get<std::string>());
  if (!dtype.ok()) return fail(std::string(dtype.status().message()));
  view.dtype = *dtype;
  // Every partial product of the shape must fit int64 (numel() recomputes it): a header with
  // dimensions such as [2^32, 2^32] would otherwise overflow, and could wrap to a size that
  // matches its data_offsets.
  int64_t numel = 1;
  for (const auto& dim : entry["shape"]) {
    if (!dim.is_number_unsigned()) return fail("shape entries must be non-negative integers");
    const uint64_t size = dim.get<uint64_t>();
    if (size > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_mul_overflow(numel, static_cast<int64_t>(size), &numel)) {
      return fail("the shape has more elements than fit in 64 bits");
    }
    view.shape.push_back(static_cast<int64_t>(size));
  }
  const auto& offsets = entry["data_offsets"];
  if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
    return fail("bad data_offsets");
  const uint64_t begin = offsets[0].get<uint64_t>();
  const uint64_t end = offsets[1].get<uint64_t>();
  if (begin > end || end > data_size) {
    return fail(absl::StrCat("data_offsets [", begin, ", ", end, ") past the end of the data (",
                             data_size, " bytes): truncated file?"));
  }
  view.nbytes = end - begin;
  const uint64_t dtype_size = DTypeSize(view.dtype);
  if (static_cast<uint64_t>(numel) > view.nbytes / dtype_size ||
      static_cast<uint64_t>(numel) * dtype_size != view.nbytes) {
    return fail(absl::StrCat("shape [", absl::StrJoin(view.shape, ", "), "] of ",
                             DTypeName(view.dtype), " needs ", view.numel() * DTypeSize(view.dtype),
                             " bytes but data_offsets span ", view.nbytes));
  }
  view.data = data + begin;
  return view;
}

}  // namespace

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
  }
  return "?";
}

size_t DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot stat ", path));
  }
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot mmap ", path, ": ", std::strerror(errno)));
    }
    file->map_ = static_cast<const std::byte*>(map);
  }
  ::close(fd);
  absl::Status parsed = file->ParseHeader();
  if (!parsed.ok()) return absl::Status(parsed.code(), absl::StrCat(path, ": ", parsed.message()));
  return file;
}

absl::Status SafetensorsFile::ParseHeader() {
  if (size_ < 8)
    return absl::InvalidArgumentError(
        absl::StrCat("file is ", size_, " bytes, too short for a safetensors header"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, map_, 8);
  if (header_len > size_ - 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header length ", header_len, " is past the end of the file (", size_, " bytes)"));
  }
  const char* header = reinterpret_cast<const char*>(map_ + 8);
  auto json = nlohmann::json::parse(header, header + header_len, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return absl::InvalidArgumentError("header is not a JSON object");
  const std::byte* data = map_ + 8 + header_len;
  const size_t data_size = size_ - 8 - header_len;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") continue;
    ASSIGN_OR_RETURN(TensorView view, ParseEntry(name, entry, data, data_size));
    tensors_.emplace(name, std::move(view));
  }
  return absl::OkStatus();
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void SafetensorsFile::Release(const TensorView& view) const {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(view.data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(view.data) + view.nbytes) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<std::byte*>(map_), size_);
}

}  // namespace ribbon
