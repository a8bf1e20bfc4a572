// ribbon-batch: offline batches from JSONL to JSONL (see batch_input.h for the line formats,
// batch_args.h for the flags, docs/offline.md for a walk-through).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/engine/engine.h"
#include "core/model/model_runner.h"
#include "core/offline/offline_batch.h"
#include "core/tokenizer/tokenizer.h"
#include "server/batch/batch_args.h"
#include "server/batch/batch_input.h"
#include "server/batch/batch_report.h"
#include "server/batch/progress.h"

namespace ribbon::batch {
namespace {

constexpr int kMaxErrorsShown = 20;

void PrintError(const std::string& message) {
  std::fprintf(stderr, "ribbon-batch: %s\n", message.c_str());
}

// Reads and checks every line before anything runs, so that a typo on line 90,000 does not cost
// the run. Prints the first kMaxErrorsShown errors.
absl::StatusOr<std::vector<BatchItem>> ReadInput(const std::string& path,
                                                 const BatchInputLimits& limits,
                                                 const Tokenizer* tokenizer) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open --in ", path));
  std::vector<BatchItem> items;
  std::string text;
  int64_t line = 0;
  int64_t errors = 0;
  while (std::getline(in, text)) {
    ++line;
    if (IsBlankLine(text)) continue;
    absl::StatusOr<BatchItem> item = ParseBatchLine(text, line, limits, tokenizer);
    if (item.ok()) {
      items.push_back(std::move(*item));
    } else if (++errors <= kMaxErrorsShown) {
      PrintError(absl::StrCat(path, ": ", item.status().message()));
    }
  }
  if (errors > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(errors, " bad input line(s)",
                     errors > kMaxErrorsShown ? " (first ones shown)" : "", "; nothing was run"));
  }
  return items;
}

// Writes next to the target and renames, so a reader never sees half a file.
absl::Status WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", partial));
    for (const auto& l : lines) out << l << '\n';
    if (!out.flush()) return absl::DataLossError(absl::StrCat("writing ", partial, " failed"));
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec)
    return absl::PermissionDeniedError(
        absl::StrCat("cannot rename ", partial, " to ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(const BatchArgs& args) {
  ModelLoadOptions load{
      .path = args.model, .device = args.device, .dtype = args.dtype, .num_threads = args.threads};
  absl::StatusOr<std::unique_ptr<ModelRunner>> model = LoadModel(load);
  if (!model.ok()) return model.status();
  EngineOptions options;
  options.num_kv_blocks = args.kv_blocks;
  options.scheduler.max_ribbon_tokens = args.max_ribbon_tokens;
  options.scheduler.align = args.align;
  options.scheduler.mode = args.batching;
  return Engine::Create(options, std::move(*model));
}

int Run(const BatchArgs& args) {
  absl::StatusOr<ModelConfig> config = LoadModelConfig(args.model);
  if (!config.ok()) {
    PrintError(config.status().ToString());
    return kExitFailed;
  }
  absl::StatusOr<std::shared_ptr<const Tokenizer>> loaded = Tokenizer::Load(args.model);
  std::shared_ptr<const Tokenizer> tokenizer = loaded.ok() ? *loaded : nullptr;
  const BatchInputLimits limits{config->vocab_size, config->max_position_embeddings,
                                args.max_new_tokens};
  absl::StatusOr<std::vector<BatchItem>> items = ReadInput(args.in, limits, tokenizer.get());
  if (!items.ok()) {
    PrintError(std::string(items.status().message()));
    return absl::IsInvalidArgument(items.status()) ? kExitUsage : kExitFailed;
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine = MakeEngine(args);
  if (!engine.ok()) {
    PrintError(engine.status().ToString());
    return kExitFailed;
  }
  std::vector<GenerationRequest> requests;
  for (const auto& item : *items) requests.push_back(item.request);

  ProgressPrinter printer(stderr, {.terminal = isatty(fileno(stderr)) != 0});
  offline::ProgressCallback progress;
  if (!args.quiet) progress = [&](const offline::OfflineProgress& p) { printer.Update(p); };
  absl::StatusOr<offline::OfflineBatchResult> batch =
      offline::RunOfflineBatch(**engine, std::move(requests), {}, progress);
  printer.Finish();
  if (!batch.ok()) {
    PrintError(batch.status().ToString());
    return kExitFailed;
  }
  std::vector<std::string> lines;
  for (size_t i = 0; i < items->size(); ++i)
    lines.push_back(FormatResultLine((*items)[i], batch->results[i], tokenizer));
  if (absl::Status written = WriteLines(args.out, lines); !written.ok()) {
    PrintError(written.ToString());
    return kExitFailed;
  }
  std::fputs(FormatReport(batch->report, args.batching).c_str(), stderr);
  if (!args.report.empty()) {
    absl::Status written =
        WriteLines(args.report, {ReportJson(batch->report, args.batching).dump(2)});
    if (!written.ok()) {
      PrintError(written.ToString());
      return kExitFailed;
    }
  }
  return batch->report.failed > 0 ? kExitSomeFailed : kExitOk;
}

}  // namespace
}  // namespace ribbon::batch

int main(int argc, char** argv) {
  using namespace ribbon::batch;
  absl::StatusOr<BatchArgs> args = ParseBatchArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!args.ok()) {
    PrintError(std::string(args.status().message()));
    std::fputs("run ribbon-batch --help for usage\n", stderr);
    return kExitUsage;
  }
  if (args->help) {
    std::fputs(BatchUsage().c_str(), stdout);
    return kExitOk;
  }
  return Run(*args);
}
