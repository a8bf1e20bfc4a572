// The final report of `ribbon-batch`: ribbons used beside the lower bound, tokens/s, padding.
// Pure functions; any thread.
#pragma once

#include <string>

#include "core/offline/offline_batch.h"
#include "core/scheduler/scheduler.h"
#include "nlohmann/json.hpp"

namespace ribbon::batch {

// Several lines of text for a person, ending in a newline.
std::string FormatReport(const offline::OfflineReport& report, sched::BatchingMode mode);

// The same numbers as JSON (field names as in OfflineReport, plus derived rates).
nlohmann::json ReportJson(const offline::OfflineReport& report, sched::BatchingMode mode);

}  // namespace ribbon::batch
