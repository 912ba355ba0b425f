#include "storage/objstore/s3.h"

#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/objstore/aws_xml.h"

namespace norn::objstore {

struct S3ObjectClient::Call {
  std::string_view op;  // metric label, e.g. "S3.GetObject"
  std::string method = "GET";
  std::string_view key;  // "" addresses the bucket
  KeyValues query;       // decoded
  KeyValues headers;     // extra headers (Range, SSE, ...)
  std::string_view body;
  std::vector<int> accept;    // non-2xx statuses handed back to the caller
  bool error_in_200 = false;  // CompleteMultipartUpload may fail with a 200 + <Error> body
};

namespace {

constexpr uint64_t kMinPartSize = 5ull << 20;

bool IsIpLiteral(std::string_view host) {
  if (host.starts_with("["))
    return true;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

// Bucket names usable as a DNS label prefix (S3's rules for virtual-hosted addressing).
bool DnsCompatibleBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63)
    return false;
  for (char c : b) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return false;
    }
  }
  return b.front() != '-' && b.back() != '-' && b.find("..") == std::string_view::npos &&
         !IsIpLiteral(b);
}

// host[:port] without the port.
std::string_view HostName(std::string_view hostport) {
  if (hostport.starts_with("["))
    return hostport.substr(0, hostport.find(']') + 1);
  return hostport.substr(0, hostport.rfind(':'));
}

bool Retryable(int status, const AwsErrorInfo& err) {
  if (status >= 500 || status == 429)
    return true;
  return err.code == "RequestTimeout" || err.code == "SlowDown" || err.code == "OperationAborted" ||
         err.code == "ExpiredToken" || err.code == "InternalError";
}

absl::Status MapHttpError(std::string_view op, std::string_view key, int status,
                          const AwsErrorInfo& err) {
  std::string code = err.code.empty() ? absl::StrCat("HTTP ", status) : err.code;
  std::string msg = absl::StrCat(AV(op), " ", AV(key.empty() ? "(bucket)" : key), ": ", status, " ",
                                 code, err.message.empty() ? "" : ": ", err.message);
  if (status == 404)
    return absl::NotFoundError(msg);
  if (status == 403)
    return absl::PermissionDeniedError(msg);
  if (status == 401)
    return absl::UnauthenticatedError(msg);
  if (Retryable(status, err))
    return absl::UnavailableError(msg);
  if (status >= 400 && status < 500)
    return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

absl::Duration Backoff(const S3BackoffConfig& cfg, int attempt) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  absl::Duration cap = cfg.min_period;
  for (int i = 0; i < attempt && cap < cfg.max_period; ++i)
    cap *= 2;
  cap = std::min(cap, cfg.max_period);
  // Full jitter: uniform in [0, cap).
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  return cap * dist(rng);
}

}  // namespace

std::vector<std::string> ParseBucketNames(std::string_view names) {
  std::vector<std::string> out;
  for (absl::string_view b : absl::StrSplit(AV(names), ',')) {
    b = absl::StripAsciiWhitespace(b);
    if (!b.empty())
      out.emplace_back(b);
  }
  return out;
}

absl::Status ApplyS3Url(std::string_view url, S3Options& options) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("s3 URL must start with s3://: ", AV(url)));
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  size_t at = authority.rfind('@');
  std::string_view host = authority;
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    host = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    options.access_key_id = UrlDecode(userinfo.substr(0, colon));
    options.secret_access_key =
        colon == std::string_view::npos ? "" : UrlDecode(userinfo.substr(colon + 1));
  }
  if (path.empty())
    return absl::InvalidArgumentError(absl::StrCat("s3 URL has no bucket: ", AV(url)));
  options.bucket_names = ParseBucketNames(path);
  if (host.find('.') != std::string_view::npos) {
    // An S3-compatible endpoint, spoken to over plain http with path-style addressing.
    options.endpoint = absl::StrCat("http://", AV(host));
    options.insecure = true;
    options.s3forcepathstyle = true;
    const char* region = std::getenv("AWS_REGION");
    options.region = region && *region ? region : "dummy";
  } else if (!host.empty()) {
    options.region = std::string(host);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<S3ObjectClient>> S3ObjectClient::Create(S3Options options) {
  CredentialsChainOptions chain;
  chain.static_credentials = AwsCredentials{options.access_key_id, options.secret_access_key,
                                            options.session_token, absl::InfiniteFuture()};
  chain.region = options.region;
  chain.sts_endpoint = options.sts_endpoint;
  std::shared_ptr<CredentialsProvider> creds = NewDefaultCredentialsChain(chain);
  return Create(std::move(options), std::move(creds));
}

absl::StatusOr<std::unique_ptr<S3ObjectClient>> S3ObjectClient::Create(
    S3Options options, std::shared_ptr<CredentialsProvider> credentials) {
  if (options.bucket_names.empty() || options.bucket_names.front().empty()) {
    return absl::InvalidArgumentError("s3: no bucket configured (bucketnames or s3 URL)");
  }
  if (credentials == nullptr)
    return absl::InvalidArgumentError("s3: no credentials provider");
  const std::string& type = options.sse.type;
  if (!type.empty() && type != "SSE-S3" && type != "SSE-KMS") {
    return absl::InvalidArgumentError(
        absl::StrCat("s3: unsupported sse.type \"", type, "\" (SSE-S3 or SSE-KMS)"));
  }
  if (type == "SSE-KMS" && options.sse.kms_key_id.empty()) {
    return absl::InvalidArgumentError("s3: sse.kms_key_id is required with SSE-KMS");
  }
  if (options.region.empty())
    options.region = "us-east-1";
  options.part_size = std::max(options.part_size, kMinPartSize);
  options.list_max_keys = std::clamp(options.list_max_keys, 1, 1000);
  options.backoff_config.max_retries = std::max(options.backoff_config.max_retries, 1);

  std::string scheme = options.insecure ? "http" : "https";
  std::string host;
  if (options.endpoint.empty()) {
    host = absl::StrCat("s3.", options.region, ".amazonaws.com");
  } else if (options.endpoint.find("://") != std::string::npos) {
    ASSIGN_OR_RETURN(ParsedUrl u, ParseHttpUrl(options.endpoint));
    scheme = u.scheme;
    host = u.host.find(':') != std::string::npos ? absl::StrCat("[", u.host, "]") : u.host;
    if (u.port != 0)
      absl::StrAppend(&host, ":", u.port);
  } else {
    host = options.endpoint;
    while (!host.empty() && host.back() == '/')
      host.pop_back();
  }
  const std::string& bucket = options.bucket_names.front();
  std::string_view hostname = HostName(host);
  bool virtual_hosted = !options.s3forcepathstyle && DnsCompatibleBucket(bucket) &&
                        !(scheme == "https" && bucket.find('.') != std::string::npos) &&
                        !IsIpLiteral(hostname) && hostname != "localhost";
  return std::unique_ptr<S3ObjectClient>(
      new S3ObjectClient(std::move(options), std::move(credentials), std::move(scheme),
                         std::move(host), virtual_hosted));
}

S3ObjectClient::S3ObjectClient(S3Options options, std::shared_ptr<CredentialsProvider> credentials,
                               std::string scheme, std::string host, bool virtual_hosted)
    : options_(std::move(options)),
      credentials_(std::move(credentials)),
      scheme_(std::move(scheme)),
      host_(std::move(host)),
      virtual_hosted_(virtual_hosted),
      bucket_(options_.bucket_names.front()),
      region_(options_.region),
      http_([this] {
        HttpClientOptions h;
        h.connect_timeout = options_.http_config.connect_timeout;
        h.request_timeout = options_.http_config.request_timeout;
        h.response_header_timeout = options_.http_config.response_header_timeout;
        h.idle_conn_timeout = options_.http_config.idle_conn_timeout;
        h.insecure_skip_verify = options_.http_config.insecure_skip_verify;
        h.ca_file = options_.http_config.ca_file;
        h.connect_to = options_.connect_to;
        return h;
      }()),
      durations_(metrics::Registry::Default().Histogram(
          "loki_s3_request_duration_seconds", "Time spent doing S3 requests.",
          {"operation", "status_code"}, {.25, .5, 1, 2, 4, 8, 16, 32, 64, 128})) {}

S3ObjectClient::~S3ObjectClient() = default;

std::string S3ObjectClient::ObjectUrl(std::string_view key) const {
  std::string path = key.empty() ? "/" : S3CanonicalPath(key);
  if (virtual_hosted_)
    return absl::StrCat(scheme_, "://", bucket_, ".", host_, path);
  return absl::StrCat(scheme_, "://", host_, "/", UriEncode(bucket_, false),
                      key.empty() ? "" : path);
}

void S3ObjectClient::AddWriteHeaders(KeyValues& headers) const {
  if (!options_.storage_class.empty()) {
    headers.emplace_back("x-amz-storage-class", options_.storage_class);
  }
  if (options_.sse.type == "SSE-S3") {
    headers.emplace_back("x-amz-server-side-encryption", "AES256");
  } else if (options_.sse.type == "SSE-KMS") {
    headers.emplace_back("x-amz-server-side-encryption", "aws:kms");
    headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", options_.sse.kms_key_id);
    if (!options_.sse.kms_encryption_context.empty()) {
      headers.emplace_back("x-amz-server-side-encryption-context",
                           absl::Base64Escape(options_.sse.kms_encryption_context));
    }
  }
}

absl::StatusOr<HttpResponse> S3ObjectClient::Execute(const Call& call) {
  std::string base_url = ObjectUrl(call.key);
  // The canonical URI is exactly the path sent (S3 signs it without double encoding).
  size_t path_start = base_url.find('/', base_url.find("://") + 3);
  std::string canonical_uri = base_url.substr(path_start);
  std::string host_header =
      base_url.substr(base_url.find("://") + 3, path_start - base_url.find("://") - 3);
  std::string url = base_url;
  if (!call.query.empty()) {
    url.push_back('?');
    bool first = true;
    for (const auto& [k, v] : call.query) {
      if (!first)
        url.push_back('&');
      first = false;
      url += UriEncode(k, false);
      // A bare flag ("?uploads") is sent without '=' but signed as "uploads=".
      if (!v.empty())
        absl::StrAppend(&url, "=", UriEncode(v, false));
    }
  }
  std::string payload_hash;
  if (call.body.empty()) {
    payload_hash = std::string(kEmptyPayloadSha256);
  } else if (scheme_ == "http" || options_.sign_payload_over_https) {
    payload_hash = Sha256Hex(call.body);
  } else {
    payload_hash = std::string(kUnsignedPayload);
  }

  absl::Status last;
  const int attempts = options_.backoff_config.max_retries;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0)
      absl::SleepFor(Backoff(options_.backoff_config, attempt - 1));
    absl::StatusOr<AwsCredentials> creds = credentials_->GetCredentials();
    if (!creds.ok()) {
      last = creds.status();
      if (absl::IsUnavailable(last))
        continue;
      return last;
    }
    HttpRequest req;
    req.method = call.method;
    req.url = url;
    req.body = call.body;
    req.headers.emplace_back("host", host_header);
    for (const auto& h : call.headers)
      req.headers.push_back(h);
    SigV4Request sig{req.method, canonical_uri, &call.query, payload_hash,
                     region_,    "s3",          absl::Now()};
    SignRequest(sig, *creds, req.headers);

    absl::Time start = absl::Now();
    absl::StatusOr<HttpResponse> resp = http_.Do(req);
    double secs = absl::ToDoubleSeconds(absl::Now() - start);
    if (!resp.ok()) {
      durations_.WithLabels({call.op, "error"}).Observe(secs);
      last = absl::UnavailableError(
          absl::StrCat(AV(call.op), " ", AV(call.key), ": ", resp.status().message()));
      continue;
    }
    std::string code = absl::StrCat(resp->status);
    durations_.WithLabels({call.op, code}).Observe(secs);
    const int status = resp->status;
    if (status >= 200 && status < 300) {
      if (call.error_in_200) {
        AwsErrorInfo err = ParseAwsError(resp->body);
        if (!err.code.empty()) {
          last = MapHttpError(call.op, call.key, 500, err);
          if (absl::IsUnavailable(last))
            continue;
          return last;
        }
      }
      return resp;
    }
    if (std::find(call.accept.begin(), call.accept.end(), status) != call.accept.end()) {
      return resp;
    }
    AwsErrorInfo err = ParseAwsError(resp->body);
    if (err.code.empty() && status == 404)
      err.code = call.key.empty() ? "NoSuchBucket" : "NoSuchKey";
    last = MapHttpError(call.op, call.key, status, err);
    if (!absl::IsUnavailable(last))
      return last;
  }
  return absl::UnavailableError(
      absl::StrCat(last.message(), " (gave up after ", attempts, " attempts)"));
}

absl::Status S3ObjectClient::Put(std::string_view key, std::string_view data) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (data.size() > options_.part_size)
    return PutMultipart(key, data);
  Call call;
  call.op = "S3.PutObject";
  call.method = "PUT";
  call.key = key;
  call.body = data;
  call.headers.emplace_back("Content-Type", "application/octet-stream");
  AddWriteHeaders(call.headers);
  return Execute(call).status();
}

absl::Status S3ObjectClient::PutMultipart(std::string_view key, std::string_view data) {
  Call create;
  create.op = "S3.CreateMultipartUpload";
  create.method = "POST";
  create.key = key;
  create.query = {{"uploads", ""}};
  create.headers.emplace_back("Content-Type", "application/octet-stream");
  AddWriteHeaders(create.headers);
  ASSIGN_OR_RETURN(HttpResponse created, Execute(create));
  ASSIGN_OR_RETURN(XmlElement doc, ParseXml(created.body));
  std::string upload_id = doc.ChildText("UploadId");
  if (upload_id.empty()) {
    return absl::InternalError(absl::StrCat("S3.CreateMultipartUpload ", AV(key), ": no UploadId"));
  }

  auto abort = [&](absl::Status cause) {
    Call del;
    del.op = "S3.AbortMultipartUpload";
    del.method = "DELETE";
    del.key = key;
    del.query = {{"uploadId", upload_id}};
    del.accept = {404};
    if (absl::Status st = Execute(del).status(); !st.ok()) {
      NORN_LOG(Warn).Msg("aborting S3 multipart upload failed").Kv("key", key).Kv("err", st);
    }
    return cause;
  };

  std::string complete = "<CompleteMultipartUpload>";
  const uint64_t part = options_.part_size;
  int number = 0;
  for (uint64_t off = 0; off < data.size(); off += part) {
    ++number;
    Call up;
    up.op = "S3.UploadPart";
    up.method = "PUT";
    up.key = key;
    up.query = {{"partNumber", absl::StrCat(number)}, {"uploadId", upload_id}};
    up.body = data.substr(off, std::min<uint64_t>(part, data.size() - off));
    absl::StatusOr<HttpResponse> r = Execute(up);
    if (!r.ok())
      return abort(r.status());
    std::string_view etag = r->Header("etag");
    if (etag.empty()) {
      return abort(absl::InternalError(
          absl::StrCat("S3.UploadPart ", AV(key), ": no ETag for part ", number)));
    }
    absl::StrAppend(&complete, "<Part><PartNumber>", number, "</PartNumber><ETag>", XmlEscape(etag),
                    "</ETag></Part>");
  }
  complete += "</CompleteMultipartUpload>";

  Call done;
  done.op = "S3.CompleteMultipartUpload";
  done.method = "POST";
  done.key = key;
  done.query = {{"uploadId", upload_id}};
  done.headers.emplace_back("Content-Type", "application/xml");
  done.body = complete;
  done.error_in_200 = true;
  absl::StatusOr<HttpResponse> r = Execute(done);
  if (!r.ok())
    return abort(r.status());
  return absl::OkStatus();
}

absl::StatusOr<std::string> S3ObjectClient::Get(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Call call;
  call.op = "S3.GetObject";
  call.key = key;
  ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  return std::move(r.body);
}

absl::StatusOr<std::string> S3ObjectClient::GetRange(std::string_view key, uint64_t offset,
                                                     uint64_t length) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (length == 0)
    return std::string();
  Call call;
  call.op = "S3.GetObject";
  call.key = key;
  uint64_t last = length > UINT64_MAX - offset ? UINT64_MAX : offset + length - 1;
  call.headers.emplace_back("Range", last == UINT64_MAX
                                         ? absl::StrCat("bytes=", offset, "-")
                                         : absl::StrCat("bytes=", offset, "-", last));
  call.accept = {416};  // Range starts past the end: an empty read, as the filesystem gives.
  ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 416)
    return std::string();
  if (r.status == 200) {
    // The store ignored Range and sent the whole object.
    if (offset >= r.body.size())
      return std::string();
    return r.body.substr(offset, std::min<uint64_t>(length, r.body.size() - offset));
  }
  return std::move(r.body);
}

absl::StatusOr<ObjectAttributes> S3ObjectClient::Head(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Call call;
  call.op = "S3.HeadObject";
  call.method = "HEAD";
  call.key = key;
  ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  ObjectAttributes attrs;
  attrs.key = std::string(key);
  if (!absl::SimpleAtoi(AV(r.Header("content-length")), &attrs.size)) {
    return absl::InternalError(absl::StrCat("S3.HeadObject ", AV(key), ": no Content-Length"));
  }
  auto t = ParseHttpDate(r.Header("last-modified"));
  attrs.last_modified = t.ok() ? *t : absl::UnixEpoch();
  return attrs;
}

absl::StatusOr<ListResult> S3ObjectClient::List(std::string_view prefix,
                                                std::string_view delimiter) {
  ListResult result;
  std::string token;
  for (;;) {
    Call call;
    call.op = "S3.List";
    call.query = {{"list-type", "2"}, {"max-keys", absl::StrCat(options_.list_max_keys)}};
    if (!prefix.empty())
      call.query.emplace_back("prefix", std::string(prefix));
    if (!delimiter.empty())
      call.query.emplace_back("delimiter", std::string(delimiter));
    if (!token.empty())
      call.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
    ASSIGN_OR_RETURN(XmlElement doc, ParseXml(r.body));
    for (const XmlElement& c : doc.children) {
      if (c.name == "Contents") {
        ObjectAttributes a;
        a.key = c.ChildText("Key");
        if (!absl::SimpleAtoi(c.ChildText("Size"), &a.size))
          a.size = 0;
        auto t = ParseIso8601(c.ChildText("LastModified"));
        a.last_modified = t.ok() ? *t : absl::UnixEpoch();
        result.objects.push_back(std::move(a));
      } else if (c.name == "CommonPrefixes") {
        result.common_prefixes.push_back(c.ChildText("Prefix"));
      }
    }
    bool truncated = doc.ChildText("IsTruncated") == "true";
    token = doc.ChildText("NextContinuationToken");
    if (!truncated || token.empty())
      break;
  }
  std::sort(result.common_prefixes.begin(), result.common_prefixes.end());
  result.common_prefixes.erase(
      std::unique(result.common_prefixes.begin(), result.common_prefixes.end()),
      result.common_prefixes.end());
  return result;
}

absl::Status S3ObjectClient::Delete(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Call call;
  call.op = "S3.DeleteObject";
  call.method = "DELETE";
  call.key = key;
  call.accept = {404};
  return Execute(call).status();
}

absl::Status S3ObjectClient::CheckBucket() {
  Call call;
  call.op = "S3.HeadBucket";
  call.method = "HEAD";
  return Execute(call).status();
}

absl::Status S3ObjectClient::CreateBucket() {
  Call call;
  call.op = "S3.CreateBucket";
  call.method = "PUT";
  std::string body;
  if (region_ != "us-east-1") {
    body = absl::StrCat(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>",
        XmlEscape(region_), "</LocationConstraint></CreateBucketConfiguration>");
    call.headers.emplace_back("Content-Type", "application/xml");
  }
  call.body = body;
  call.accept = {409};
  ASSIGN_OR_RETURN(HttpResponse r, Execute(call));
  if (r.status == 409) {
    AwsErrorInfo err = ParseAwsError(r.body);
    if (err.code != "BucketAlreadyOwnedByYou")
      return MapHttpError(call.op, "", 409, err);
  }
  return absl::OkStatus();
}

}  // namespace norn::objstore
