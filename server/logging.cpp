#include "server/logging.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace ribbon::server {
namespace {

std::atomic<bool> g_json_format{false};

// Structured payloads start with this byte so the JSON formatter can splice their fields in.
constexpr char kFieldsMarker = '\x1e';

// Formats each record as one JSON object per line.
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
    const std::time_t seconds = std::chrono::system_clock::to_time_t(msg.time);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
    std::string line =
        absl::StrCat("{\"ts\":\"", stamp, ".", absl::Dec(millis, absl::kZeroPad3),
                     "Z\",\"level\":\"", spdlog::level::to_string_view(msg.level).data(), "\"");
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!payload.empty() && payload.front() == kFieldsMarker) {
      line.append(",").append(payload.substr(1));
    } else {
      absl::StrAppend(&line, ",\"msg\":",
                      nlohmann::json(std::string(payload))
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};

std::string TextValue(const nlohmann::ordered_json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    const bool plain = !text.empty() && text.find_first_of(" \"=\n") == std::string::npos;
    return plain ? text
                 : value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  return value.dump();
}

}  // namespace

absl::Status SetUpLogging(const LogSection& options) {
  spdlog::sink_ptr sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
    } catch (const spdlog::spdlog_ex& error) {
      return absl::InvalidArgumentError(absl::StrCat("log.file: ", error.what()));
    }
  }
  auto logger = std::make_shared<spdlog::logger>("ribbond", sink);
  g_json_format = options.format == "json";
  if (g_json_format) {
    logger->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  }
  logger->set_level(spdlog::level::from_str(options.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

double RoundedSeconds(double seconds) { return std::round(seconds * 1e6) / 1e6; }

void LogEvent(spdlog::level::level_enum level, std::string_view event,
              const nlohmann::ordered_json& fields) {
  if (!spdlog::default_logger_raw()->should_log(level)) return;
  std::string line;
  if (g_json_format) {
    nlohmann::ordered_json object = {{"event", event}};
    object.update(fields);
    const std::string dumped =
        object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // `dumped` is "{...}": keep the members, drop the braces.
    line.push_back(kFieldsMarker);
    line.append(dumped.begin() + 1, dumped.end() - 1);
  } else {
    line = std::string(event);
    for (const auto& [key, value] : fields.items())
      absl::StrAppend(&line, " ", key, "=", TextValue(value));
  }
  spdlog::default_logger_raw()->log(level, "{}", line);
}

}  // namespace ribbon::server
