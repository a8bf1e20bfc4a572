// Bad checkpoints give a clear error naming the problem; nothing crashes.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/common/files.h"
#include "core/model/model_runner.h"
#include "tests/core/engine/engine_test_util.h"

namespace ribbon::testing {
namespace {

namespace fs = std::filesystem;

// A scratch copy of stories260K that one test case may corrupt.
class ScratchModel {
 public:
  explicit ScratchModel(const std::string& tag)
      : dir_(fs::temp_directory_path() /
             ("ribbon_ckpt_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* f : {"config.json", "generation_config.json", "model.safetensors"}) {
      fs::copy_file(fs::path(Stories260k()) / f, dir_ / f);
    }
  }
  ~ScratchModel() { fs::remove_all(dir_); }

  std::string path() const { return dir_.string(); }
  std::string Read(const std::string& f) const { return *ReadTextFile((dir_ / f).string()); }
  void Write(const std::string& f, const std::string& bytes) const {
    std::ofstream(dir_ / f, std::ios::binary | std::ios::trunc) << bytes;
  }
  // Replaces the first occurrence of `from` in file `f`.
  void Patch(const std::string& f, const std::string& from, const std::string& to) const {
    std::string text = Read(f);
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    Write(f, text);
  }

 private:
  fs::path dir_;
};

std::string LoadError(const std::string& path) {
  auto model = LoadModel({.path = path});
  REQUIRE_FALSE(model.ok());
  return model.status().ToString();
}

}  // namespace

TEST_CASE("the real checkpoint loads", "[model][checkpoint]") {
  auto model = LoadModel({.path = Stories260k()});
  REQUIRE(model.ok());
  CHECK((*model)->config().num_layers == 5);
  CHECK((*model)->config().eos_token_ids == std::vector<int32_t>{2});
  CHECK((*model)->weight_bytes() > 1000000);
}

TEST_CASE("bad checkpoints are rejected with a message naming the problem", "[model][checkpoint]") {
  SECTION("missing directory") {
    CHECK_THAT(LoadError("/nonexistent/model"), Catch::Contains("does not exist"));
  }
  SECTION("missing weights file") {
    ScratchModel m("missing");
    fs::remove(fs::path(m.path()) / "model.safetensors");
    CHECK_THAT(LoadError(m.path()), Catch::Contains("no model.safetensors"));
  }
  SECTION("missing config") {
    ScratchModel m("noconfig");
    fs::remove(fs::path(m.path()) / "config.json");
    CHECK_THAT(LoadError(m.path()), Catch::Contains("config.json"));
  }
  SECTION("invalid JSON in config.json") {
    ScratchModel m("badjson");
    m.Write("config.json", "{\"architectures\": [\"LlamaForCausalLM\",");
    CHECK_THAT(LoadError(m.path()), Catch::Contains("invalid JSON"));
  }
  SECTION("truncated safetensors") {
    ScratchModel m("truncated");
    const std::string bytes = m.Read("model.safetensors");
    m.Write("model.safetensors", bytes.substr(0, bytes.size() / 2));
    CHECK_THAT(LoadError(m.path()), Catch::Contains("truncated"));
  }
  SECTION("header length past the end of the file") {
    ScratchModel m("header");
    std::string bytes = m.Read("model.safetensors");
    const uint64_t huge = uint64_t{1} << 40;
    std::memcpy(bytes.data(), &huge, 8);
    m.Write("model.safetensors", bytes);
    CHECK_THAT(LoadError(m.path()),
               Catch::Contains("header length") && Catch::Contains("past the end"));
  }
  SECTION("file too short for a header") {
    ScratchModel m("short");
    m.Write("model.safetensors", "abc");
    CHECK_THAT(LoadError(m.path()), Catch::Contains("too short"));
  }
  SECTION("shape whose element count overflows (found by tests/fuzz/safetensors_fuzz.cpp)") {
    ScratchModel m("overflow");
    const std::string header =
        R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
    const uint64_t length = header.size();
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &length, 8);
    m.Write("model.safetensors", bytes + header);
    CHECK_THAT(LoadError(m.path()), Catch::Contains("tensor \"w\"") &&
                                        Catch::Contains("more elements than fit in 64 bits"));
  }
  SECTION("unknown dtype") {
    ScratchModel m("dtype");
    m.Patch("model.safetensors", "\"dtype\":\"F32\"", "\"dtype\":\"Q4K\"");
    CHECK_THAT(LoadError(m.path()), Catch::Contains("unsupported dtype \"Q4K\""));
  }
  SECTION("tensor shape that disagrees with the config") {
    ScratchModel m("shape");
    m.Patch("config.json", "\"intermediate_size\": 172", "\"intermediate_size\": 176");
    CHECK_THAT(LoadError(m.path()),
               Catch::Contains("mlp.gate_proj.weight") && Catch::Contains("shape"));
  }
  SECTION("unsupported architecture") {
    ScratchModel m("arch");
    m.Patch("config.json", "LlamaForCausalLM", "GPTNeoXForCausalLM");
    CHECK_THAT(LoadError(m.path()),
               Catch::Contains("unsupported architecture \"GPTNeoXForCausalLM\""));
  }
}

}  // namespace ribbon::testing
