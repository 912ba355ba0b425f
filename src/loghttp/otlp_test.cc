#include "loghttp/otlp.h"

#include <lz4frame.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/otlp_logs.pb.h"

namespace norn::loghttp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1111111111000000000;

// A readable snapshot of a decoded request.
struct Flat {
  std::string labels;
  int64_t ts;
  std::string line;
  std::vector<std::string> metadata;  // "name=value"
};

std::vector<Flat> Flatten(const PushRequest& req) {
  std::vector<Flat> out;
  for (const PushStream& s : req.streams) {
    for (const PushEntry& e : s.entries) {
      Flat f{s.labels ? s.labels->ToString() : std::string(s.labels_text),
             e.timestamp_ns,
             std::string(e.line),
             {}};
      for (const LabelView& l : e.structured_metadata) {
        f.metadata.push_back(std::string(l.name) + "=" + std::string(l.value));
      }
      out.push_back(std::move(f));
    }
  }
  return out;
}

void SetString(norn::otlp::KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

norn::otlp::ExportLogsServiceRequest Sample() {
  norn::otlp::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* res = rl->mutable_resource();
  SetString(res->add_attributes(), "service.name", "checkout");
  SetString(res->add_attributes(), "k8s.pod.name", "checkout-7d9");
  SetString(res->add_attributes(), "host.name", "node-1");
  auto* pid = res->add_attributes();
  pid->set_key("process.pid");
  pid->mutable_value()->set_int_value(4242);
  auto* nested = res->add_attributes();
  nested->set_key("cloud.resource");
  auto* kvl = nested->mutable_value()->mutable_kvlist_value();
  SetString(kvl->add_values(), "id", "i-1");
  auto* deeper = kvl->add_values();
  deeper->set_key("zone.info");
  SetString(deeper->mutable_value()->mutable_kvlist_value()->add_values(), "name", "a");

  auto* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("io.example.logger");
  sl->mutable_scope()->set_version("1.2.0");
  SetString(sl->mutable_scope()->add_attributes(), "scope.attr", "s");

  auto* lr = sl->add_log_records();
  lr->set_time_unix_nano(1700000000000000001);
  lr->set_observed_time_unix_nano(1700000000000000002);
  lr->set_severity_number(norn::otlp::SEVERITY_NUMBER_ERROR);
  lr->set_severity_text("ERROR");
  lr->mutable_body()->set_string_value("payment failed: card declined");
  SetString(lr->add_attributes(), "http.method", "POST");
  auto* b = lr->add_attributes();
  b->set_key("retry");
  b->mutable_value()->set_bool_value(true);
  lr->set_flags(1);
  lr->set_dropped_attributes_count(2);
  lr->set_trace_id(
      std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\xff", 16));
  lr->set_span_id(std::string("\xaa\xbb\xcc\xdd\x00\x11\x22\x33", 8));

  auto* lr2 = sl->add_log_records();
  lr2->set_observed_time_unix_nano(1700000000000000005);  // no time: observed is the timestamp
  lr2->mutable_body()->set_string_value("second");
  return req;
}

const std::vector<std::string> kResourceAndScopeMetadata = {
    "host_name=node-1",      "process_pid=4242",
    "cloud_resource_id=i-1", "cloud_resource_zone_info_name=a",
    "scope_attr=s",          "scope_name=io.example.logger",
    "scope_version=1.2.0"};

TEST(OtlpTest, ProtobufMappingMatchesLoki) {
  auto req = DecodeOtlpProtobuf(Sample().SerializeAsString(), OtlpConfig::Default(), kNow);
  ASSERT_TRUE(req.ok()) << req.status();
  auto flat = Flatten(*req);
  ASSERT_EQ(flat.size(), 2u);
  EXPECT_EQ(flat[0].labels, R"({k8s_pod_name="checkout-7d9", service_name="checkout"})");
  EXPECT_EQ(flat[0].ts, 1700000000000000001);
  EXPECT_EQ(flat[0].line, "payment failed: card declined");
  std::vector<std::string> want = {"http_method=POST",
                                   "retry=true",
                                   "observed_timestamp=1700000000000000002",
                                   "severity_number=17",
                                   "severity_text=ERROR",
                                   "dropped_attributes_count=2",
                                   "flags=1",
                                   "trace_id=0102030405060708090a0b0c0d0e0fff",
                                   "span_id=aabbccdd00112233"};
  want.insert(want.end(), kResourceAndScopeMetadata.begin(), kResourceAndScopeMetadata.end());
  want.push_back("detected_level=error");  // from severity_number 17
  EXPECT_EQ(flat[0].metadata, want);
  EXPECT_EQ(flat[1].ts, 1700000000000000005);
  EXPECT_EQ(flat[1].line, "second");
  // No severity and nothing level-like in "second": no detected_level.
  EXPECT_EQ(flat[1].metadata, kResourceAndScopeMetadata);
  EXPECT_EQ(req->entry_count(), 2u);
}

TEST(OtlpTest, ServiceNameDiscoveryAndUnknownService) {
  norn::otlp::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  SetString(rl->mutable_resource()->add_attributes(), "k8s.namespace.name", "shop");
  SetString(rl->mutable_resource()->add_attributes(), "k8s.container.name", "cart");
  rl->add_scope_logs()->add_log_records()->mutable_body()->set_string_value("a");
  auto* rl2 = req.add_resource_logs();
  SetString(rl2->mutable_resource()->add_attributes(), "service.name", "");
  rl2->add_scope_logs()->add_log_records()->mutable_body()->set_string_value("b");
  auto* rl3 = req.add_resource_logs();  // no resource at all
  rl3->add_scope_logs()->add_log_records()->mutable_body()->set_string_value("c");

  auto decoded = DecodeOtlpProtobuf(req.SerializeAsString(), OtlpConfig::Default(), kNow);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  auto flat = Flatten(*decoded);
  ASSERT_EQ(decoded->streams.size(), 2u);  // rl2 and rl3 share {service_name="unknown_service"}
  EXPECT_EQ(flat[0].labels,
            R"({k8s_container_name="cart", k8s_namespace_name="shop", service_name="cart"})");
  EXPECT_EQ(flat[1].labels, R"({service_name="unknown_service"})");
  EXPECT_EQ(flat[1].line, "b");
  EXPECT_EQ(flat[2].labels, R"({service_name="unknown_service"})");
  EXPECT_EQ(flat[2].line, "c");
  EXPECT_EQ(flat[2].ts, kNow);  // neither timestamp set

  OtlpConfig no_discovery = OtlpConfig::Default();
  no_discovery.discover_service_name.clear();
  decoded = DecodeOtlpProtobuf(req.SerializeAsString(), no_discovery, kNow);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->streams[0].labels->ToString(),
            R"({k8s_container_name="cart", k8s_namespace_name="shop"})");
}

TEST(OtlpTest, NonStringBodiesAreEncodedLikeLoki) {
  norn::otlp::ExportLogsServiceRequest req;
  auto* sl = req.add_resource_logs()->add_scope_logs();
  auto body = [&]() { return sl->add_log_records()->mutable_body(); };
  body()->set_int_value(-42);
  body()->set_double_value(1.5);
  body()->set_double_value(1e21);
  body()->set_double_value(1e-7);
  body()->set_bool_value(false);
  body()->set_bytes_value("hi!");
  auto* kv = body()->mutable_kvlist_value();
  SetString(kv->add_values(), "z", "last <&>");
  auto* arr = kv->add_values();
  arr->set_key("a");
  arr->mutable_value()->mutable_array_value()->add_values()->set_int_value(1);
  arr->mutable_value()->mutable_array_value()->add_values()->set_string_value("x\"y\n");
  arr->mutable_value()->mutable_array_value()->add_values();  // empty value -> null
  SetString(kv->add_values(), "m", "first");
  SetString(kv->add_values(), "m", "second wins");
  sl->add_log_records();  // no body at all -> empty line

  auto decoded = DecodeOtlpProtobuf(req.SerializeAsString(), OtlpConfig::Default(), kNow);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  std::vector<std::string> lines;
  for (const auto& f : Flatten(*decoded))
    lines.push_back(f.line);
  EXPECT_THAT(lines, ElementsAre("-42", "1.5", "1e+21", "1e-7", "false", "aGkh",
                                 R"({"a":[1,"x\"y\n",null],"m":"second wins",)"
                                 R"("z":"last \u003c\u0026\u003e"})",
                                 ""));
}

std::string OtlpJson() {
  return R"({"resourceLogs":[{
    "resource":{"attributes":[
      {"key":"service.name","value":{"stringValue":"checkout"}},
      {"key":"k8s.pod.name","value":{"stringValue":"checkout-7d9"}},
      {"key":"host.name","value":{"stringValue":"node-1"}},
      {"key":"process.pid","value":{"intValue":"4242"}},
      {"key":"cloud.resource","value":{"kvlistValue":{"values":[
        {"key":"id","value":{"stringValue":"i-1"}},
        {"key":"zone.info","value":{"kvlistValue":{"values":[{"key":"name","value":{"stringValue":"a"}}]}}}]}}}]},
    "scopeLogs":[{
      "logRecords":[
        {"timeUnixNano":"1700000000000000001","observedTimeUnixNano":1700000000000000002,
         "severityNumber":17,"severityText":"ERROR",
         "body":{"stringValue":"payment failed: card declined"},
         "attributes":[{"key":"http.method","value":{"stringValue":"POST"}},
                       {"key":"retry","value":{"boolValue":true}}],
         "droppedAttributesCount":2,"flags":1,
         "traceId":"0102030405060708090A0B0C0D0E0FFF","spanId":"aabbccdd00112233"},
        {"observed_time_unix_nano":"1700000000000000005","body":{"stringValue":"second"}}],
      "scope":{"name":"io.example.logger","version":"1.2.0",
               "attributes":[{"key":"scope.attr","value":{"stringValue":"s"}}]}}]}]})";
}

TEST(OtlpTest, JsonMatchesProtobuf) {
  auto from_json = DecodeOtlpJson(OtlpJson(), OtlpConfig::Default(), kNow);
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  auto from_pb = DecodeOtlpProtobuf(Sample().SerializeAsString(), OtlpConfig::Default(), kNow);
  ASSERT_TRUE(from_pb.ok());
  auto a = Flatten(*from_json), b = Flatten(*from_pb);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].labels, b[i].labels);
    EXPECT_EQ(a[i].ts, b[i].ts);
    EXPECT_EQ(a[i].line, b[i].line);
    EXPECT_EQ(a[i].metadata, b[i].metadata);
  }
}

TEST(OtlpTest, JsonValueForms) {
  auto req = DecodeOtlpJson(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"timeUnixNano":5,"severityNumber":"SEVERITY_NUMBER_WARN","body":{"doubleValue":"NaN"},
       "attributes":[{"key":"d","value":{"doubleValue":0.25}},{"key":"b","value":{"bytesValue":"aGkh"}},
                     {"key":"arr","value":{"arrayValue":{"values":[{"intValue":3},{"boolValue":false}]}}},
                     {"key":"empty","value":{}},{"key":"_x","value":{"stringValue":"\u00e9\ud83d\ude00"}}]}]}]}]})",
                            OtlpConfig::Default(), kNow);
  ASSERT_TRUE(req.ok()) << req.status();
  auto flat = Flatten(*req);
  ASSERT_EQ(flat.size(), 1u);
  EXPECT_EQ(flat[0].ts, 5);
  EXPECT_EQ(flat[0].line, "json: unsupported value: NaN");
  EXPECT_THAT(flat[0].metadata,
              ElementsAre("d=0.25", "b=aGkh", "arr=[3,false]",
                          "empty=", "key_x=\xc3\xa9\xf0\x9f\x98\x80", "severity_number=13",
                          "detected_level=warn"));
}

TEST(OtlpTest, DetectedLevelFromTextOrLine) {
  auto req = DecodeOtlpJson(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"timeUnixNano":1,"severityText":"Warning","body":{"stringValue":"disk low"}},
      {"timeUnixNano":2,"body":{"stringValue":"level=debug msg=x"}},
      {"timeUnixNano":3,"body":{"stringValue":"x"},
       "attributes":[{"key":"detected_level","value":{"stringValue":"info"}}]}]}]}]})",
                            OtlpConfig::Default(), kNow);
  ASSERT_TRUE(req.ok()) << req.status();
  auto flat = Flatten(*req);
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_THAT(flat[0].metadata, ::testing::Contains("detected_level=warn"));
  EXPECT_THAT(flat[1].metadata, ElementsAre("detected_level=debug"));
  // An existing detected_level is kept as sent.
  EXPECT_THAT(flat[2].metadata, ElementsAre("detected_level=info"));
}

TEST(OtlpTest, NormalizeLabelNames) {
  using internal::NormalizeOtlpLabelName;
  EXPECT_EQ(NormalizeOtlpLabelName("service.name"), "service_name");
  EXPECT_EQ(NormalizeOtlpLabelName("k8s.pod.name"), "k8s_pod_name");
  EXPECT_EQ(NormalizeOtlpLabelName("http-status/code"), "http_status_code");
  EXPECT_EQ(NormalizeOtlpLabelName("2xx"), "key_2xx");
  EXPECT_EQ(NormalizeOtlpLabelName("_private"), "key_private");
  EXPECT_EQ(NormalizeOtlpLabelName("__reserved"), "__reserved");
  EXPECT_EQ(NormalizeOtlpLabelName("caf\xc3\xa9"), "caf_");  // one '_' per rune
  EXPECT_EQ(NormalizeOtlpLabelName(""), "");
}

TEST(OtlpTest, GoFloatFormat) {
  auto f = [](double d) {
    std::string s;
    internal::AppendGoFloat(&s, d);
    return s;
  };
  EXPECT_EQ(f(0), "0");
  EXPECT_EQ(f(1.5), "1.5");
  EXPECT_EQ(f(100), "100");
  EXPECT_EQ(f(0.000001), "0.000001");
  EXPECT_EQ(f(0.0000001), "1e-7");
  EXPECT_EQ(f(123456789012345678901.0), "123456789012345680000");
  EXPECT_EQ(f(1e21), "1e+21");
  EXPECT_EQ(f(-2.5e-10), "-2.5e-10");
}

std::string Zstd(const std::string& raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 3));
  return out;
}

std::string Lz4Frame(const std::string& raw) {
  std::string out(LZ4F_compressFrameBound(raw.size(), nullptr), '\0');
  out.resize(LZ4F_compressFrame(out.data(), out.size(), raw.data(), raw.size(), nullptr));
  return out;
}

TEST(OtlpTest, DecodeOtlpLogsContentTypesAndEncodings) {
  std::string pb = Sample().SerializeAsString();
  const uint64_t kMax = 1 << 20;
  for (auto [ct, ce, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"application/x-protobuf", "", pb},
           {"application/x-protobuf", "zstd", Zstd(pb)},
           {"application/x-protobuf", "LZ4", Lz4Frame(pb)},
           {"application/json; charset=utf-8", "", OtlpJson()},
           {"application/json", "zstd", Zstd(OtlpJson())},
       }) {
    auto req = DecodeOtlpLogs(ct, ce, body, OtlpConfig::Default(), kNow, kMax);
    ASSERT_TRUE(req.ok()) << ct << " " << ce << ": " << req.status();
    EXPECT_EQ(req->entry_count(), 2u) << ct << " " << ce;
  }
  auto bad_ct = DecodeOtlpLogs("text/plain", "", pb, OtlpConfig::Default(), kNow, kMax);
  ASSERT_FALSE(bad_ct.ok());
  EXPECT_EQ(bad_ct.status().message(), "content type: text/plain is not supported");
  auto bad_ce =
      DecodeOtlpLogs("application/x-protobuf", "snappy", pb, OtlpConfig::Default(), kNow, kMax);
  ASSERT_FALSE(bad_ce.ok());
  EXPECT_THAT(bad_ce.status().message(), HasSubstr("not supported"));
  auto too_big = DecodeOtlpLogs("application/x-protobuf", "zstd", Zstd(std::string(4096, 'a')),
                                OtlpConfig::Default(), kNow, 1000);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kResourceExhausted);
  std::string z = Zstd(pb);
  auto truncated = DecodeOtlpLogs("application/x-protobuf", "zstd", z.substr(0, z.size() / 2),
                                  OtlpConfig::Default(), kNow, kMax);
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.status().message(), HasSubstr("zstd"));
  std::string l = Lz4Frame(pb);
  truncated = DecodeOtlpLogs("application/x-protobuf", "lz4", l.substr(0, l.size() - 6),
                             OtlpConfig::Default(), kNow, kMax);
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.status().message(), HasSubstr("lz4"));
}

TEST(OtlpTest, RejectsMalformedProtobuf) {
  std::string pb = Sample().SerializeAsString();
  int failures = 0;
  for (size_t n = 1; n < pb.size(); ++n) {
    auto req = DecodeOtlpProtobuf(pb.substr(0, n), OtlpConfig::Default(), kNow);
    if (!req.ok()) {
      ++failures;
      EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_GE(failures, static_cast<int>(pb.size()) - 1);

  auto bad_trace = Sample();
  bad_trace.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records(0)->set_trace_id(
      "short");
  auto req = DecodeOtlpProtobuf(bad_trace.SerializeAsString(), OtlpConfig::Default(), kNow);
  ASSERT_FALSE(req.ok());
  EXPECT_THAT(req.status().message(), HasSubstr("trace_id must be 16 bytes"));
}

TEST(OtlpTest, RejectsMalformedJson) {
  struct Case {
    std::string body, want;
  };
  for (const Case& c : std::vector<Case>{
           {"{", "invalid JSON"},
           {R"({"resourceLogs":{}})", "resourceLogs must be an array"},
           {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]})",
            "timeUnixNano must be an unsigned integer"},
           {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"abc"}]}]}]})",
            "traceId must be 32 hex digits"},
           {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"zzzzzzzzzzzzzzzz"}]}]}]})",
            "spanId is not hex"},
           {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"plain"}]}]}]})",
            "must be an AnyValue object"},
           {R"({"resourceLogs":[{"resource":{"attributes":{"k":"v"}}}]})",
            "resource.attributes must be an array"},
           {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":"1.5"}}]}]}]})",
            "intValue must be an integer"},
       }) {
    auto req = DecodeOtlpJson(c.body, OtlpConfig::Default(), kNow);
    ASSERT_FALSE(req.ok()) << c.body;
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(req.status().message(), HasSubstr(c.want)) << c.body;
  }
}

// Cheap in-tree fuzzing: corrupted payloads must decode or fail cleanly (run under ASan/UBSan).
TEST(OtlpTest, RandomCorruptionNeverCrashes) {
  std::string pb = Sample().SerializeAsString();
  std::string json = OtlpJson();
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string m = pb;
    for (int k = 0; k < 1 + i % 4; ++k)
      m[rng() % m.size()] = static_cast<char>(rng());
    DecodeOtlpProtobuf(m, OtlpConfig::Default(), kNow).status().IgnoreError();
    std::string j = json;
    static constexpr char kChars[] = "{}[]\":,0123456789abcdefxyz\\ \n";
    for (int k = 0; k < 1 + i % 3; ++k)
      j[rng() % j.size()] = kChars[rng() % (sizeof(kChars) - 1)];
    DecodeOtlpJson(j, OtlpConfig::Default(), kNow).status().IgnoreError();
  }
}

TEST(OtlpTest, EmptyRequests) {
  for (std::string_view body : {"{}", R"({"resourceLogs":[]})", R"({"resourceLogs":[{}]})"}) {
    auto req = DecodeOtlpJson(body, OtlpConfig::Default(), kNow);
    ASSERT_TRUE(req.ok()) << body << ": " << req.status();
    EXPECT_TRUE(req->streams.empty());
  }
  auto req = DecodeOtlpProtobuf("", OtlpConfig::Default(), kNow);
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(req->streams.empty());
}

}  // namespace
}  // namespace norn::loghttp
