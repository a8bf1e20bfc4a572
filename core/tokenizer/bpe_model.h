// BpeModel: the "BPE" model of tokenizer.json. Encodes one pre-tokenized word by applying
// merges in rank order (lowest rank first, leftmost first on ties), exactly as Hugging Face
// `tokenizers` does, in O(n log n) per word, with byte_fallback, unk/fuse_unk,
// continuing_subword_prefix, end_of_word_suffix and ignore_merges. Internal to
// ribbon_tokenizer.
//
// Ownership: built once at load; immutable apart from an internal word cache. Threads: Encode
// and the lookups are const and safe to call concurrently (the cache is sharded and locked).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/tokenizer/absl_compat.h"

namespace ribbon::tok {

class BpeModel {
 public:
  // From the "model" object of tokenizer.json (type "BPE"). Dropout other than 0 is
  // UNIMPLEMENTED (it makes encoding random); merges naming unknown tokens are INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<BpeModel>> FromJson(const nlohmann::json& config);

  // Appends the ids of `word` (non-empty, valid UTF-8) to `ids`.
  void Encode(std::string_view word, std::vector<int32_t>& ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token of `id`, or nullptr when the id is not in the vocabulary.
  const std::string* IdToToken(int32_t id) const;
  // Number of vocabulary entries (as `tokenizers`' get_vocab_size on the model).
  int32_t vocab_size() const { return static_cast<int32_t>(vocab_.size()); }
  // One more than the largest id in the vocabulary.
  int32_t id_limit() const { return static_cast<int32_t>(tokens_by_id_.size()); }

 private:
  struct MergeResult {
    int32_t rank;
    int32_t new_id;
  };
  // Word cache: most words repeat, so their merged ids are kept (bounded, like `tokenizers`).
  struct CacheShard {
    std::mutex mutex;
    absl::flat_hash_map<std::string, std::vector<int32_t>> words;
  };
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheEntriesPerShard = 4096;
  static constexpr size_t kMaxCachedWordBytes = 256;

  BpeModel() = default;
  absl::Status LoadMerges(const nlohmann::json& merges);
  // Initial symbols of `word`: one per character (with prefix/suffix), byte fallback, unk.
  void InitialSymbols(std::string_view word, std::vector<int32_t>& symbols) const;
  // Applies the merges to `symbols` in place: lowest rank first, leftmost first on ties.
  void MergeSymbols(std::vector<int32_t>& symbols) const;
  void MergeByScanning(std::vector<int32_t>& symbols) const;  // short words
  void MergeWithQueue(std::vector<int32_t>& symbols) const;   // long words, O(n log n)
  const MergeResult* FindMerge(int32_t left, int32_t right) const;
  void EncodeUncached(std::string_view word, std::vector<int32_t>& ids) const;
  void EncodeCached(std::string_view word, std::vector<int32_t>& ids) const;
  // Finds the characters no merge can join to a different character before them (see
  // word_breaks_).
  void FindWordBreaks();

  absl::flat_hash_map<std::string, int32_t> vocab_;
  std::vector<std::string> tokens_by_id_;  // empty string where an id has no token
  std::vector<bool> has_token_;
  absl::flat_hash_map<uint64_t, MergeResult> merges_;
  std::array<int32_t, 256> byte_fallback_ids_{};  // -1 where <0xXX> is missing
  bool byte_fallback_ = false;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  // Characters c such that no vocabulary token holds c right after a different character
  // (e.g. "▁" in SentencePiece-style vocabularies). No merge can cross the point before such a
  // c, so a long word is encoded as the independent parts between those points: the result is
  // identical, and the parts are short enough to cache.
  absl::flat_hash_set<char32_t> word_breaks_;
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace ribbon::tok
