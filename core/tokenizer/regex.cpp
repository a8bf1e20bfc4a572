#include "core/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/absl_compat.h"
#include "core/tokenizer/unicode.h"

namespace ribbon::tok {
namespace {

// Oniguruma's \w for UTF-8 text: Alphabetic, marks, decimal digits, connector punctuation, and
// the Latin-1 digits/fractions it also counts as word characters (checked code point by code
// point against the reference library).
constexpr std::string_view kWordItems =
    R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{B2}\x{B3}\x{B9}\x{BC}-\x{BE})";
constexpr std::string_view kHexItems = "0-9a-fA-F";

// Per-thread PCRE2 state shared by every Regex: one match data block (only the whole match is
// read) and a JIT stack large enough for long runs of backtracking.
struct ThreadMatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  ThreadMatchState() { pcre2_jit_stack_assign(context, nullptr, jit_stack); }
  ~ThreadMatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

ThreadMatchState& MatchState() {
  thread_local ThreadMatchState state;
  return state;
}

void AppendClass(std::string_view items, bool negated, bool inside_class, std::string& out) {
  if (inside_class) {
    out.append(items);
    return;
  }
  out.append(negated ? "[^" : "[");
  out.append(items);
  out.push_back(']');
}

}  // namespace

std::string TranslateOnigurumaPattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  int class_depth = 0;
  bool class_just_opened = false;  // a ']' right after '[' or '[^' is a literal
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      const bool inside = class_depth > 0;
      ++i;
      class_just_opened = false;
      switch (e) {
        case 's':
          out.append(R"(\p{White_Space})");
          break;
        case 'S':
          out.append(R"(\P{White_Space})");
          break;
        case 'w':
          AppendClass(kWordItems, false, inside, out);
          break;
        // A negated class cannot be inlined into an enclosing class; \W and \H inside one
        // keep PCRE2's meaning (no tokenizer we know of writes them there).
        case 'W':
          if (inside)
            out.append(R"(\W)");
          else
            AppendClass(kWordItems, true, false, out);
          break;
        case 'h':
          AppendClass(kHexItems, false, inside, out);
          break;
        case 'H':
          if (inside)
            out.append(R"(\H)");
          else
            AppendClass(kHexItems, true, false, out);
          break;
        case 'u':
          // Oniguruma's \uHHHH is PCRE2's \x{HHHH}.
          if (i + 4 < pattern.size()) {
            absl::StrAppend(&out, "\\x{", ToAbsl(pattern.substr(i + 1, 4)), "}");
            i += 4;
          } else {
            out.append("\\u");
          }
          break;
        default:
          out.push_back('\\');
          out.push_back(e);
      }
      continue;
    }
    if (c == '[') {
      ++class_depth;
      class_just_opened = true;
      out.push_back(c);
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
        out.push_back('^');
        ++i;
      }
      continue;
    }
    if (c == ']' && class_depth > 0 && !class_just_opened) --class_depth;
    class_just_opened = false;
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  const std::string translated = TranslateOnigurumaPattern(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                    PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat("regex '", ToAbsl(pattern),
                                                   "' does not compile at ", error_offset, ": ",
                                                   reinterpret_cast<const char*>(message)));
  }
  // Without JIT (e.g. a platform without support) matching still works, only slower.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return std::unique_ptr<Regex>(new Regex(std::string(pattern), code));
}

Regex::Regex(std::string pattern, void* code) : pattern_(std::move(pattern)), code_(code) {}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool Regex::MatchFrom(std::string_view text, size_t start, MatchSpan& span) const {
  ThreadMatchState& state = MatchState();
  const int rc =
      pcre2_match(static_cast<const pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(text.data()),
                  text.size(), start, PCRE2_NO_UTF_CHECK, state.data, state.context);
  // Errors (match or JIT-stack limits on pathological input) end the search: the rest of the
  // text is then treated as unmatched rather than failing the whole encode.
  if (rc < 0) return false;
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
  span = {ovector[0], ovector[1]};
  return true;
}

void Regex::FindAll(std::string_view text, std::vector<MatchSpan>& matches) const {
  matches.clear();
  size_t search_from = 0;
  bool have_previous = false;
  size_t previous_end = 0;
  while (search_from <= text.size()) {
    MatchSpan span;
    if (!MatchFrom(text, search_from, span)) break;
    if (span.first == span.second && have_previous && previous_end == span.second) {
      // An empty match right where the previous one ended: step over one character.
      search_from +=
          search_from < text.size() ? Utf8Length(static_cast<unsigned char>(text[search_from])) : 1;
      continue;
    }
    matches.push_back(span);
    search_from = span.second;
    have_previous = true;
    previous_end = span.second;
  }
}

bool Regex::Matches(std::string_view text) const {
  MatchSpan span;
  return MatchFrom(text, 0, span);
}

}  // namespace ribbon::tok
