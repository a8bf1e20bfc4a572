// Pieces of the Prometheus text exposition format 0.0.4 that need care: number formatting,
// escaping of HELP text and label values, and name validation. Used by Registry::Serialize;
// exposed for tests. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ribbon::metrics {

// Shortest text that parses back to exactly `value`, in the layout of Go's
// strconv.FormatFloat(value, 'g', -1, 64) as the official clients write it ("0.25", "0.0001",
// "1e-05", "2560", "1e+06"), or the spellings Prometheus reads for the special values: "+Inf",
// "-Inf", "NaN".
void AppendDouble(std::string& out, double value);
void AppendUint(std::string& out, uint64_t value);

// HELP text: backslash -> \\ and newline -> \n.
void AppendEscapedHelp(std::string& out, std::string_view help);
// Label value: backslash -> \\, double quote -> \", newline -> \n.
void AppendEscapedLabelValue(std::string& out, std::string_view value);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved for Prometheus itself).
bool IsValidLabelName(std::string_view name);

}  // namespace ribbon::metrics
