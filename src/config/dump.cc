// YAML dumping and the Markdown reference, both driven by the field registration.

#include <string>
#include <type_traits>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "config/config.h"
#include "config/fields.h"
#include "config/internal.h"

namespace norn::config {
namespace {

using internal::kIsSectionVector;
using internal::LeafToString;
using internal::SectionType;

constexpr const char* kMask = "********";

template <class S>
YAML::Node SectionNode(const S& obj, const S* defaults);

template <class S>
YAML::Node FullNode(const S& obj) {
  return SectionNode(obj, static_cast<const S*>(nullptr));
}

template <class T>
YAML::Node ValueNode(const T& v, const FieldOpts& o) {
  if constexpr (kIsSectionVector<T>) {
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& element : v)
      seq.push_back(FullNode(element));
    return seq;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    YAML::Node seq(YAML::NodeType::Sequence);
    seq.SetStyle(YAML::EmitterStyle::Flow);
    for (const auto& s : v)
      seq.push_back(o.secret && !s.empty() ? std::string(kMask) : s);
    return seq;
  } else if constexpr (std::is_same_v<T, bool>) {
    return YAML::Node(v);
  } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, uint64_t>) {
    return YAML::Node(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return YAML::Node(o.secret && !v.empty() ? std::string(kMask) : v);
  } else {
    return YAML::Node(LeafToString(v, o));
  }
}

template <class T>
bool Equal(const T& a, const T& b) {
  if constexpr (kIsSectionVector<T>) {
    if (a.size() != b.size())
      return false;
    for (size_t i = 0; i < a.size(); ++i) {
      YAML::Emitter ea, eb;
      ea << FullNode(a[i]);
      eb << FullNode(b[i]);
      if (std::string(ea.c_str()) != eb.c_str())
        return false;
    }
    return true;
  } else {
    return a == b;
  }
}

// Builds the mapping for one section; with `defaults`, only differing keys are kept.
template <class S>
struct DumpVisitor {
  const S& obj;
  const S* defaults;
  YAML::Node& out;

  template <class T>
  void Field(const char* name, T S::*member, const FieldOpts& o) {
    const T& value = obj.*member;
    if constexpr (SectionType<T>) {
      YAML::Node child = SectionNode(value, defaults ? &(defaults->*member) : nullptr);
      if (defaults != nullptr && child.size() == 0)
        return;
      out[name] = child;
    } else {
      if (defaults != nullptr && Equal(value, defaults->*member))
        return;
      out[name] = ValueNode(value, o);
    }
  }
};

template <class S>
YAML::Node SectionNode(const S& obj, const S* defaults) {
  YAML::Node node(YAML::NodeType::Map);
  DumpVisitor<S> v{obj, defaults, node};
  S::Fields(v);
  return node;
}

std::string EscapeCell(std::string s) {
  return absl::StrReplaceAll(s, {{"|", "\\|"}, {"\n", " "}, {"<", "\\<"}, {">", "\\>"}});
}

std::string Code(const std::string& s) {
  if (s.empty())
    return "`\"\"`";
  return absl::StrCat("`", s, "`");
}

template <class T>
std::string DefaultCell(const T& v, const FieldOpts& o) {
  if constexpr (kIsSectionVector<T>) {
    return v.empty() ? "`[]`" : absl::StrCat(v.size(), " entries");
  } else {
    return Code(LeafToString(v, o));
  }
}

template <class T>
std::string TypeCell(const FieldOpts& o) {
  if constexpr (std::is_same_v<T, absl::Duration>) {
    return o.model_duration ? "duration (d/w/y ok, no bare ints)" : "duration";
  } else if constexpr (std::is_same_v<T, absl::CivilDay>) {
    return "date (YYYY-MM-DD)";
  } else if constexpr (kIsSectionVector<T>) {
    return "list of blocks";
  } else {
    return internal::TypeName<T>();
  }
}

struct Row {
  std::string path;
  std::string type;
  std::string def;
  std::string flag;
  std::string doc;
};

template <class S>
void CollectRows(const S& obj, const std::string& base, const std::string& prefix, bool flags_on,
                 std::vector<Row>& rows) {
  internal::WalkLeaves(
      obj,
      [&](const auto& value, const std::string& path, const std::string& flag, const FieldOpts& o) {
        using T = std::remove_cvref_t<decltype(value)>;
        std::string doc = o.doc;
        if (o.norn_only)
          doc = absl::StrCat("**Norn extension.** ", doc);
        if (o.secret)
          doc = absl::StrCat(doc, " Secret: dumped as `********`.");
        rows.push_back(Row{path, TypeCell<T>(o), DefaultCell(value, o),
                           flag.empty() ? "" : absl::StrCat("`-", flag, "`"), doc});
        if constexpr (kIsSectionVector<T>) {
          typename T::value_type element;
          CollectRows(element, path + "[]", "", false, rows);
        }
      },
      base, prefix, flags_on);
}

}  // namespace

std::string DumpYaml(const Config& config, DumpMode mode) {
  YAML::Node root;
  const Config defaults = LokiDefaults();
  switch (mode) {
    case DumpMode::kAll:
      root = FullNode(config);
      break;
    case DumpMode::kDefaults:
      root = FullNode(defaults);
      break;
    case DumpMode::kDiff:
      root = SectionNode(config, &defaults);
      break;
  }
  YAML::Emitter out;
  out << root;
  return absl::StrCat(out.c_str(), "\n");
}

std::string ConfigReferenceMarkdown() {
  const Config defaults = LokiDefaults();
  std::vector<Row> rows;
  CollectRows(defaults, "", "", true, rows);
  std::string md;
  std::string current;
  auto header = [&](const std::string& section) {
    absl::StrAppend(&md, md.empty() ? "" : "\n", "### ",
                    section.empty() ? "Top level" : absl::StrCat("`", section, "`"), "\n\n",
                    "| Key | Type | Default | Flag | Description |\n", "|---|---|---|---|---|\n");
  };
  for (const Row& r : rows) {
    const size_t dot = r.path.find('.');
    std::string section = dot == std::string::npos ? "" : r.path.substr(0, dot);
    if (md.empty() || section != current) {
      current = section;
      header(section);
    }
    absl::StrAppend(&md, "| `", r.path, "` | ", r.type, " | ", EscapeCell(r.def), " | ", r.flag,
                    " | ", EscapeCell(r.doc), " |\n");
  }
  return md;
}

}  // namespace norn::config
