// Runs real lines of the conformance dataset through pipelines equivalent to the conformance
// queries and compares labels and lines with Loki v2.7.7's recorded answers
// (conformance_lines_data.inc is generated from shared/conformance).
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "logql/log/formatters.h"
#include "logql/log/json_parser.h"
#include "logql/log/label_filter.h"
#include "logql/log/line_filter.h"
#include "logql/log/logfmt_parser.h"
#include "logql/log/parsers.h"
#include "logql/log/pipeline.h"

namespace norn::logql_log {
namespace {

struct Row {
  const char* kase;
  std::vector<std::pair<std::string_view, std::string_view>> stream;
  const char* line;
  std::vector<std::pair<std::string_view, std::string_view>> want_labels;
  const char* want_line;
};

const Row kRows[] = {
#include "logql/log/conformance_lines_data.inc"
};

// `{{.name}}` substitution: enough for the templates of these cases.
class SimpleTemplate : public TemplateRenderer {
 public:
  explicit SimpleTemplate(std::string t) : t_(std::move(t)) {}
  absl::Status Render(const LabelsView& labels, std::string_view, int64_t,
                      std::string* out) override {
    size_t i = 0;
    while (i < t_.size()) {
      size_t open = t_.find("{{.", i);
      if (open == std::string::npos) {
        out->append(t_, i);
        break;
      }
      out->append(t_, i, open - i);
      size_t close = t_.find("}}", open);
      auto v = labels.Get(t_.substr(open + 3, close - open - 3));
      if (v) out->append(*v);
      i = close + 2;
    }
    return absl::OkStatus();
  }

 private:
  std::string t_;
};

using Stages = std::vector<std::unique_ptr<Stage>>;

template <typename... T>
Stages Make(T... s) {
  Stages v;
  (v.push_back(std::unique_ptr<Stage>(s)), ...);
  return v;
}
Stage* Fmt(std::string t) { return new LineFormatter(std::make_unique<SimpleTemplate>(t)); }
Stage* JsonEx(std::vector<JsonExpression> e) {
  return JsonExpressionParser::Create(std::move(e))->release();
}
Stage* Re(std::string re) { return RegexpParser::Create(re)->release(); }
Stage* Pat(std::string p) { return PatternParser::Create(p)->release(); }
Stage* IpLine(bool neg, std::string p) {
  return new LineFilterStage(*NewIpLineFilter(neg, p));
}
Stage* IpLabel(std::string l, std::string p) { return NewIpLabelFilter(l, false, p)->release(); }

std::map<std::string, std::function<Stages()>> Pipelines() {
  std::map<std::string, std::function<Stages()>> m;
  m["parser_json_01_all_fields"] = [] { return Make(new JsonParser()); };
  m["parser_json_03_params_array_index"] = [] { return Make(JsonEx({{"first_tag", "tags[0]"}})); };
  m["parser_json_04_params_bracket"] = [] {
    return Make(JsonEx({{"ua", "request.headers[\"User-Agent\"]"}}));
  };
  m["parser_json_05_params_shorthand"] = [] {
    return Make(JsonEx({{"user", "user"}, {"level", "level"}}));
  };
  m["parser_json_07_params_array_value"] = [] { return Make(JsonEx({{"tags", "tags"}})); };
  m["parser_json_08_params_missing_path"] = [] {
    return Make(JsonEx({{"x", "does.not.exist"}, {"lvl", "level"}}));
  };
  m["parser_logfmt_01_all_fields"] = [] { return Make(new LogfmtParser()); };
  m["parser_pattern_01_nginx"] = [] {
    return Make(Pat("<ip> - <user> [<_>] \"<method> <path> <_>\" <status> <size> \"<ref>\" "
                    "\"<ua>\" <rt>"));
  };
  m["parser_regexp_01_apache_clf"] = [] {
    return Make(Re("^(?P<ip>\\S+) \\S+ (?P<user>\\S+) \\[(?P<ts>[^\\]]+)\\] \"(?P<method>\\w+) "
                   "(?P<path>\\S+) [^\"]*\" (?P<status>\\d+) (?P<size>\\S+)$"));
  };
  m["parser_unpack_01_basic"] = [] { return Make(new UnpackParser()); };
  m["errors_03_error_specific"] = [] {
    return Make(new JsonParser(),
                NewStringLabelFilter("__error__", StringMatchType::kEqual, "JSONParserErr")
                    ->release(),
                Fmt("{{.__error__}}"));
  };
  m["parser_regexp_04_no_match_lines"] = [] {
    return Make(Re("attempt (?P<attempt>\\d+)"), Fmt("{{.attempt}}"));
  };
  m["parser_pattern_04_anchored_mismatch"] = [] {
    return Make(Pat("level=<level> <_>"), Fmt("[{{.level}}]"));
  };
  m["parser_pattern_03_anchored_literal"] = [] {
    return Make(Pat("time=\"<time>\" level=<level> <_>"), Fmt("{{.level}}"));
  };
  m["parser_logfmt_10_ansi_lines"] = [] {
    return Make(new LogfmtParser(), Fmt("{{.task}}|{{.status}}|{{.duration}}"));
  };
  m["parser_json_14_nested_objects"] = [] {
    return Make(new JsonParser(), Fmt("{{.batch_id}} {{.batch_items}} {{.batch_dry_run}}"));
  };
  m["parser_json_12_sanitised_keys"] = [] {
    return Make(new JsonParser(),
                Fmt("{{.http_route}} {{.trace_id}} {{.request_client_version}}"));
  };
  m["parser_json_11_duplicate_keys"] = [] {
    return Make(new LineFilterStage(
                    *NewLineFilter(LineMatchType::kRegex, "\"level\":\"(warn|critical)\"}$")),
                new JsonParser(), Fmt("{{.level}} {{.msg}}"));
  };
  m["parser_logfmt_04_escaped_quotes"] = [] {
    return Make(new LineFilterStage(*NewLineFilter(LineMatchType::kContains, "locked out")),
                new LogfmtParser(), Fmt("{{.msg}}"));
  };
  m["parser_json_15_packed_entry_key"] = [] {
    return Make(new JsonParser(), Fmt("[{{._entry}}] {{.component}}"));
  };
  m["label_filter_24_ip_label"] = [] {
    return Make(new LogfmtParser(), IpLabel("client_ip", "10.0.0.0/8"));
  };
  m["parser_regexp_03_unanchored_ip_filter"] = [] {
    return Make(Re("SRC=(?P<src>\\S+) DST=(?P<dst>\\S+)"), IpLabel("src", "192.168.0.0/16"));
  };
  m["line_filter_20_ip_v6"] = [] { return Make(IpLine(false, "2001:db8::/32")); };
  m["line_filter_21_ip_range"] = [] { return Make(IpLine(false, "203.0.113.0-203.0.113.100")); };
  m["line_filter_19_ip_not_cidr"] = [] { return Make(IpLine(true, "10.0.0.0/8")); };
  return m;
}

Labels ToLabels(const std::vector<std::pair<std::string_view, std::string_view>>& v) {
  std::vector<Label> out;
  for (const auto& [n, val] : v) out.push_back(Label{std::string(n), std::string(val)});
  return Labels(std::move(out));
}

TEST(ConformanceLinesTest, MatchesLokiAnswers) {
  auto pipelines = Pipelines();
  std::map<std::string, int> checked;
  for (const Row& row : kRows) {
    auto it = pipelines.find(row.kase);
    ASSERT_NE(it, pipelines.end()) << row.kase;
    Pipeline p(it->second());
    StreamPipeline* sp = p.ForStream(ToLabels(row.stream));
    std::string_view out;
    ASSERT_TRUE(sp->Process(0, row.line, {}, &out)) << row.kase << ": " << row.line;
    EXPECT_EQ(out, row.want_line) << row.kase;
    EXPECT_EQ(sp->builder().CachedLabels(), ToLabels(row.want_labels))
        << row.kase << "\n got: " << sp->builder().CachedLabels().ToString()
        << "\nwant: " << ToLabels(row.want_labels).ToString();
    ++checked[row.kase];
  }
  EXPECT_EQ(checked.size(), pipelines.size());
}

}  // namespace
}  // namespace norn::logql_log
