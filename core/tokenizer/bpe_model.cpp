#include "core/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <queue>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/tokenizer/unicode.h"

namespace ribbon::tok {
namespace {

// Words with at most this many symbols are merged by rescanning all pairs (no allocation);
// longer ones use the priority queue. Both apply the same (rank, position) order.
constexpr size_t kLinearScanLimit = 24;

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

std::string OptionalString(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || config.at(key).is_null()) return "";
  return config.at(key).get<std::string>();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(const nlohmann::json& config) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  if (config.contains("dropout") && !config.at("dropout").is_null() &&
      config.at("dropout").get<double>() != 0.0) {
    return absl::UnimplementedError("BPE dropout is not supported (it makes encoding random)");
  }
  int32_t max_id = -1;
  for (const auto& [token, id_json] : config.at("vocab").items()) {
    // An integer in [0, 2^31 - 1): get<int32_t>() of a float such as 4e128 is undefined, and
    // vocab_size() is the largest id + 1.
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 ||
        id_json.get<int64_t>() >= INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("the id of '", token, "' must be an integer in [0, 2147483647)"));
    }
    const int32_t id = static_cast<int32_t>(id_json.get<int64_t>());
    model->vocab_[token] = id;
    max_id = std::max(max_id, id);
  }
  model->tokens_by_id_.assign(static_cast<size_t>(max_id + 1), std::string());
  model->has_token_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [token, id] : model->vocab_) {
    model->tokens_by_id_[id] = token;
    model->has_token_[id] = true;
  }
  model->continuing_subword_prefix_ = OptionalString(config, "continuing_subword_prefix");
  model->end_of_word_suffix_ = OptionalString(config, "end_of_word_suffix");
  model->byte_fallback_ = config.value("byte_fallback", false);
  model->fuse_unk_ = config.value("fuse_unk", false);
  model->ignore_merges_ = config.value("ignore_merges", false);
  const std::string unk = OptionalString(config, "unk_token");
  if (!unk.empty()) {
    const auto unk_id = model->TokenToId(unk);
    if (!unk_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("unk_token '", unk, "' is not in the vocabulary"));
    }
    model->unk_id_ = unk_id;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    model->byte_fallback_ids_[b] = model->TokenToId(name).value_or(-1);
  }
  RETURN_IF_ERROR(model->LoadMerges(config.at("merges")));
  model->FindWordBreaks();
  return model;
}

void BpeModel::FindWordBreaks() {
  // Prefixes and suffixes change a character's symbol with its position in the word, and
  // ignore_merges looks the whole word up: keep whole words then.
  if (!continuing_subword_prefix_.empty() || !end_of_word_suffix_.empty() || ignore_merges_) return;
  absl::flat_hash_set<char32_t> joined;  // characters that follow a different one in a token
  for (const auto& [token, id] : vocab_) {
    if (!IsValidUtf8(token)) return;
    char32_t previous = 0;
    for (size_t pos = 0; pos < token.size();) {
      const Utf8Step step = DecodeUtf8(token, pos);
      if (pos > 0 && step.code_point != previous) joined.insert(step.code_point);
      previous = step.code_point;
      pos += step.length;
    }
  }
  // An unknown character's symbol is the unk token, whose last character is not the text's:
  // a merge of it with a break character would go unnoticed above if the two were equal.
  if (unk_id_) {
    const std::string& unk = tokens_by_id_[*unk_id_];
    if (!unk.empty()) joined.insert(DecodeUtf8(unk, PreviousCharStart(unk, unk.size())).code_point);
  }
  for (const auto& [token, id] : vocab_) {
    if (token.empty() || DecodeUtf8(token, 0).length != static_cast<int>(token.size())) continue;
    const char32_t c = DecodeUtf8(token, 0).code_point;
    if (!joined.contains(c)) word_breaks_.insert(c);
  }
}

absl::Status BpeModel::LoadMerges(const nlohmann::json& merges) {
  merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const auto& merge : merges) {
    std::string left, right;
    if (merge.is_string()) {
      const std::string line = merge.get<std::string>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("merge '", line, "' is not 'left right'"));
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else {
      left = merge.at(0).get<std::string>();
      right = merge.at(1).get<std::string>();
    }
    const auto left_id = TokenToId(left);
    const auto right_id = TokenToId(right);
    std::string merged =
        left + right.substr(std::min(continuing_subword_prefix_.size(), right.size()));
    const auto merged_id = TokenToId(merged);
    if (!left_id || !right_id || !merged_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge '", left, " ", right, "' uses a token missing from the vocabulary"));
    }
    // A repeated pair keeps its last rank, as `tokenizers` (a map filled in order) does.
    merges_[PairKey(*left_id, *right_id)] = {rank, *merged_id};
    ++rank;
  }
  return absl::OkStatus();
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  const auto it = vocab_.find(ToAbsl(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_by_id_.size() || !has_token_[id]) return nullptr;
  return &tokens_by_id_[id];
}

const BpeModel::MergeResult* BpeModel::FindMerge(int32_t left, int32_t right) const {
  const auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<int32_t>& symbols) const {
  symbols.clear();
  std::optional<int32_t> pending_unk;  // an unknown run waiting to be emitted (fuse_unk)
  const bool decorate = !continuing_subword_prefix_.empty() || !end_of_word_suffix_.empty();
  std::string decorated;
  for (size_t pos = 0; pos < word.size();) {
    const int length = Utf8Length(static_cast<unsigned char>(word[pos]));
    std::string_view piece = word.substr(pos, length);
    const bool is_first = pos == 0;
    pos += length;
    if (decorate) {
      decorated.clear();
      if (!is_first) decorated.append(continuing_subword_prefix_);
      decorated.append(piece);
      if (pos >= word.size()) decorated.append(end_of_word_suffix_);
      piece = decorated;
    }
    if (const auto id = TokenToId(piece)) {
      if (pending_unk) symbols.push_back(*std::exchange(pending_unk, std::nullopt));
      symbols.push_back(*id);
      continue;
    }
    if (byte_fallback_ && std::all_of(piece.begin(), piece.end(), [&](char c) {
          return byte_fallback_ids_[static_cast<uint8_t>(c)] >= 0;
        })) {
      // As in `tokenizers`, a pending unknown is not flushed before byte-fallback tokens.
      for (const char c : piece) symbols.push_back(byte_fallback_ids_[static_cast<uint8_t>(c)]);
      continue;
    }
    if (!unk_id_) continue;  // no unk token: the character is dropped, as `tokenizers` does
    if (pending_unk && !fuse_unk_) symbols.push_back(*pending_unk);
    pending_unk = unk_id_;
  }
  if (pending_unk) symbols.push_back(*pending_unk);
}

void BpeModel::MergeSymbols(std::vector<int32_t>& symbols) const {
  if (symbols.size() < 2) return;
  if (symbols.size() <= kLinearScanLimit) {
    MergeByScanning(symbols);
  } else {
    MergeWithQueue(symbols);
  }
}

void BpeModel::MergeByScanning(std::vector<int32_t>& symbols) const {
  while (symbols.size() > 1) {
    const MergeResult* best = nullptr;
    size_t best_pos = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const MergeResult* merge = FindMerge(symbols[i], symbols[i + 1]);
      if (merge != nullptr && (best == nullptr || merge->rank < best->rank)) {
        best = merge;
        best_pos = i;
      }
    }
    if (best == nullptr) return;
    symbols[best_pos] = best->new_id;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best_pos) + 1);
  }
}

void BpeModel::MergeWithQueue(std::vector<int32_t>& symbols) const {
  // Doubly linked symbols plus a min-queue of candidate merges ordered by (rank, position);
  // entries made stale by an earlier merge are skipped when popped, as in `tokenizers`.
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };
  const int32_t n = static_cast<int32_t>(symbols.size());
  std::vector<int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto push_pair = [&](int32_t left, int32_t right) {
    if (const MergeResult* m = FindMerge(symbols[left], symbols[right])) {
      queue.push({m->rank, left, m->new_id});
    }
  };
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
    if (i + 1 < n) push_pair(i, i + 1);
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const int32_t right = next[top.pos];
    if (!alive[top.pos] || right < 0) continue;
    const MergeResult* current = FindMerge(symbols[top.pos], symbols[right]);
    if (current == nullptr || current->new_id != top.new_id) continue;
    symbols[top.pos] = top.new_id;
    alive[right] = false;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    if (prev[top.pos] >= 0) push_pair(prev[top.pos], top.pos);
    if (next[top.pos] >= 0) push_pair(top.pos, next[top.pos]);
  }
  size_t kept = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) symbols[kept++] = symbols[i];
  symbols.resize(kept);
}

void BpeModel::EncodeUncached(std::string_view word, std::vector<int32_t>& ids) const {
  std::vector<int32_t> symbols;
  InitialSymbols(word, symbols);
  MergeSymbols(symbols);
  ids.insert(ids.end(), symbols.begin(), symbols.end());
}

void BpeModel::Encode(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const auto id = TokenToId(word)) {
      ids.push_back(*id);
      return;
    }
  }
  if (word_breaks_.empty() || word.size() < kMaxCachedWordBytes / 4) {
    EncodeCached(word, ids);
    return;
  }
  // Encode the parts between break points (a break character after a different character).
  size_t part_start = 0;
  char32_t previous = 0;
  for (size_t pos = 0; pos < word.size();) {
    const Utf8Step step = DecodeUtf8(word, pos);
    if (pos > part_start && step.code_point != previous && word_breaks_.contains(step.code_point)) {
      EncodeCached(word.substr(part_start, pos - part_start), ids);
      part_start = pos;
    }
    previous = step.code_point;
    pos += step.length;
  }
  EncodeCached(word.substr(part_start), ids);
}

void BpeModel::EncodeCached(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.size() >= kMaxCachedWordBytes) {
    EncodeUncached(word, ids);
    return;
  }
  CacheShard& shard = cache_[absl::Hash<absl::string_view>{}(ToAbsl(word)) % kCacheShards];
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    const auto it = shard.words.find(ToAbsl(word));
    if (it != shard.words.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = ids.size();
  EncodeUncached(word, ids);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.words.size() < kCacheEntriesPerShard) {
    shard.words.emplace(std::string(word), std::vector<int32_t>(ids.begin() + first, ids.end()));
  }
}

}  // namespace ribbon::tok
