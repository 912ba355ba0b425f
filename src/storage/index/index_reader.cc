#include "storage/index/index_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/index/encoding.h"
#include "storage/index/postings.h"

namespace norn::index {

using internal::Decoder;
using internal::LoadU32;
using internal::LoadU64;

namespace {

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt index: ", AV(what)));
}

// Bytes per chunk ref at minimum (six fields, one of them a fixed u32): bounds reservations
// made from counts read out of the file.
constexpr size_t kMinChunkBytes = 9;

}  // namespace

IndexReader::~IndexReader() {
  if (map_ != nullptr)
    ::munmap(map_, map_len_);
}

absl::StatusOr<std::unique_ptr<IndexReader>> IndexReader::Open(const std::string& path,
                                                               const ReaderOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("open index ", path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("stat index ", path));
  }
  std::unique_ptr<IndexReader> r(new IndexReader());
  size_t len = static_cast<size_t>(st.st_size);
  if (len > 0) {
    void* p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("mmap index ", path));
    }
    r->map_ = p;
    r->map_len_ = len;
    r->data_ = std::string_view(static_cast<const char*>(p), len);
  }
  ::close(fd);  // the mapping keeps the file's pages reachable
  absl::Status s = r->Init(options);
  if (!s.ok())
    return absl::Status(s.code(), absl::StrCat(s.message(), " (", path, ")"));
  return r;
}

absl::StatusOr<std::unique_ptr<IndexReader>> IndexReader::FromBytes(std::string bytes,
                                                                    const ReaderOptions& options) {
  std::unique_ptr<IndexReader> r(new IndexReader());
  r->owned_ = std::move(bytes);
  r->data_ = r->owned_;
  if (absl::Status s = r->Init(options); !s.ok())
    return s;
  return r;
}

absl::StatusOr<std::unique_ptr<IndexReader>> IndexReader::FromView(std::string_view bytes,
                                                                   const ReaderOptions& options) {
  std::unique_ptr<IndexReader> r(new IndexReader());
  r->data_ = bytes;
  if (absl::Status s = r->Init(options); !s.ok())
    return s;
  return r;
}

absl::Status IndexReader::Init(const ReaderOptions& options) {
  using namespace internal;  // NOLINT: format constants
  const std::string_view d = data_;
  if (d.size() < kHeaderSize + kTocSize + kFooterSize)
    return Corrupt("file too short");
  const char* footer = d.data() + d.size() - kFooterSize;
  if (std::memcmp(footer + 8, kEndMagic, 4) != 0)
    return Corrupt("bad footer magic");
  if (options.verify_checksum && XXH3_64bits(d.data(), d.size() - 8) != LoadU64(footer + 12)) {
    return Corrupt("checksum mismatch");
  }
  if (std::memcmp(d.data(), kMagic, 4) != 0)
    return Corrupt("bad magic");
  if (static_cast<uint8_t>(d[4]) != kVersion) {
    return absl::UnimplementedError(
        absl::StrCat("index format version ", static_cast<int>(static_cast<uint8_t>(d[4])),
                     " is not supported (this build reads version ", kVersion, ")"));
  }
  uint64_t toc_offset = LoadU64(footer);
  if (toc_offset != d.size() - kFooterSize - kTocSize)
    return Corrupt("bad TOC offset");
  Decoder toc(d.substr(toc_offset, kTocSize));
  n_symbols_ = toc.U32();
  n_series_ = toc.U32();
  n_names_ = toc.U32();
  n_values_ = toc.U32();
  n_chunks_ = toc.U64();
  min_time_ = static_cast<int64_t>(toc.U64());
  max_time_ = static_cast<int64_t>(toc.U64());
  for (int i = 0; i < kNumSections; ++i) {
    uint64_t off = toc.U64();
    uint64_t len = toc.U64();
    if (off < kHeaderSize || off > toc_offset || len > toc_offset - off) {
      return Corrupt("section out of bounds");
    }
    sec_[i] = d.substr(off, len);
  }
  if (!toc.ok())
    return Corrupt("short TOC");
  if (sec_[kSymbolOffsets].size() != uint64_t{4} * n_symbols_ ||
      sec_[kSeriesOffsets].size() != uint64_t{4} * n_series_ ||
      sec_[kLabelNames].size() != uint64_t{kNameEntrySize} * n_names_ ||
      sec_[kLabelValues].size() != uint64_t{kValueEntrySize} * n_values_) {
    return Corrupt("table sizes disagree with TOC counts");
  }
  if (n_series_ > 0 && min_time_ > max_time_)
    return Corrupt("bad time range");
  return absl::OkStatus();
}

bool IndexReader::Symbol(uint32_t ref, std::string_view* out) const {
  if (ref >= n_symbols_)
    return false;
  uint32_t off = LoadU32(sec_[internal::kSymbolOffsets].data() + size_t{4} * ref);
  const std::string_view syms = sec_[internal::kSymbols];
  if (off >= syms.size())
    return false;
  Decoder dec(syms.substr(off));
  uint64_t len = dec.Uvarint();
  *out = dec.Bytes(len);
  return dec.ok();
}

IndexReader::NameEntry IndexReader::NameAt(uint32_t i) const {
  const char* p = sec_[internal::kLabelNames].data() + size_t{internal::kNameEntrySize} * i;
  return NameEntry{LoadU32(p), LoadU32(p + 4), LoadU32(p + 8)};
}

bool IndexReader::FindName(std::string_view name, NameEntry* out, bool* corrupt) const {
  uint32_t lo = 0, hi = n_names_;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    NameEntry e = NameAt(mid);
    std::string_view s;
    if (!Symbol(e.name_sym, &s)) {
      *corrupt = true;
      return false;
    }
    int c = s.compare(name);
    if (c == 0) {
      if (e.first > n_values_ || e.count > n_values_ - e.first) {
        *corrupt = true;
        return false;
      }
      *out = e;
      return true;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

bool IndexReader::ValueAt(uint32_t idx, uint32_t* value_sym, uint32_t* postings_off) const {
  if (idx >= n_values_)
    return false;
  const char* p = sec_[internal::kLabelValues].data() + size_t{internal::kValueEntrySize} * idx;
  *value_sym = LoadU32(p);
  *postings_off = LoadU32(p + 4);
  return true;
}

bool IndexReader::FindValue(const NameEntry& ne, std::string_view value, uint32_t* idx,
                            bool* corrupt) const {
  uint32_t lo = ne.first, hi = ne.first + ne.count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t sym, off;
    std::string_view s;
    if (!ValueAt(mid, &sym, &off) || !Symbol(sym, &s)) {
      *corrupt = true;
      return false;
    }
    int c = s.compare(value);
    if (c == 0) {
      *idx = mid;
      return true;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

absl::Status IndexReader::ReadPostings(uint32_t off, std::vector<uint32_t>* out) const {
  const std::string_view p = sec_[internal::kPostings];
  if (off >= p.size())
    return Corrupt("postings offset out of bounds");
  Decoder dec(p.substr(off));
  uint64_t n = dec.Uvarint();
  if (n > dec.remaining() || n > n_series_)
    return Corrupt("postings list too long");
  size_t base = out->size();
  out->resize(base + n);
  uint32_t* ids = out->data() + base;
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t v = dec.Uvarint();
    uint64_t id = i == 0 ? v : prev + v;
    // Strictly increasing and in range; v == 0 after the first id would repeat an id.
    if ((i > 0 && v == 0) || id >= n_series_) {
      out->resize(base);
      return Corrupt("bad postings list");
    }
    ids[i] = static_cast<uint32_t>(id);
    prev = id;
  }
  if (!dec.ok()) {
    out->resize(base);
    return Corrupt("truncated postings list");
  }
  return absl::OkStatus();
}

absl::Status IndexReader::UnionPostings(std::span<const uint32_t> value_idx,
                                        std::vector<uint32_t>* out) const {
  out->clear();
  uint32_t sym, off;
  if (value_idx.size() == 1) {
    if (!ValueAt(value_idx[0], &sym, &off))
      return Corrupt("value index out of bounds");
    return ReadPostings(off, out);
  }
  if (value_idx.empty())
    return absl::OkStatus();
  // Many lists (often every value of a label): OR them into a bitmap, O(total + series / 64).
  internal::Bitmap bits(n_series_);
  std::vector<uint32_t> list;
  for (uint32_t idx : value_idx) {
    if (!ValueAt(idx, &sym, &off))
      return Corrupt("value index out of bounds");
    list.clear();
    RETURN_IF_ERROR(ReadPostings(off, &list));
    for (uint32_t id : list)
      bits.Set(id);
  }
  bits.AppendTo(out);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint32_t>> IndexReader::PostingsForMatchers(
    std::span<const Matcher> matchers) const {
  std::vector<std::vector<uint32_t>> include, exclude;
  std::vector<uint32_t> value_idx;
  for (const Matcher& m : matchers) {
    const bool matches_empty = m.Matches("");
    NameEntry ne;
    bool corrupt = false;
    if (!FindName(m.name(), &ne, &corrupt)) {
      if (corrupt)
        return Corrupt("label name table");
      // No series has the label: all behave as name="".
      if (matches_empty)
        continue;
      return std::vector<uint32_t>{};
    }
    // A matcher that accepts "" keeps series without the label, so it is applied by removing
    // the series whose value it rejects; any other by taking the union of accepted values.
    const bool want_match = !matches_empty;
    const bool positive = m.type() == Matcher::Type::kEq || m.type() == Matcher::Type::kRe;
    value_idx.clear();
    if (const auto* lits = m.literals(); lits != nullptr && want_match == positive) {
      // The wanted values are exactly the literals: look them up.
      for (const std::string& lit : *lits) {
        uint32_t idx;
        if (FindValue(ne, lit, &idx, &corrupt))
          value_idx.push_back(idx);
        if (corrupt)
          return Corrupt("label value table");
      }
    } else {
      for (uint32_t idx = ne.first; idx < ne.first + ne.count; ++idx) {
        uint32_t sym, off;
        std::string_view v;
        if (!ValueAt(idx, &sym, &off) || !Symbol(sym, &v))
          return Corrupt("label value table");
        if (m.Matches(v) == want_match)
          value_idx.push_back(idx);
      }
    }
    std::vector<uint32_t> ids;
    RETURN_IF_ERROR(UnionPostings(value_idx, &ids));
    if (want_match) {
      if (ids.empty())
        return std::vector<uint32_t>{};
      include.push_back(std::move(ids));
    } else if (!ids.empty()) {
      exclude.push_back(std::move(ids));
    }
  }
  std::vector<uint32_t> result;
  if (include.empty()) {
    result.resize(n_series_);
    for (uint32_t i = 0; i < n_series_; ++i)
      result[i] = i;
  } else {
    std::sort(include.begin(), include.end(),
              [](const auto& a, const auto& b) { return a.size() < b.size(); });
    result = std::move(include[0]);
    for (size_t i = 1; i < include.size() && !result.empty(); ++i) {
      internal::IntersectInto(&result, include[i]);
    }
  }
  for (const auto& ex : exclude) {
    if (result.empty())
      break;
    internal::SubtractInto(&result, ex);
  }
  return result;
}

absl::Status IndexReader::DecodeSeries(uint32_t id, int64_t from, int64_t through, bool with_labels,
                                       bool with_chunks, Scratch* scratch, Fingerprint* fp) const {
  scratch->labels.clear();
  scratch->chunks.clear();
  if (id >= n_series_)
    return Corrupt("series id out of range");
  const std::string_view series = sec_[internal::kSeries];
  uint32_t off = LoadU32(sec_[internal::kSeriesOffsets].data() + size_t{4} * id);
  if (off >= series.size())
    return Corrupt("series offset out of bounds");
  Decoder dec(series.substr(off));
  *fp = dec.U64();
  uint64_t nlabels = dec.Uvarint();
  if (nlabels > dec.remaining() / 2)
    return Corrupt("series label count");
  for (uint64_t i = 0; i < nlabels; ++i) {
    uint32_t n = dec.Uvarint32();
    uint32_t v = dec.Uvarint32();
    if (with_labels) {
      std::string_view ns, vs;
      if (!Symbol(n, &ns) || !Symbol(v, &vs))
        return Corrupt("series symbol ref");
      scratch->labels.emplace_back(ns, vs);
    }
  }
  if (!with_chunks)
    return dec.ok() ? absl::OkStatus() : Corrupt("series labels");
  uint64_t nchunks = dec.Uvarint();
  if (!dec.ok() || nchunks > dec.remaining() / kMinChunkBytes)
    return Corrupt("series entry");
  uint64_t prev_from = 0;
  for (uint64_t i = 0; i < nchunks; ++i) {
    uint64_t from_u = i == 0 ? static_cast<uint64_t>(dec.Varint()) : prev_from + dec.Uvarint();
    ChunkRef c;
    c.from_ns = static_cast<int64_t>(from_u);
    c.through_ns = static_cast<int64_t>(from_u + dec.Uvarint());
    c.checksum = dec.U32();
    c.size_bytes = dec.Uvarint32();
    c.entries = dec.Uvarint32();
    c.uncompressed_bytes = dec.Uvarint();
    if (!dec.ok())
      return Corrupt("chunk ref");
    prev_from = from_u;
    // Chunks are sorted by start: nothing after a chunk starting past the range can overlap.
    if (c.from_ns > through)
      break;
    if (c.through_ns >= from)
      scratch->chunks.push_back(c);
  }
  return absl::OkStatus();
}

absl::Status IndexReader::ForEachSeries(std::span<const Matcher> matchers, int64_t from,
                                        int64_t through, bool with_labels,
                                        absl::FunctionRef<void(const SeriesView&)> fn) const {
  if (from > through || n_series_ == 0 || from > max_time_ || through < min_time_) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<uint32_t> ids, PostingsForMatchers(matchers));
  Scratch scratch;
  SeriesView view;
  for (uint32_t id : ids) {
    RETURN_IF_ERROR(
        DecodeSeries(id, from, through, with_labels, true, &scratch, &view.fingerprint));
    if (scratch.chunks.empty())
      continue;
    view.id = id;
    view.labels = scratch.labels;
    view.chunks = scratch.chunks;
    fn(view);
  }
  return absl::OkStatus();
}

namespace {

Labels ToLabels(std::span<const std::pair<std::string_view, std::string_view>> in) {
  std::vector<Label> v;
  v.reserve(in.size());
  for (const auto& [n, val] : in)
    v.push_back(Label{std::string(n), std::string(val)});
  return Labels(std::move(v));
}

}  // namespace

absl::StatusOr<std::vector<SeriesInfo>> IndexReader::Series(std::span<const Matcher> matchers,
                                                            int64_t from, int64_t through) const {
  std::vector<SeriesInfo> out;
  RETURN_IF_ERROR(ForEachSeries(matchers, from, through, true, [&](const SeriesView& s) {
    out.push_back(SeriesInfo{ToLabels(s.labels), s.fingerprint});
  }));
  return out;
}

absl::StatusOr<std::vector<SeriesChunks>> IndexReader::ChunkRefs(std::span<const Matcher> matchers,
                                                                 int64_t from,
                                                                 int64_t through) const {
  std::vector<SeriesChunks> out;
  RETURN_IF_ERROR(ForEachSeries(matchers, from, through, true, [&](const SeriesView& s) {
    out.push_back(SeriesChunks{ToLabels(s.labels), s.fingerprint,
                               std::vector<ChunkRef>(s.chunks.begin(), s.chunks.end())});
  }));
  return out;
}

absl::StatusOr<IndexStats> IndexReader::Stats(std::span<const Matcher> matchers, int64_t from,
                                              int64_t through) const {
  IndexStats st;
  RETURN_IF_ERROR(ForEachSeries(matchers, from, through, false, [&](const SeriesView& s) {
    ++st.streams;
    for (const ChunkRef& c : s.chunks) {
      ++st.chunks;
      st.entries += c.entries;
      st.bytes += c.uncompressed_bytes;
    }
  }));
  return st;
}

absl::Status IndexReader::ForEachSelectedLabel(
    std::span<const Matcher> matchers, int64_t from, int64_t through,
    const std::vector<uint32_t>* ids,
    absl::FunctionRef<void(std::string_view, std::string_view)> fn) const {
  if (!CoversFile(from, through)) {
    return ForEachSeries(matchers, from, through, true, [&](const SeriesView& s) {
      for (const auto& [n, v] : s.labels)
        fn(n, v);
    });
  }
  // Every stored series has a chunk inside the file's span: no need to decode chunk refs.
  std::vector<uint32_t> own;
  if (ids == nullptr) {
    ASSIGN_OR_RETURN(own, PostingsForMatchers(matchers));
    ids = &own;
  }
  Scratch scratch;
  Fingerprint fp;
  for (uint32_t id : *ids) {
    RETURN_IF_ERROR(DecodeSeries(id, from, through, true, false, &scratch, &fp));
    for (const auto& [n, v] : scratch.labels)
      fn(n, v);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string_view>> IndexReader::LabelNames(
    std::span<const Matcher> matchers, int64_t from, int64_t through) const {
  std::vector<std::string_view> out;
  if (matchers.empty() && CoversFile(from, through)) {
    out.reserve(n_names_);
    for (uint32_t i = 0; i < n_names_; ++i) {
      std::string_view s;
      if (!Symbol(NameAt(i).name_sym, &s))
        return Corrupt("label name table");
      out.push_back(s);
    }
    return out;
  }
  // Distinct names of the selected series. Names are few, so a sorted vector of views is
  // cheaper than a hash set.
  RETURN_IF_ERROR(ForEachSelectedLabel(matchers, from, through, nullptr,
                                       [&](std::string_view n, std::string_view) {
                                         auto it = std::lower_bound(out.begin(), out.end(), n);
                                         if (it == out.end() || *it != n)
                                           out.insert(it, n);
                                       }));
  return out;
}

absl::StatusOr<std::vector<std::string_view>> IndexReader::LabelValues(
    std::string_view name, std::span<const Matcher> matchers, int64_t from, int64_t through) const {
  std::vector<std::string_view> out;
  NameEntry ne;
  bool corrupt = false;
  if (!FindName(name, &ne, &corrupt)) {
    if (corrupt)
      return Corrupt("label name table");
    return out;
  }
  auto value = [&](uint32_t idx, std::string_view* v, uint32_t* off) {
    uint32_t sym;
    return ValueAt(idx, &sym, off) && Symbol(sym, v);
  };
  const bool covers = CoversFile(from, through);
  if (matchers.empty() && covers) {
    out.reserve(ne.count);
    for (uint32_t idx = ne.first; idx < ne.first + ne.count; ++idx) {
      std::string_view v;
      uint32_t off;
      if (!value(idx, &v, &off))
        return Corrupt("label value table");
      out.push_back(v);
    }
    return out;
  }
  std::vector<uint32_t> ids;
  if (covers) {
    ASSIGN_OR_RETURN(ids, PostingsForMatchers(matchers));
    if (ne.count < ids.size()) {
      // Few values, many series (e.g. app under namespace="shop"): keep each value whose
      // postings meet the selection, without decoding any series.
      std::vector<uint32_t> list;
      for (uint32_t idx = ne.first; idx < ne.first + ne.count; ++idx) {
        std::string_view v;
        uint32_t off;
        if (!value(idx, &v, &off))
          return Corrupt("label value table");
        list.clear();
        RETURN_IF_ERROR(ReadPostings(off, &list));
        if (internal::Intersects(list, ids))
          out.push_back(v);
      }
      return out;
    }
  }
  RETURN_IF_ERROR(ForEachSelectedLabel(matchers, from, through, covers ? &ids : nullptr,
                                       [&](std::string_view n, std::string_view v) {
                                         if (n == name)
                                           out.push_back(v);
                                       }));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace norn::index
