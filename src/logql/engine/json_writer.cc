#include "logql/engine/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/spare_body.h"

namespace norn::logql_engine {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (Go's rules: no overlongs, no
// surrogates, max U+10FFFF).
size_t Utf8Len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = s.size() - i;
  if (c < 0x80)
    return 1;
  if (c < 0xC2)
    return 0;
  if (c < 0xE0)
    return n >= 2 && (b(i + 1) & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80)
      return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0)
      return 0;
    if (c == 0xED && b(i + 1) >= 0xA0)
      return 0;
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80 ||
        (b(i + 3) & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && b(i + 1) < 0x90)
      return 0;
    if (c == 0xF4 && b(i + 1) >= 0x90)
      return 0;
    return 4;
  }
  return 0;
}

class Out {
 public:
  Out(absl::FunctionRef<void(std::string_view)> write, size_t chunk)
      : write_(write), chunk_(chunk) {
    buf_.reserve(chunk + 1024);
  }
  std::string* buf() { return &buf_; }
  void Raw(std::string_view s) { buf_.append(s); }
  void MaybeFlush() {
    if (buf_.size() >= chunk_)
      Flush();
  }
  void Flush() {
    if (!buf_.empty())
      write_(buf_);
    buf_.clear();
  }

 private:
  absl::FunctionRef<void(std::string_view)> write_;
  size_t chunk_;
  std::string buf_;
};

void AppendLabels(std::string* out, const Labels& l) {
  out->push_back('{');
  bool first = true;
  for (const auto& lab : l) {
    if (!first)
      out->push_back(',');
    first = false;
    AppendGoJsonString(out, lab.name);
    out->push_back(':');
    AppendGoJsonString(out, lab.value);
  }
  out->push_back('}');
}

void AppendInt(std::string* out, int64_t v) {
  char tmp[24];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof(tmp), v);
  out->append(tmp, p);
}

void AppendPoint(std::string* out, const Point& p) {
  out->push_back('[');
  AppendPromTimestamp(out, p.t_ms);
  out->append(",\"");
  AppendPromValue(out, p.v);
  out->append("\"]");
}

void AppendStats(std::string* out, const QueryStats& s) {
  double secs = static_cast<double>(s.exec_time_ns) / 1e9;
  auto per_sec = [&](int64_t n) -> int64_t {
    return secs > 0 ? static_cast<int64_t>(static_cast<double>(n) / secs) : 0;
  };
  out->append("{\"summary\":{\"bytesProcessedPerSecond\":");
  AppendInt(out, per_sec(s.total_bytes_processed));
  out->append(",\"linesProcessedPerSecond\":");
  AppendInt(out, per_sec(s.total_lines_processed));
  out->append(",\"totalBytesProcessed\":");
  AppendInt(out, s.total_bytes_processed);
  out->append(",\"totalLinesProcessed\":");
  AppendInt(out, s.total_lines_processed);
  out->append(",\"execTime\":");
  AppendPromValue(out, secs);
  out->append(",\"queueTime\":0,\"subqueries\":0,\"totalEntriesReturned\":");
  AppendInt(out, s.total_entries_returned);
  const SourceStats& src = s.source;
  auto chunk = [out](const ChunkReadStats& c) {
    out->append("{\"headChunkBytes\":");
    AppendInt(out, c.head_chunk_bytes);
    out->append(",\"headChunkLines\":");
    AppendInt(out, c.head_chunk_lines);
    out->append(",\"decompressedBytes\":");
    AppendInt(out, c.decompressed_bytes);
    out->append(",\"decompressedLines\":");
    AppendInt(out, c.decompressed_lines);
    out->append(",\"compressedBytes\":");
    AppendInt(out, c.compressed_bytes);
    out->append(",\"totalDuplicates\":");
    AppendInt(out, c.total_duplicates);
    out->append("}");
  };
  out->append("},\"querier\":{\"store\":{\"totalChunksRef\":");
  AppendInt(out, src.store_chunks_ref);
  out->append(",\"totalChunksDownloaded\":");
  AppendInt(out, src.store_chunks_downloaded);
  out->append(",\"chunksDownloadTime\":");
  AppendInt(out, src.store_download_time_ns);
  out->append(",\"chunk\":");
  chunk(src.store_chunk);
  out->append("}},\"ingester\":{\"totalReached\":");
  AppendInt(out, src.ingester_total_reached);
  out->append(",\"totalChunksMatched\":");
  AppendInt(out, src.ingester_chunks_matched);
  out->append(",\"totalBatches\":");
  AppendInt(out, src.ingester_batches);
  out->append(",\"totalLinesSent\":");
  AppendInt(out, src.ingester_lines_sent);
  out->append(",\"store\":{\"chunk\":");
  chunk(src.ingester_chunk);
  out->append("}},\"cache\":{\"chunk\":{\"entriesFound\":");
  AppendInt(out, src.chunk_cache_entries_found);
  out->append(",\"entriesRequested\":");
  AppendInt(out, src.chunk_cache_entries_requested);
  out->append(",\"entriesStored\":0,\"bytesReceived\":");
  AppendInt(out, src.chunk_cache_bytes_received);
  out->append(",\"bytesSent\":");
  AppendInt(out, src.chunk_cache_bytes_sent);
  out->append(",\"requests\":");
  AppendInt(out, src.chunk_cache_requests);
  out->append("},\"index\":{\"entriesFound\":0,\"entriesRequested\":0,\"entriesStored\":0,"
              "\"bytesReceived\":0,\"bytesSent\":0,\"requests\":0},"
              "\"result\":{\"entriesFound\":0,\"entriesRequested\":0,\"entriesStored\":0,"
              "\"bytesReceived\":0,\"bytesSent\":0,\"requests\":0}}}");
}

#if defined(__SSE2__)
// Bit k set when byte k of `v` needs a look: a control byte, a non-ASCII byte, or one of
// " \\ < > &.
inline unsigned SpecialMask(__m128i v) {
  // Signed compare: bytes >= 0x80 are negative, so this also flags non-ASCII.
  __m128i special = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
  special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
  special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('<')));
  special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('>')));
  special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('&')));
  return static_cast<unsigned>(_mm_movemask_epi8(special));
}
#endif

// Writes the encoding of the byte(s) at s[*i] that SpecialMask flags, or of a plain byte, at
// *w; advances both.
inline void EncodeAt(std::string_view s, size_t* i, char** w) {
  const unsigned char c = static_cast<unsigned char>(s[*i]);
  char* o = *w;
  if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
    *o++ = static_cast<char>(c);
    ++*i;
  } else if (c >= 0x80) {
    const size_t n = Utf8Len(s, *i);
    if (n == 0) {
      std::memcpy(o, "\\ufffd", 6);
      o += 6;
      ++*i;
    } else if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[*i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[*i + 2]) & 0xFE) == 0xA8) {
      // U+2028 / U+2029 are escaped by Go (E2 80 A8 / E2 80 A9).
      std::memcpy(o, static_cast<unsigned char>(s[*i + 2]) == 0xA8 ? "\\u2028" : "\\u2029", 6);
      o += 6;
      *i += 3;
    } else {
      std::memcpy(o, s.data() + *i, n);
      o += n;
      *i += n;
    }
  } else {
    *o++ = '\\';
    switch (c) {
      case '"':
        *o++ = '"';
        break;
      case '\\':
        *o++ = '\\';
        break;
      case '\n':
        *o++ = 'n';
        break;
      case '\r':
        *o++ = 'r';
        break;
      case '\t':
        *o++ = 't';
        break;
      default:
        std::memcpy(o, "u00", 3);
        o[3] = kHex[c >> 4];
        o[4] = kHex[c & 15];
        o += 5;
    }
    ++*i;
  }
  *w = o;
}

}  // namespace

void AppendGoJsonString(std::string* out, std::string_view s) {
  // Encoded into a scratch buffer through a pointer (an escape is at most 6 bytes per input
  // byte; 16 more for the copies below that may run past the end), then appended at once:
  // JSON log lines hold a quote every few bytes, and escaping each with string appends was
  // most of the time of encoding a log query's answer.
  thread_local std::string scratch;
  const size_t need = 6 * s.size() + 2 + 16;
  if (scratch.size() < need)
    scratch.resize(std::max(need, 2 * scratch.size()));
  char* w = scratch.data();
  *w++ = '"';
  size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes a step: plain bytes are copied as they are. A step's quotes and backslashes (JSON
  // lines hold one every few bytes) are escaped in place, each followed by a 16-byte copy of
  // what comes after it, instead of starting a new step at every one, as long as that copy
  // stays within `s`; any other special byte, or one near the end, goes to EncodeAt.
  while (i + 16 <= s.size()) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
    unsigned mask = SpecialMask(v);
    size_t done = 0;  // bytes of the step written
    while (mask != 0) {
      const size_t k = static_cast<size_t>(__builtin_ctz(mask));
      const char c = s[i + k];
      if ((c != '"' && c != '\\') || i + k + 1 + 16 > s.size())
        break;
      // Bytes [done, k) are already in place from the last copy.
      w += k - done;
      *w++ = '\\';
      *w++ = c;
      done = k + 1;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(w),
                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i + done)));
      mask &= mask - 1;
    }
    if (mask == 0) {
      w += 16 - done;
      i += 16;
      continue;
    }
    const size_t k = static_cast<size_t>(__builtin_ctz(mask));
    w += k - done;
    i += k;
    EncodeAt(s, &i, &w);
  }
#endif
  while (i < s.size())
    EncodeAt(s, &i, &w);
  *w++ = '"';
  out->append(scratch.data(), static_cast<size_t>(w - scratch.data()));
}

void AppendPromValue(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char tmp[400];
  double a = std::fabs(v);
  std::chars_format fmt = (a != 0 && (a < 1e-6 || a >= 1e21)) ? std::chars_format::scientific
                                                              : std::chars_format::fixed;
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof(tmp), v, fmt);
  out->append(tmp, p);
}

void AppendPromTimestamp(std::string* out, int64_t t_ms) {
  if (t_ms < 0) {
    out->push_back('-');
    t_ms = -t_ms;
  }
  AppendInt(out, t_ms / 1000);
  int64_t frac = t_ms % 1000;
  if (frac != 0) {
    out->push_back('.');
    if (frac < 100)
      out->push_back('0');
    if (frac < 10)
      out->push_back('0');
    AppendInt(out, frac);
  }
}

void WriteQueryResponse(const QueryResult& r, absl::FunctionRef<void(std::string_view)> write,
                        size_t chunk_bytes) {
  Out o(write, chunk_bytes);
  std::string* b = o.buf();
  b->append("{\"status\":\"success\",\"data\":{\"resultType\":\"");
  b->append(ResultTypeName(r.type));
  b->append("\",\"result\":");
  switch (r.type) {
    case ResultType::kStreams: {
      b->push_back('[');
      for (size_t i = 0; i < r.streams.size(); ++i) {
        if (i)
          b->push_back(',');
        const Stream& s = r.streams[i];
        b->append("{\"stream\":");
        AppendLabels(b, s.labels);
        b->append(",\"values\":[");
        for (size_t j = 0; j < s.entries.size(); ++j) {
          if (j)
            b->push_back(',');
          b->append("[\"");
          AppendInt(b, s.entries[j].ts_ns);
          b->append("\",");
          AppendGoJsonString(b, s.entries[j].line);
          b->push_back(']');
          o.MaybeFlush();
        }
        b->append("]}");
      }
      b->push_back(']');
      break;
    }
    case ResultType::kMatrix: {
      b->push_back('[');
      for (size_t i = 0; i < r.matrix.size(); ++i) {
        if (i)
          b->push_back(',');
        const Series& s = r.matrix[i];
        b->append("{\"metric\":");
        AppendLabels(b, s.metric);
        b->append(",\"values\":[");
        for (size_t j = 0; j < s.points.size(); ++j) {
          if (j)
            b->push_back(',');
          AppendPoint(b, s.points[j]);
        }
        b->append("]}");
        o.MaybeFlush();
      }
      b->push_back(']');
      break;
    }
    case ResultType::kVector: {
      b->push_back('[');
      for (size_t i = 0; i < r.vector.size(); ++i) {
        if (i)
          b->push_back(',');
        b->append("{\"metric\":");
        AppendLabels(b, r.vector[i].metric);
        b->append(",\"value\":");
        AppendPoint(b, r.vector[i].point);
        b->push_back('}');
        o.MaybeFlush();
      }
      b->push_back(']');
      break;
    }
    case ResultType::kScalar:
      AppendPoint(b, r.scalar);
      break;
  }
  b->append(",\"stats\":");
  AppendStats(b, r.stats);
  b->append("}}");
  o.Flush();
}

std::string RenderQueryResponse(const QueryResult& r) {
  // Sized for the lines up front: a log query's answer of a few hundred KB grown by doubling
  // copied and page-faulted its bytes about twice over.
  size_t estimate = 4096;
  for (const Stream& s : r.streams) {
    for (const StreamEntry& e : s.entries)
      estimate += e.line.size() + 32;  // ts, quotes, commas
  }
  std::string out = TakeSpareBody();     // the server gives it back once written
  out.reserve(estimate + estimate / 4);  // escapes (quotes of JSON lines)
  WriteQueryResponse(r, [&](std::string_view s) { out.append(s); });
  return out;
}

}  // namespace norn::logql_engine
