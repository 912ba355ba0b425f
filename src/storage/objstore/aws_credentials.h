// AWS credential providers and the default chain, in the order the AWS SDKs use:
//   1. static   - access_key_id/secret_access_key[/session_token] from Norn's config
//   2. env      - AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY[, AWS_SESSION_TOKEN]
//   3. profile  - shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials),
//                 profile AWS_PROFILE or "default"
//   4. web identity - AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE [+ AWS_ROLE_SESSION_NAME]:
//                 STS AssumeRoleWithWebIdentity (EKS IRSA). STS endpoint: options.sts_endpoint,
//                 else AWS_ENDPOINT_URL_STS, else https://sts.<region>.amazonaws.com
//   5. container - ECS/EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
//                 http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
//                 AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
//   6. IMDSv2   - EC2 instance metadata (endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT, default
//                 http://169.254.169.254; skipped when AWS_EC2_METADATA_DISABLED=true)
// Each provider answers kNotFound when its source is not configured, which makes the chain try
// the next one; any other error stops the chain. Temporary credentials (4-6) are cached and
// refreshed `refresh_window` (5 min) before they expire; if a refresh fails while the cached
// credentials are still valid, those are returned.
//
// Environment variables are read when a provider is constructed (web identity, container, IMDS)
// or on each fetch (env, profile), as the SDKs do.
//
// Thread-safety: GetCredentials() may be called concurrently; refreshes are serialized by a
// mutex per provider, so one refresh runs at a time and other callers wait for it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/objstore/aws_sigv4.h"
#include "storage/objstore/http_client.h"

namespace norn::objstore {

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // kNotFound: source not configured. kUnavailable: transient failure (endpoint down).
  virtual absl::StatusOr<AwsCredentials> GetCredentials() = 0;
  virtual std::string_view Name() const = 0;
};

class StaticCredentialsProvider : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(AwsCredentials creds) : creds_(std::move(creds)) {}
  absl::StatusOr<AwsCredentials> GetCredentials() override;
  std::string_view Name() const override { return "static"; }

 private:
  const AwsCredentials creds_;
};

class EnvironmentCredentialsProvider : public CredentialsProvider {
 public:
  absl::StatusOr<AwsCredentials> GetCredentials() override;
  std::string_view Name() const override { return "env"; }
};

class ProfileCredentialsProvider : public CredentialsProvider {
 public:
  // Empty `path`/`profile` resolve from the environment at each fetch.
  explicit ProfileCredentialsProvider(std::string path = "", std::string profile = "")
      : path_(std::move(path)), profile_(std::move(profile)) {}
  absl::StatusOr<AwsCredentials> GetCredentials() override;
  std::string_view Name() const override { return "profile"; }

 private:
  const std::string path_;
  const std::string profile_;
};

// Base of the providers of temporary credentials: caches them and refreshes under a mutex.
class RefreshingCredentialsProvider : public CredentialsProvider {
 public:
  explicit RefreshingCredentialsProvider(absl::Duration refresh_window)
      : refresh_window_(refresh_window) {}
  absl::StatusOr<AwsCredentials> GetCredentials() final;
  // Number of successful fetches from the source (tests).
  int fetch_count() const;

 protected:
  virtual absl::StatusOr<AwsCredentials> Fetch() = 0;

 private:
  const absl::Duration refresh_window_;
  mutable absl::Mutex mu_;
  bool have_ ABSL_GUARDED_BY(mu_) = false;
  AwsCredentials cached_ ABSL_GUARDED_BY(mu_);
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

struct WebIdentityConfig {
  std::string role_arn;
  std::string token_file;
  std::string session_name;  // empty: "norn-<unix nanos>"
  std::string sts_endpoint;  // full URL, e.g. "https://sts.eu-west-1.amazonaws.com"
};

class WebIdentityCredentialsProvider : public RefreshingCredentialsProvider {
 public:
  WebIdentityCredentialsProvider(WebIdentityConfig config, absl::Duration refresh_window);
  std::string_view Name() const override { return "web_identity"; }

 protected:
  absl::StatusOr<AwsCredentials> Fetch() override;

 private:
  const WebIdentityConfig config_;
  HttpClient http_;
};

class ContainerCredentialsProvider : public RefreshingCredentialsProvider {
 public:
  // `url` empty means not configured. `auth_token` / `auth_token_file` go in Authorization.
  ContainerCredentialsProvider(std::string url, std::string auth_token, std::string auth_token_file,
                               absl::Duration refresh_window);
  std::string_view Name() const override { return "container"; }

 protected:
  absl::StatusOr<AwsCredentials> Fetch() override;

 private:
  const std::string url_;
  const std::string auth_token_;
  const std::string auth_token_file_;
  HttpClient http_;
};

class InstanceMetadataCredentialsProvider : public RefreshingCredentialsProvider {
 public:
  // `endpoint` like "http://169.254.169.254"; `disabled` answers kNotFound.
  InstanceMetadataCredentialsProvider(std::string endpoint, bool disabled,
                                      absl::Duration refresh_window);
  std::string_view Name() const override { return "imds"; }

 protected:
  absl::StatusOr<AwsCredentials> Fetch() override;

 private:
  const std::string endpoint_;
  const bool disabled_;
  HttpClient http_;
};

// Tries providers in order; the first that yields credentials wins. Long-term credentials
// (no expiration) are remembered; temporary ones are asked of their (caching) provider again.
class ChainCredentialsProvider : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialsProvider>> providers)
      : providers_(std::move(providers)) {}
  // kUnauthenticated when no provider is configured (message lists why each was skipped).
  absl::StatusOr<AwsCredentials> GetCredentials() override;
  std::string_view Name() const override { return "chain"; }
  // Name of the provider that last supplied credentials ("" before the first success).
  std::string last_provider() const;

 private:
  const std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  mutable absl::Mutex mu_;
  bool have_static_ ABSL_GUARDED_BY(mu_) = false;
  AwsCredentials static_ ABSL_GUARDED_BY(mu_);
  std::string last_ ABSL_GUARDED_BY(mu_);
};

struct CredentialsChainOptions {
  // Used first when access_key_id and secret_access_key are both set.
  AwsCredentials static_credentials;
  // Region for the regional STS endpoint; empty: AWS_REGION, AWS_DEFAULT_REGION, "us-east-1".
  std::string region;
  // STS endpoint URL for web identity; empty: AWS_ENDPOINT_URL_STS, then the regional default.
  std::string sts_endpoint;
  absl::Duration refresh_window = absl::Minutes(5);
};

// The default chain described at the top of this file.
std::unique_ptr<ChainCredentialsProvider> NewDefaultCredentialsChain(
    const CredentialsChainOptions& options);

}  // namespace norn::objstore
