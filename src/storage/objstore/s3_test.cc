// End-to-end tests of S3ObjectClient against moto_server (a local S3 + STS emulator), started by
// this binary on a free 127.0.0.1 port and killed by PID at the end. Exits 77 (ctest: skipped)
// when moto_server is not installed. Everything stays on loopback: IMDS is disabled, STS is
// moto, and the virtual-hosted test maps its made-up host name to 127.0.0.1 inside curl.
#include "storage/objstore/s3.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/metrics.h"
#include "common/strings.h"

namespace norn::objstore {
namespace {

std::optional<std::string> FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr)
    return std::nullopt;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// One moto_server child process.
class Moto {
 public:
  explicit Moto(int port) : port_(port) {}
  ~Moto() { Stop(); }

  bool Start() {
    std::string port = std::to_string(port_);
    std::string log = absl::StrCat(::testing::TempDir(), "/moto-", port_, ".log");
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execlp("moto_server", "moto_server", "-H", "127.0.0.1", "-p", port.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 300; ++i) {  // Up to 30 s for Python to start.
      if (CanConnect(port_))
        return true;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void Stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    while (CanConnect(port_))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  int port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

 private:
  const int port_;
  pid_t pid_ = -1;
};

Moto* g_moto = nullptr;

class MotoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_moto = new Moto(FreePort());
    ASSERT_TRUE(g_moto->Start()) << "moto_server did not start";
  }
  void TearDown() override {
    delete g_moto;
    g_moto = nullptr;
  }
};

double Count(std::string_view op, std::string_view code) {
  return static_cast<double>(
      metrics::Registry::Default()
          .Histogram("loki_s3_request_duration_seconds", "Time spent doing S3 requests.",
                     {"operation", "status_code"}, {.25, .5, 1, 2, 4, 8, 16, 32, 64, 128})
          .WithLabels({op, code})
          .Count());
}

void SetEnv(const char* k, const std::string& v) {
  ::setenv(k, v.c_str(), 1);
}

class S3MotoTest : public ::testing::Test {
 protected:
  static S3Options Options(const std::string& bucket = "norn-test") {
    S3Options o;
    o.bucket_names = {bucket};
    o.endpoint = g_moto->url();
    o.region = "us-east-1";
    o.access_key_id = "testing";
    o.secret_access_key = "testing";
    o.s3forcepathstyle = true;
    o.backoff_config.min_period = absl::Milliseconds(20);
    o.backoff_config.max_period = absl::Milliseconds(200);
    return o;
  }
  static std::unique_ptr<S3ObjectClient> NewClient(S3Options o) {
    auto c = S3ObjectClient::Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok())
      return nullptr;
    absl::Status st = (*c)->CreateBucket();
    EXPECT_TRUE(st.ok()) << st;
    return std::move(*c);
  }
  void SetUp() override {
    ASSERT_NE(g_moto, nullptr);
    client_ = NewClient(Options());
    ASSERT_NE(client_, nullptr);
  }
  std::unique_ptr<S3ObjectClient> client_;
};

TEST_F(S3MotoTest, PutGetRangeHeadDelete) {
  ASSERT_TRUE(client_->CheckBucket().ok());
  std::string data = "0123456789abcdefghij";
  data.push_back('\0');
  data += "\xff tail";
  ASSERT_TRUE(client_->Put("fake/chunks/abc:def", data).ok());
  auto got = client_->Get("fake/chunks/abc:def");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
  EXPECT_EQ(*client_->GetRange("fake/chunks/abc:def", 10, 5), "abcde");
  EXPECT_EQ(*client_->GetRange("fake/chunks/abc:def", 20, 100), data.substr(20));  // Clipped.
  auto past = client_->GetRange("fake/chunks/abc:def", 1000, 10);
  ASSERT_TRUE(past.ok()) << past.status();  // 416 -> empty.
  EXPECT_EQ(*past, "");
  auto head = client_->Head("fake/chunks/abc:def");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, data.size());
  EXPECT_LT(absl::AbsDuration(head->last_modified - absl::Now()), absl::Minutes(5));
  // Overwrite is atomic and whole.
  ASSERT_TRUE(client_->Put("fake/chunks/abc:def", "v2").ok());
  EXPECT_EQ(*client_->Get("fake/chunks/abc:def"), "v2");
  ASSERT_TRUE(client_->Put("empty", "").ok());
  EXPECT_EQ(*client_->Get("empty"), "");

  ASSERT_TRUE(client_->Delete("fake/chunks/abc:def").ok());
  EXPECT_EQ(client_->Get("fake/chunks/abc:def").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Head("fake/chunks/abc:def").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(client_->Delete("fake/chunks/abc:def").ok());  // Missing: still OK.
  EXPECT_TRUE(client_->Delete("never/existed").ok());

  auto other = S3ObjectClient::Create(Options("no-such-bucket"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->CheckBucket().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*other)->Get("k").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3MotoTest, ListPaginationAndDelimiter) {
  S3Options o = Options("norn-list");
  o.list_max_keys = 2;
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  std::vector<std::string> keys = {"idx/a/1", "idx/a/2",   "idx/b/1", "idx/c",
                                   "idx/d",   "idx/e f+g", "other/x"};
  for (const auto& k : keys)
    ASSERT_TRUE(c->Put(k, k).ok()) << k;

  double pages_before = Count("S3.List", "200");
  auto all = c->List("idx/", "");
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> got;
  for (const auto& a : all->objects)
    got.push_back(a.key);
  EXPECT_EQ(got, std::vector<std::string>(keys.begin(), keys.end() - 1));
  EXPECT_TRUE(all->common_prefixes.empty());
  EXPECT_EQ(all->objects[3].size, 5u);
  EXPECT_GE(Count("S3.List", "200") - pages_before, 3);  // 6 keys, 2 per page.

  auto dir = c->List("idx/", "/");
  ASSERT_TRUE(dir.ok()) << dir.status();
  got.clear();
  for (const auto& a : dir->objects)
    got.push_back(a.key);
  EXPECT_EQ(got, (std::vector<std::string>{"idx/c", "idx/d", "idx/e f+g"}));
  EXPECT_EQ(dir->common_prefixes, (std::vector<std::string>{"idx/a/", "idx/b/"}));

  auto top = c->List("", "/");
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_TRUE(top->objects.empty());
  EXPECT_EQ(top->common_prefixes, (std::vector<std::string>{"idx/", "other/"}));
  auto none = c->List("nothing/", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->objects.empty());
}

TEST_F(S3MotoTest, MultipartUpload) {
  S3Options o = Options();
  o.part_size = 5 << 20;
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  std::string data(11 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>((i * 2654435761u) >> 13);
  double parts_before = Count("S3.UploadPart", "200");
  absl::Status st = c->Put("big/object", data);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Count("S3.UploadPart", "200") - parts_before, 3);  // 5 + 5 + 1 MiB.
  auto head = c->Head("big/object");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, data.size());
  auto got = c->Get("big/object");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == data);
  EXPECT_EQ(*c->GetRange("big/object", (5 << 20) - 3, 6), data.substr((5 << 20) - 3, 6));
}

TEST_F(S3MotoTest, VirtualHostedStyle) {
  S3Options o = Options("norn-vhost");
  o.s3forcepathstyle = false;
  o.endpoint = absl::StrCat("http://s3.norn.test:", g_moto->port());
  o.connect_to = "::127.0.0.1:";  // curl connects to loopback; Host stays norn-vhost.s3.norn.test.
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->virtual_hosted());
  EXPECT_EQ(c->ObjectUrl("k"),
            absl::StrCat("http://norn-vhost.s3.norn.test:", g_moto->port(), "/k"));
  ASSERT_TRUE(c->Put("vh/key", "virtual").ok());
  EXPECT_EQ(*c->Get("vh/key"), "virtual");
  // The same object through path-style addressing proves it landed in bucket norn-vhost.
  auto path_style = S3ObjectClient::Create(Options("norn-vhost"));
  ASSERT_TRUE(path_style.ok());
  EXPECT_EQ(*(*path_style)->Get("vh/key"), "virtual");
  auto list = c->List("vh/", "");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->objects.size(), 1u);
}

TEST_F(S3MotoTest, AwsCliReadsWhatNornWrote) {
  if (!FindOnPath("aws"))
    GTEST_SKIP() << "aws CLI not installed";
  std::string data = "written by norn\nline 2\n";
  ASSERT_TRUE(client_->Put("cli/check.txt", data).ok());
  std::string cmd = absl::StrCat(
      "env AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 "
      "AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null "
      "AWS_SHARED_CREDENTIALS_FILE=/dev/null aws --endpoint-url ",
      g_moto->url(), " s3 cp s3://norn-test/cli/check.txt - 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, data);
}

TEST_F(S3MotoTest, EnvAndFileCredentials) {
  S3Options o = Options();
  o.access_key_id.clear();
  o.secret_access_key.clear();
  SetEnv("AWS_ACCESS_KEY_ID", "envkey");
  SetEnv("AWS_SECRET_ACCESS_KEY", "envsecret");
  {
    auto c = S3ObjectClient::Create(o);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE((*c)->Put("creds/env", "e").ok());
    auto* chain = dynamic_cast<ChainCredentialsProvider*>(&(*c)->credentials());
    ASSERT_NE(chain, nullptr);
    EXPECT_EQ(chain->last_provider(), "env");
  }
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  std::string file = absl::StrCat(::testing::TempDir(), "/s3-test-credentials");
  std::ofstream(file) << "[default]\naws_access_key_id = filekey\naws_secret_access_key = f\n";
  SetEnv("AWS_SHARED_CREDENTIALS_FILE", file);
  {
    auto c = S3ObjectClient::Create(o);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE((*c)->Put("creds/file", "f").ok());
    auto* chain = dynamic_cast<ChainCredentialsProvider*>(&(*c)->credentials());
    EXPECT_EQ(chain->last_provider(), "profile");
  }
  SetEnv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/norn-credentials");
  {
    auto c = S3ObjectClient::Create(o);
    ASSERT_TRUE(c.ok());
    absl::Status st = (*c)->Put("creds/none", "n");
    EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated) << st;
  }
}

TEST_F(S3MotoTest, WebIdentityThroughMotoSts) {
  std::string token = absl::StrCat(::testing::TempDir(), "/web-identity-token");
  std::ofstream(token) << "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub3JuIn0.c2ln";
  SetEnv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/norn-irsa");
  SetEnv("AWS_WEB_IDENTITY_TOKEN_FILE", token);
  SetEnv("AWS_ROLE_SESSION_NAME", "norn-s3-test");
  SetEnv("AWS_ENDPOINT_URL_STS", g_moto->url());
  S3Options o = Options();
  o.access_key_id.clear();
  o.secret_access_key.clear();
  auto c = S3ObjectClient::Create(o);
  ::unsetenv("AWS_ROLE_ARN");
  ::unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
  ::unsetenv("AWS_ROLE_SESSION_NAME");
  ::unsetenv("AWS_ENDPOINT_URL_STS");
  ASSERT_TRUE(c.ok());
  auto creds = (*c)->credentials().GetCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_FALSE(creds->access_key_id.empty());
  EXPECT_FALSE(creds->session_token.empty());
  EXPECT_GT(creds->expiration, absl::Now() + absl::Minutes(30));  // STS default: 1 hour.
  EXPECT_LT(creds->expiration, absl::Now() + absl::Hours(2));
  auto* chain = dynamic_cast<ChainCredentialsProvider*>(&(*c)->credentials());
  EXPECT_EQ(chain->last_provider(), "web_identity");
  ASSERT_TRUE((*c)->Put("irsa/object", "via sts").ok());
  EXPECT_EQ(*(*c)->Get("irsa/object"), "via sts");
}

// Runs last: restarts moto, which loses its state.
TEST_F(S3MotoTest, ZzServerStoppedThenRestarted) {
  ASSERT_TRUE(client_->Put("restart/before", "x").ok());
  g_moto->Stop();
  absl::Time start = absl::Now();
  absl::Status st = client_->Put("restart/during", "y");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_NE(st.message().find("after 5 attempts"), absl::string_view::npos) << st;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(client_->Get("restart/before").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(Count("S3.PutObject", "error"), 5);
  ASSERT_TRUE(g_moto->Start());
  ASSERT_TRUE(client_->CreateBucket().ok());             // moto keeps no state across restarts.
  ASSERT_TRUE(client_->Put("restart/after", "z").ok());  // Pooled handles reconnect.
  EXPECT_EQ(*client_->Get("restart/after"), "z");
}

}  // namespace
}  // namespace norn::objstore

int main(int argc, char** argv) {
  if (!norn::objstore::FindOnPath("moto_server")) {
    std::cout << "s3_test: moto_server not found on PATH (pip install 'moto[server]'); "
                 "skipping\n";
    return 77;
  }
  // Nothing in these tests may reach a real AWS address: no IMDS, no ambient credentials.
  ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/norn-credentials", 1);
  for (const char* v :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL_STS"}) {
    ::unsetenv(v);
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new norn::objstore::MotoEnvironment);
  return RUN_ALL_TESTS();
}
