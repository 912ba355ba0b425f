#include "storage/objstore/aws_sigv4.h"

#include <algorithm>
#include <cctype>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace norn::objstore {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

// Trims and collapses runs of spaces, as the canonical header rules require.
std::string CanonicalHeaderValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space)
      out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kHex[b >> 4];
    out[2 * i + 1] = kHex[b & 0xf];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xf]);
    }
  }
  return out;
}

std::string S3CanonicalPath(std::string_view key) {
  return absl::StrCat("/", UriEncode(key, /*keep_slash=*/true));
}

std::string AmzDate(absl::Time t) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone());
}

std::string CanonicalQueryString(const KeyValues& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query)
    enc.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty())
      out.push_back('&');
    absl::StrAppend(&out, k, "=", v);
  }
  return out;
}

SigV4Debug SignRequest(const SigV4Request& req, const AwsCredentials& creds, KeyValues& headers) {
  const std::string amz_date = AmzDate(req.now);
  const std::string date = amz_date.substr(0, 8);
  headers.emplace_back("x-amz-date", amz_date);
  if (req.service == "s3")
    headers.emplace_back("x-amz-content-sha256", req.payload_hash);
  if (!creds.session_token.empty())
    headers.emplace_back("x-amz-security-token", creds.session_token);

  // Lowercased names, sorted; duplicate names merge their values with ','.
  std::vector<std::pair<std::string, std::string>> canon;
  canon.reserve(headers.size());
  for (const auto& [k, v] : headers) {
    canon.emplace_back(absl::AsciiStrToLower(AV(k)), CanonicalHeaderValue(v));
  }
  std::stable_sort(canon.begin(), canon.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers;
  std::string signed_headers;
  for (size_t i = 0; i < canon.size(); ++i) {
    if (i > 0 && canon[i].first == canon[i - 1].first) {
      canonical_headers.pop_back();  // the '\n'
      absl::StrAppend(&canonical_headers, ",", canon[i].second, "\n");
      continue;
    }
    if (!signed_headers.empty())
      signed_headers.push_back(';');
    signed_headers += canon[i].first;
    absl::StrAppend(&canonical_headers, canon[i].first, ":", canon[i].second, "\n");
  }

  SigV4Debug d;
  d.signed_headers = signed_headers;
  d.canonical_request =
      absl::StrCat(AV(req.method), "\n", AV(req.canonical_uri.empty() ? "/" : req.canonical_uri),
                   "\n", req.query ? CanonicalQueryString(*req.query) : "", "\n", canonical_headers,
                   "\n", signed_headers, "\n", AV(req.payload_hash));
  const std::string scope =
      absl::StrCat(date, "/", AV(req.region), "/", AV(req.service), "/aws4_request");
  d.string_to_sign = absl::StrCat("AWS4-HMAC-SHA256\n", amz_date, "\n", scope, "\n",
                                  Sha256Hex(d.canonical_request));
  std::string k = HmacSha256(absl::StrCat("AWS4", creds.secret_access_key), date);
  k = HmacSha256(k, req.region);
  k = HmacSha256(k, req.service);
  k = HmacSha256(k, "aws4_request");
  d.signature = HexEncode(HmacSha256(k, d.string_to_sign));
  headers.emplace_back(
      "Authorization",
      absl::StrCat("AWS4-HMAC-SHA256 Credential=", creds.access_key_id, "/", scope,
                   ", SignedHeaders=", signed_headers, ", Signature=", d.signature));
  return d;
}

}  // namespace norn::objstore
