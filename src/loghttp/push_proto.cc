// Loki protobuf push decoding (logproto.PushRequest, see proto/push.proto) straight from the
// wire into PushRequest views: no per-entry allocation beyond the entries vector, no line copies.

#include <snappy.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "loghttp/push_request.h"
#include "loghttp/wire.h"

namespace norn::loghttp {
namespace {

using internal::WireReader;

// Loki's entries carry gogoproto stdtime timestamps, whose conversion rejects seconds outside
// [0001-01-01, 10000-01-01) and nanos outside [0, 1e9). We also reject what does not fit int64
// nanoseconds (years before 1678 or after 2262), which Go would silently wrap.
constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxSeconds = 253402300800;  // 10000-01-01T00:00:00Z

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid protobuf push request: ", AV(what)));
}

bool TimestampToNanos(int64_t seconds, int64_t nanos, int64_t* out, std::string* err) {
  if (seconds < kMinSeconds || seconds >= kMaxSeconds) {
    *err = absl::StrCat("timestamp seconds ", seconds, " out of range");
    return false;
  }
  if (nanos < 0 || nanos >= 1000000000) {
    *err = absl::StrCat("timestamp nanos ", nanos, " out of range");
    return false;
  }
  if (__builtin_mul_overflow(seconds, int64_t{1000000000}, out) ||
      __builtin_add_overflow(*out, nanos, out)) {
    *err = absl::StrCat("timestamp ", seconds, "s does not fit in int64 nanoseconds");
    return false;
  }
  return true;
}

class ProtoDecoder {
 public:
  explicit ProtoDecoder(PushRequest* req) : req_(req) {}

  absl::Status Decode(std::string_view data) {
    WireReader r(data);
    uint32_t field, wt;
    while (r.Next(&field, &wt)) {
      if (field == 1 && wt == internal::kLengthDelimited) {
        std::string_view stream;
        if (!r.ReadBytes(&stream))
          break;
        if (absl::Status s = DecodeStream(stream); !s.ok())
          return s;
      } else if (!r.Skip(wt)) {
        break;
      }
    }
    if (!r.ok())
      return Malformed("truncated or corrupt message");
    return absl::OkStatus();
  }

 private:
  absl::Status DecodeStream(std::string_view data) {
    // Entries can precede the labels on the wire; count them first so the vector is allocated
    // once, then decode.
    PushStream& stream = req_->streams.emplace_back();
    size_t n_entries = 0;
    {
      WireReader r(data);
      uint32_t field, wt;
      while (r.Next(&field, &wt)) {
        if (field == 2 && wt == internal::kLengthDelimited)
          ++n_entries;
        if (!r.Skip(wt))
          break;
      }
      if (!r.ok())
        return Malformed("truncated or corrupt stream");
    }
    stream.entries.reserve(n_entries);
    WireReader r(data);
    uint32_t field, wt;
    while (r.Next(&field, &wt)) {
      if (field == 1 && wt == internal::kLengthDelimited) {
        if (!r.ReadBytes(&stream.labels_text))
          break;
      } else if (field == 2 && wt == internal::kLengthDelimited) {
        std::string_view entry;
        if (!r.ReadBytes(&entry))
          break;
        if (absl::Status s = DecodeEntry(stream, entry); !s.ok())
          return s;
      } else if (!r.Skip(wt)) {  // hash (3) and anything newer
        break;
      }
    }
    if (!r.ok())
      return Malformed("truncated or corrupt stream");
    return absl::OkStatus();
  }

  absl::Status DecodeEntry(PushStream& stream, std::string_view data) {
    int64_t seconds = 0, nanos = 0;
    std::string_view line;
    uint32_t md_offset = req_->metadata_size();
    WireReader r(data);
    uint32_t field, wt;
    while (r.Next(&field, &wt)) {
      if (field == 1 && wt == internal::kLengthDelimited) {
        std::string_view ts;
        if (!r.ReadBytes(&ts))
          break;
        // Repeated occurrences merge field by field, as protobuf does.
        WireReader t(ts);
        uint32_t tf, twt;
        uint64_t v;
        while (t.Next(&tf, &twt)) {
          if (tf == 1 && twt == internal::kVarint) {
            if (!t.ReadVarint(&v))
              break;
            seconds = static_cast<int64_t>(v);
          } else if (tf == 2 && twt == internal::kVarint) {
            if (!t.ReadVarint(&v))
              break;
            nanos = static_cast<int32_t>(v);  // int32 field: truncation is protobuf's rule.
          } else if (!t.Skip(twt)) {
            break;
          }
        }
        if (!t.ok())
          return Malformed("truncated or corrupt entry timestamp");
      } else if (field == 2 && wt == internal::kLengthDelimited) {
        if (!r.ReadBytes(&line))
          break;
      } else if (field == 3 && wt == internal::kLengthDelimited) {
        std::string_view pair;
        if (!r.ReadBytes(&pair))
          break;
        std::string_view name, value;
        WireReader p(pair);
        uint32_t pf, pwt;
        while (p.Next(&pf, &pwt)) {
          if (pf == 1 && pwt == internal::kLengthDelimited) {
            if (!p.ReadBytes(&name))
              break;
          } else if (pf == 2 && pwt == internal::kLengthDelimited) {
            if (!p.ReadBytes(&value))
              break;
          } else if (!p.Skip(pwt)) {
            break;
          }
        }
        if (!p.ok())
          return Malformed("truncated or corrupt structured metadata");
        req_->AddMetadata(name, value);
      } else if (!r.Skip(wt)) {
        break;
      }
    }
    if (!r.ok())
      return Malformed("truncated or corrupt entry");
    int64_t ts;
    std::string err;
    if (!TimestampToNanos(seconds, nanos, &ts, &err)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid protobuf push request: entry for stream '", AV(stream.labels_text), "': ", err));
    }
    req_->AddEntry(stream, ts, line, md_offset);
    return absl::OkStatus();
  }

  PushRequest* req_;
};

absl::StatusOr<PushRequest> DecodeOwned(PushRequest req, std::string_view raw) {
  ProtoDecoder dec(&req);
  if (absl::Status s = dec.Decode(raw); !s.ok())
    return s;
  req.Finish();
  return req;
}

}  // namespace

absl::StatusOr<PushRequest> DecodeProtobufPush(std::string_view snappy_body) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(snappy_body.data(), snappy_body.size(), &n)) {
    return absl::InvalidArgumentError(
        "failed to decompress snappy body: not snappy block data (protobuf push bodies must be "
        "snappy-compressed; send JSON with Content-Type: application/json)");
  }
  PushRequest req;
  char* buf = req.arena().Allocate(n);
  if (!snappy::RawUncompress(snappy_body.data(), snappy_body.size(), buf)) {
    return absl::InvalidArgumentError("failed to decompress snappy body: corrupt data");
  }
  return DecodeOwned(std::move(req), std::string_view(buf, n));
}

absl::StatusOr<PushRequest> DecodeUncompressedProtobufPush(std::string raw) {
  PushRequest req;
  std::string_view view = req.arena().Adopt(std::move(raw));
  return DecodeOwned(std::move(req), view);
}

}  // namespace norn::loghttp
