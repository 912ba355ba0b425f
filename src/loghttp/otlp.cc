#include "loghttp/otlp.h"

#include <lz4frame.h>
#include <simdjson.h>
#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log_level.h"
#include "common/strings.h"
#include "loghttp/wire.h"

namespace norn::loghttp {

// ---------------------------------------------------------------------------------------------
// Configuration.

const OtlpConfig& OtlpConfig::Default() {
  static const OtlpConfig* config = new OtlpConfig{
      .index_label_attributes =
          {
              "service.name",
              "service.namespace",
              "service.instance.id",
              "deployment.environment",
              "deployment.environment.name",
              "cloud.region",
              "cloud.availability_zone",
              "k8s.cluster.name",
              "k8s.namespace.name",
              "k8s.pod.name",
              "k8s.container.name",
              "container.name",
              "k8s.replicaset.name",
              "k8s.deployment.name",
              "k8s.statefulset.name",
              "k8s.daemonset.name",
              "k8s.cronjob.name",
              "k8s.job.name",
          },
      .discover_service_name =
          {
              "service",
              "app",
              "application",
              "app_name",
              "name",
              "app_kubernetes_io_name",
              "container",
              "container_name",
              "k8s_container_name",
              "component",
              "workload",
              "job",
              "k8s_job_name",
          },
  };
  return *config;
}

namespace internal {

std::string NormalizeOtlpLabelName(std::string_view name) {
  std::string out;
  if (name.empty())
    return out;
  out.reserve(name.size() + 4);
  size_t i = 0;
  while (i < name.size()) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      out.push_back(ok ? static_cast<char>(c) : '_');
      ++i;
      continue;
    }
    // One '_' per rune; an invalid byte counts as one rune, as in Go.
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (i + len > name.size())
      len = 1;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(name[i + k]) & 0xC0) != 0x80) {
        len = 1;
        break;
      }
    }
    out.push_back('_');
    i += len;
  }
  if (out[0] >= '0' && out[0] <= '9') {
    out.insert(0, "key_");
  } else if (out[0] == '_' && (out.size() < 2 || out[1] != '_')) {
    out.insert(0, "key");
  }
  return out;
}

void AppendGoFloat(std::string* out, double d) {
  // Shortest round-trip digits from to_chars in scientific form, laid out the way Go's
  // strconv does: 'f' (digits padded with zeros, never the exact binary expansion that
  // std::chars_format::fixed would print) or 'e' for very small and very large magnitudes.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  if (!std::isfinite(d)) {
    out->append(sci);
    return;
  }
  double a = std::fabs(d);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    size_t n = sci.size();
    // "1e-07" -> "1e-7", as Go's encoder does.
    if (n >= 4 && sci[n - 4] == 'e' && sci[n - 3] == '-' && sci[n - 2] == '0') {
      out->append(sci.substr(0, n - 2));
      out->push_back(sci[n - 1]);
    } else {
      out->append(sci);
    }
    return;
  }
  if (sci[0] == '-') {
    out->push_back('-');
    sci.remove_prefix(1);
  }
  size_t epos = sci.find('e');
  int exp = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+'), sci.data() + sci.size(), exp);
  std::string digits;
  for (char c : sci.substr(0, epos)) {
    if (c != '.')
      digits.push_back(c);
  }
  if (digits == "0") {
    out->push_back('0');
    return;
  }
  if (exp >= 0) {
    size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out->append(digits);
      out->append(int_len - digits.size(), '0');
    } else {
      out->append(digits, 0, int_len);
      out->push_back('.');
      out->append(digits, int_len, std::string::npos);
    }
  } else {
    out->append("0.");
    out->append(static_cast<size_t>(-exp - 1), '0');
    out->append(digits);
  }
}

}  // namespace internal

namespace {

using internal::WireReader;

// ---------------------------------------------------------------------------------------------
// Decoded OTLP values. Strings view the request body (protobuf) or the JSON parser's buffer.

struct KeyValue;

struct AnyValue {
  enum class Kind : uint8_t { kEmpty, kString, kBool, kInt, kDouble, kBytes, kArray, kKvList };
  Kind kind = Kind::kEmpty;
  std::string_view str;  // kString, or raw bytes for kBytes
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::vector<AnyValue> array;
  std::vector<KeyValue> kvlist;

  void Reset() {
    kind = Kind::kEmpty;
    str = {};
    array.clear();
    kvlist.clear();
  }
};

struct KeyValue {
  std::string_view key;
  AnyValue value;
};

struct LogRecordView {
  uint64_t time_unix_nano = 0;
  uint64_t observed_time_unix_nano = 0;
  int32_t severity_number = 0;
  std::string_view severity_text;
  AnyValue body;
  std::vector<KeyValue> attributes;
  uint32_t dropped_attributes_count = 0;
  uint32_t flags = 0;
  std::string_view trace_id;  // raw bytes: 16 or empty
  std::string_view span_id;   // raw bytes: 8 or empty

  void Reset() {
    time_unix_nano = observed_time_unix_nano = 0;
    severity_number = 0;
    severity_text = {};
    body.Reset();
    attributes.clear();
    dropped_attributes_count = flags = 0;
    trace_id = span_id = {};
  }
};

constexpr int kMaxNesting = 64;

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid OTLP logs request: ", AV(what)));
}

// ---------------------------------------------------------------------------------------------
// Value to string, as Go's pdata Value.AsString() (which Loki uses for labels, metadata and
// non-string bodies).

void AppendGoJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xf]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Validate one UTF-8 sequence; invalid bytes become U+FFFD as in Go.
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    }
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        valid = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (valid) {
      if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
          (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        valid = false;
      }
    }
    if (!valid) {
      out->append("\\ufffd");
      ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      out->append(cp == 0x2028 ? "\\u2028" : "\\u2029");
    } else {
      out->append(s.substr(i, len));
    }
    i += len;
  }
  out->push_back('"');
}

std::string Base64(std::string_view raw) {
  std::string out;
  absl::Base64Escape(AV(raw), &out);
  return out;
}

// JSON encoding of a value as Go's encoding/json does for pdata's AsRaw(): maps with sorted
// keys (last duplicate wins), bytes as base64 strings. False when a NaN/Inf makes Go fail.
bool AppendJson(std::string* out, const AnyValue& v, int depth) {
  if (depth > kMaxNesting)
    return false;
  switch (v.kind) {
    case AnyValue::Kind::kEmpty:
      out->append("null");
      return true;
    case AnyValue::Kind::kString:
      AppendGoJsonString(out, v.str);
      return true;
    case AnyValue::Kind::kBool:
      out->append(v.b ? "true" : "false");
      return true;
    case AnyValue::Kind::kInt:
      absl::StrAppend(out, v.i);
      return true;
    case AnyValue::Kind::kDouble:
      if (!std::isfinite(v.d))
        return false;
      internal::AppendGoFloat(out, v.d);
      return true;
    case AnyValue::Kind::kBytes:
      AppendGoJsonString(out, Base64(v.str));
      return true;
    case AnyValue::Kind::kArray:
      out->push_back('[');
      for (size_t i = 0; i < v.array.size(); ++i) {
        if (i > 0)
          out->push_back(',');
        if (!AppendJson(out, v.array[i], depth + 1))
          return false;
      }
      out->push_back(']');
      return true;
    case AnyValue::Kind::kKvList: {
      std::vector<const KeyValue*> kvs;
      kvs.reserve(v.kvlist.size());
      for (const KeyValue& kv : v.kvlist)
        kvs.push_back(&kv);
      std::stable_sort(kvs.begin(), kvs.end(),
                       [](const KeyValue* a, const KeyValue* b) { return a->key < b->key; });
      out->push_back('{');
      bool first = true;
      for (size_t i = 0; i < kvs.size(); ++i) {
        if (i + 1 < kvs.size() && kvs[i + 1]->key == kvs[i]->key)
          continue;  // last wins
        if (!first)
          out->push_back(',');
        first = false;
        AppendGoJsonString(out, kvs[i]->key);
        out->push_back(':');
        if (!AppendJson(out, kvs[i]->value, depth + 1))
          return false;
      }
      out->push_back('}');
      return true;
    }
  }
  return false;
}

// pdata Value.AsString() for non-string kinds (strings are used as they are).
std::string AsString(const AnyValue& v) {
  std::string out;
  switch (v.kind) {
    case AnyValue::Kind::kEmpty:
      break;
    case AnyValue::Kind::kString:
      out.assign(v.str);
      break;
    case AnyValue::Kind::kBool:
      out = v.b ? "true" : "false";
      break;
    case AnyValue::Kind::kInt:
      absl::StrAppend(&out, v.i);
      break;
    case AnyValue::Kind::kDouble:
      if (std::isnan(v.d)) {
        out = "json: unsupported value: NaN";
      } else if (std::isinf(v.d)) {
        out = v.d > 0 ? "json: unsupported value: +Inf" : "json: unsupported value: -Inf";
      } else {
        internal::AppendGoFloat(&out, v.d);
      }
      break;
    case AnyValue::Kind::kBytes:
      out = Base64(v.str);
      break;
    case AnyValue::Kind::kArray:
    case AnyValue::Kind::kKvList:
      if (!AppendJson(&out, v, 0))
        out.clear();
      break;
  }
  return out;
}

bool IsAllZero(std::string_view raw) {
  return std::all_of(raw.begin(), raw.end(), [](char c) { return c == 0; });
}

std::string Hex(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mapping onto Loki streams (shared by the protobuf and JSON front ends).

class OtlpMapper {
 public:
  OtlpMapper(PushRequest* req, const OtlpConfig& config, int64_t now_ns, bool stable_strings)
      : req_(req), config_(config), now_ns_(now_ns), stable_(stable_strings) {}

  absl::Status BeginResource(std::span<const KeyValue> attrs) {
    std::vector<Label> labels;
    resource_md_.clear();
    bool has_service_name = false;
    for (const KeyValue& kv : attrs) {
      if (kv.key == "service.name" && !AsString(kv.value).empty())
        has_service_name = true;
    }
    bool discover = !has_service_name && !config_.discover_service_name.empty();
    std::string discovered;
    bool found = false;
    for (const KeyValue& kv : attrs) {
      bool index =
          std::find(config_.index_label_attributes.begin(), config_.index_label_attributes.end(),
                    kv.key) != config_.index_label_attributes.end();
      if (!index) {
        Flatten(kv.key, kv.value, {}, &resource_md_, 0);
        continue;
      }
      std::vector<LabelView> flat;
      Flatten(kv.key, kv.value, {}, &flat, 0);
      for (const LabelView& l : flat) {
        labels.push_back(Label{std::string(l.name), std::string(l.value)});
        if (discover && !found &&
            std::find(config_.discover_service_name.begin(), config_.discover_service_name.end(),
                      l.name) != config_.discover_service_name.end()) {
          discovered = std::string(l.value);
          found = true;
        }
      }
    }
    if (discover)
      labels.push_back(Label{"service_name", found ? discovered : "unknown_service"});
    Labels set(std::move(labels));
    for (const Label& l : set) {
      if (!IsValidLabelName(l.name)) {
        return Invalid(absl::StrCat("resource attribute gives invalid label name \"", l.name,
                                    "\" in ", set.ToString()));
      }
    }
    auto [it, inserted] = stream_index_.emplace(set, req_->streams.size());
    if (inserted)
      req_->streams.emplace_back().labels = std::move(set);
    stream_ = it->second;
    return absl::OkStatus();
  }

  void BeginScope(std::string_view name, std::string_view version, std::span<const KeyValue> attrs,
                  uint32_t dropped) {
    scope_md_.clear();
    for (const KeyValue& kv : attrs)
      Flatten(kv.key, kv.value, {}, &scope_md_, 0);
    if (!name.empty())
      scope_md_.push_back({"scope_name", Keep(name)});
    if (!version.empty())
      scope_md_.push_back({"scope_version", Keep(version)});
    if (dropped != 0) {
      scope_md_.push_back({"scope_dropped_attributes_count", Own(absl::StrCat(dropped))});
    }
  }

  void AddRecord(const LogRecordView& r) {
    uint32_t md_offset = req_->metadata_size();
    record_md_.clear();
    for (const KeyValue& kv : r.attributes)
      Flatten(kv.key, kv.value, {}, &record_md_, 0);
    for (const LabelView& l : record_md_)
      req_->AddMetadata(l.name, l.value);
    if (r.time_unix_nano != 0 && r.observed_time_unix_nano != 0) {
      req_->AddMetadata("observed_timestamp",
                        Own(absl::StrCat(static_cast<int64_t>(r.observed_time_unix_nano))));
    }
    if (r.severity_number != 0) {
      req_->AddMetadata("severity_number", Own(absl::StrCat(r.severity_number)));
    }
    if (!r.severity_text.empty())
      req_->AddMetadata("severity_text", Keep(r.severity_text));
    if (r.dropped_attributes_count != 0) {
      req_->AddMetadata("dropped_attributes_count", Own(absl::StrCat(r.dropped_attributes_count)));
    }
    if (r.flags != 0)
      req_->AddMetadata("flags", Own(absl::StrCat(r.flags)));
    if (!r.trace_id.empty() && !IsAllZero(r.trace_id)) {
      req_->AddMetadata("trace_id", Own(Hex(r.trace_id)));
    }
    if (!r.span_id.empty() && !IsAllZero(r.span_id)) {
      req_->AddMetadata("span_id", Own(Hex(r.span_id)));
    }
    for (const LabelView& l : resource_md_)
      req_->AddMetadata(l.name, l.value);
    for (const LabelView& l : scope_md_)
      req_->AddMetadata(l.name, l.value);

    int64_t ts = r.time_unix_nano != 0            ? static_cast<int64_t>(r.time_unix_nano)
                 : r.observed_time_unix_nano != 0 ? static_cast<int64_t>(r.observed_time_unix_nano)
                                                  : now_ns_;
    std::string_view line =
        r.body.kind == AnyValue::Kind::kString ? Keep(r.body.str) : Own(AsString(r.body));
    AddDetectedLevel(r, line, md_offset);
    req_->AddEntry(req_->streams[stream_], ts, line, md_offset);
  }

  // Loki 3's `detected_level` (what Grafana colours lines by): from the severity number, else
  // the severity text, else the line itself; not added when none says anything or when the
  // record already carries one.
  void AddDetectedLevel(const LogRecordView& r, std::string_view line, uint32_t md_offset) {
    for (uint32_t i = md_offset; i < req_->metadata_size(); ++i) {
      if (req_->metadata_name(i) == "detected_level") return;
    }
    std::string_view level = LevelFromOtlpSeverity(r.severity_number);
    if (level == "unknown" && !r.severity_text.empty()) level = NormalizeLogLevel(r.severity_text);
    if (level == "unknown") level = DetectLogLevel(line);
    if (level != "unknown") req_->AddMetadata("detected_level", level);
  }

  // Streams of resources without records are not worth sending on.
  void Finish() {
    std::erase_if(req_->streams, [](const PushStream& s) { return s.entries.empty(); });
    req_->Finish();
  }

 private:
  std::string_view Keep(std::string_view s) { return stable_ ? s : req_->arena().Copy(s); }
  std::string_view Own(const std::string& s) { return req_->arena().Copy(s); }

  // Normalized names are cached: the same attribute keys repeat on every record.
  std::string_view Name(std::string_view key) {
    auto it = names_.find(key);
    if (it != names_.end())
      return it->second;
    std::string normalized = internal::NormalizeOtlpLabelName(key);
    std::string_view kept = normalized == key ? Keep(key) : Own(normalized);
    names_.emplace(std::string(key), kept);
    return kept;
  }

  // Loki's attributeToLabels: maps flatten into prefix_key names, everything else AsString.
  void Flatten(std::string_view key, const AnyValue& v, std::string_view prefix,
               std::vector<LabelView>* out, int depth) {
    std::string_view name;
    if (prefix.empty()) {
      name = Name(key);
    } else {
      name = Own(internal::NormalizeOtlpLabelName(absl::StrCat(AV(prefix), "_", AV(key))));
    }
    if (v.kind == AnyValue::Kind::kKvList && depth < kMaxNesting) {
      for (const KeyValue& kv : v.kvlist)
        Flatten(kv.key, kv.value, name, out, depth + 1);
      return;
    }
    std::string_view value = v.kind == AnyValue::Kind::kString ? Keep(v.str) : Own(AsString(v));
    out->push_back(LabelView{name, value});
  }

  PushRequest* req_;
  const OtlpConfig& config_;
  int64_t now_ns_;
  bool stable_;
  std::map<Labels, size_t> stream_index_;
  size_t stream_ = 0;
  std::vector<LabelView> resource_md_;
  std::vector<LabelView> scope_md_;
  std::vector<LabelView> record_md_;
  StringMap<std::string_view> names_;
};

// ---------------------------------------------------------------------------------------------
// Protobuf front end.

class OtlpProtoDecoder {
 public:
  explicit OtlpProtoDecoder(OtlpMapper* mapper) : mapper_(mapper) {}

  absl::Status Decode(std::string_view data) {
    WireReader r(data);
    uint32_t field, wt;
    while (r.Next(&field, &wt)) {
      if (field == 1 && wt == internal::kLengthDelimited) {
        std::string_view rl;
        if (!r.ReadBytes(&rl))
          break;
        if (absl::Status s = DecodeResourceLogs(rl); !s.ok())
          return s;
      } else if (!r.Skip(wt)) {
        break;
      }
    }
    if (!r.ok())
      return Corrupt();
    return absl::OkStatus();
  }

 private:
  static absl::Status Corrupt() { return Invalid("truncated or corrupt protobuf message"); }

  absl::Status DecodeResourceLogs(std::string_view data) {
    // The resource may follow its scope logs on the wire: take it first.
    resource_attrs_.clear();
    {
      WireReader r(data);
      uint32_t field, wt;
      while (r.Next(&field, &wt)) {
        if (field == 1 && wt == internal::kLengthDelimited) {
          std::string_view res;
          if (!r.ReadBytes(&res))
            break;
          WireReader rr(res);
          uint32_t f, w;
          while (rr.Next(&f, &w)) {
            if (f == 1 && w == internal::kLengthDelimited) {
              if (!ReadKeyValue(rr, &resource_attrs_.emplace_back()))
                return Corrupt();
            } else if (!rr.Skip(w)) {
              break;
            }
          }
          if (!rr.ok())
            return Corrupt();
        } else if (!r.Skip(wt)) {
          break;
        }
      }
      if (!r.ok())
        return Corrupt();
    }
    if (absl::Status s = mapper_->BeginResource(resource_attrs_); !s.ok())
      return s;
    WireReader r(data);
    uint32_t field, wt;
    while (r.Next(&field, &wt)) {
      if (field == 2 && wt == internal::kLengthDelimited) {
        std::string_view sl;
        if (!r.ReadBytes(&sl))
          break;
        if (absl::Status s = DecodeScopeLogs(sl); !s.ok())
          return s;
      } else if (!r.Skip(wt)) {
        break;
      }
    }
    if (!r.ok())
      return Corrupt();
    return absl::OkStatus();
  }

  absl::Status DecodeScopeLogs(std::string_view data) {
    std::string_view name, version;
    uint32_t dropped = 0;
    scope_attrs_.clear();
    {
      WireReader r(data);
      uint32_t field, wt;
      while (r.Next(&field, &wt)) {
        if (field == 1 && wt == internal::kLengthDelimited) {
          std::string_view scope;
          if (!r.ReadBytes(&scope))
            break;
          WireReader sr(scope);
          uint32_t f, w;
          uint64_t v;
          while (sr.Next(&f, &w)) {
            bool ok = true;
            if (f == 1 && w == internal::kLengthDelimited) {
              ok = sr.ReadBytes(&name);
            } else if (f == 2 && w == internal::kLengthDelimited) {
              ok = sr.ReadBytes(&version);
            } else if (f == 3 && w == internal::kLengthDelimited) {
              ok = ReadKeyValue(sr, &scope_attrs_.emplace_back());
            } else if (f == 4 && w == internal::kVarint) {
              ok = sr.ReadVarint(&v);
              dropped = static_cast<uint32_t>(v);
            } else {
              ok = sr.Skip(w);
            }
            if (!ok)
              return Corrupt();
          }
          if (!sr.ok())
            return Corrupt();
        } else if (!r.Skip(wt)) {
          break;
        }
      }
      if (!r.ok())
        return Corrupt();
    }
    mapper_->BeginScope(name, version, scope_attrs_, dropped);
    WireReader r(data);
    uint32_t field, wt;
    while (r.Next(&field, &wt)) {
      if (field == 2 && wt == internal::kLengthDelimited) {
        std::string_view lr;
        if (!r.ReadBytes(&lr))
          break;
        if (absl::Status s = DecodeLogRecord(lr); !s.ok())
          return s;
      } else if (!r.Skip(wt)) {
        break;
      }
    }
    if (!r.ok())
      return Corrupt();
    return absl::OkStatus();
  }

  absl::Status DecodeLogRecord(std::string_view data) {
    LogRecordView& rec = record_;
    rec.Reset();
    WireReader r(data);
    uint32_t field, wt;
    uint64_t v;
    uint32_t f32 = 0;
    while (r.Next(&field, &wt)) {
      bool ok = true;
      switch (field) {
        case 1:
          ok = wt == internal::kFixed64 ? r.ReadFixed64(&rec.time_unix_nano) : r.Skip(wt);
          break;
        case 11:
          ok = wt == internal::kFixed64 ? r.ReadFixed64(&rec.observed_time_unix_nano) : r.Skip(wt);
          break;
        case 2:
          if (wt == internal::kVarint) {
            ok = r.ReadVarint(&v);
            rec.severity_number = static_cast<int32_t>(v);
          } else {
            ok = r.Skip(wt);
          }
          break;
        case 3:
          ok = wt == internal::kLengthDelimited ? r.ReadBytes(&rec.severity_text) : r.Skip(wt);
          break;
        case 5:
          if (wt == internal::kLengthDelimited) {
            std::string_view body;
            ok = r.ReadBytes(&body) && ReadAnyValue(body, &rec.body, 0);
          } else {
            ok = r.Skip(wt);
          }
          break;
        case 6:
          ok = wt == internal::kLengthDelimited ? ReadKeyValue(r, &rec.attributes.emplace_back())
                                                : r.Skip(wt);
          break;
        case 7:
          if (wt == internal::kVarint) {
            ok = r.ReadVarint(&v);
            rec.dropped_attributes_count = static_cast<uint32_t>(v);
          } else {
            ok = r.Skip(wt);
          }
          break;
        case 8:
          if (wt == internal::kFixed32) {
            ok = r.ReadFixed32(&f32);
            rec.flags = f32;
          } else {
            ok = r.Skip(wt);
          }
          break;
        case 9:
          ok = wt == internal::kLengthDelimited ? r.ReadBytes(&rec.trace_id) : r.Skip(wt);
          break;
        case 10:
          ok = wt == internal::kLengthDelimited ? r.ReadBytes(&rec.span_id) : r.Skip(wt);
          break;
        default:
          ok = r.Skip(wt);
      }
      if (!ok)
        return Corrupt();
    }
    if (!r.ok())
      return Corrupt();
    if (!rec.trace_id.empty() && rec.trace_id.size() != 16) {
      return Invalid(absl::StrCat("trace_id must be 16 bytes, got ", rec.trace_id.size()));
    }
    if (!rec.span_id.empty() && rec.span_id.size() != 8) {
      return Invalid(absl::StrCat("span_id must be 8 bytes, got ", rec.span_id.size()));
    }
    mapper_->AddRecord(rec);
    return absl::OkStatus();
  }

  // Reads a length-delimited KeyValue at the reader's position.
  bool ReadKeyValue(WireReader& r, KeyValue* kv, int depth = 0) {
    std::string_view data;
    if (!r.ReadBytes(&data))
      return false;
    WireReader kr(data);
    uint32_t f, w;
    while (kr.Next(&f, &w)) {
      if (f == 1 && w == internal::kLengthDelimited) {
        if (!kr.ReadBytes(&kv->key))
          return false;
      } else if (f == 2 && w == internal::kLengthDelimited) {
        std::string_view value;
        if (!kr.ReadBytes(&value) || !ReadAnyValue(value, &kv->value, depth + 1))
          return false;
      } else if (!kr.Skip(w)) {
        return false;
      }
    }
    return kr.ok();
  }

  bool ReadAnyValue(std::string_view data, AnyValue* out, int depth) {
    if (depth > kMaxNesting)
      return false;
    WireReader r(data);
    uint32_t f, w;
    uint64_t v;
    while (r.Next(&f, &w)) {
      bool ok = true;
      if (f == 1 && w == internal::kLengthDelimited) {
        out->Reset();
        out->kind = AnyValue::Kind::kString;
        ok = r.ReadBytes(&out->str);
      } else if (f == 2 && w == internal::kVarint) {
        out->Reset();
        out->kind = AnyValue::Kind::kBool;
        ok = r.ReadVarint(&v);
        out->b = v != 0;
      } else if (f == 3 && w == internal::kVarint) {
        out->Reset();
        out->kind = AnyValue::Kind::kInt;
        ok = r.ReadVarint(&v);
        out->i = static_cast<int64_t>(v);
      } else if (f == 4 && w == internal::kFixed64) {
        out->Reset();
        out->kind = AnyValue::Kind::kDouble;
        ok = r.ReadFixed64(&v);
        std::memcpy(&out->d, &v, sizeof(double));
      } else if ((f == 5 || f == 6) && w == internal::kLengthDelimited) {
        out->Reset();
        out->kind = f == 5 ? AnyValue::Kind::kArray : AnyValue::Kind::kKvList;
        std::string_view list;
        ok = r.ReadBytes(&list);
        WireReader lr(list);
        uint32_t lf, lw;
        while (ok && lr.Next(&lf, &lw)) {
          if (lf == 1 && lw == internal::kLengthDelimited) {
            if (f == 5) {
              std::string_view item;
              ok = lr.ReadBytes(&item) && ReadAnyValue(item, &out->array.emplace_back(), depth + 1);
            } else {
              ok = ReadKeyValue(lr, &out->kvlist.emplace_back(), depth + 1);
            }
          } else {
            ok = lr.Skip(lw);
          }
        }
        ok = ok && lr.ok();
      } else if (f == 7 && w == internal::kLengthDelimited) {
        out->Reset();
        out->kind = AnyValue::Kind::kBytes;
        ok = r.ReadBytes(&out->str);
      } else {
        ok = r.Skip(w);
      }
      if (!ok)
        return false;
    }
    return r.ok();
  }

  OtlpMapper* mapper_;
  std::vector<KeyValue> resource_attrs_;
  std::vector<KeyValue> scope_attrs_;
  LogRecordView record_;
};

// ---------------------------------------------------------------------------------------------
// OTLP/JSON front end (simdjson DOM: fields may come in any order).

namespace dom = simdjson::dom;

// OTLP/JSON uses lowerCamelCase; the protobuf JSON mapping also allows the original names.
bool KeyIs(std::string_view key, std::string_view camel, std::string_view snake) {
  return key == camel || key == snake;
}

class OtlpJsonDecoder {
 public:
  OtlpJsonDecoder(OtlpMapper* mapper, PushRequest* req) : mapper_(mapper), req_(req) {}

  absl::Status Decode(dom::element root) {
    dom::object top;
    if (root.get_object().get(top))
      return Invalid("JSON body must be an object");
    for (auto [key, value] : top) {
      if (!KeyIs(key, "resourceLogs", "resource_logs"))
        continue;
      if (value.is_null())
        continue;
      dom::array arr;
      if (value.get_array().get(arr))
        return Invalid("resourceLogs must be an array");
      for (dom::element rl : arr) {
        if (absl::Status s = DecodeResourceLogs(rl); !s.ok())
          return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status DecodeResourceLogs(dom::element el) {
    dom::object obj;
    if (el.get_object().get(obj))
      return Invalid("resourceLogs items must be objects");
    resource_attrs_.clear();
    for (auto [key, value] : obj) {
      if (key != "resource" || value.is_null())
        continue;
      dom::object res;
      if (value.get_object().get(res))
        return Invalid("resource must be an object");
      for (auto [rk, rv] : res) {
        if (rk == "attributes") {
          if (absl::Status s = ReadAttributes(rv, &resource_attrs_, "resource.attributes");
              !s.ok()) {
            return s;
          }
        }
      }
    }
    if (absl::Status s = mapper_->BeginResource(resource_attrs_); !s.ok())
      return s;
    for (auto [key, value] : obj) {
      if (!KeyIs(key, "scopeLogs", "scope_logs") || value.is_null())
        continue;
      dom::array arr;
      if (value.get_array().get(arr))
        return Invalid("scopeLogs must be an array");
      for (dom::element sl : arr) {
        if (absl::Status s = DecodeScopeLogs(sl); !s.ok())
          return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status DecodeScopeLogs(dom::element el) {
    dom::object obj;
    if (el.get_object().get(obj))
      return Invalid("scopeLogs items must be objects");
    std::string_view name, version;
    uint64_t dropped = 0;
    scope_attrs_.clear();
    for (auto [key, value] : obj) {
      if (key != "scope" || value.is_null())
        continue;
      dom::object scope;
      if (value.get_object().get(scope))
        return Invalid("scope must be an object");
      for (auto [sk, sv] : scope) {
        absl::Status s;
        if (sk == "name") {
          s = ReadString(sv, &name, "scope.name");
        } else if (sk == "version") {
          s = ReadString(sv, &version, "scope.version");
        } else if (sk == "attributes") {
          s = ReadAttributes(sv, &scope_attrs_, "scope.attributes");
        } else if (KeyIs(sk, "droppedAttributesCount", "dropped_attributes_count")) {
          s = ReadUint(sv, &dropped, "scope.droppedAttributesCount");
        }
        if (!s.ok())
          return s;
      }
    }
    mapper_->BeginScope(name, version, scope_attrs_, static_cast<uint32_t>(dropped));
    for (auto [key, value] : obj) {
      if (!KeyIs(key, "logRecords", "log_records") || value.is_null())
        continue;
      dom::array arr;
      if (value.get_array().get(arr))
        return Invalid("logRecords must be an array");
      for (dom::element lr : arr) {
        if (absl::Status s = DecodeLogRecord(lr); !s.ok())
          return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status DecodeLogRecord(dom::element el) {
    dom::object obj;
    if (el.get_object().get(obj))
      return Invalid("logRecords items must be objects");
    LogRecordView& rec = record_;
    rec.Reset();
    for (auto [key, value] : obj) {
      absl::Status s;
      uint64_t u = 0;
      if (KeyIs(key, "timeUnixNano", "time_unix_nano")) {
        s = ReadUint(value, &rec.time_unix_nano, "timeUnixNano");
      } else if (KeyIs(key, "observedTimeUnixNano", "observed_time_unix_nano")) {
        s = ReadUint(value, &rec.observed_time_unix_nano, "observedTimeUnixNano");
      } else if (KeyIs(key, "severityNumber", "severity_number")) {
        s = ReadSeverityNumber(value, &rec.severity_number);
      } else if (KeyIs(key, "severityText", "severity_text")) {
        s = ReadString(value, &rec.severity_text, "severityText");
      } else if (key == "body") {
        s = ReadAnyValue(value, &rec.body, 0, "body");
      } else if (key == "attributes") {
        s = ReadAttributes(value, &rec.attributes, "attributes");
      } else if (KeyIs(key, "droppedAttributesCount", "dropped_attributes_count")) {
        s = ReadUint(value, &u, "droppedAttributesCount");
        rec.dropped_attributes_count = static_cast<uint32_t>(u);
      } else if (key == "flags") {
        s = ReadUint(value, &u, "flags");
        rec.flags = static_cast<uint32_t>(u);
      } else if (KeyIs(key, "traceId", "trace_id")) {
        s = ReadId(value, 16, &rec.trace_id, "traceId");
      } else if (KeyIs(key, "spanId", "span_id")) {
        s = ReadId(value, 8, &rec.span_id, "spanId");
      }
      if (!s.ok())
        return s;
    }
    mapper_->AddRecord(rec);
    return absl::OkStatus();
  }

  absl::Status ReadString(dom::element v, std::string_view* out, std::string_view what) {
    if (v.is_null())
      return absl::OkStatus();
    if (v.get_string().get(*out))
      return Invalid(absl::StrCat(AV(what), " must be a string"));
    return absl::OkStatus();
  }

  // Protobuf JSON: 64-bit integers may be numbers or decimal strings.
  absl::Status ReadUint(dom::element v, uint64_t* out, std::string_view what) {
    if (v.is_null())
      return absl::OkStatus();
    if (v.is_uint64())
      return v.get_uint64().get(*out) ? Invalid(what) : absl::OkStatus();
    std::string_view s;
    if (!v.get_string().get(s)) {
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      if (ec == std::errc() && p == s.data() + s.size() && !s.empty())
        return absl::OkStatus();
    }
    return Invalid(absl::StrCat(AV(what), " must be an unsigned integer or a decimal string"));
  }

  absl::Status ReadInt(dom::element v, int64_t* out, std::string_view what) {
    if (v.is_int64())
      return v.get_int64().get(*out) ? Invalid(what) : absl::OkStatus();
    std::string_view s;
    if (!v.get_string().get(s)) {
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      if (ec == std::errc() && p == s.data() + s.size() && !s.empty())
        return absl::OkStatus();
    }
    return Invalid(absl::StrCat(AV(what), " must be an integer or a decimal string"));
  }

  absl::Status ReadSeverityNumber(dom::element v, int32_t* out) {
    if (v.is_null())
      return absl::OkStatus();
    int64_t n = 0;
    std::string_view s;
    if (!v.get_string().get(s) && absl::StartsWith(AV(s), "SEVERITY_NUMBER_")) {
      static constexpr std::string_view kNames[] = {
          "UNSPECIFIED", "TRACE",  "TRACE2", "TRACE3", "TRACE4", "DEBUG",  "DEBUG2",
          "DEBUG3",      "DEBUG4", "INFO",   "INFO2",  "INFO3",  "INFO4",  "WARN",
          "WARN2",       "WARN3",  "WARN4",  "ERROR",  "ERROR2", "ERROR3", "ERROR4",
          "FATAL",       "FATAL2", "FATAL3", "FATAL4"};
      s.remove_prefix(16);
      for (size_t i = 0; i < std::size(kNames); ++i) {
        if (kNames[i] == s) {
          *out = static_cast<int32_t>(i);
          return absl::OkStatus();
        }
      }
      return Invalid(absl::StrCat("unknown severityNumber \"SEVERITY_NUMBER_", AV(s), "\""));
    }
    if (absl::Status st = ReadInt(v, &n, "severityNumber"); !st.ok())
      return st;
    *out = static_cast<int32_t>(n);
    return absl::OkStatus();
  }

  // OTLP/JSON encodes trace and span ids as hex (not base64 as plain protobuf JSON would).
  absl::Status ReadId(dom::element v, size_t bytes, std::string_view* out, std::string_view what) {
    std::string_view hex;
    if (v.is_null())
      return absl::OkStatus();
    if (v.get_string().get(hex))
      return Invalid(absl::StrCat(AV(what), " must be a hex string"));
    if (hex.empty()) {
      *out = {};
      return absl::OkStatus();
    }
    if (hex.size() != bytes * 2) {
      return Invalid(
          absl::StrCat(AV(what), " must be ", bytes * 2, " hex digits, got \"", AV(hex), "\""));
    }
    char* raw = req_->arena().Allocate(bytes);
    for (size_t i = 0; i < bytes; ++i) {
      int hi = HexDigit(hex[2 * i]), lo = HexDigit(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        return Invalid(absl::StrCat(AV(what), " is not hex: \"", AV(hex), "\""));
      }
      raw[i] = static_cast<char>(hi << 4 | lo);
    }
    *out = std::string_view(raw, bytes);
    return absl::OkStatus();
  }

  static int HexDigit(char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  }

  absl::Status ReadAttributes(dom::element v, std::vector<KeyValue>* out, std::string_view what,
                              int depth = 0) {
    if (v.is_null())
      return absl::OkStatus();
    dom::array arr;
    if (v.get_array().get(arr)) {
      return Invalid(absl::StrCat(AV(what), " must be an array of {key, value}"));
    }
    for (dom::element item : arr) {
      dom::object kv;
      if (item.get_object().get(kv)) {
        return Invalid(absl::StrCat(AV(what), " items must be {key, value} objects"));
      }
      KeyValue& dst = out->emplace_back();
      for (auto [k, val] : kv) {
        absl::Status s;
        if (k == "key") {
          s = ReadString(val, &dst.key, what);
        } else if (k == "value") {
          s = ReadAnyValue(val, &dst.value, depth + 1, what);
        }
        if (!s.ok())
          return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadAnyValue(dom::element v, AnyValue* out, int depth, std::string_view what) {
    out->Reset();
    if (v.is_null())
      return absl::OkStatus();
    if (depth > kMaxNesting)
      return Invalid("values nested too deeply");
    dom::object obj;
    if (v.get_object().get(obj)) {
      return Invalid(absl::StrCat(AV(what),
                                  ": value must be an AnyValue object such as "
                                  "{\"stringValue\": \"...\"}"));
    }
    for (auto [k, val] : obj) {
      absl::Status s;
      if (val.is_null())
        continue;
      if (KeyIs(k, "stringValue", "string_value")) {
        out->Reset();
        out->kind = AnyValue::Kind::kString;
        s = ReadString(val, &out->str, what);
      } else if (KeyIs(k, "boolValue", "bool_value")) {
        out->Reset();
        out->kind = AnyValue::Kind::kBool;
        if (val.get_bool().get(out->b))
          s = Invalid(absl::StrCat(AV(what), ": boolValue"));
      } else if (KeyIs(k, "intValue", "int_value")) {
        out->Reset();
        out->kind = AnyValue::Kind::kInt;
        s = ReadInt(val, &out->i, absl::StrCat(AV(what), ": intValue"));
      } else if (KeyIs(k, "doubleValue", "double_value")) {
        out->Reset();
        out->kind = AnyValue::Kind::kDouble;
        s = ReadDouble(val, &out->d, what);
      } else if (KeyIs(k, "bytesValue", "bytes_value")) {
        out->Reset();
        out->kind = AnyValue::Kind::kBytes;
        std::string_view b64;
        std::string raw;
        if (val.get_string().get(b64) || !absl::Base64Unescape(AV(b64), &raw)) {
          s = Invalid(absl::StrCat(AV(what), ": bytesValue must be base64"));
        } else {
          out->str = req_->arena().Copy(raw);
        }
      } else if (KeyIs(k, "arrayValue", "array_value") || KeyIs(k, "kvlistValue", "kvlist_value")) {
        bool is_array = k[0] == 'a';
        out->Reset();
        out->kind = is_array ? AnyValue::Kind::kArray : AnyValue::Kind::kKvList;
        dom::object list;
        if (val.get_object().get(list)) {
          s = Invalid(absl::StrCat(AV(what), ": ", AV(k), " must be {\"values\": [...]}"));
        } else {
          for (auto [lk, lv] : list) {
            if (lk != "values")
              continue;
            if (!is_array) {
              s = ReadAttributes(lv, &out->kvlist, what, depth + 1);
              continue;
            }
            dom::array items;
            if (lv.is_null())
              continue;
            if (lv.get_array().get(items)) {
              s = Invalid(absl::StrCat(AV(what), ": arrayValue.values must be an array"));
              continue;
            }
            for (dom::element item : items) {
              s = ReadAnyValue(item, &out->array.emplace_back(), depth + 1, what);
              if (!s.ok())
                break;
            }
          }
        }
      }
      if (!s.ok())
        return s;
    }
    return absl::OkStatus();
  }

  absl::Status ReadDouble(dom::element v, double* out, std::string_view what) {
    if (v.is_number()) {
      if (v.get_double().get(*out))
        return Invalid(what);
      return absl::OkStatus();
    }
    std::string_view s;
    if (!v.get_string().get(s)) {
      if (s == "NaN") {
        *out = std::numeric_limits<double>::quiet_NaN();
        return absl::OkStatus();
      }
      if (s == "Infinity" || s == "-Infinity") {
        *out = (s[0] == '-' ? -1 : 1) * std::numeric_limits<double>::infinity();
        return absl::OkStatus();
      }
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
      if (ec == std::errc() && p == s.data() + s.size() && !s.empty())
        return absl::OkStatus();
    }
    return Invalid(absl::StrCat(AV(what), ": doubleValue must be a number"));
  }

  OtlpMapper* mapper_;
  PushRequest* req_;
  std::vector<KeyValue> resource_attrs_;
  std::vector<KeyValue> scope_attrs_;
  LogRecordView record_;
};

// ---------------------------------------------------------------------------------------------
// Decompression.

absl::StatusOr<std::string> Unzstd(std::string_view in, uint64_t max_bytes) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx)
    return absl::InternalError("ZSTD_createDCtx failed");
  std::string out;
  unsigned long long hint = ZSTD_getFrameContentSize(in.data(), in.size());
  size_t cap =
      hint != ZSTD_CONTENTSIZE_UNKNOWN && hint != ZSTD_CONTENTSIZE_ERROR
          ? static_cast<size_t>(std::min<uint64_t>({hint, max_bytes + 1, uint64_t{64} << 20}))
          : std::min<uint64_t>(std::max<size_t>(in.size() * 4, 4096), max_bytes + 1);
  out.resize(std::max<size_t>(cap, 1));
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  size_t produced = 0;
  size_t rc = 1;
  while (true) {
    if (produced == out.size()) {
      if (out.size() > max_bytes)
        break;
      out.resize(std::min<uint64_t>(out.size() * 2, max_bytes + 1));
    }
    ZSTD_outBuffer ob{out.data() + produced, out.size() - produced, 0};
    rc = ZSTD_decompressStream(ctx.get(), &ob, &ib);
    produced += ob.pos;
    if (ZSTD_isError(rc)) {
      return absl::InvalidArgumentError(
          absl::StrCat("failed to decompress zstd body: ", ZSTD_getErrorName(rc)));
    }
    if (rc == 0 && ib.pos == ib.size)
      break;  // Frame(s) complete.
    if (ib.pos == ib.size && ob.pos < ob.size)
      break;  // Input exhausted mid-frame.
  }
  if (produced > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("decompressed request body exceeds the limit of ", max_bytes, " bytes"));
  }
  if (rc != 0)
    return absl::InvalidArgumentError("failed to decompress zstd body: truncated data");
  out.resize(produced);
  return out;
}

absl::StatusOr<std::string> Unlz4(std::string_view in, uint64_t max_bytes) {
  LZ4F_dctx* raw_ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw_ctx, LZ4F_VERSION))) {
    return absl::InternalError("LZ4F_createDecompressionContext failed");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx(raw_ctx,
                                                                   LZ4F_freeDecompressionContext);
  std::string out;
  out.resize(std::min<uint64_t>(std::max<size_t>(in.size() * 4, 4096), max_bytes + 1));
  size_t produced = 0, consumed = 0;
  size_t hint = 1;
  while (true) {
    if (produced == out.size()) {
      if (out.size() > max_bytes)
        break;
      out.resize(std::min<uint64_t>(out.size() * 2, max_bytes + 1));
    }
    size_t dst = out.size() - produced, src = in.size() - consumed;
    hint = LZ4F_decompress(ctx.get(), out.data() + produced, &dst, in.data() + consumed, &src,
                           nullptr);
    if (LZ4F_isError(hint)) {
      return absl::InvalidArgumentError(
          absl::StrCat("failed to decompress lz4 body: ", LZ4F_getErrorName(hint)));
    }
    produced += dst;
    consumed += src;
    if (hint == 0 && consumed == in.size())
      break;  // Last frame complete.
    if (dst == 0 && src == 0)
      break;  // No progress: input ended mid-frame.
  }
  if (produced > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("decompressed request body exceeds the limit of ", max_bytes, " bytes"));
  }
  if (hint != 0)
    return absl::InvalidArgumentError("failed to decompress lz4 body: truncated data");
  out.resize(produced);
  return out;
}

std::string MediaType(std::string_view content_type) {
  std::string out = absl::AsciiStrToLower(AV(content_type.substr(0, content_type.find(';'))));
  absl::StripAsciiWhitespace(&out);
  return out;
}

}  // namespace

absl::StatusOr<PushRequest> DecodeOtlpProtobuf(std::string body, const OtlpConfig& config,
                                               int64_t now_ns) {
  PushRequest req;
  std::string_view data = req.arena().Adopt(std::move(body));
  OtlpMapper mapper(&req, config, now_ns, /*stable_strings=*/true);
  OtlpProtoDecoder dec(&mapper);
  if (absl::Status s = dec.Decode(data); !s.ok())
    return s;
  mapper.Finish();
  return req;
}

absl::StatusOr<PushRequest> DecodeOtlpJson(std::string_view body, const OtlpConfig& config,
                                           int64_t now_ns) {
  thread_local dom::parser reusable;
  dom::parser one_off;
  dom::parser& parser = body.size() <= (16u << 20) ? reusable : one_off;
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root)) {
    return Invalid(absl::StrCat("invalid JSON: ", simdjson::error_message(err)));
  }
  PushRequest req;
  OtlpMapper mapper(&req, config, now_ns, /*stable_strings=*/false);
  OtlpJsonDecoder dec(&mapper, &req);
  if (absl::Status s = dec.Decode(root); !s.ok())
    return s;
  mapper.Finish();
  return req;
}

absl::StatusOr<PushRequest> DecodeOtlpLogs(std::string_view content_type,
                                           std::string_view content_encoding, std::string body,
                                           const OtlpConfig& config, int64_t now_ns,
                                           uint64_t max_decompressed_bytes) {
  if (absl::Status s = CheckContentEncoding(content_encoding, PushApi::kOtlp); !s.ok())
    return s;
  std::string enc = absl::AsciiStrToLower(AV(content_encoding));
  absl::StripAsciiWhitespace(&enc);
  if (enc == "zstd") {
    auto out = Unzstd(body, max_decompressed_bytes);
    if (!out.ok())
      return out.status();
    body = *std::move(out);
  } else if (enc == "lz4") {
    auto out = Unlz4(body, max_decompressed_bytes);
    if (!out.ok())
      return out.status();
    body = *std::move(out);
  }
  std::string type = MediaType(content_type);
  if (type == "application/x-protobuf")
    return DecodeOtlpProtobuf(std::move(body), config, now_ns);
  if (type == "application/json")
    return DecodeOtlpJson(body, config, now_ns);
  return absl::InvalidArgumentError(
      absl::StrCat("content type: ", AV(content_type), " is not supported"));
}

}  // namespace norn::loghttp
