// SigV4 against the worked examples of AWS's S3 "Signature Calculations for the Authorization
// Header" documentation (same keys, date, bucket and expected signatures).
#include "storage/objstore/aws_sigv4.h"

#include <gtest/gtest.h>

namespace norn::objstore {
namespace {

AwsCredentials ExampleCreds() {
  return AwsCredentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                        absl::InfiniteFuture()};
}

absl::Time ExampleTime() {
  return absl::FromUnixSeconds(1369353600);
}  // 20130524T000000Z

std::string Header(const KeyValues& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k == name)
      return v;
  }
  return "";
}

TEST(SigV4, Primitives) {
  EXPECT_EQ(Sha256Hex(""), kEmptyPayloadSha256);
  EXPECT_EQ(Sha256Hex("Welcome to Amazon S3."),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(AmzDate(ExampleTime()), "20130524T000000Z");
  EXPECT_EQ(UriEncode("a b/c~d$e+f=*", false), "a%20b%2Fc~d%24e%2Bf%3D%2A");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(S3CanonicalPath("fake/chunks/ab:cd ef%"), "/fake/chunks/ab%3Acd%20ef%25");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");  // UTF-8 bytes, uppercase hex.
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(SigV4, S3GetObjectExample) {
  KeyValues headers = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
  SigV4Request req{"GET",       "/test.txt", nullptr,      kEmptyPayloadSha256,
                   "us-east-1", "s3",        ExampleTime()};
  SigV4Debug d = SignRequest(req, ExampleCreds(), headers);
  EXPECT_EQ(d.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(d.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(Header(headers, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(Header(headers, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(Header(headers, "x-amz-security-token"), "");
}

TEST(SigV4, S3PutObjectExample) {
  KeyValues headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                       {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  std::string path = S3CanonicalPath("test$file.text");
  EXPECT_EQ(path, "/test%24file.text");
  std::string hash = Sha256Hex("Welcome to Amazon S3.");
  SigV4Request req{"PUT", path, nullptr, hash, "us-east-1", "s3", ExampleTime()};
  SigV4Debug d = SignRequest(req, ExampleCreds(), headers);
  EXPECT_EQ(d.signed_headers, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(d.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3GetBucketLifecycleExample) {
  KeyValues headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  KeyValues query = {{"lifecycle", ""}};
  SigV4Request req{"GET", "/", &query, kEmptyPayloadSha256, "us-east-1", "s3", ExampleTime()};
  SigV4Debug d = SignRequest(req, ExampleCreds(), headers);
  EXPECT_NE(d.canonical_request.find("\n/\nlifecycle=\n"), std::string::npos);
  EXPECT_EQ(d.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, S3ListObjectsExample) {
  KeyValues headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  KeyValues query = {{"prefix", "J"}, {"max-keys", "2"}};  // Sorted by the signer.
  SigV4Request req{"GET", "/", &query, kEmptyPayloadSha256, "us-east-1", "s3", ExampleTime()};
  SigV4Debug d = SignRequest(req, ExampleCreds(), headers);
  EXPECT_NE(d.canonical_request.find("\n/\nmax-keys=2&prefix=J\n"), std::string::npos);
  EXPECT_EQ(d.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, SessionTokenIsSignedAndSent) {
  AwsCredentials creds = ExampleCreds();
  creds.session_token = "tok/en==";
  KeyValues headers = {{"Host", "sts.us-east-1.amazonaws.com"}};
  SigV4Request req{"POST", "/", nullptr, Sha256Hex("Action=x"), "us-east-1", "sts", ExampleTime()};
  SigV4Debug d = SignRequest(req, creds, headers);
  EXPECT_EQ(d.signed_headers, "host;x-amz-date;x-amz-security-token");  // No content hash: not S3.
  EXPECT_EQ(Header(headers, "x-amz-security-token"), "tok/en==");
}

TEST(SigV4, CanonicalHeadersTrimAndMerge) {
  KeyValues headers = {{"Host", "h"}, {"X-Meta", "  a   b  "}, {"x-meta", "c"}};
  SigV4Request req{"GET", "", nullptr, kUnsignedPayload, "r", "s3", ExampleTime()};
  SigV4Debug d = SignRequest(req, ExampleCreds(), headers);
  EXPECT_NE(d.canonical_request.find("\nx-meta:a b,c\n"), std::string::npos) << d.canonical_request;
  EXPECT_EQ(d.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-meta");
  EXPECT_EQ(d.canonical_request.substr(0, 6), "GET\n/\n");
}

TEST(SigV4, CanonicalQueryEncodesAndSorts) {
  KeyValues q = {{"prefix", "a b/c"}, {"continuation-token", "1+2=="}, {"delimiter", "/"}};
  EXPECT_EQ(CanonicalQueryString(q),
            "continuation-token=1%2B2%3D%3D&delimiter=%2F&prefix=a%20b%2Fc");
}

}  // namespace
}  // namespace norn::objstore
