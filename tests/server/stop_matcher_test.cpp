#include "server/stop_matcher.h"

#include <catch2/catch.hpp>

using ribbon::server::StopStringMatcher;

namespace {

// Feeds `deltas` and returns everything emitted (Flush included when nothing matched).
std::pair<std::string, bool> Run(std::vector<std::string> stops, std::vector<std::string> deltas) {
  StopStringMatcher matcher(std::move(stops));
  std::string out;
  bool matched = false;
  for (const std::string& delta : deltas) {
    auto result = matcher.Push(delta);
    out += result.text;
    matched |= result.matched;
  }
  out += matcher.Flush();
  return {out, matched};
}

}  // namespace

TEST_CASE("without stop strings text passes straight through", "[stop]") {
  StopStringMatcher matcher({});
  CHECK(matcher.Push("abc").text == "abc");
  CHECK(matcher.Flush().empty());
}

TEST_CASE("a stop string inside one delta truncates before it", "[stop]") {
  CHECK(Run({"END"}, {"hello END world"}) == std::make_pair(std::string("hello "), true));
}

TEST_CASE("a stop string split across deltas is never partly emitted", "[stop]") {
  StopStringMatcher matcher({"STOP"});
  CHECK(matcher.Push("abc ST").text == "abc ");  // "ST" held back
  CHECK(matcher.Push("O").text.empty());
  auto last = matcher.Push("P and more");
  CHECK(last.matched);
  CHECK(last.text.empty());
  CHECK(matcher.Push("ignored").text.empty());
  CHECK(matcher.Flush().empty());
}

TEST_CASE("held-back text is released when it stops matching", "[stop]") {
  StopStringMatcher matcher({"STOP"});
  CHECK(matcher.Push("a ST").text == "a ");
  CHECK(matcher.Push("AR").text == "STAR");
  CHECK(matcher.Push("S").text.empty());
  CHECK(matcher.Flush() == "S");
}

TEST_CASE("the earliest of several stop strings wins", "[stop]") {
  CHECK(Run({"world", "lo w"}, {"hel", "lo wor", "ld"}) ==
        std::make_pair(std::string("hel"), true));
  CHECK(Run({"bb", "abc"}, {"xab", "c"}) == std::make_pair(std::string("x"), true));
}

TEST_CASE("multi-byte stop strings match across character deltas", "[stop]") {
  CHECK(Run({"\xc3\xa9t\xc3\xa9"}, {"l'", "\xc3\xa9", "t", "\xc3\xa9", " x"}) ==
        std::make_pair(std::string("l'"), true));
  CHECK(Run({"\xc3\xa9t\xc3\xa9"}, {"\xc3\xa9", "t", "a"}) ==
        std::make_pair(std::string("\xc3\xa9ta"), false));
}
