#include "config/runtime_config.h"

#include <fstream>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "config/internal.h"

namespace norn::config {
namespace {

int LineOf(const YAML::Node& n) {
  return n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read runtime config file \"", path, "\""));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

absl::StatusOr<TenantOverrides> ParseRuntimeConfig(std::string_view yaml_text,
                                                   const LimitsConfig& defaults,
                                                   std::string_view source_name_view) {
  const std::string source_name(source_name_view);
  TenantOverrides result;
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsDefined() || root.IsNull())
      return result;
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", LineOf(root), ": top level: expected a mapping"));
    }
    absl::flat_hash_set<std::string> seen_top;
    for (const auto& top : root) {
      const std::string key = top.first.Scalar();
      if (!seen_top.insert(key).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(source_name, ":", LineOf(top.first), ": duplicate key \"", key, "\""));
      }
      if (key != "overrides") {
        return absl::InvalidArgumentError(
            absl::StrCat(source_name, ":", LineOf(top.first), ": unknown key \"", key,
                         "\" (not supported by Norn; the runtime config holds `overrides`)"));
      }
      const YAML::Node& overrides = top.second;
      if (overrides.IsNull())
        continue;
      if (!overrides.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source_name, ":", LineOf(top.first), ": overrides: expected a mapping of tenants"));
      }
      for (const auto& tenant : overrides) {
        const std::string name = tenant.first.Scalar();
        if (result.contains(name)) {
          return absl::InvalidArgumentError(absl::StrCat(
              source_name, ":", LineOf(tenant.first), ": duplicate key \"overrides.", name, "\""));
        }
        auto limits = std::make_shared<LimitsConfig>(defaults);
        internal::DecodeLimitsNode(tenant.second, absl::StrCat("overrides.", name), source_name,
                                   *limits, nullptr);
        if (limits->ingestion_rate_strategy != "local" &&
            limits->ingestion_rate_strategy != "global") {
          return absl::InvalidArgumentError(absl::StrCat(
              source_name, ": overrides.", name, ".ingestion_rate_strategy: invalid value \"",
              limits->ingestion_rate_strategy, "\" (want one of local, global)"));
        }
        result.emplace(name, std::move(limits));
      }
    }
  } catch (const internal::ConfigError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  return result;
}

RuntimeConfigManager::RuntimeConfigManager(RuntimeConfigConfig config, LimitsConfig defaults)
    : config_(std::move(config)),
      defaults_(std::make_shared<const TenantLimits>(std::move(defaults))),
      overrides_(std::make_shared<const TenantOverrides>()) {}

RuntimeConfigManager::~RuntimeConfigManager() {
  Stop().IgnoreError();
}

absl::Status RuntimeConfigManager::Start() {
  if (config_.file.empty())
    return absl::OkStatus();
  absl::Status s = Reload();
  if (!s.ok())
    return s;
  poller_ = std::jthread([this](std::stop_token stop) { Poll(stop); });
  return absl::OkStatus();
}

absl::Status RuntimeConfigManager::Stop() {
  if (poller_.joinable()) {
    poller_.request_stop();
    wake_.notify_all();
    poller_.join();
  }
  return absl::OkStatus();
}

std::string RuntimeConfigManager::CurrentContent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return content_;
}

absl::Status RuntimeConfigManager::Reload() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  auto content = ReadFile(config_.file);
  if (!content.ok())
    return content.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (*content == content_ && !content_.empty())
      return absl::OkStatus();
  }
  auto parsed = ParseRuntimeConfig(*content, *defaults_, config_.file);
  if (!parsed.ok())
    return parsed.status();
  ChangeCallback callback;
  {
    std::lock_guard<std::mutex> lock(mu_);
    content_ = std::move(*content);
    overrides_ = std::make_shared<const TenantOverrides>(std::move(*parsed));
    callback = callback_;
  }
  NORN_LOG(Info).Msg("runtime config loaded").Kv("file", config_.file);
  if (callback)
    callback();
  return absl::OkStatus();
}

void RuntimeConfigManager::Poll(std::stop_token stop) {
  std::string last_error;  // logged once per distinct failure, not every period
  while (!stop.stop_requested()) {
    {
      std::unique_lock<std::mutex> lock(wait_mu_);
      wake_.wait_for(lock, stop, absl::ToChronoNanoseconds(config_.period), [] { return false; });
    }
    if (stop.stop_requested())
      break;
    absl::Status s = Reload();
    if (s.ok()) {
      last_error.clear();
    } else if (std::string(s.message()) != last_error) {
      last_error = std::string(s.message());
      NORN_LOG(Error)
          .Msg("runtime config reload failed; keeping the previous overrides")
          .Kv("file", config_.file)
          .Err(s);
    }
  }
}

std::shared_ptr<const TenantLimits> RuntimeConfigManager::LimitsFor(std::string_view tenant) const {
  std::shared_ptr<const TenantOverrides> overrides;
  {
    std::lock_guard<std::mutex> lock(mu_);
    overrides = overrides_;
  }
  auto it = overrides->find(internal::AV(tenant));
  if (it == overrides->end())
    return defaults_;
  return it->second;
}

void RuntimeConfigManager::SetChangeCallback(ChangeCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  callback_ = std::move(callback);
}

}  // namespace norn::config
