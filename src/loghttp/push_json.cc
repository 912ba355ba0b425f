// Loki JSON push decoding with simdjson (DOM). Strings come out of simdjson unescaped into the
// parsed document's string buffer, so the ones we keep (lines, metadata, legacy label texts) are
// copied once into the request's arena; JSON is the slower path anyway (protobuf is what Promtail,
// Alloy and the Loki clients send by default).

#include <simdjson.h>

#include <charconv>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "loghttp/push_request.h"

namespace norn::loghttp {
namespace {

// The DOM API dispatches to the best SIMD kernel at run time; On-Demand would be pinned to
// the baseline (scalar) kernel by our portable compile flags.
namespace dom = simdjson::dom;

// Parsers keep their buffers between requests; very large bodies get a one-off parser so a
// thread does not hold on to a huge allocation.
constexpr size_t kReusableParserCapacity = 16 << 20;

absl::Status JsonError(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid push request JSON: ", AV(what)));
}
absl::Status JsonError(simdjson::error_code code) {
  return JsonError(simdjson::error_message(code));
}

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no overflow.
bool ParseNanos(std::string_view s, int64_t* out) {
  if (!s.empty() && s[0] == '+')
    s.remove_prefix(1);
  if (s.empty() || s[0] == '+')
    return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, 10);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Go's time.Time JSON form: RFC 3339 with optional fractional seconds.
bool ParseRfc3339(std::string_view s, int64_t* out) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, AV(s), &t, &err))
    return false;
  // Go's UnixNano is undefined outside int64; reject instead of wrapping.
  if (t < absl::FromUnixNanos(std::numeric_limits<int64_t>::min()) ||
      t > absl::FromUnixNanos(std::numeric_limits<int64_t>::max())) {
    return false;
  }
  *out = absl::ToUnixNanos(t);
  return true;
}

class JsonDecoder {
 public:
  explicit JsonDecoder(PushRequest* req) : req_(req) {}

  absl::Status Decode(dom::element root) {
    dom::object top;
    if (root.get_object().get(top))
      return JsonError("body must be a JSON object");
    for (auto [key, value] : top) {
      if (key != "streams" || value.is_null())
        continue;
      dom::array streams;
      if (value.get_array().get(streams))
        return JsonError("\"streams\" must be an array");
      for (dom::element s : streams) {
        if (absl::Status st = DecodeStream(s); !st.ok())
          return st;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status DecodeStream(dom::element sv) {
    dom::object obj;
    if (sv.get_object().get(obj))
      return JsonError("each element of \"streams\" must be an object");
    PushStream& stream = req_->streams.emplace_back();
    size_t index = req_->streams.size() - 1;
    for (auto [key, v] : obj) {
      if (key == "stream") {
        dom::object labels;
        if (v.get_object().get(labels)) {
          return JsonError(absl::StrCat("streams[", index, "].stream must be an object"));
        }
        std::vector<Label> pairs;
        pairs.reserve(labels.size());
        for (auto [name, lv] : labels) {
          std::string_view value;
          if (lv.get_string().get(value)) {
            return JsonError(absl::StrCat("streams[", index, "].stream: value of label \"",
                                          AV(name), "\" must be a string"));
          }
          pairs.push_back(Label{std::string(name), std::string(value)});
        }
        stream.labels = Labels(std::move(pairs));
      } else if (key == "labels") {
        std::string_view text;
        if (v.get_string().get(text)) {
          return JsonError(absl::StrCat("streams[", index, "].labels must be a string"));
        }
        stream.labels_text = req_->arena().Copy(text);
      } else if (key == "values") {
        if (absl::Status s = DecodeValues(stream, index, v); !s.ok())
          return s;
      } else if (key == "entries") {
        if (absl::Status s = DecodeLegacyEntries(stream, index, v); !s.ok())
          return s;
      }
    }
    if (!stream.labels.has_value() && stream.labels_text.empty()) {
      return JsonError(absl::StrCat("streams[", index,
                                    "] has no labels: set \"stream\": {\"name\": \"value\", ...}"));
    }
    return absl::OkStatus();
  }

  // [["<unix ns>", "<line>"], ["<unix ns>", "<line>", {"name": "value"}], ...]
  absl::Status DecodeValues(PushStream& stream, size_t index, dom::element v) {
    if (v.is_null())
      return absl::OkStatus();
    dom::array values;
    if (v.get_array().get(values)) {
      return JsonError(absl::StrCat("streams[", index, "].values must be an array"));
    }
    stream.entries.reserve(values.size());
    size_t i = 0;
    for (dom::element e : values) {
      dom::array tuple;
      if (e.get_array().get(tuple)) {
        return JsonError(absl::StrCat("streams[", index, "].values[", i,
                                      "] must be an array [\"<unix epoch ns>\", \"<line>\"]"));
      }
      int64_t ts = 0;
      std::string_view line;
      uint32_t md_offset = req_->metadata_size();
      size_t n = 0;
      for (dom::element iv : tuple) {
        if (n == 0) {
          std::string_view s;
          if (iv.get_string().get(s)) {
            return JsonError(absl::StrCat("streams[", index, "].values[", i,
                                          "]: timestamp must be a string of unix epoch "
                                          "nanoseconds, e.g. \"1700000000000000000\""));
          }
          if (!ParseNanos(s, &ts)) {
            return JsonError(absl::StrCat("streams[", index, "].values[", i,
                                          "]: invalid timestamp \"", AV(s),
                                          "\": want unix epoch nanoseconds"));
          }
        } else if (n == 1) {
          std::string_view s;
          if (iv.get_string().get(s)) {
            return JsonError(
                absl::StrCat("streams[", index, "].values[", i, "]: log line must be a string"));
          }
          line = req_->arena().Copy(s);
        } else if (n == 2) {
          if (absl::Status s = DecodeMetadataObject(iv, index, i); !s.ok())
            return s;
        } else {
          return JsonError(absl::StrCat("streams[", index, "].values[", i,
                                        "]: at most 3 items allowed (timestamp, line, "
                                        "structured metadata)"));
        }
        ++n;
      }
      if (n < 2) {
        return JsonError(absl::StrCat("streams[", index, "].values[", i,
                                      "]: want [\"<unix epoch ns>\", \"<line>\"]"));
      }
      req_->AddEntry(stream, ts, line, md_offset);
      ++i;
    }
    return absl::OkStatus();
  }

  absl::Status DecodeMetadataObject(dom::element v, size_t index, size_t i) {
    dom::object md;
    if (v.get_object().get(md)) {
      return JsonError(absl::StrCat("streams[", index, "].values[", i,
                                    "]: structured metadata must be an object of strings"));
    }
    for (auto [name, mv] : md) {
      std::string_view value;
      if (mv.get_string().get(value)) {
        return JsonError(absl::StrCat("streams[", index, "].values[", i,
                                      "]: structured metadata value of \"", AV(name),
                                      "\" must be a string"));
      }
      req_->AddMetadata(req_->arena().Copy(name), req_->arena().Copy(value));
    }
    return absl::OkStatus();
  }

  // Legacy: [{"ts": "<RFC3339>", "line": "..."}, ...]
  absl::Status DecodeLegacyEntries(PushStream& stream, size_t index, dom::element v) {
    if (v.is_null())
      return absl::OkStatus();
    dom::array entries;
    if (v.get_array().get(entries)) {
      return JsonError(absl::StrCat("streams[", index, "].entries must be an array"));
    }
    stream.entries.reserve(entries.size());
    size_t i = 0;
    for (dom::element e : entries) {
      dom::object obj;
      if (e.get_object().get(obj)) {
        return JsonError(absl::StrCat("streams[", index, "].entries[", i,
                                      "] must be an object {\"ts\": ..., \"line\": ...}"));
      }
      int64_t ts = 0;
      std::string_view line;
      uint32_t md_offset = req_->metadata_size();
      for (auto [key, fv] : obj) {
        if (key == "ts" || key == "timestamp") {
          std::string_view s;
          if (fv.get_string().get(s) || !ParseRfc3339(s, &ts)) {
            return JsonError(absl::StrCat("streams[", index, "].entries[", i,
                                          "].ts must be an RFC3339 time string, e.g. "
                                          "\"2024-01-02T15:04:05.123456789Z\""));
          }
        } else if (key == "line") {
          std::string_view s;
          if (fv.get_string().get(s)) {
            return JsonError(
                absl::StrCat("streams[", index, "].entries[", i, "].line must be a string"));
          }
          line = req_->arena().Copy(s);
        } else if (key == "structuredMetadata") {
          if (absl::Status s = DecodeLegacyMetadata(fv, index, i); !s.ok())
            return s;
        }
      }
      req_->AddEntry(stream, ts, line, md_offset);
      ++i;
    }
    return absl::OkStatus();
  }

  // logproto's JSON for structured metadata: [{"name": "..", "value": ".."}]; an object of
  // strings is accepted too.
  absl::Status DecodeLegacyMetadata(dom::element v, size_t index, size_t i) {
    if (v.is_null())
      return absl::OkStatus();
    if (v.is_object())
      return DecodeMetadataObject(v, index, i);
    dom::array arr;
    if (v.get_array().get(arr)) {
      return JsonError(absl::StrCat("streams[", index, "].entries[", i,
                                    "].structuredMetadata must be an array of {name, value}"));
    }
    for (dom::element p : arr) {
      dom::object obj;
      if (p.get_object().get(obj)) {
        return JsonError(absl::StrCat("streams[", index, "].entries[", i,
                                      "].structuredMetadata items must be {name, value}"));
      }
      std::string_view name, value;
      for (auto [key, pv] : obj) {
        if (key != "name" && key != "value")
          continue;
        std::string_view s;
        if (pv.get_string().get(s)) {
          return JsonError(absl::StrCat("streams[", index, "].entries[", i,
                                        "].structuredMetadata: ", AV(key), " must be a string"));
        }
        (key == "name" ? name : value) = req_->arena().Copy(s);
      }
      req_->AddMetadata(name, value);
    }
    return absl::OkStatus();
  }

  PushRequest* req_;
};

}  // namespace

absl::StatusOr<PushRequest> DecodeJsonPush(std::string_view body) {
  thread_local dom::parser reusable;
  dom::parser one_off;
  dom::parser& parser = body.size() <= kReusableParserCapacity ? reusable : one_off;
  dom::element root;
  if (simdjson::error_code err = parser.parse(body.data(), body.size()).get(root)) {
    return JsonError(err);
  }
  PushRequest req;
  JsonDecoder dec(&req);
  if (absl::Status s = dec.Decode(root); !s.ok())
    return s;
  req.Finish();
  return req;
}

}  // namespace norn::loghttp
