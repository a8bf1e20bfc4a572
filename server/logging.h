// ribbond's logging: spdlog's default logger, writing text lines or JSON lines (log.format) to
// stderr or a file (log.file). Structured events go through LogEvent so that every line about a
// request carries its request_id as a field in either format:
//   text: [2024-05-01 12:00:00.123] [info] access request_id=ab-1 status=OK ...
//   json: {"ts":"2024-05-01T12:00:00.123","level":"info","event":"access","request_id":"ab-1",...}
// Lines from other code (plain spdlog calls) appear as {"ts":..,"level":..,"msg":"..."}.
//
// SetUpLogging once at start-up, before other threads log; LogEvent from any thread.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "server/config.h"
#include "spdlog/spdlog.h"

namespace ribbon::server {

absl::Status SetUpLogging(const LogSection& options);

// Seconds rounded to the microsecond, for log fields.
double RoundedSeconds(double seconds);

// Logs `event` with `fields` (a JSON object, written in insertion order) at `level`.
void LogEvent(spdlog::level::level_enum level, std::string_view event,
              const nlohmann::ordered_json& fields);

}  // namespace ribbon::server
