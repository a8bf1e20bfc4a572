// Progress display of `ribbon-batch` on stderr: a one-line bar redrawn in place when stderr is
// a terminal, otherwise a plain line every `plain_interval_seconds` (logs stay readable).
//
// Ownership: writes to the FILE* it is given, which the caller keeps open. Threads: one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/offline/offline_batch.h"

namespace ribbon::batch {

struct ProgressOptions {
  bool terminal = false;                 // redraw a bar in place (stderr is a TTY)
  double redraw_interval_seconds = 0.2;  // terminal: at most this often
  double plain_interval_seconds = 10.0;  // not a terminal: one line this often
  int32_t bar_width = 30;
};

// The text of one progress line (no newline or carriage return), e.g.
// "[##########--------------------]  340/1000 requests  52 ribbons  2310 tok/s  ETA 1m05s".
std::string FormatProgress(const offline::OfflineProgress& p, int32_t bar_width);

class ProgressPrinter {
 public:
  ProgressPrinter(std::FILE* out, const ProgressOptions& options) : out_(out), options_(options) {}
  // Prints when the interval has passed since the last print, or when the batch is complete.
  void Update(const offline::OfflineProgress& p);
  // Ends the bar's line (terminal) so that what follows starts on a fresh line.
  void Finish();

 private:
  std::FILE* out_;
  ProgressOptions options_;
  double last_print_ = -1;
  bool bar_drawn_ = false;
};

}  // namespace ribbon::batch
