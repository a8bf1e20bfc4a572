#include "server/cli/cli_args.h"

#include <catch2/catch.hpp>

using namespace ribbon::cli;

namespace {

const std::map<std::string, std::string> kNoEnv;

std::string Error(std::vector<std::string> args) {
  auto parsed = ParseCli(args, kNoEnv);
  REQUIRE(!parsed.ok());
  return std::string(parsed.status().message());
}

}  // namespace

TEST_CASE("generate flags fill the request", "[cli]") {
  auto cli = ParseCli({"--address",
                       "127.0.0.1:5",
                       "generate",
                       "Once upon",
                       "--max-new-tokens",
                       "32",
                       "--temperature=0.8",
                       "--top-k",
                       "40",
                       "--top-p",
                       "0.95",
                       "--min-p",
                       "0.05",
                       "--repetition-penalty",
                       "1.1",
                       "--presence-penalty",
                       "0.5",
                       "--frequency-penalty",
                       "-0.5",
                       "--seed",
                       "7",
                       "--stop",
                       "\n",
                       "--stop",
                       "END",
                       "--stop-token-id",
                       "2",
                       "--ignore-eos",
                       "--logprobs",
                       "--top-logprobs",
                       "3",
                       "--priority",
                       "4",
                       "--min-new-tokens",
                       "2",
                       "--request-id",
                       "cli-1",
                       "--complete",
                       "--stats",
                       "--timeout",
                       "2.5"},
                      kNoEnv);
  REQUIRE(cli.ok());
  const ribbon::v1::GenerateRequest& r = cli->generate;
  CHECK(cli->command == "generate");
  CHECK(cli->client.address == "127.0.0.1:5");
  CHECK(cli->client.timeout_seconds == 2.5);
  CHECK(r.text() == "Once upon");
  CHECK(r.max_new_tokens() == 32);
  CHECK(r.temperature() == Approx(0.8f));
  CHECK(r.top_k() == 40);
  CHECK(r.top_p() == Approx(0.95f));
  CHECK(r.min_p() == Approx(0.05f));
  CHECK(r.repetition_penalty() == Approx(1.1f));
  CHECK(r.presence_penalty() == Approx(0.5f));
  CHECK(r.frequency_penalty() == Approx(-0.5f));
  CHECK(r.seed() == 7);
  REQUIRE(r.stop_size() == 2);
  CHECK(r.stop(1) == "END");
  CHECK(r.stop_token_ids(0) == 2);
  CHECK(r.ignore_eos());
  CHECK(r.logprobs());
  CHECK(r.top_logprobs() == 3);
  CHECK(r.priority() == 4);
  CHECK(r.min_new_tokens() == 2);
  CHECK(r.client_request_id() == "cli-1");
  CHECK(cli->use_complete);
  CHECK(cli->show_stats);
}

TEST_CASE("unset sampling flags stay unset so the server defaults apply", "[cli]") {
  auto cli = ParseCli({"generate", "hi"}, kNoEnv);
  REQUIRE(cli.ok());
  CHECK(!cli->generate.has_max_new_tokens());
  CHECK(!cli->generate.has_temperature());
  CHECK(!cli->generate.has_top_p());
}

TEST_CASE("token-id prompts, tokenize, detokenize and the environment", "[cli]") {
  const std::map<std::string, std::string> env = {{"RIBBON_ADDRESS", "10.0.0.1:9"},
                                                  {"RIBBON_AUTH_TOKEN", "t0k"}};
  auto ids = ParseCli({"generate", "--ids", "1,403, 407"}, env);
  REQUIRE(ids.ok());
  CHECK(std::vector<int32_t>(ids->generate.token_ids().ids().begin(),
                             ids->generate.token_ids().ids().end()) ==
        std::vector<int32_t>{1, 403, 407});
  CHECK(ids->client.address == "10.0.0.1:9");
  CHECK(ids->client.token == "t0k");

  auto tokenize = ParseCli({"tokenize", "hello", "--no-special"}, kNoEnv);
  REQUIRE(tokenize.ok());
  CHECK(tokenize->text == "hello");
  CHECK(!tokenize->add_special_tokens);

  auto detokenize = ParseCli({"detokenize", "1", "2,3"}, kNoEnv);
  REQUIRE(detokenize.ok());
  CHECK(detokenize->ids == std::vector<int32_t>{1, 2, 3});
  CHECK(ParseCli({"--help"}, kNoEnv)->command == "help");
}

TEST_CASE("command-line mistakes are explained", "[cli]") {
  CHECK(Error({}) == "no command given");
  CHECK(Error({"fly"}) == "unknown command \"fly\"");
  CHECK(Error({"generate"}) ==
        "generate takes one quoted text argument (or --ids 1,2,3 and no text)");
  CHECK(Error({"generate", "a", "b"}) ==
        "generate takes one quoted text argument (or --ids 1,2,3 and no text)");
  CHECK(Error({"generate", "a", "--top-k", "many"}) == "--top-k needs an integer, got \"many\"");
  CHECK(Error({"generate", "a", "--temperature"}) == "--temperature needs a value");
  CHECK(Error({"info", "--temperature", "1"}) == "unknown flag --temperature");
  CHECK(Error({"info", "extra"}) == "info takes no arguments");
  CHECK(Error({"tokenize"}) == "tokenize takes one quoted text argument");
  CHECK(Error({"generate", "a", "--ignore-eos=1"}) == "--ignore-eos takes no value");
  CHECK(Error({"detokenize", "1,x"}) == "--detokenize needs token ids, got \"x\"");
}

TEST_CASE("chat sends the message (after an optional system message) as a chat prompt", "[cli]") {
  auto chat = ParseCli({"chat", "What is the capital of France?", "--verbose"}, kNoEnv);
  REQUIRE(chat.ok());
  CHECK(chat->command == "chat");
  CHECK(chat->verbose);
  REQUIRE(chat->generate.has_chat());
  REQUIRE(chat->generate.chat().messages_size() == 1);
  CHECK(chat->generate.chat().messages(0).role() == "user");
  CHECK(chat->generate.chat().messages(0).content() == "What is the capital of France?");
  CHECK(!chat->generate.chat().has_add_generation_prompt());  // unset = true: the answer's turn

  auto system = ParseCli({"chat", "--system", "Be brief.", "Hi", "--max-new-tokens", "8"}, kNoEnv);
  REQUIRE(system.ok());
  REQUIRE(system->generate.chat().messages_size() == 2);
  CHECK(system->generate.chat().messages(0).role() == "system");
  CHECK(system->generate.chat().messages(0).content() == "Be brief.");
  CHECK(system->generate.chat().messages(1).role() == "user");
  CHECK(system->generate.max_new_tokens() == 8);

  CHECK(Error({"chat"}) == "chat takes one quoted text argument");
  CHECK(Error({"chat", "a", "--ids", "1,2"}) == "unknown flag --ids");
  CHECK(Error({"generate", "a", "--system", "x"}) == "unknown flag --system");
}
