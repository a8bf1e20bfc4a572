#include "core/metrics/text_format.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace ribbon::metrics {
namespace {

std::string Double(double value) {
  std::string out;
  AppendDouble(out, value);
  return out;
}

TEST_CASE("doubles are written in the shortest form that reads back exactly, laid out as Go") {
  CHECK(Double(0.0) == "0");
  CHECK(Double(1.0) == "1");
  CHECK(Double(2560.0) == "2560");
  CHECK(Double(0.25) == "0.25");
  CHECK(Double(0.3) == "0.3");
  CHECK(Double(0.001) == "0.001");
  CHECK(Double(1e-6) == "1e-06");
  CHECK(Double(-1.5) == "-1.5");
  CHECK(Double(1e300) == "1e+300");
  // Go's 'g' layout: fixed for decimal exponents -4..5, scientific outside.
  CHECK(Double(0.0001) == "0.0001");
  CHECK(Double(0.00025) == "0.00025");
  CHECK(Double(1e-5) == "1e-05");
  CHECK(Double(2.5e-5) == "2.5e-05");
  CHECK(Double(123456.0) == "123456");
  CHECK(Double(1e6) == "1e+06");
  CHECK(Double(988000000.0) == "9.88e+08");
  CHECK(Double(-0.0) == "-0");
  for (double value : {0.1, 1.0 / 3.0, 123456.789, 5e-324, 1.7976931348623157e308}) {
    CHECK(std::strtod(Double(value).c_str(), nullptr) == value);  // stod throws on subnormals
  }
}

TEST_CASE("special doubles use Prometheus' spellings") {
  CHECK(Double(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(Double(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(Double(std::nan("")) == "NaN");
}

TEST_CASE("unsigned integers are written in full") {
  std::string out;
  AppendUint(out, 18446744073709551615ull);
  CHECK(out == "18446744073709551615");
}

TEST_CASE("label values escape backslash, double quote and newline, and nothing else") {
  std::string out;
  AppendEscapedLabelValue(out, "a\\b\"c\nd\te/é");
  CHECK(out == "a\\\\b\\\"c\\nd\te/é");
}

TEST_CASE("help text escapes backslash and newline but keeps double quotes") {
  std::string out;
  AppendEscapedHelp(out, "say \"hi\"\\\nbye");
  CHECK(out == "say \"hi\"\\\\\\nbye");
}

TEST_CASE("metric and label names follow the Prometheus grammar") {
  CHECK(IsValidMetricName("ribbon_steps_total"));
  CHECK(IsValidMetricName("job:rate5m"));
  CHECK(IsValidMetricName("_x1"));
  CHECK_FALSE(IsValidMetricName(""));
  CHECK_FALSE(IsValidMetricName("1abc"));
  CHECK_FALSE(IsValidMetricName("a-b"));
  CHECK_FALSE(IsValidMetricName("a b"));

  CHECK(IsValidLabelName("code"));
  CHECK(IsValidLabelName("_private"));
  CHECK_FALSE(IsValidLabelName("__name__"));
  CHECK_FALSE(IsValidLabelName("a:b"));
  CHECK_FALSE(IsValidLabelName("9lives"));
  CHECK_FALSE(IsValidLabelName(""));
}

}  // namespace
}  // namespace ribbon::metrics
