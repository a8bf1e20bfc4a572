// Registry: ribbon's own small Prometheus client (prometheus-cpp is not available to us). It
// holds metric families (counters, gauges, callback gauges, histograms) and writes them in the
// text exposition format 0.0.4. No HTTP here: the server serves Serialize() on /metrics.
//
// A family is one metric name with fixed label names; WithLabels(values) returns its child for
// one set of label values, creating it on first use. Families without labels create their one
// child at registration, so the series is exported (as 0) before anything is recorded.
//
// Ownership: the Registry owns its families and they own their children. Pointers returned by
// Add* and WithLabels stay valid, at the same address, for the Registry's lifetime: the hot path
// looks a child up once and keeps the pointer (see metric.h for the per-update cost).
// Threads: every method may be called from any thread. Add*, WithLabels and Serialize take
// mutexes (registration / scrape paths); recording on a child never does.
#pragma once

#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/metrics/metric.h"

namespace ribbon::metrics {

struct MetricOptions {
  std::string name;                      // full name; counters end in "_total"
  std::string help;                      // one line: what it measures, in which unit
  std::vector<std::string> label_names;  // fixed for the family
};

class FamilyBase {
 public:
  explicit FamilyBase(MetricOptions options) : options_(std::move(options)) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const MetricOptions& options() const { return options_; }
  // Appends this family's HELP, TYPE and sample lines. Children in label-value order.
  virtual void AppendText(std::string& out) const = 0;

 private:
  MetricOptions options_;
};

// Child is Counter, Gauge, CallbackGauge or Histogram.
template <typename Child>
class Family final : public FamilyBase {
 public:
  // `upper_bounds` only for histograms (validated by the Registry).
  Family(MetricOptions options, std::vector<double> upper_bounds);

  // The child for these label values, in label_names order. INVALID_ARGUMENT if the number of
  // values differs from the number of label names. Any byte string is a valid value.
  absl::StatusOr<Child*> WithLabels(std::span<const std::string_view> values);
  absl::StatusOr<Child*> WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }

  void AppendText(std::string& out) const override;

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each returns INVALID_ARGUMENT for a malformed metric or label name, a repeated label name,
  // and ALREADY_EXISTS when any series name it would write (for a histogram x: x_bucket, x_sum,
  // x_count, and x itself) is already taken by another family.
  absl::StatusOr<Family<Counter>*> AddCounter(MetricOptions options);
  absl::StatusOr<Family<Gauge>*> AddGauge(MetricOptions options);
  absl::StatusOr<Family<CallbackGauge>*> AddCallbackGauge(MetricOptions options);
  // `upper_bounds`: finite and strictly increasing (INVALID_ARGUMENT otherwise); +Inf is added
  // implicitly. A histogram may not have a label named "le".
  absl::StatusOr<Family<Histogram>*> AddHistogram(MetricOptions options,
                                                  std::vector<double> upper_bounds);

  // The whole registry in text format 0.0.4 (Content-Type: text/plain; version=0.0.4),
  // families in registration order. Runs the callback gauges; they must not call back into
  // this registry.
  std::string Serialize() const;

 private:
  absl::Status CheckNewFamily(const MetricOptions& options, bool histogram) const;
  template <typename Child>
  absl::StatusOr<Family<Child>*> Add(MetricOptions options, std::vector<double> upper_bounds);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::string> series_names_;  // every sample name written, for collision checks
};

// Content-Type for an HTTP response carrying Serialize().
inline constexpr std::string_view kTextFormatContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ribbon::metrics
