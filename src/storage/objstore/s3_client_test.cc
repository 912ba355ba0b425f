// S3ObjectClient against a scripted loopback HTTP server: addressing styles, signing headers,
// error mapping, retries and metrics. The moto-backed end-to-end tests are in s3_test.cc.
#include <atomic>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "storage/objstore/s3.h"
#include "storage/objstore/test_http_server.h"

namespace norn::objstore {
namespace {

using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

S3Options BaseOptions(const std::string& endpoint) {
  S3Options o;
  o.bucket_names = {"norn-bucket"};
  o.endpoint = endpoint;
  o.region = "eu-west-1";
  o.access_key_id = "AKID";
  o.secret_access_key = "SECRET";
  o.backoff_config.min_period = absl::Milliseconds(1);
  o.backoff_config.max_period = absl::Milliseconds(5);
  return o;
}

std::unique_ptr<S3ObjectClient> MustCreate(S3Options o) {
  auto c = S3ObjectClient::Create(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(S3Url, Addressing) {
  S3Options o = BaseOptions("");
  EXPECT_EQ(MustCreate(o)->ObjectUrl("a/b c"),
            "https://norn-bucket.s3.eu-west-1.amazonaws.com/a/b%20c");
  o.s3forcepathstyle = true;
  EXPECT_EQ(MustCreate(o)->ObjectUrl("a/b"), "https://s3.eu-west-1.amazonaws.com/norn-bucket/a/b");
  EXPECT_EQ(MustCreate(o)->ObjectUrl(""), "https://s3.eu-west-1.amazonaws.com/norn-bucket");

  o = BaseOptions("minio.local:9000");
  o.insecure = true;
  EXPECT_EQ(MustCreate(o)->ObjectUrl("k"), "http://norn-bucket.minio.local:9000/k");
  o.endpoint = "https://minio.local:9443/";
  EXPECT_EQ(MustCreate(o)->ObjectUrl("k"), "https://norn-bucket.minio.local:9443/k");
  // IP endpoints, localhost and non-DNS bucket names fall back to path style.
  o.endpoint = "http://127.0.0.1:9000";
  EXPECT_EQ(MustCreate(o)->ObjectUrl("k"), "http://127.0.0.1:9000/norn-bucket/k");
  o.endpoint = "localhost:9000";
  EXPECT_FALSE(MustCreate(o)->virtual_hosted());
  o = BaseOptions("");
  o.bucket_names = {"my.dotted.bucket"};
  EXPECT_FALSE(MustCreate(o)->virtual_hosted());  // Dots break the TLS wildcard certificate.
  o.bucket_names = {"Upper_Case"};
  EXPECT_FALSE(MustCreate(o)->virtual_hosted());
  // Only the first bucket is used.
  o.bucket_names = ParseBucketNames(" first, second ,");
  ASSERT_EQ(o.bucket_names.size(), 2u);
  EXPECT_EQ(MustCreate(o)->bucket(), "first");
}

TEST(S3Url, InvalidOptions) {
  S3Options o = BaseOptions("");
  o.bucket_names.clear();
  EXPECT_EQ(S3ObjectClient::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = BaseOptions("");
  o.sse.type = "SSE-C";
  EXPECT_EQ(S3ObjectClient::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.sse.type = "SSE-KMS";
  EXPECT_EQ(S3ObjectClient::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.sse.kms_key_id = "key";
  EXPECT_TRUE(S3ObjectClient::Create(o).ok());
}

TEST(S3Url, LokiUrlForms) {
  S3Options o;
  ASSERT_TRUE(ApplyS3Url("s3://AKID:se%2Fcret@eu-central-1/loki-chunks", o).ok());
  EXPECT_EQ(o.access_key_id, "AKID");
  EXPECT_EQ(o.secret_access_key, "se/cret");
  EXPECT_EQ(o.region, "eu-central-1");
  EXPECT_EQ(o.bucket_names, std::vector<std::string>{"loki-chunks"});
  EXPECT_TRUE(o.endpoint.empty());

  S3Options r;
  ASSERT_TRUE(ApplyS3Url("s3://us-west-2/b1", r).ok());
  EXPECT_EQ(r.region, "us-west-2");
  EXPECT_TRUE(r.access_key_id.empty());

  S3Options m;
  ASSERT_TRUE(ApplyS3Url("s3://user:pass@minio.svc:9000/loki", m).ok());
  EXPECT_EQ(m.endpoint, "http://minio.svc:9000");
  EXPECT_TRUE(m.s3forcepathstyle);
  EXPECT_TRUE(m.insecure);
  EXPECT_EQ(m.bucket_names, std::vector<std::string>{"loki"});

  S3Options bad;
  EXPECT_FALSE(ApplyS3Url("s3://us-west-2", bad).ok());
  EXPECT_FALSE(ApplyS3Url("gcs://x/y", bad).ok());
}

TEST(S3Client, VirtualHostedRequestShapeAndSigning) {
  TestHttpServer srv([](const TestRequest&) { return TestResponse(200, {{"ETag", "\"e\""}}); });
  S3Options o = BaseOptions(absl::StrCat("http://s3.norn.test:", srv.port()));
  o.connect_to = "::127.0.0.1:";  // No DNS: every connection goes to the loopback server.
  o.session_token = "SESSION";
  o.sse.type = "SSE-KMS";
  o.sse.kms_key_id = "kms-1";
  o.sse.kms_encryption_context = R"({"a":"b"})";
  auto c = MustCreate(o);
  ASSERT_TRUE(c->virtual_hosted());
  ASSERT_TRUE(c->Put("dir/obj 1", "payload").ok());
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const TestRequest& r = reqs[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.target, "/dir/obj%201");
  EXPECT_EQ(r.Header("host"), absl::StrCat("norn-bucket.s3.norn.test:", srv.port()));
  EXPECT_EQ(r.body, "payload");
  EXPECT_EQ(r.Header("x-amz-content-sha256"), Sha256Hex("payload"));  // Plain http: signed.
  EXPECT_EQ(r.Header("x-amz-security-token"), "SESSION");
  EXPECT_EQ(r.Header("x-amz-storage-class"), "STANDARD");
  EXPECT_EQ(r.Header("x-amz-server-side-encryption"), "aws:kms");
  EXPECT_EQ(r.Header("x-amz-server-side-encryption-aws-kms-key-id"), "kms-1");
  EXPECT_EQ(r.Header("x-amz-server-side-encryption-context"), absl::Base64Escape(R"({"a":"b"})"));
  EXPECT_EQ(r.Header("expect"), "");
  std::string auth = r.Header("authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/")) << auth;
  EXPECT_NE(auth.find("/eu-west-1/s3/aws4_request"), std::string::npos);
  EXPECT_NE(auth.find("x-amz-security-token"), std::string::npos);

  // Recompute the signature from what the server received.
  KeyValues headers;
  for (const auto& [k, v] : r.headers) {
    if (k == "host" || k == "content-type" || k == "x-amz-storage-class" ||
        k.starts_with("x-amz-server-side")) {
      headers.emplace_back(k, v);
    }
  }
  absl::Time t;
  std::string err;
  ASSERT_TRUE(absl::ParseTime("%E4Y%m%dT%H%M%SZ", r.Header("x-amz-date"), &t, &err));
  const std::string hash = Sha256Hex("payload");
  SigV4Request sig{"PUT", "/dir/obj%201", nullptr, hash, "eu-west-1", "s3", t};
  SigV4Debug d = SignRequest(sig, {"AKID", "SECRET", "SESSION", absl::InfiniteFuture()}, headers);
  EXPECT_NE(auth.find(d.signature), std::string::npos) << auth << "\n" << d.canonical_request;
}

TEST(S3Client, ErrorMapping) {
  TestHttpServer srv([](const TestRequest& r) {
    if (r.target.starts_with("/norn-bucket/denied")) {
      return TestResponse(403, {},
                          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied"
                          "</Code><Message>Access Denied</Message><RequestId>1</RequestId>"
                          "</Error>");
    }
    if (r.target.starts_with("/norn-bucket/missing")) {
      return TestResponse(404, {}, "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
    }
    if (r.target.starts_with("/norn-bucket/range"))
      return TestResponse(416);
    if (r.target.starts_with("/norn-bucket/full"))
      return TestResponse(200, {}, "0123456789");
    if (r.target.starts_with("/norn-bucket/bad")) {
      return TestResponse(400, {},
                          "<Error><Code>InvalidArgument</Code><Message>no</Message></Error>");
    }
    return TestResponse(200);
  });
  auto c = MustCreate(BaseOptions(srv.url()));
  auto denied = c->Get("denied/key");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("403 AccessDenied: Access Denied"),
            absl::string_view::npos)
      << denied.status();
  auto missing = c->Get("missing/key");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("NoSuchKey"), absl::string_view::npos);
  EXPECT_EQ(c->Head("missing/key").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(c->Delete("missing/key").ok());
  auto range = c->GetRange("range/key", 100, 10);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, "");
  // A server that ignores Range: the client slices.
  EXPECT_EQ(*c->GetRange("full/key", 3, 4), "3456");
  EXPECT_EQ(*c->GetRange("full/key", 8, 100), "89");
  EXPECT_EQ(c->Get("bad/key").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Get("../x").status().code(), absl::StatusCode::kInvalidArgument);
  // No retries for non-transient errors: one request each.
  EXPECT_EQ(srv.request_count(), 8u);

  std::string metrics = metrics::Registry::Default().Render();
  EXPECT_NE(metrics.find("loki_s3_request_duration_seconds_count{operation=\"S3.GetObject\","
                         "status_code=\"403\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("operation=\"S3.DeleteObject\",status_code=\"404\""), std::string::npos);
}

TEST(S3Client, RetriesTransientErrors) {
  std::atomic<int> calls{0};
  TestHttpServer srv([&](const TestRequest&) {
    int n = ++calls;
    if (n == 1)
      return TestResponse(503, {},
                          "<Error><Code>SlowDown</Code><Message>Please reduce"
                          " your request rate.</Message></Error>");
    if (n == 2)
      return TestResponse(-1);  // Connection dropped without a response.
    if (n == 3)
      return TestResponse(400, {}, "<Error><Code>RequestTimeout</Code></Error>");
    return TestResponse(200, {}, "ok");
  });
  auto c = MustCreate(BaseOptions(srv.url()));
  auto got = c->Get("k");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "ok");
  EXPECT_EQ(calls.load(), 4);

  calls = 100;  // Always 500 from now on.
  TestHttpServer down([&](const TestRequest&) { return TestResponse(500); });
  S3Options o = BaseOptions(down.url());
  o.backoff_config.max_retries = 3;
  auto c2 = MustCreate(o);
  absl::Status st = c2->Put("k", "v");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_NE(st.message().find("after 3 attempts"), absl::string_view::npos) << st;
  EXPECT_EQ(down.request_count(), 3u);
}

TEST(S3Client, CompleteMultipartErrorIn200IsRetriedThenAborted) {
  std::atomic<int> completes{0};
  TestHttpServer srv([&](const TestRequest& r) {
    if (r.method == "POST" && r.target.ends_with("?uploads")) {
      return TestResponse(200, {},
                          "<InitiateMultipartUploadResult><UploadId>U1</UploadId>"
                          "</InitiateMultipartUploadResult>");
    }
    if (r.method == "PUT")
      return TestResponse(200, {{"ETag", "\"p\""}});
    if (r.method == "POST") {
      ++completes;
      return TestResponse(200, {},
                          "<Error><Code>InternalError</Code><Message>try again"
                          "</Message></Error>");
    }
    return TestResponse(204);  // Abort.
  });
  S3Options o = BaseOptions(srv.url());
  o.part_size = 5 << 20;
  o.backoff_config.max_retries = 2;
  auto c = MustCreate(o);
  std::string data((5 << 20) + 10, 'x');
  absl::Status st = c->Put("big", data);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(completes.load(), 2);
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 6u);  // create, 2 parts, 2 completes, abort
  EXPECT_EQ(reqs[1].target, "/norn-bucket/big?partNumber=1&uploadId=U1");
  EXPECT_EQ(reqs[2].body.size(), 10u);
  EXPECT_EQ(reqs[3].body,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
            "&quot;p&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"
            "&quot;p&quot;</ETag></Part></CompleteMultipartUpload>");
  EXPECT_EQ(reqs[5].method, "DELETE");
  EXPECT_EQ(reqs[5].target, "/norn-bucket/big?uploadId=U1");
}

}  // namespace
}  // namespace norn::objstore
