#include "core/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/metrics/text_format.h"

namespace ribbon::metrics {
namespace {

template <typename Child>
constexpr std::string_view TypeName() {
  if constexpr (std::is_same_v<Child, Counter>) return "counter";
  if constexpr (std::is_same_v<Child, Histogram>) return "histogram";
  return "gauge";  // Gauge and CallbackGauge look the same to Prometheus
}

// Writes `{a="x",b="y"` plus the extra label (e.g. le) if any, and the closing brace; writes
// nothing when there are no labels at all.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    AppendEscapedLabelValue(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    AppendEscapedLabelValue(out, extra_value);
    out += '"';
  }
  out += '}';
}

void AppendHistogram(std::string& out, const std::string& name,
                     const std::vector<std::string>& label_names,
                     const std::vector<std::string>& label_values, const Histogram& histogram) {
  const Histogram::Snapshot snapshot = histogram.Read();
  const std::span<const double> bounds = histogram.upper_bounds();
  uint64_t cumulative = 0;
  std::string le;
  for (size_t b = 0; b <= bounds.size(); ++b) {
    cumulative += snapshot.bucket_counts[b];
    le.clear();
    AppendDouble(le, b < bounds.size() ? bounds[b] : INFINITY);
    out += name;
    out += "_bucket";
    AppendLabels(out, label_names, label_values, "le", le);
    out += ' ';
    AppendUint(out, cumulative);
    out += '\n';
  }
  out += name;
  out += "_sum";
  AppendLabels(out, label_names, label_values);
  out += ' ';
  AppendDouble(out, snapshot.sum);
  out += '\n';
  out += name;
  out += "_count";
  AppendLabels(out, label_names, label_values);
  out += ' ';
  AppendUint(out, snapshot.count);
  out += '\n';
}

// Names a family takes in the exposition: its own (on HELP/TYPE) and, for a histogram, those
// of its samples.
std::vector<std::string> SeriesNames(const std::string& name, bool histogram) {
  if (!histogram) return {name};
  return {name, name + "_bucket", name + "_sum", name + "_count"};
}

}  // namespace

template <typename Child>
Family<Child>::Family(MetricOptions options, std::vector<double> upper_bounds)
    : FamilyBase(std::move(options)), upper_bounds_(std::move(upper_bounds)) {}

template <typename Child>
absl::StatusOr<Child*> Family<Child>::WithLabels(std::span<const std::string_view> values) {
  if (values.size() != options().label_names.size()) {
    return absl::InvalidArgumentError(absl::StrCat(options().name, " takes ",
                                                   options().label_names.size(),
                                                   " label values, got ", values.size()));
  }
  std::vector<std::string> key(values.begin(), values.end());
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Child>& child = children_[std::move(key)];
  if (!child) {
    if constexpr (std::is_same_v<Child, Histogram>) {
      child = std::make_unique<Histogram>(upper_bounds_);
    } else {
      child = std::make_unique<Child>();
    }
  }
  return child.get();
}

template <typename Child>
void Family<Child>::AppendText(std::string& out) const {
  const MetricOptions& opts = options();
  out += "# HELP ";
  out += opts.name;
  out += ' ';
  AppendEscapedHelp(out, opts.help);
  out += "\n# TYPE ";
  out += opts.name;
  out += ' ';
  out += TypeName<Child>();
  out += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [label_values, child] : children_) {
    if constexpr (std::is_same_v<Child, Histogram>) {
      AppendHistogram(out, opts.name, opts.label_names, label_values, *child);
    } else {
      out += opts.name;
      AppendLabels(out, opts.label_names, label_values);
      out += ' ';
      if constexpr (std::is_same_v<Child, Counter>) {
        AppendUint(out, child->Value());
      } else {
        AppendDouble(out, child->Value());
      }
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<CallbackGauge>;
template class Family<Histogram>;

absl::Status Registry::CheckNewFamily(const MetricOptions& options, bool histogram) const {
  if (!IsValidMetricName(options.name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", options.name, "'"));
  }
  for (size_t i = 0; i < options.label_names.size(); ++i) {
    const std::string& label = options.label_names[i];
    if (!IsValidLabelName(label) || (histogram && label == "le")) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label name '", label, "' for ", options.name));
    }
    if (std::find(options.label_names.begin(), options.label_names.begin() + i, label) !=
        options.label_names.begin() + i) {
      return absl::InvalidArgumentError(
          absl::StrCat("repeated label name '", label, "' for ", options.name));
    }
  }
  for (const std::string& series : SeriesNames(options.name, histogram)) {
    if (std::find(series_names_.begin(), series_names_.end(), series) != series_names_.end()) {
      return absl::AlreadyExistsError(absl::StrCat("series '", series, "' is already registered"));
    }
  }
  return absl::OkStatus();
}

template <typename Child>
absl::StatusOr<Family<Child>*> Registry::Add(MetricOptions options,
                                             std::vector<double> upper_bounds) {
  constexpr bool kHistogram = std::is_same_v<Child, Histogram>;
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(CheckNewFamily(options, kHistogram));
  for (const std::string& series : SeriesNames(options.name, kHistogram)) {
    series_names_.push_back(series);
  }
  const bool unlabelled = options.label_names.empty();
  auto family = std::make_unique<Family<Child>>(std::move(options), std::move(upper_bounds));
  Family<Child>* raw = family.get();
  families_.push_back(std::move(family));
  if (unlabelled) RETURN_IF_ERROR(raw->WithLabels(std::span<const std::string_view>()).status());
  return raw;
}

absl::StatusOr<Family<Counter>*> Registry::AddCounter(MetricOptions options) {
  return Add<Counter>(std::move(options), {});
}

absl::StatusOr<Family<Gauge>*> Registry::AddGauge(MetricOptions options) {
  return Add<Gauge>(std::move(options), {});
}

absl::StatusOr<Family<CallbackGauge>*> Registry::AddCallbackGauge(MetricOptions options) {
  return Add<CallbackGauge>(std::move(options), {});
}

absl::StatusOr<Family<Histogram>*> Registry::AddHistogram(MetricOptions options,
                                                          std::vector<double> upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat("bucket bounds of ", options.name,
                                                     " must be finite and strictly increasing"));
    }
  }
  return Add<Histogram>(std::move(options), std::move(upper_bounds));
}

std::string Registry::Serialize() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& family : families_) family->AppendText(out);
  return out;
}

}  // namespace ribbon::metrics
