# The libFuzzer targets and what each is built from; sourced by build_fuzz.sh and run_fuzz.sh.
# A target NAME is tests/fuzz/NAME_fuzz.cpp plus the sources below (globs, relative to the
# repository root) and the pkg-config packages / libraries it links. Seeds: tests/fuzz/corpus/NAME/
# (also replayed once by `ctest -L fuzz_replay`, see tests/fuzz/CMakeLists.txt).

FUZZ_TARGETS=(chat_template tokenizer tokenizer_json generate_request openai_request safetensors
              checkpoint server_config batch_line)

_absl="absl_status absl_statusor absl_strings absl_str_format absl_flat_hash_map \
absl_flat_hash_set absl_hash absl_cord absl_time absl_synchronization"
_chat="core/chat/*.cpp core/common/files.cpp"
_tokenizer="core/tokenizer/*.cpp core/common/files.cpp"
_tokenizer_libs="-lpcre2-8 -lutf8proc -lsentencepiece"
_proto="@gen/ribbon/v1/generation.pb.cc"
_validation="server/request_validation.cpp server/utf8.cpp server/prepare_request.cpp \
server/chat_renderer.cpp core/model/model_config.cpp"

declare -A FUZZ_SOURCES=(
  [chat_template]="$_chat"
  [tokenizer]="$_tokenizer"
  [tokenizer_json]="$_tokenizer"
  [generate_request]="$_validation $_chat $_tokenizer $_proto"
  [openai_request]="server/openai/openai_request.cpp $_validation $_chat $_tokenizer $_proto"
  [safetensors]="core/model/safetensors.cpp"
  [checkpoint]="core/model/checkpoint.cpp core/model/safetensors.cpp core/model/model_config.cpp \
core/common/files.cpp"
  [server_config]="server/config.cpp server/http_side_port.cpp server/utf8.cpp core/common/files.cpp"
  [batch_line]="server/batch/batch_input.cpp core/engine/request.cpp $_tokenizer"
)

# pkg-config packages (cflags and libs) and plain linker flags.
declare -A FUZZ_PACKAGES=(
  [chat_template]="$_absl"
  [tokenizer]="spdlog fmt $_absl"
  [tokenizer_json]="spdlog fmt $_absl"
  [generate_request]="protobuf spdlog fmt $_absl"
  [openai_request]="protobuf spdlog fmt $_absl"
  [safetensors]="$_absl"
  [checkpoint]="$_absl"
  [server_config]="cpp-httplib spdlog fmt $_absl"
  [batch_line]="spdlog fmt $_absl"
)
declare -A FUZZ_LIBS=(
  [tokenizer]="$_tokenizer_libs"
  [tokenizer_json]="$_tokenizer_libs"
  [generate_request]="$_tokenizer_libs"
  [openai_request]="$_tokenizer_libs"
  [batch_line]="$_tokenizer_libs"
)

# libFuzzer flags per target (besides -max_total_time, -rss_limit_mb and the corpus).
declare -A FUZZ_FLAGS=(
  [chat_template]="-max_len=16384 -timeout=10"
  [tokenizer]="-max_len=4096"
  [tokenizer_json]="-max_len=16384 -timeout=10"
  [generate_request]="-max_len=8192"
  [openai_request]="-max_len=8192"
  [safetensors]="-max_len=4096"
  [checkpoint]="-max_len=8192"
  [server_config]="-max_len=4096"
  [batch_line]="-max_len=4096"
)
