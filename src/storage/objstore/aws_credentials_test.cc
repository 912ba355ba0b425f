// Credential providers and the default chain. Endpoints are TestHttpServer instances on
// 127.0.0.1; IMDS is disabled (or pointed at loopback) in every test so nothing leaves the host.
#include "storage/objstore/aws_credentials.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "storage/objstore/test_http_server.h"

namespace norn::objstore {
namespace {

using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

// Sets/unsets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  ScopedEnv& Set(const std::string& name, std::optional<std::string> value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
    return *this;
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved_) {
      if (v) {
        ::setenv(k.c_str(), v->c_str(), 1);
      } else {
        ::unsetenv(k.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// A clean slate: no AWS variables, no credentials file, IMDS off.
void ClearAwsEnv(ScopedEnv& env) {
  for (const char* v :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT"}) {
    env.Set(v, std::nullopt);
  }
  env.Set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/norn-test-credentials");
  env.Set("AWS_EC2_METADATA_DISABLED", "true");
}

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream(path) << content;
  return path;
}

std::string Iso(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

TEST(Credentials, ChainOrderStaticEnvProfile) {
  ScopedEnv env;
  ClearAwsEnv(env);
  std::string file = TempFile("creds-order",
                              "# comment\n[default]\naws_access_key_id = FILEKEY\n"
                              "aws_secret_access_key=FILESECRET\n\n[other]\n"
                              "aws_access_key_id=OTHERKEY\naws_secret_access_key = OTHERSECRET\n"
                              "aws_session_token = OTHERTOKEN\n");
  env.Set("AWS_SHARED_CREDENTIALS_FILE", file);
  env.Set("AWS_ACCESS_KEY_ID", "ENVKEY").Set("AWS_SECRET_ACCESS_KEY", "ENVSECRET");
  env.Set("AWS_SESSION_TOKEN", "ENVTOKEN");

  CredentialsChainOptions opts;
  opts.static_credentials = {"STATICKEY", "STATICSECRET", "", absl::InfiniteFuture()};
  {
    auto chain = NewDefaultCredentialsChain(opts);
    auto c = chain->GetCredentials();
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->access_key_id, "STATICKEY");
    EXPECT_EQ(chain->last_provider(), "static");
  }
  opts.static_credentials = {};
  {
    auto chain = NewDefaultCredentialsChain(opts);
    auto c = chain->GetCredentials();
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->access_key_id, "ENVKEY");
    EXPECT_EQ(c->session_token, "ENVTOKEN");
    EXPECT_EQ(chain->last_provider(), "env");
  }
  env.Set("AWS_ACCESS_KEY_ID", std::nullopt);
  {
    auto chain = NewDefaultCredentialsChain(opts);
    auto c = chain->GetCredentials();
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->access_key_id, "FILEKEY");
    EXPECT_EQ(c->secret_access_key, "FILESECRET");
    EXPECT_EQ(c->session_token, "");
    EXPECT_EQ(chain->last_provider(), "profile");
  }
  env.Set("AWS_PROFILE", "other");
  {
    auto chain = NewDefaultCredentialsChain(opts);
    auto c = chain->GetCredentials();
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->access_key_id, "OTHERKEY");
    EXPECT_EQ(c->session_token, "OTHERTOKEN");
  }
  env.Set("AWS_PROFILE", "missing");
  {
    auto chain = NewDefaultCredentialsChain(opts);
    auto c = chain->GetCredentials();
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << c.status();
    EXPECT_NE(c.status().message().find("no [missing]"), absl::string_view::npos);
    EXPECT_NE(c.status().message().find("AWS_EC2_METADATA_DISABLED"), absl::string_view::npos);
  }
}

TEST(Credentials, WebIdentityParsesStsAndRefreshes) {
  ScopedEnv env;
  ClearAwsEnv(env);
  std::atomic<int> calls{0};
  TestHttpServer sts([&](const TestRequest&) {
    int n = ++calls;
    std::string exp = Iso(absl::Now() + absl::Hours(1));
    return TestResponse{
        200,
        {{"Content-Type", "text/xml"}},
        absl::StrCat("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
                     "2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials>"
                     "<AccessKeyId>ASIAKEY",
                     n,
                     "</AccessKeyId><SecretAccessKey>secret&amp;x</SecretAccessKey>"
                     "<SessionToken>tok",
                     n, "</SessionToken><Expiration>", exp,
                     "</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
                     "</AssumeRoleWithWebIdentityResponse>")};
  });
  env.Set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/norn");
  env.Set("AWS_WEB_IDENTITY_TOKEN_FILE", TempFile("wi-token", "eyJhbGc.payload.sig\n"));
  env.Set("AWS_ROLE_SESSION_NAME", "norn-test");
  env.Set("AWS_ENDPOINT_URL_STS", sts.url());

  auto chain = NewDefaultCredentialsChain({});
  auto c = chain->GetCredentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "ASIAKEY1");
  EXPECT_EQ(c->secret_access_key, "secret&x");
  EXPECT_EQ(c->session_token, "tok1");
  EXPECT_GT(c->expiration, absl::Now() + absl::Minutes(50));
  EXPECT_EQ(chain->last_provider(), "web_identity");
  // Cached: an hour left is well outside the 5 minute refresh window.
  ASSERT_TRUE(chain->GetCredentials().ok());
  EXPECT_EQ(calls, 1);
  auto reqs = sts.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].Header("authorization"), "");  // Unsigned.
  EXPECT_NE(reqs[0].body.find("Action=AssumeRoleWithWebIdentity"), std::string::npos);
  EXPECT_NE(reqs[0].body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fnorn"),
            std::string::npos);
  EXPECT_NE(reqs[0].body.find("WebIdentityToken=eyJhbGc.payload.sig"), std::string::npos);
  EXPECT_NE(reqs[0].body.find("RoleSessionName=norn-test"), std::string::npos);

  // A refresh window longer than the credentials' life forces a fetch on every call.
  WebIdentityConfig cfg{"arn:aws:iam::123456789012:role/norn",
                        std::getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), "", sts.url()};
  WebIdentityCredentialsProvider eager(cfg, absl::Hours(2));
  auto a = eager.GetCredentials();
  auto b = eager.GetCredentials();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->access_key_id, b->access_key_id);
  EXPECT_EQ(eager.fetch_count(), 2);
}

TEST(Credentials, WebIdentityStsErrorAndStaleFallback) {
  std::atomic<bool> fail{false};
  TestHttpServer sts([&](const TestRequest&) {
    if (fail) {
      return TestResponse{400,
                          {},
                          "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken"
                          "</Code><Message>bad token</Message></Error></ErrorResponse>"};
    }
    return TestResponse{200,
                        {},
                        absl::StrCat("<R><AssumeRoleWithWebIdentityResult><Credentials>"
                                     "<AccessKeyId>A</AccessKeyId><SecretAccessKey>S"
                                     "</SecretAccessKey><SessionToken>T</SessionToken>"
                                     "<Expiration>",
                                     Iso(absl::Now() + absl::Minutes(3)),
                                     "</Expiration></Credentials>"
                                     "</AssumeRoleWithWebIdentityResult></R>")};
  });
  WebIdentityConfig cfg{"arn:aws:iam::1:role/r", TempFile("wi-token2", "t"), "s", sts.url()};
  WebIdentityCredentialsProvider p(cfg, absl::Minutes(5));
  ASSERT_TRUE(p.GetCredentials().ok());
  fail = true;
  // Inside the refresh window a refresh is attempted; it fails, the still-valid cache is used.
  auto c = p.GetCredentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "A");
  EXPECT_EQ(sts.request_count(), 2u);

  WebIdentityCredentialsProvider fresh(cfg, absl::Minutes(5));
  auto e = fresh.GetCredentials();
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInternal) << e.status();
  EXPECT_NE(e.status().message().find("InvalidIdentityToken: bad token"), absl::string_view::npos);
}

TEST(Credentials, ContainerFullUriWithToken) {
  ScopedEnv env;
  ClearAwsEnv(env);
  TestHttpServer ecs([&](const TestRequest& r) {
    if (r.Header("authorization") != "Bearer xyz")
      return TestResponse{401, {}, "no"};
    return TestResponse{200,
                        {},
                        absl::StrCat(R"({"AccessKeyId":"ECSKEY","SecretAccessKey":"ECSSECRET",)",
                                     R"("Token":"ECSTOKEN","Expiration":")",
                                     Iso(absl::Now() + absl::Hours(6)), R"("})")};
  });
  env.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url() + "/v2/credentials/abc");
  env.Set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer xyz");
  auto chain = NewDefaultCredentialsChain({});
  auto c = chain->GetCredentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "ECSKEY");
  EXPECT_EQ(c->session_token, "ECSTOKEN");
  EXPECT_EQ(chain->last_provider(), "container");
  EXPECT_EQ(ecs.requests().at(0).target, "/v2/credentials/abc");

  // Plain http to a non-loopback host is refused before any connection is made.
  ContainerCredentialsProvider remote("http://example.invalid/creds", "", "", absl::Minutes(5));
  EXPECT_EQ(remote.GetCredentials().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Credentials, InstanceMetadataV2) {
  ScopedEnv env;
  ClearAwsEnv(env);
  TestHttpServer imds([&](const TestRequest& r) {
    if (r.method == "PUT" && r.target == "/latest/api/token") {
      if (r.Header("x-aws-ec2-metadata-token-ttl-seconds").empty())
        return TestResponse{400};
      return TestResponse{200, {}, "IMDSTOKEN"};
    }
    if (r.Header("x-aws-ec2-metadata-token") != "IMDSTOKEN")
      return TestResponse{401};
    if (r.target == "/latest/meta-data/iam/security-credentials/") {
      return TestResponse{200, {}, "norn-role\n"};
    }
    if (r.target == "/latest/meta-data/iam/security-credentials/norn-role") {
      return TestResponse{
          200,
          {},
          absl::StrCat(R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"EC2KEY",)",
                       R"("SecretAccessKey":"EC2SECRET","Token":"EC2TOKEN","Expiration":")",
                       Iso(absl::Now() + absl::Hours(6)), R"("})")};
    }
    return TestResponse{404};
  });
  env.Set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url());
  env.Set("AWS_EC2_METADATA_DISABLED", std::nullopt);
  auto chain = NewDefaultCredentialsChain({});
  auto c = chain->GetCredentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "EC2KEY");
  EXPECT_EQ(c->session_token, "EC2TOKEN");
  EXPECT_EQ(chain->last_provider(), "imds");
  EXPECT_EQ(imds.request_count(), 3u);

  // Disabled: the endpoint is never contacted.
  env.Set("AWS_EC2_METADATA_DISABLED", "true");
  auto off = NewDefaultCredentialsChain({});
  EXPECT_EQ(off->GetCredentials().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(imds.request_count(), 3u);
}

TEST(Credentials, ImdsDownIsNotConfigured) {
  // A loopback port with nothing listening: connection refused, the chain has nothing else.
  InstanceMetadataCredentialsProvider p("http://127.0.0.1:1", false, absl::Minutes(5));
  EXPECT_EQ(p.GetCredentials().status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace norn::objstore
