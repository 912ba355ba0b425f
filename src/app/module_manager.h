// ModuleManager: the module graph behind `-target`. Each module has a name, the modules it
// depends on, and a factory for the Service that implements it. Targets are module names,
// groups ("all", "read", "write", "backend") or comma-separated lists of either.
//
// Lifecycle (as Loki's modules.go): Resolve(targets) gives the modules to run in dependency
// order; Init() constructs every service in that order (factories register HTTP routes and gRPC
// services, so nothing is served before all routes exist); Start() starts them in order;
// Stop() stops the started ones in reverse order. A module whose implementation has not landed
// yet is registered with `implemented = false`: selecting it explicitly is a startup error, and
// under a group it is skipped with a warning and shown as "Not implemented" in /services.
//
// Thread-safety: Register*/Resolve/Init/Start/Stop are called from the main thread; State(),
// AllRunning() and ServicesText() may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/strings.h"

namespace norn::app {

// A running part of the process. Start() returns once the service is ready to serve;
// Stop() is called once, only after a successful Start(), and must release everything.
class Service {
 public:
  virtual ~Service() = default;
  [[nodiscard]] virtual absl::Status Start() = 0;
  virtual void Stop() = 0;
};

enum class ModuleState { kNew, kStarting, kRunning, kStopping, kTerminated, kFailed, kNotImplemented };
std::string_view ModuleStateName(ModuleState s);

struct ModuleDef {
  std::string name;
  std::vector<std::string> deps;
  // Modules a user can name in -target (components); internal ones (server, runtime-config)
  // are only pulled in as dependencies.
  bool user_visible = true;
  bool implemented = true;
  std::function<absl::StatusOr<std::unique_ptr<Service>>()> factory;
};

class ModuleManager {
 public:
  ModuleManager() = default;
  ModuleManager(const ModuleManager&) = delete;
  ModuleManager& operator=(const ModuleManager&) = delete;

  void Register(ModuleDef def);
  // A lenient group ("all") skips members that are not implemented; a strict one ("write")
  // fails like an explicit selection of them would.
  void RegisterGroup(std::string name, std::vector<std::string> modules, bool lenient);

  // Sorted list of every name valid in -target.
  std::vector<std::string> ValidTargets() const;

  // Expands `targets` ("all", "ingester,querier", ...) into modules in dependency order.
  // Errors: unknown name (listing the valid ones), an explicitly selected module that is not
  // implemented, a dependency cycle.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Resolve(std::string_view targets);

  [[nodiscard]] absl::Status Init(const std::vector<std::string>& order);
  // Starts the initialised modules in order; on failure stops the ones already started.
  [[nodiscard]] absl::Status Start();
  // Stops started modules in reverse order. Idempotent.
  void Stop();

  ModuleState State(std::string_view name) const;
  bool AllRunning() const;
  // Names of the modules that are not running yet (for /ready).
  std::vector<std::string> NotRunning() const;
  // "name => State" lines, in start order, then skipped modules.
  std::string ServicesText() const;

 private:
  void SetState(const std::string& name, ModuleState s);

  StringMap<ModuleDef> defs_;
  std::vector<std::string> def_order_;  // Registration order, for stable output.
  struct Group {
    std::vector<std::string> modules;
    bool lenient = false;
  };
  StringMap<Group> groups_;

  std::vector<std::string> order_;    // Modules to run, dependency order.
  std::vector<std::string> skipped_;  // Not implemented, skipped under a group.
  std::vector<std::pair<std::string, std::unique_ptr<Service>>> services_;
  size_t started_ = 0;

  mutable absl::Mutex mu_;
  StringMap<ModuleState> states_ ABSL_GUARDED_BY(mu_);
};

}  // namespace norn::app
