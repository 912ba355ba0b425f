#include "storage/objstore/aws_credentials.h"

#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/objstore/aws_xml.h"

namespace norn::objstore {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The JSON document served by the ECS container endpoint and by IMDS:
// {"AccessKeyId": .., "SecretAccessKey": .., "Token": .., "Expiration": "2024-..Z"}.
absl::StatusOr<AwsCredentials> ParseJsonCredentials(std::string_view body, std::string_view src) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return absl::InternalError(absl::StrCat(AV(src), ": malformed credentials document"));
  }
  auto field = [&](const char* name) -> std::string {
    std::string_view v;
    if (doc[name].get(v) != simdjson::SUCCESS)
      return "";
    return std::string(v);
  };
  std::string code = field("Code");
  if (!code.empty() && code != "Success") {
    return absl::InternalError(
        absl::StrCat(AV(src), ": credentials status ", code, ": ", field("Message")));
  }
  AwsCredentials c{field("AccessKeyId"), field("SecretAccessKey"), field("Token"),
                   absl::InfiniteFuture()};
  if (c.empty()) {
    return absl::InternalError(absl::StrCat(AV(src), ": credentials document lacks keys"));
  }
  std::string exp = field("Expiration");
  if (!exp.empty()) {
    ASSIGN_OR_RETURN(c.expiration, ParseIso8601(exp));
  }
  return c;
}

// A non-2xx answer from a credentials endpoint: 5xx and 429 are worth retrying later.
absl::Status EndpointError(std::string_view src, const HttpResponse& r) {
  AwsErrorInfo e = ParseAwsError(r.body);
  std::string msg = absl::StrCat(AV(src), ": HTTP ", r.status,
                                 e.code.empty() ? absl::StrCat(": ", r.body.substr(0, 256))
                                                : absl::StrCat(": ", e.code, ": ", e.message));
  if (r.status >= 500 || r.status == 429)
    return absl::UnavailableError(msg);
  if (r.status == 403 || r.status == 401)
    return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

std::string FormEncode(const KeyValues& kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty())
      out.push_back('&');
    absl::StrAppend(&out, UriEncode(k, false), "=", UriEncode(v, false));
  }
  return out;
}

bool IsLoopbackOrEcsHost(const std::string& host) {
  return host == "localhost" || host.starts_with("127.") || host == "::1" ||
         host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23";
}

HttpClientOptions ShortTimeouts(absl::Duration d) {
  HttpClientOptions o;
  o.connect_timeout = d;
  o.request_timeout = d;
  o.max_idle_handles = 2;
  return o;
}

}  // namespace

// --- static / env / profile -----------------------------------------------------------------

absl::StatusOr<AwsCredentials> StaticCredentialsProvider::GetCredentials() {
  if (creds_.empty())
    return absl::NotFoundError("static: access_key_id/secret_access_key not set");
  return creds_;
}

absl::StatusOr<AwsCredentials> EnvironmentCredentialsProvider::GetCredentials() {
  AwsCredentials c{Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY"), Env("AWS_SESSION_TOKEN"),
                   absl::InfiniteFuture()};
  // The SDKs also accept the older names.
  if (c.access_key_id.empty())
    c.access_key_id = Env("AWS_ACCESS_KEY");
  if (c.secret_access_key.empty())
    c.secret_access_key = Env("AWS_SECRET_KEY");
  if (c.access_key_id.empty())
    return absl::NotFoundError("env: AWS_ACCESS_KEY_ID not set");
  if (c.secret_access_key.empty())
    return absl::NotFoundError("env: AWS_SECRET_ACCESS_KEY not set");
  return c;
}

absl::StatusOr<AwsCredentials> ProfileCredentialsProvider::GetCredentials() {
  std::string path = path_;
  if (path.empty())
    path = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty()) {
    std::string home = Env("HOME");
    if (home.empty())
      return absl::NotFoundError("profile: HOME not set");
    path = absl::StrCat(home, "/.aws/credentials");
  }
  std::string profile = profile_;
  if (profile.empty())
    profile = Env("AWS_PROFILE");
  if (profile.empty())
    profile = "default";
  auto text = ReadFile(path);
  if (!text.ok())
    return absl::NotFoundError(absl::StrCat("profile: no file ", path));

  // INI: [section], key = value, '#'/';' comments.
  AwsCredentials c;
  bool in_section = false, found_section = false;
  for (absl::string_view raw : absl::StrSplit(*text, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';')
      continue;
    if (line.front() == '[' && line.back() == ']') {
      absl::string_view name = absl::StripAsciiWhitespace(line.substr(1, line.size() - 2));
      in_section = name == AV(profile);
      found_section |= in_section;
      continue;
    }
    if (!in_section)
      continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos)
      continue;
    std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, eq)));
    std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (key == "aws_access_key_id")
      c.access_key_id = value;
    if (key == "aws_secret_access_key")
      c.secret_access_key = value;
    if (key == "aws_session_token")
      c.session_token = value;
  }
  if (!found_section) {
    return absl::NotFoundError(absl::StrCat("profile: no [", profile, "] in ", path));
  }
  if (c.empty()) {
    return absl::NotFoundError(absl::StrCat("profile: [", profile, "] in ", path,
                                            " lacks aws_access_key_id/aws_secret_access_key"));
  }
  return c;
}

// --- refreshing base ------------------------------------------------------------------------

absl::StatusOr<AwsCredentials> RefreshingCredentialsProvider::GetCredentials() {
  absl::MutexLock lock(&mu_);
  absl::Time now = absl::Now();
  if (have_ && now < cached_.expiration - refresh_window_)
    return cached_;
  absl::StatusOr<AwsCredentials> fresh = Fetch();
  if (fresh.ok()) {
    cached_ = *fresh;
    have_ = true;
    ++fetches_;
    return cached_;
  }
  if (have_ && now < cached_.expiration && !absl::IsNotFound(fresh.status())) {
    NORN_LOG(Warn)
        .Msg("refreshing AWS credentials failed; using cached ones until they expire")
        .Kv("provider", Name())
        .Kv("err", fresh.status());
    return cached_;
  }
  return fresh.status();
}

int RefreshingCredentialsProvider::fetch_count() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

// --- web identity ---------------------------------------------------------------------------

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(WebIdentityConfig config,
                                                               absl::Duration refresh_window)
    : RefreshingCredentialsProvider(refresh_window),
      config_(std::move(config)),
      http_(ShortTimeouts(absl::Seconds(10))) {}

absl::StatusOr<AwsCredentials> WebIdentityCredentialsProvider::Fetch() {
  if (config_.role_arn.empty() || config_.token_file.empty()) {
    return absl::NotFoundError("web_identity: AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE not set");
  }
  auto token = ReadFile(config_.token_file);
  if (!token.ok()) {
    return absl::InternalError(
        absl::StrCat("web_identity: cannot read token file ", config_.token_file));
  }
  std::string session = config_.session_name;
  if (session.empty())
    session = absl::StrCat("norn-", absl::ToUnixNanos(absl::Now()));
  // AssumeRoleWithWebIdentity is unsigned: the web identity token is the proof.
  std::string body =
      FormEncode({{"Action", "AssumeRoleWithWebIdentity"},
                  {"Version", "2011-06-15"},
                  {"RoleArn", config_.role_arn},
                  {"RoleSessionName", session},
                  {"WebIdentityToken", std::string(absl::StripAsciiWhitespace(*token))}});
  HttpRequest req;
  req.method = "POST";
  req.url = config_.sts_endpoint;
  if (req.url.find('/', req.url.find("://") + 3) == std::string::npos)
    req.url += "/";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                 {"Accept", "application/xml"}};
  req.body = body;
  ASSIGN_OR_RETURN(HttpResponse resp, http_.Do(req));
  if (resp.status != 200)
    return EndpointError("web_identity: STS", resp);
  ASSIGN_OR_RETURN(XmlElement doc, ParseXml(resp.body));
  const XmlElement* creds = doc.Find("AssumeRoleWithWebIdentityResult/Credentials");
  if (creds == nullptr) {
    return absl::InternalError("web_identity: STS response has no Credentials");
  }
  AwsCredentials c{creds->ChildText("AccessKeyId"), creds->ChildText("SecretAccessKey"),
                   creds->ChildText("SessionToken"), absl::InfiniteFuture()};
  if (c.empty())
    return absl::InternalError("web_identity: STS response lacks keys");
  std::string exp = creds->ChildText("Expiration");
  if (!exp.empty()) {
    ASSIGN_OR_RETURN(c.expiration, ParseIso8601(exp));
  }
  return c;
}

// --- ECS container --------------------------------------------------------------------------

ContainerCredentialsProvider::ContainerCredentialsProvider(std::string url, std::string auth_token,
                                                           std::string auth_token_file,
                                                           absl::Duration refresh_window)
    : RefreshingCredentialsProvider(refresh_window),
      url_(std::move(url)),
      auth_token_(std::move(auth_token)),
      auth_token_file_(std::move(auth_token_file)),
      http_(ShortTimeouts(absl::Seconds(2))) {}

absl::StatusOr<AwsCredentials> ContainerCredentialsProvider::Fetch() {
  if (url_.empty()) {
    return absl::NotFoundError("container: AWS_CONTAINER_CREDENTIALS_*_URI not set");
  }
  // As the SDKs: plain http only to loopback or the ECS/EKS link-local agents.
  ASSIGN_OR_RETURN(ParsedUrl u, ParseHttpUrl(url_));
  if (u.scheme == "http" && !IsLoopbackOrEcsHost(u.host)) {
    return absl::InvalidArgumentError(
        absl::StrCat("container: refusing plain-http credentials endpoint ", url_));
  }
  HttpRequest req;
  req.url = url_;
  std::string token = auth_token_;
  if (!auth_token_file_.empty()) {
    ASSIGN_OR_RETURN(token, ReadFile(auth_token_file_));
    token = std::string(absl::StripAsciiWhitespace(token));
  }
  if (!token.empty())
    req.headers.emplace_back("Authorization", token);
  ASSIGN_OR_RETURN(HttpResponse resp, http_.Do(req));
  if (resp.status != 200)
    return EndpointError("container", resp);
  return ParseJsonCredentials(resp.body, "container");
}

// --- EC2 instance metadata (IMDSv2) ---------------------------------------------------------

InstanceMetadataCredentialsProvider::InstanceMetadataCredentialsProvider(
    std::string endpoint, bool disabled, absl::Duration refresh_window)
    : RefreshingCredentialsProvider(refresh_window),
      endpoint_(std::move(endpoint)),
      disabled_(disabled),
      http_(ShortTimeouts(absl::Seconds(1))) {}

absl::StatusOr<AwsCredentials> InstanceMetadataCredentialsProvider::Fetch() {
  if (disabled_)
    return absl::NotFoundError("imds: AWS_EC2_METADATA_DISABLED=true");
  std::string base = endpoint_;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  HttpRequest put;
  put.method = "PUT";
  put.url = base + "/latest/api/token";
  put.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  auto token = http_.Do(put);
  if (!token.ok()) {
    // Nothing listening: not on EC2. The chain reports it but has nothing else to try.
    return absl::NotFoundError(absl::StrCat("imds: ", token.status().message()));
  }
  if (token->status != 200)
    return EndpointError("imds: token", *token);
  KeyValues auth = {{"X-aws-ec2-metadata-token", token->body}};

  HttpRequest get;
  get.url = base + "/latest/meta-data/iam/security-credentials/";
  get.headers = auth;
  ASSIGN_OR_RETURN(HttpResponse roles, http_.Do(get));
  if (roles.status == 404)
    return absl::NotFoundError("imds: no IAM role attached to instance");
  if (roles.status != 200)
    return EndpointError("imds: role", roles);
  std::string role(
      absl::StripAsciiWhitespace(absl::string_view(roles.body).substr(0, roles.body.find('\n'))));
  if (role.empty())
    return absl::NotFoundError("imds: no IAM role attached to instance");

  get.url = absl::StrCat(base, "/latest/meta-data/iam/security-credentials/", role);
  ASSIGN_OR_RETURN(HttpResponse creds, http_.Do(get));
  if (creds.status != 200)
    return EndpointError("imds: credentials", creds);
  return ParseJsonCredentials(creds.body, "imds");
}

// --- chain ----------------------------------------------------------------------------------

absl::StatusOr<AwsCredentials> ChainCredentialsProvider::GetCredentials() {
  {
    absl::MutexLock lock(&mu_);
    if (have_static_)
      return static_;
  }
  std::vector<std::string> skipped;
  for (const auto& p : providers_) {
    absl::StatusOr<AwsCredentials> c = p->GetCredentials();
    if (c.ok()) {
      absl::MutexLock lock(&mu_);
      last_ = std::string(p->Name());
      if (c->expiration == absl::InfiniteFuture()) {
        static_ = *c;
        have_static_ = true;
      }
      return c;
    }
    if (!absl::IsNotFound(c.status())) {
      return absl::Status(c.status().code(), absl::StrCat("AWS credentials (", AV(p->Name()),
                                                          "): ", c.status().message()));
    }
    skipped.emplace_back(c.status().message());
  }
  return absl::UnauthenticatedError(
      absl::StrCat("no AWS credentials found: ", absl::StrJoin(skipped, "; ")));
}

std::string ChainCredentialsProvider::last_provider() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

std::unique_ptr<ChainCredentialsProvider> NewDefaultCredentialsChain(
    const CredentialsChainOptions& options) {
  std::vector<std::unique_ptr<CredentialsProvider>> ps;
  ps.push_back(std::make_unique<StaticCredentialsProvider>(options.static_credentials));
  ps.push_back(std::make_unique<EnvironmentCredentialsProvider>());
  ps.push_back(std::make_unique<ProfileCredentialsProvider>());

  WebIdentityConfig wi;
  wi.role_arn = Env("AWS_ROLE_ARN");
  wi.token_file = Env("AWS_WEB_IDENTITY_TOKEN_FILE");
  wi.session_name = Env("AWS_ROLE_SESSION_NAME");
  wi.sts_endpoint = options.sts_endpoint;
  if (wi.sts_endpoint.empty())
    wi.sts_endpoint = Env("AWS_ENDPOINT_URL_STS");
  if (wi.sts_endpoint.empty()) {
    std::string region = options.region;
    if (region.empty())
      region = Env("AWS_REGION");
    if (region.empty())
      region = Env("AWS_DEFAULT_REGION");
    if (region.empty())
      region = "us-east-1";
    wi.sts_endpoint = absl::StrCat("https://sts.", region, ".amazonaws.com");
  }
  ps.push_back(std::make_unique<WebIdentityCredentialsProvider>(wi, options.refresh_window));

  std::string container_url;
  if (std::string rel = Env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); !rel.empty()) {
    container_url = absl::StrCat("http://169.254.170.2", rel);
  } else {
    container_url = Env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  }
  ps.push_back(std::make_unique<ContainerCredentialsProvider>(
      container_url, Env("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
      Env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), options.refresh_window));

  std::string imds = Env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (imds.empty())
    imds = "http://169.254.169.254";
  bool disabled = absl::AsciiStrToLower(Env("AWS_EC2_METADATA_DISABLED")) == "true";
  ps.push_back(std::make_unique<InstanceMetadataCredentialsProvider>(imds, disabled,
                                                                     options.refresh_window));
  return std::make_unique<ChainCredentialsProvider>(std::move(ps));
}

}  // namespace norn::objstore
