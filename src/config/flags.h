// Command line of the `norn` binary, in Go `flag` package syntax as Loki uses it:
//   -name=value  --name=value  -name value  -bool-flag  -bool-flag=false
// Parsing stops at "--"; positional arguments are errors. Config flags carry Loki's names and map
// to config keys through the field registration (config/fields.h), so `-server.http-listen-port`
// sets server.http_listen_port. Flags win over the config file, as in Loki.
// All functions are thread-safe (they read the environment and the config file only).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace norn::config {

struct FlagOverride {
  std::string name;  // without dashes, e.g. "server.http-listen-port"
  std::string value;
};

struct CommandLine {
  std::string config_file;           // -config.file
  bool config_expand_env = false;    // -config.expand-env
  bool print_config_stderr = false;  // -print-config-stderr
  bool version = false;              // -version
  bool help = false;                 // -help, -h
  // Config flags in command-line order; later ones win.
  std::vector<FlagOverride> overrides;
};

// Parses argv (argv[0] is the program name). Unknown flags and unparsable values are errors
// naming the flag.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv);
// Same, without the program name (convenient for tests).
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// The effective configuration: with -config.file, LokiDefaults() + the file (env-expanded when
// -config.expand-env); without, EmbeddedDefaults(). Flag overrides are applied on top, then the
// `common` block is propagated and the result validated.
absl::StatusOr<Config> LoadConfig(const CommandLine& command_line);

// Applies flag overrides to `config` (no common propagation or validation).
absl::Status ApplyFlags(const std::vector<FlagOverride>& overrides, Config& config);

struct FlagInfo {
  std::string name;  // without dashes
  std::string key;   // dotted config key
  std::string type;  // bool, int, duration, ...
  std::string default_value;
  std::string doc;
  bool is_bool = false;
};

// Every config flag, sorted by name.
std::vector<FlagInfo> ConfigFlags();

// The -help text: non-config flags then every config flag with its default and meaning.
std::string FlagsHelp();

}  // namespace norn::config
