// ribbon-batch's line formats, flags, progress line and report, on hand-made inputs and the
// stories260K tokenizer. (The executable itself is tested black-box by test_ribbon_batch.py.)
#include <catch2/catch.hpp>

#include <cstdlib>

#include "server/batch/batch_args.h"
#include "server/batch/batch_input.h"
#include "server/batch/batch_report.h"
#include "server/batch/progress.h"

namespace ribbon::batch {
namespace {

const BatchInputLimits kLimits{
    .vocab_size = 512, .context_length = 512, .default_max_new_tokens = 16};

std::shared_ptr<const Tokenizer> Stories260kTokenizer() {
  const char* env = std::getenv("RIBBON_SHARED_DATA");
  auto tokenizer = Tokenizer::Load(std::string(env ? env : "../shared/data") + "/stories260k");
  INFO(tokenizer.status().ToString());
  REQUIRE(tokenizer.ok());
  return *tokenizer;
}

std::string ErrorOf(std::string_view line, const Tokenizer* tokenizer = nullptr) {
  auto item = ParseBatchLine(line, 7, kLimits, tokenizer);
  REQUIRE_FALSE(item.ok());
  return item.status().ToString();
}

}  // namespace

TEST_CASE("a line with token ids and every option parses into the request", "[batch]") {
  auto item = ParseBatchLine(
      R"({"id": "q1", "prompt_ids": [1, 5, 9], "max_new_tokens": 4, "min_new_tokens": 2, "ignore_eos": true,
          "stop_token_ids": [7], "temperature": 0.5, "top_k": 40, "top_p": 0.9, "min_p": 0.05,
          "repetition_penalty": 1.1, "presence_penalty": 0.2, "frequency_penalty": -0.3, "seed": 12345,
          "priority": 3})",
      1, kLimits, nullptr);
  INFO(item.status().ToString());
  REQUIRE(item.ok());
  const GenerationRequest& r = item->request;
  CHECK(item->id == "q1");
  CHECK(r.request_id == "q1");
  CHECK(r.prompt == std::vector<int32_t>{1, 5, 9});
  CHECK(r.stop.max_new_tokens == 4);
  CHECK(r.stop.min_new_tokens == 2);
  CHECK(r.stop.ignore_eos);
  CHECK(r.stop.stop_token_ids == std::vector<int32_t>{7});
  CHECK(r.sampling.temperature == Approx(0.5));
  CHECK(r.sampling.top_k == 40);
  CHECK(r.sampling.top_p == Approx(0.9));
  CHECK(r.sampling.min_p == Approx(0.05));
  CHECK(r.sampling.repetition_penalty == Approx(1.1));
  CHECK(r.sampling.presence_penalty == Approx(0.2));
  CHECK(r.sampling.frequency_penalty == Approx(-0.3));
  CHECK(r.sampling.seed == 12345);
  CHECK(r.priority == 3);
}

TEST_CASE("defaults: the line number as id, max_new_tokens from the flags, greedy", "[batch]") {
  auto item = ParseBatchLine(R"({"prompt_ids": [1, 2]})", 42, kLimits, nullptr);
  REQUIRE(item.ok());
  CHECK(item->id == 42);
  CHECK(item->line == 42);
  CHECK(item->request.stop.max_new_tokens == 16);
  CHECK(item->request.sampling.greedy());
  CHECK_FALSE(item->request.stop.ignore_eos);
}

TEST_CASE("a text prompt is encoded with the tokenizer's BOS", "[batch]") {
  auto tokenizer = Stories260kTokenizer();
  auto item =
      ParseBatchLine(R"({"id": 1, "prompt": "Once upon a time"})", 1, kLimits, tokenizer.get());
  REQUIRE(item.ok());
  CHECK(item->request.prompt == tokenizer->Encode("Once upon a time", true));
  CHECK(item->request.prompt.front() == 1);
  CHECK(item->request.prompt.size() > 2);
}

TEST_CASE("bad lines name the line and the field", "[batch]") {
  CHECK_THAT(ErrorOf("{\"prompt_ids\": [1, 2"), Catch::Contains("line 7: not valid JSON"));
  CHECK_THAT(ErrorOf("[1, 2]"), Catch::Contains("line 7: must be a JSON object"));
  CHECK_THAT(ErrorOf(R"({"id": 1})"),
             Catch::Contains("line 7: give exactly one of 'prompt' (text) or 'prompt_ids'"));
  CHECK_THAT(ErrorOf(R"({"prompt": "a", "prompt_ids": [1]})"), Catch::Contains("exactly one of"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "temprature": 1})"),
             Catch::Contains("line 7: field 'temprature': unknown field"));
  CHECK_THAT(
      ErrorOf(R"({"prompt_ids": [1, 512]})"),
      Catch::Contains("line 7: field 'prompt_ids': item 1 = 512 is not a token id in [0, 512)"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1, "x"]})"),
             Catch::Contains("field 'prompt_ids': item 1 = \"x\""));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": []})"),
             Catch::Contains("field 'prompt_ids': the prompt is empty"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": 5})"),
             Catch::Contains("field 'prompt_ids': must be a list of token ids"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "max_new_tokens": 0})"),
             Catch::Contains("line 7: field 'max_new_tokens': 0 is outside [1, 512]"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "max_new_tokens": 2.5})"),
             Catch::Contains("field 'max_new_tokens': must be an integer, got 2.5"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "temperature": "hot"})"),
             Catch::Contains("field 'temperature': must be a number, got \"hot\""));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "top_p": 0})"),
             Catch::Contains("field 'top_p': 0 is outside (0, 1]"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "seed": -1})"),
             Catch::Contains("field 'seed': -1 is outside"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "ignore_eos": 1})"),
             Catch::Contains("field 'ignore_eos': must be true or false"));
  CHECK_THAT(ErrorOf(R"({"prompt_ids": [1], "max_new_tokens": 4, "min_new_tokens": 5})"),
             Catch::Contains("field 'min_new_tokens': 5 is outside [0, 4]"));
  std::string too_long = R"({"prompt_ids": [)";
  for (int i = 0; i < 513; ++i) too_long += i ? ",3" : "3";
  CHECK_THAT(ErrorOf(too_long + "]}"),
             Catch::Contains("the prompt has 513 tokens; the model's context is 512"));
  CHECK_THAT(ErrorOf(R"({"prompt": "hello"})"),
             Catch::Contains("no tokenizer; give 'prompt_ids' instead"));
  CHECK(IsBlankLine("  \t\r"));
  CHECK_FALSE(IsBlankLine(" {}"));
}

TEST_CASE("a result line echoes the id and gives ids, text after the prompt, reason and error",
          "[batch]") {
  auto tokenizer = Stories260kTokenizer();
  auto item = ParseBatchLine(R"({"id": {"k": [1]}, "prompt": "Once upon a time"})", 3, kLimits,
                             tokenizer.get());
  REQUIRE(item.ok());
  offline::OfflineResult result;
  result.tokens =
      tokenizer->Encode("there was a cat", false);  // SentencePiece style: "▁there ▁was ..."
  result.finish.reason = FinishReason::kLength;
  auto line = nlohmann::json::parse(FormatResultLine(*item, result, tokenizer));
  CHECK(line["id"] == nlohmann::json::parse(R"({"k": [1]})"));
  CHECK(line["token_ids"].get<std::vector<int32_t>>() == result.tokens);
  CHECK(line["text"] == " there was a cat");
  CHECK(line["finish_reason"] == "length");
  CHECK(line["prompt_tokens"] == item->request.prompt.size());
  CHECK(line["generated_tokens"] == result.tokens.size());
  CHECK_FALSE(line.contains("error"));

  result.tokens.clear();
  result.finish.reason = FinishReason::kError;
  result.finish.status = absl::InvalidArgumentError("prompt: too long");
  line = nlohmann::json::parse(FormatResultLine(*item, result, nullptr));
  CHECK(line["error"] == "prompt: too long");
  CHECK(line["finish_reason"] == "error");
  CHECK_FALSE(line.contains("text"));
}

TEST_CASE("flags: required ones, numbers, batching mode", "[batch]") {
  auto args =
      ParseBatchArgs({"--model", "m", "--in", "i.jsonl", "--out", "o.jsonl", "--max-ribbon-tokens",
                      "512", "--batching", "padded", "--threads", "2", "--align", "1", "--quiet"});
  REQUIRE(args.ok());
  CHECK(args->model == "m");
  CHECK(args->max_ribbon_tokens == 512);
  CHECK(args->batching == sched::BatchingMode::kPadded);
  CHECK(args->threads == 2);
  CHECK(args->align == 1);
  CHECK(args->quiet);
  CHECK_THAT(ParseBatchArgs({"--model", "m", "--in", "i"}).status().ToString(),
             Catch::Contains("--out is required"));
  CHECK_THAT(ParseBatchArgs({"--model", "m", "--in", "i", "--out", "o", "--batching", "square"})
                 .status()
                 .ToString(),
             Catch::Contains("--batching: expected packed or padded, got 'square'"));
  CHECK_THAT(ParseBatchArgs({"--model", "m", "--in", "i", "--out", "o", "--threads", "-1"})
                 .status()
                 .ToString(),
             Catch::Contains("--threads: expected an integer >= 0"));
  CHECK_THAT(ParseBatchArgs({"--model", "m", "--bogus"}).status().ToString(),
             Catch::Contains("unknown argument '--bogus'"));
  CHECK_THAT(ParseBatchArgs({"--model"}).status().ToString(),
             Catch::Contains("--model: missing value"));
  CHECK(ParseBatchArgs({"--help"})->help);
}

TEST_CASE("the progress line shows the bar, counts, rate and ETA", "[batch]") {
  offline::OfflineProgress p{
      .finished = 25, .total = 100, .ribbons = 7, .computed_tokens = 5000, .seconds = 10};
  CHECK(FormatProgress(p, 8) == "[##------]  25/100 requests  7 ribbons  500 tok/s  ETA 30s");
  p.finished = 100;
  p.seconds = 125;
  CHECK(FormatProgress(p, 8) == "[########] 100/100 requests  7 ribbons  40 tok/s  done in 2m05s");
}

TEST_CASE("the plain progress prints one line per interval and the last one", "[batch]") {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  ProgressPrinter printer(out, {.terminal = false, .plain_interval_seconds = 10});
  for (int s = 0; s <= 25; ++s)
    printer.Update({.finished = s, .total = 26, .seconds = static_cast<double>(s)});
  printer.Update({.finished = 26, .total = 26, .seconds = 25.5});
  printer.Finish();
  std::fclose(out);
  const std::string text(buffer, size);
  std::free(buffer);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);  // at 10 s, 20 s, and done
  CHECK(text.find('\r') == std::string::npos);
  CHECK_THAT(text, Catch::Contains("progress: [") && Catch::Contains("26/26 requests"));
}

TEST_CASE("the report puts ribbons used beside the lower bound", "[batch]") {
  offline::OfflineReport r;
  r.requests = 10;
  r.required_tokens = 5000;
  r.computed_tokens = 5000;
  r.prompt_tokens = 4990;
  r.generated_tokens = 10;
  r.rows = 5120;
  r.ribbons = 3;
  r.capacity = 2048;
  r.lower_bound = 3;
  r.seconds = 2;
  const std::string text = FormatReport(r, sched::BatchingMode::kPacked);
  CHECK_THAT(
      text, Catch::Contains(
                "ribbons used   3  (lower bound 3 = ceil(5000 tokens / 2048 per ribbon); +0.0 %)"));
  CHECK_THAT(text, Catch::Contains("2500.0 tok/s computed"));
  CHECK_THAT(text, Catch::Contains("padding        2.34 % of rows"));
  const auto json = ReportJson(r, sched::BatchingMode::kPadded);
  CHECK(json["batching"] == "padded");
  CHECK(json["lower_bound"] == 3);
  CHECK(json["computed_tokens_per_second"] == Approx(2500));
}

}  // namespace ribbon::batch
