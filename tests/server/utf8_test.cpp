#include "server/utf8.h"

#include <catch2/catch.hpp>

using ribbon::server::FindInvalidUtf8;

TEST_CASE("well-formed UTF-8 passes", "[utf8]") {
  CHECK(!FindInvalidUtf8("").has_value());
  CHECK(!FindInvalidUtf8("plain ascii").has_value());
  CHECK(!FindInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80").has_value());  // é € 😀
  CHECK(!FindInvalidUtf8("\xf4\x8f\xbf\xbf").has_value());                           // U+10FFFF
}

TEST_CASE("ill-formed UTF-8 is found at its first bad byte", "[utf8]") {
  CHECK(FindInvalidUtf8("ab\xff") == 2u);
  CHECK(FindInvalidUtf8("\xc0\xaf") == 0u);          // overlong '/'
  CHECK(FindInvalidUtf8("x\xe0\x80\xaf") == 1u);     // overlong 3-byte
  CHECK(FindInvalidUtf8("\xed\xa0\x80") == 0u);      // surrogate U+D800
  CHECK(FindInvalidUtf8("\xf4\x90\x80\x80") == 0u);  // past U+10FFFF
  CHECK(FindInvalidUtf8("ok\xe2\x82") == 2u);        // truncated
  CHECK(FindInvalidUtf8("\x80") == 0u);              // lone continuation
}
