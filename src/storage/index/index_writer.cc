#include "storage/index/index_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "storage/index/encoding.h"
#include "storage/index/format.h"

namespace norn::index {
namespace {

using internal::PutU32;
using internal::PutU64;
using internal::PutUvarint;

absl::Status ErrnoStatus(int err, std::string_view what, std::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(AV(what), " ", AV(path)));
}

absl::Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return absl::ErrnoToStatus(errno, "write");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status TooLarge(std::string_view what) {
  return absl::ResourceExhaustedError(
      absl::StrCat("index ", AV(what), " exceeds the 4 GiB limit of format version 1"));
}

}  // namespace

absl::Status IndexBuilder::Add(const Labels& labels, std::span<const ChunkRef> chunks) {
  return Add(labels, labels.Hash(), chunks);
}

absl::Status IndexBuilder::Add(const Labels& labels, Fingerprint fingerprint,
                               std::span<const ChunkRef> chunks) {
  std::vector<Label> kept;
  kept.reserve(labels.size());
  for (const Label& l : labels) {
    if (!l.value.empty())
      kept.push_back(l);
  }
  if (kept.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("index: series without labels: ", labels.ToString()));
  }
  for (const ChunkRef& c : chunks) {
    if (c.through_ns < c.from_ns) {
      return absl::InvalidArgumentError(absl::StrCat("index: chunk of ", labels.ToString(),
                                                     " ends (", c.through_ns,
                                                     ") before it starts (", c.from_ns, ")"));
    }
  }
  if (chunks.empty())
    return absl::OkStatus();  // a series exists only through its chunks
  Labels key = kept.size() == labels.size() ? labels : Labels(std::move(kept));
  auto [it, inserted] = series_.try_emplace(std::move(key));
  if (inserted)
    it->second.fingerprint = fingerprint;
  it->second.chunks.insert(it->second.chunks.end(), chunks.begin(), chunks.end());
  return absl::OkStatus();
}

absl::StatusOr<std::string> IndexBuilder::Encode() const {
  using namespace internal;  // NOLINT: format constants

  // Symbols: every label name and value once, sorted bytewise, so symbol order == string order
  // and the reader can compare refs instead of strings.
  // Most names and values repeat across series: de-duplicate by hash before sorting.
  absl::flat_hash_map<std::string_view, uint32_t, StringHash, StringEq> sym_ref;
  std::vector<std::string_view> symbols;
  for (const auto& [labels, e] : series_) {
    for (const Label& l : labels) {
      if (sym_ref.try_emplace(std::string_view(l.name), 0).second)
        symbols.push_back(l.name);
      if (sym_ref.try_emplace(std::string_view(l.value), 0).second)
        symbols.push_back(l.value);
    }
  }
  std::sort(symbols.begin(), symbols.end());
  if (symbols.size() > UINT32_MAX || series_.size() > UINT32_MAX)
    return TooLarge("table");
  std::string sec[kNumSections];
  for (size_t i = 0; i < symbols.size(); ++i) {
    sym_ref[symbols[i]] = static_cast<uint32_t>(i);
    if (sec[kSymbols].size() > UINT32_MAX)
      return TooLarge("symbol table");
    PutU32(&sec[kSymbolOffsets], static_cast<uint32_t>(sec[kSymbols].size()));
    PutUvarint(&sec[kSymbols], symbols[i].size());
    sec[kSymbols].append(symbols[i]);
  }

  // Series entries and, on the way, postings per (name ref, value ref).
  absl::flat_hash_map<uint64_t, std::vector<uint32_t>> postings;
  int64_t min_time = kMaxTime, max_time = kMinTime;
  uint64_t total_chunks = 0;
  std::vector<ChunkRef> chunks;
  uint32_t id = 0;
  for (const auto& [labels, e] : series_) {
    if (sec[kSeries].size() > UINT32_MAX)
      return TooLarge("series section");
    PutU32(&sec[kSeriesOffsets], static_cast<uint32_t>(sec[kSeries].size()));
    std::string& s = sec[kSeries];
    PutU64(&s, e.fingerprint);
    PutUvarint(&s, labels.size());
    for (const Label& l : labels) {
      uint32_t n = sym_ref.find(std::string_view(l.name))->second;
      uint32_t v = sym_ref.find(std::string_view(l.value))->second;
      PutUvarint(&s, n);
      PutUvarint(&s, v);
      postings[(uint64_t{n} << 32) | v].push_back(id);
    }
    chunks.assign(e.chunks.begin(), e.chunks.end());
    std::stable_sort(chunks.begin(), chunks.end(), ChunkRef::KeyLess);
    chunks.erase(std::unique(chunks.begin(), chunks.end(), ChunkRef::KeyEqual), chunks.end());
    PutUvarint(&s, chunks.size());
    int64_t prev_from = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const ChunkRef& c = chunks[i];
      // Sorted by from, so later froms are non-negative deltas; uint64 arithmetic keeps the
      // difference defined for any pair of int64 values.
      if (i == 0) {
        PutVarint(&s, c.from_ns);
      } else {
        PutUvarint(&s, static_cast<uint64_t>(c.from_ns) - static_cast<uint64_t>(prev_from));
      }
      PutUvarint(&s, static_cast<uint64_t>(c.through_ns) - static_cast<uint64_t>(c.from_ns));
      PutU32(&s, c.checksum);
      PutUvarint(&s, c.size_bytes);
      PutUvarint(&s, c.entries);
      PutUvarint(&s, c.uncompressed_bytes);
      prev_from = c.from_ns;
      min_time = std::min(min_time, c.from_ns);
      max_time = std::max(max_time, c.through_ns);
    }
    total_chunks += chunks.size();
    ++id;
  }
  if (sec[kSeries].size() > UINT32_MAX)
    return TooLarge("series section");

  // Postings: the all-series list first (offset 0), then one list per label pair in
  // (name, value) order, each `count, first id, deltas...`.
  auto put_list = [&](std::string* out, auto&& ids_begin, auto&& ids_end, size_t n) {
    PutUvarint(out, n);
    uint32_t prev = 0;
    bool first = true;
    for (auto it = ids_begin; it != ids_end; ++it) {
      PutUvarint(out, first ? *it : *it - prev);
      prev = *it;
      first = false;
    }
  };
  {
    std::vector<uint32_t> all(series_.size());
    for (uint32_t i = 0; i < all.size(); ++i)
      all[i] = i;
    put_list(&sec[kPostings], all.begin(), all.end(), all.size());
  }
  std::vector<uint64_t> keys;
  keys.reserve(postings.size());
  for (const auto& [k, v] : postings)
    keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  struct NameEntry {
    uint32_t name, first, count;
  };
  std::vector<NameEntry> names;
  for (size_t i = 0; i < keys.size(); ++i) {
    uint32_t n = static_cast<uint32_t>(keys[i] >> 32);
    uint32_t v = static_cast<uint32_t>(keys[i]);
    if (names.empty() || names.back().name != n) {
      names.push_back({n, static_cast<uint32_t>(i), 0});
    }
    ++names.back().count;
    if (sec[kPostings].size() > UINT32_MAX)
      return TooLarge("postings section");
    PutU32(&sec[kLabelValues], v);
    PutU32(&sec[kLabelValues], static_cast<uint32_t>(sec[kPostings].size()));
    const std::vector<uint32_t>& ids = postings[keys[i]];
    put_list(&sec[kPostings], ids.begin(), ids.end(), ids.size());
  }
  for (const NameEntry& n : names) {
    PutU32(&sec[kLabelNames], n.name);
    PutU32(&sec[kLabelNames], n.first);
    PutU32(&sec[kLabelNames], n.count);
  }
  const uint32_t label_names = static_cast<uint32_t>(names.size());

  // Assemble: header, sections, TOC, footer.
  size_t total = kHeaderSize + kTocSize + kFooterSize;
  for (const auto& s : sec)
    total += s.size();
  std::string out;
  out.reserve(total);
  out.append(kMagic, 4);
  out.push_back(static_cast<char>(kVersion));
  out.append(3, '\0');
  uint64_t offsets[kNumSections];
  for (int i = 0; i < kNumSections; ++i) {
    offsets[i] = out.size();
    out.append(sec[i]);
  }
  uint64_t toc_offset = out.size();
  PutU32(&out, static_cast<uint32_t>(symbols.size()));
  PutU32(&out, static_cast<uint32_t>(series_.size()));
  PutU32(&out, label_names);
  PutU32(&out, static_cast<uint32_t>(keys.size()));
  PutU64(&out, total_chunks);
  PutU64(&out, static_cast<uint64_t>(min_time));
  PutU64(&out, static_cast<uint64_t>(max_time));
  for (int i = 0; i < kNumSections; ++i) {
    PutU64(&out, offsets[i]);
    PutU64(&out, sec[i].size());
  }
  PutU64(&out, toc_offset);
  out.append(kEndMagic, 4);
  PutU64(&out, XXH3_64bits(out.data(), out.size()));
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp = absl::StrCat(path, ".tmp-", ::getpid(), "-", counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return ErrnoStatus(errno, "create", tmp);
  absl::Status st = WriteAll(fd, bytes);
  if (st.ok() && ::fsync(fd) != 0)
    st = ErrnoStatus(errno, "fsync", tmp);
  if (::close(fd) != 0 && st.ok())
    st = ErrnoStatus(errno, "close", tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = ErrnoStatus(errno, "rename", tmp);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // Persist the rename itself.
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return ErrnoStatus(errno, "open directory", dir);
  if (::fsync(dfd) != 0)
    st = ErrnoStatus(errno, "fsync directory", dir);
  ::close(dfd);
  return st;
}

absl::Status WriteIndexFile(const std::string& path, const IndexBuilder& builder) {
  auto bytes = builder.Encode();
  if (!bytes.ok())
    return bytes.status();
  return WriteFileAtomically(path, *bytes);
}

}  // namespace norn::index
