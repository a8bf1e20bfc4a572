#include "server/batch/progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace ribbon::batch {
namespace {

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

}  // namespace

std::string FormatProgress(const offline::OfflineProgress& p, int32_t bar_width) {
  const double done =
      p.total > 0 ? static_cast<double>(p.finished) / static_cast<double>(p.total) : 1.0;
  const int32_t filled = static_cast<int32_t>(done * bar_width);
  const double tok_s = p.seconds > 0 ? static_cast<double>(p.computed_tokens) / p.seconds : 0.0;
  std::string eta = "ETA --";
  if (p.finished >= p.total) {
    eta = "done in " + Duration(p.seconds);
  } else if (p.finished > 0) {
    eta = "ETA " + Duration(p.seconds / done - p.seconds);
  }
  return absl::StrFormat("[%s%s] %*d/%d requests  %d ribbons  %.0f tok/s  %s",
                         std::string(filled, '#'), std::string(bar_width - filled, '-'),
                         static_cast<int>(std::to_string(p.total).size()), p.finished, p.total,
                         p.ribbons, tok_s, eta);
}

void ProgressPrinter::Update(const offline::OfflineProgress& p) {
  const double interval =
      options_.terminal ? options_.redraw_interval_seconds : options_.plain_interval_seconds;
  const bool complete = p.finished >= p.total;
  if (!complete && last_print_ >= 0 && p.seconds - last_print_ < interval) return;
  if (!complete && last_print_ < 0 && !options_.terminal && p.seconds < interval) return;
  last_print_ = p.seconds;
  const std::string line = FormatProgress(p, options_.bar_width);
  if (options_.terminal) {
    std::fprintf(out_, "\r%s\033[K", line.c_str());
    bar_drawn_ = true;
  } else {
    std::fprintf(out_, "progress: %s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressPrinter::Finish() {
  if (bar_drawn_) std::fprintf(out_, "\n");
  bar_drawn_ = false;
  std::fflush(out_);
}

}  // namespace ribbon::batch
