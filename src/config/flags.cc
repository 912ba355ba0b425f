#include "config/flags.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "config/fields.h"
#include "config/internal.h"

namespace norn::config {
namespace {

struct SpecialFlag {
  std::string_view name;
  bool is_bool;
  std::string_view doc;
};

constexpr SpecialFlag kSpecialFlags[] = {
    {"config.file", false,
     "YAML configuration file (Loki format). Without it Norn starts with "
     "the zero-config defaults."},
    {"config.expand-env", true, "Expand ${VAR} and ${VAR:-default} in the config file."},
    {"print-config-stderr", true, "Print the effective configuration to stderr at start."},
    {"log-config-reverse-order", true, "Accepted for Loki compatibility; no effect."},
    {"version", true, "Print the version and exit."},
    {"help", true, "Print this help and exit."},
    {"h", true, "Print this help and exit."},
};

const SpecialFlag* FindSpecial(std::string_view name) {
  for (const SpecialFlag& f : kSpecialFlags) {
    if (f.name == name)
      return &f;
  }
  return nullptr;
}

const absl::flat_hash_map<std::string, FlagInfo>& FlagTable() {
  static const absl::flat_hash_map<std::string, FlagInfo> table = [] {
    absl::flat_hash_map<std::string, FlagInfo> table;
    auto* t = &table;
    const Config defaults = LokiDefaults();
    internal::WalkLeaves(defaults, [&](const auto& value, const std::string& path,
                                       const std::string& flag, const FieldOpts& o) {
      using T = std::remove_cvref_t<decltype(value)>;
      if constexpr (!internal::kIsSectionVector<T>) {
        if (flag.empty())
          return;
        FlagInfo info;
        info.name = flag;
        info.key = path;
        info.type = internal::TypeName<T>();
        info.default_value = internal::LeafToString(value, o);
        info.doc = o.doc;
        info.is_bool = std::is_same_v<T, bool>;
        (*t)[flag] = std::move(info);
      }
    });
    return table;
  }();
  return table;
}

// Sets the field registered under flag `name` in `config`; returns its dotted key.
absl::StatusOr<std::string> ApplyOne(const FlagOverride& f, Config& config) {
  bool found = false;
  std::string key;
  absl::Status status = absl::OkStatus();
  internal::WalkLeaves(config, [&](auto& value, const std::string& path, const std::string& flag,
                                   const FieldOpts& o) {
    using T = std::remove_cvref_t<decltype(value)>;
    if constexpr (!internal::kIsSectionVector<T>) {
      if (found || flag != f.name)
        return;
      found = true;
      key = path;
      status = internal::ParseLeaf(value, f.value, o);
    }
  });
  if (!found) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag provided but not defined: -", f.name, " (see -help)"));
  }
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid value \"", f.value, "\" for flag -", f.name, ": ", status.message()));
  }
  return key;
}

absl::Status ApplyFlagsWithKeys(const std::vector<FlagOverride>& overrides, Config& config,
                                internal::KeyLines& keys) {
  for (const FlagOverride& f : overrides) {
    ASSIGN_OR_RETURN(std::string key, ApplyOne(f, config));
    keys[key] = 0;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine cmd;
  const auto& table = FlagTable();
  Config scratch = LokiDefaults();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument \"", args[i + 1], "\""));
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", internal::AV(arg), "\" (flags start with -)"));
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    if (arg.empty() || arg[0] == '-' || arg[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("bad flag syntax: ", args[i]));
    }
    std::string name;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    } else {
      name = std::string(arg);
    }
    const SpecialFlag* special = FindSpecial(name);
    auto it = table.find(name);
    if (special == nullptr && it == table.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag provided but not defined: -", name, " (see -help)"));
    }
    const bool is_bool = special != nullptr ? special->is_bool : it->second.is_bool;
    if (!has_value) {
      if (is_bool) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: -", name));
        }
        value = args[++i];
      }
    }
    if (special != nullptr) {
      bool b = false;
      if (special->is_bool) {
        absl::Status s = internal::ParseLeaf(b, value, FieldOpts{});
        if (!s.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("invalid boolean value \"", value, "\" for -", name));
        }
      }
      if (name == "config.file")
        cmd.config_file = value;
      if (name == "config.expand-env")
        cmd.config_expand_env = b;
      if (name == "print-config-stderr")
        cmd.print_config_stderr = b;
      if (name == "version")
        cmd.version = b;
      if (name == "help" || name == "h")
        cmd.help = b;
      continue;
    }
    FlagOverride f{name, value};
    // Check the value now so errors surface at parse time, as with Go's flag package.
    auto key = ApplyOne(f, scratch);
    if (!key.ok())
      return key.status();
    cmd.overrides.push_back(std::move(f));
  }
  return cmd;
}

absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return ParseCommandLine(args);
}

absl::Status ApplyFlags(const std::vector<FlagOverride>& overrides, Config& config) {
  internal::KeyLines keys;
  return ApplyFlagsWithKeys(overrides, config, keys);
}

absl::StatusOr<Config> LoadConfig(const CommandLine& cmd) {
  internal::KeyLines keys;
  Config config;
  std::string source = "embedded defaults";
  if (!cmd.config_file.empty()) {
    source = cmd.config_file;
    std::ifstream in(cmd.config_file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("cannot read config file \"", cmd.config_file, "\""));
    }
    std::stringstream buf;
    buf << in.rdbuf();
    // A file is applied on Loki's defaults, except for the few that would need infrastructure a
    // single Norn process does not have (a Consul ring, /var/loki paths): those start from the
    // single-binary values, unmarked, so the file and `common` propagation still override them.
    config = LokiDefaults();
    config.common.path_prefix = "data";
    config.common.replication_factor = 1;
    config.common.ring.kvstore.store = "inmemory";
    ParseOptions opts;
    opts.expand_env = cmd.config_expand_env;
    opts.source_name = cmd.config_file;
    RETURN_IF_ERROR(internal::DecodeYaml(buf.str(), opts, config, keys));
  } else {
    config = internal::EmbeddedBase(keys);
  }
  RETURN_IF_ERROR(ApplyFlagsWithKeys(cmd.overrides, config, keys));
  if (!cmd.config_file.empty()) {
    auto& fs = config.common.storage.filesystem;
    if (fs.chunks_directory.empty()) fs.chunks_directory = config.common.path_prefix + "/chunks";
    if (fs.rules_directory.empty()) fs.rules_directory = config.common.path_prefix + "/rules";
  }
  RETURN_IF_ERROR(internal::Finalize(config, keys, source));
  return config;
}

std::vector<FlagInfo> ConfigFlags() {
  std::vector<FlagInfo> out;
  for (const auto& [name, info] : FlagTable())
    out.push_back(info);
  std::sort(out.begin(), out.end(),
            [](const FlagInfo& a, const FlagInfo& b) { return a.name < b.name; });
  return out;
}

std::string FlagsHelp() {
  std::string out =
      "Usage: norn [flags]\n"
      "Flags use Go syntax: -name=value, --name=value, -name value, or -name for booleans.\n\n";
  for (const SpecialFlag& f : kSpecialFlags) {
    absl::StrAppend(&out, "  -", internal::AV(f.name), f.is_bool ? "" : " string", "\n    \t",
                    internal::AV(f.doc), "\n");
  }
  out += "\nConfiguration flags (override the config file; see docs/configuration.md):\n";
  for (const FlagInfo& f : ConfigFlags()) {
    absl::StrAppend(&out, "  -", f.name, f.is_bool ? "" : absl::StrCat(" ", f.type), "\n    \t",
                    f.doc, " [", f.key, "] (default ",
                    f.default_value.empty() ? "\"\"" : f.default_value, ")\n");
  }
  return out;
}

}  // namespace norn::config
