#include "app/module_manager.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/logging.h"

namespace norn::app {

std::string_view ModuleStateName(ModuleState s) {
  switch (s) {
    case ModuleState::kNew: return "New";
    case ModuleState::kStarting: return "Starting";
    case ModuleState::kRunning: return "Running";
    case ModuleState::kStopping: return "Stopping";
    case ModuleState::kTerminated: return "Terminated";
    case ModuleState::kFailed: return "Failed";
    case ModuleState::kNotImplemented: return "Not implemented";
  }
  return "Unknown";
}

void ModuleManager::Register(ModuleDef def) {
  def_order_.push_back(def.name);
  std::string name = def.name;
  defs_[name] = std::move(def);
}

void ModuleManager::RegisterGroup(std::string name, std::vector<std::string> modules,
                                  bool lenient) {
  groups_[std::move(name)] = Group{std::move(modules), lenient};
}

std::vector<std::string> ModuleManager::ValidTargets() const {
  std::vector<std::string> names;
  for (const auto& [name, def] : defs_) {
    if (def.user_visible) names.push_back(name);
  }
  for (const auto& [name, members] : groups_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::vector<std::string>> ModuleManager::Resolve(std::string_view targets) {
  // Requested modules, and whether each was named explicitly (vs. via a group).
  std::vector<std::pair<std::string, bool>> requested;
  for (absl::string_view raw : absl::StrSplit(AV(targets), ',', absl::SkipWhitespace())) {
    std::string_view t = SV(absl::StripAsciiWhitespace(raw));
    if (auto g = groups_.find(t); g != groups_.end()) {
      for (const auto& m : g->second.modules) requested.emplace_back(m, !g->second.lenient);
      continue;
    }
    auto d = defs_.find(t);
    if (d == defs_.end() || !d->second.user_visible) {
      return absl::InvalidArgumentError(absl::StrCat("unrecognised module name: ", AV(t),
                                                     "; valid targets are: ",
                                                     absl::StrJoin(ValidTargets(), ", ")));
    }
    requested.emplace_back(std::string(t), true);
  }
  if (requested.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no target given; valid targets are: ",
                                                   absl::StrJoin(ValidTargets(), ", ")));
  }

  order_.clear();
  skipped_.clear();
  absl::flat_hash_set<std::string> done, visiting;
  // Depth-first: dependencies before dependents, each module once.
  std::function<absl::Status(const std::string&, const std::string&)> visit =
      [&](const std::string& name, const std::string& wanted_by) -> absl::Status {
    if (done.contains(name)) return absl::OkStatus();
    if (visiting.contains(name)) {
      return absl::InternalError(absl::StrCat("module dependency cycle at ", name));
    }
    auto it = defs_.find(name);
    if (it == defs_.end()) {
      return absl::InternalError(absl::StrCat("module ", wanted_by, " depends on unknown module ", name));
    }
    if (!it->second.implemented) {
      return absl::UnimplementedError(absl::StrCat(
          "module \"", name, "\" is not implemented yet in Norn",
          wanted_by.empty() ? "" : absl::StrCat(" (needed by ", wanted_by, ")"),
          "; valid targets are: ", absl::StrJoin(ValidTargets(), ", ")));
    }
    visiting.insert(name);
    for (const auto& dep : it->second.deps) {
      absl::Status st = visit(dep, name);
      if (!st.ok()) return st;
    }
    visiting.erase(name);
    done.insert(name);
    order_.push_back(name);
    return absl::OkStatus();
  };
  for (const auto& [name, explicit_target] : requested) {
    auto it = defs_.find(name);
    if (it != defs_.end() && !it->second.implemented && !explicit_target) {
      if (std::find(skipped_.begin(), skipped_.end(), name) == skipped_.end()) {
        skipped_.push_back(name);
      }
      continue;
    }
    absl::Status st = visit(name, "");
    if (!st.ok()) return st;
  }
  absl::MutexLock lock(&mu_);
  states_.clear();
  for (const auto& n : order_) states_[n] = ModuleState::kNew;
  for (const auto& n : skipped_) states_[n] = ModuleState::kNotImplemented;
  return order_;
}

absl::Status ModuleManager::Init(const std::vector<std::string>& order) {
  for (const auto& name : skipped_) {
    NORN_LOG(Warn).Msg("module not implemented yet; skipping it").Kv("module", name);
  }
  for (const auto& name : order) {
    auto svc = defs_.at(name).factory();
    if (!svc.ok()) {
      SetState(name, ModuleState::kFailed);
      return absl::Status(svc.status().code(),
                          absl::StrCat("initialising module ", name, ": ", svc.status().message()));
    }
    services_.emplace_back(name, *std::move(svc));
  }
  return absl::OkStatus();
}

absl::Status ModuleManager::Start() {
  for (; started_ < services_.size(); ++started_) {
    auto& [name, svc] = services_[started_];
    SetState(name, ModuleState::kStarting);
    NORN_LOG(Debug).Msg("starting module").Kv("module", name);
    absl::Status st = svc->Start();
    if (!st.ok()) {
      SetState(name, ModuleState::kFailed);
      Stop();
      return absl::Status(st.code(), absl::StrCat("starting module ", name, ": ", st.message()));
    }
    SetState(name, ModuleState::kRunning);
  }
  return absl::OkStatus();
}

void ModuleManager::Stop() {
  while (started_ > 0) {
    --started_;
    auto& [name, svc] = services_[started_];
    SetState(name, ModuleState::kStopping);
    NORN_LOG(Debug).Msg("stopping module").Kv("module", name);
    svc->Stop();
    SetState(name, ModuleState::kTerminated);
  }
}

void ModuleManager::SetState(const std::string& name, ModuleState s) {
  absl::MutexLock lock(&mu_);
  states_[name] = s;
}

ModuleState ModuleManager::State(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(name);
  return it == states_.end() ? ModuleState::kNew : it->second;
}

bool ModuleManager::AllRunning() const { return NotRunning().empty(); }

std::vector<std::string> ModuleManager::NotRunning() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& n : order_) {
    auto it = states_.find(n);
    if (it == states_.end() || it->second != ModuleState::kRunning) out.push_back(n);
  }
  return out;
}

std::string ModuleManager::ServicesText() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  auto line = [&](const std::string& n) {
    auto it = states_.find(n);
    absl::StrAppend(&out, n, " => ",
                    AV(ModuleStateName(it == states_.end() ? ModuleState::kNew : it->second)), "\n");
  };
  for (const auto& n : order_) line(n);
  for (const auto& n : skipped_) line(n);
  return out;
}

}  // namespace norn::app
