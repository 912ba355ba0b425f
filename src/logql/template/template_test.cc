#include "logql/template/template.h"

#include "logql/template/value.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

// The counting operator new below pairs malloc with free; GCC cannot see that and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Counts heap allocations so tests can check that simple templates render without any.
static std::atomic<long> g_allocs{0};
void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc();
}
// The nothrow form too (std::stable_sort's temporary buffer uses it): otherwise a sanitizer's
// own nothrow new would pair with the free() below.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

namespace norn::logql_template {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 2023-03-28T10:40:00.123456789Z
constexpr int64_t kTs = 1680000000123456789;

const PairsLabelSource& DefaultLabels() {
  static const PairsLabelSource labels({{"foo", "bar"},
                                        {"status", "200"},
                                        {"method", "GET"},
                                        {"path", "/api/v1/push"},
                                        {"num", "42"},
                                        {"f", "3.14"},
                                        {"empty", ""}});
  return labels;
}

absl::StatusOr<std::string> Render(std::string_view text, const LabelSource& labels,
                                   std::string_view line = "hello world", int64_t ts = kTs) {
  auto t = Template::Parse(text);
  if (!t.ok())
    return t.status();
  ExecContext ctx;
  ctx.labels = &labels;
  ctx.line = line;
  ctx.timestamp_ns = ts;
  std::string out;
  absl::Status st = (*t)->Execute(ctx, &out);
  if (!st.ok())
    return st;
  return out;
}

struct Case {
  const char* tmpl;
  const char* want;
};

void RunCases(const std::vector<Case>& cases, const LabelSource& labels = DefaultLabels()) {
  for (const Case& c : cases) {
    auto got = Render(c.tmpl, labels);
    ASSERT_TRUE(got.ok()) << c.tmpl << " -> " << got.status();
    EXPECT_EQ(*got, c.want) << "template: " << c.tmpl;
  }
}

std::string ErrorOf(std::string_view text, const LabelSource& labels = DefaultLabels()) {
  auto got = Render(text, labels);
  if (got.ok())
    return "OK: " + *got;
  return std::string(got.status().message());
}

TEST(TemplateTest, TextFieldsAndTrimming) {
  RunCases({
      {"text only", "text only"},
      {"", ""},
      {"{{.foo}}", "bar"},
      {"{{ .foo }} {{.status}}", "bar 200"},
      {"{{.missing}}|", "|"},  // map[string]string with missingkey=zero
      {"a  {{- .foo -}}  b", "abarb"},
      {"a\n\t{{- .foo }}\n", "abar\n"},
      {"a {{- /* comment */ -}} b", "ab"},
      {"{{/* c */}}x", "x"},
      {"{{- 3}}", "3"},
      {"{{-3}}", "-3"},
      {"x{{ .foo\n}}y", "xbary"},  // newlines inside actions (Go 1.16+)
      {"{{ `raw\\n` }}", "raw\\n"},
      {"{{ \"esc\\t\\u00e9\" }}", "esc\t\xc3\xa9"},
  });
}

TEST(TemplateTest, ControlFlow) {
  RunCases({
      {"{{ if eq .status \"200\" }}ok{{ else }}bad{{ end }}", "ok"},
      {"{{ if eq .status \"500\" }}a{{ else if eq .method \"GET\" }}get{{ else }}c{{ end }}",
       "get"},
      {"{{ if .empty }}y{{ else }}n{{ end }}", "n"},
      {"{{ if .missing }}y{{ else }}n{{ end }}", "n"},
      {"{{ if 0 }}y{{ else }}n{{ end }}{{ if 1.5 }}y{{ end }}", "ny"},
      {"{{ with .foo }}[{{.}}]{{ end }}", "[bar]"},
      {"{{ with .missing }}[{{.}}]{{ else }}none{{ end }}", "none"},
      {"{{ if and (eq .foo \"bar\") (ne .status \"500\") }}y{{end}}", "y"},
      {"{{ if or (contains \"he\" \"hello\") (contains \"x\" \"hello\") }}yes{{end}}", "yes"},
      {"{{ if contains .foo \"ErrTimeout\" }}t{{else if contains \"he\" "
       "\"hello\"}}y{{else}}n{{end}}",
       "y"},
      {"{{ if .foo }}{{ if eq .status \"200\" }}{{ with .method }}{{ . }}{{ end }}{{ end }}{{ end "
       "}}",
       "GET"},
  });
}

TEST(TemplateTest, Variables) {
  RunCases({
      {"{{ $x := .foo }}{{ $x }}", "bar"},
      {"{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"},
      {"{{ $x := \"a\" }}{{ with .foo }}{{ $x := \"b\" }}{{ $x }}{{ end }}{{ $x }}", "ba"},
      {"{{ with .foo }}{{ $.status }}{{ end }}", "200"},
      {"{{ $ }}", "map[empty: f:3.14 foo:bar method:GET num:42 path:/api/v1/push status:200]"},
      {"{{ $s := .status | ToLower }}{{ $s }}-{{ $s }}", "200-200"},
  });
}

TEST(TemplateTest, PipelinesAndLiterals) {
  RunCases({
      {"{{ .foo | ToUpper }}", "BAR"},
      {"{{ .path | replace \"/\" \"_\" | trunc 5 | upper }}", "_API_"},
      {"{{ ToUpper \"This is a string\" | ToLower }}", "this is a string"},
      {"{{ 1.5 }} {{ 3 }} {{ 1e6 }} {{ 0x10 }} {{ 'a' }} {{ true }} {{ 1.0 }}",
       "1.5 3 1e+06 16 97 true 1"},
      {"{{ 123456.0 }} {{ 1234567.0 }} {{ 0.0001 }} {{ 0.00001 }}",
       "123456 1.234567e+06 0.0001 1e-05"},
      {"{{ (.foo) }}{{ (ToUpper .foo) | ToLower }}", "barbar"},
      {"{{ print 1 2 \"a\" 3 }}", "1 2a3"},
      {"{{ println \"a\" 1 }}", "a 1\n"},
      {"{{ print nil }}", "<nil>"},
  });
}

TEST(TemplateTest, Printf) {
  RunCases({
      {"{{ printf \"%.2f\" 3.14159 }}", "3.14"},
      {"{{ printf \"%s-%d\" .foo 5 }}", "bar-5"},
      {"{{ printf \"%d\" .foo }}", "%!d(string=bar)"},
      {"{{ printf \"%5s|%-5s|\" \"a\" \"b\" }}", "    a|b    |"},
      {"{{ printf \"%v %v %v\" 1.5 true nil }}", "1.5 true <nil>"},
      {"{{ printf \"%x %X %o %b\" 255 255 8 5 }}", "ff FF 10 101"},
      {"{{ printf \"%q\" \"a\\\"b\" }}", "\"a\\\"b\""},
      {"{{ printf \"%05d|%+d|% d\" 42 5 7 }}", "00042|+5| 7"},
      {"{{ printf \"%d %d\" 1 }}", "1 %!d(MISSING)"},
      {"{{ printf \"%d\" 1 2 }}", "1%!(EXTRA int=2)"},
      {"{{ printf \"%e|%g|%g\" 1234.5678 0.00001 100000.0 }}", "1.234568e+03|1e-05|100000"},
      {"{{ printf \"%6.2f|%-8.3f|\" 3.14159 2.0 }}", "  3.14|2.000   |"},
      {"{{ printf \"%t %v\" true .foo }}", "true bar"},
      {"{{ printf \"100%%\" }}", "100%"},
      {"{{ printf \"%s\" 5 }}", "%!s(int=5)"},
      {"{{ printf \"%c%c\" 72 105 }}", "Hi"},
      {"{{ printf \"%x\" \"hi\" }}", "6869"},
      {"{{ printf \"%.1s\" .foo }}", "b"},
      {"{{ printf \"%T %T\" 1 .foo }}", "int string"},
      {"{{ printf \"%v\" (add 1 2) }}", "3"},
      {"{{ printf \"%.3v\" 3.14159 }}", "3.14"},
  });
}

TEST(TemplateTest, Builtins) {
  RunCases({
      {"{{ len .foo }}", "3"},
      {"{{ index . \"foo\" }}|{{ index . \"nope\" }}|", "bar||"},
      {"{{ index .foo 1 }}", "97"},
      {"{{ slice .foo 1 }}{{ slice .foo 0 1 }}", "arb"},
      {"{{ html \"<a href='x'>&\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;"},
      {"{{ js \"it's <b>\" }}", "it\\'s \\u003Cb\\u003E"},
      {"{{ urlquery \"a b&c\" }}", "a+b%26c"},
      {"{{ and 1 0 }}|{{ or 0 \"\" \"x\" }}|{{ not .empty }}|{{ and .foo .status }}",
       "0|x|true|200"},
      {"{{ or .missing \"fallback\" }}", "fallback"},
      {"{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ eq 1 2 1 }} {{ le 2 2 }} {{ gt 1.5 2.5 }}",
       "true true true true false"},
      {"{{ ne .status \"200\" }}", "false"},
      {"{{ eq .missing \"\" }}", "true"},
  });
}

TEST(TemplateTest, Range) {
  PairsLabelSource labels({{"c", "3"}, {"a", "1"}, {"b", "2"}});
  RunCases(
      {
          {"{{ range $k, $v := . }}{{$k}}={{$v}};{{ end }}", "a=1;b=2;c=3;"},
          {"{{ range . }}{{.}},{{ end }}", "1,2,3,"},
          {"{{ range $v := . }}{{$v}}{{ end }}", "123"},
          {"{{ range $k, $v := . }}{{ if eq $k \"b\" }}{{ break }}{{ end }}{{$k}}{{ end }}", "a"},
          {"{{ range $k, $v := . }}{{ if eq $k \"b\" }}{{ continue }}{{ end }}{{$k}}{{ end }}",
           "ac"},
          {"{{ . }}", "map[a:1 b:2 c:3]"},
          {"{{ len . }}", "3"},
      },
      labels);
  PairsLabelSource none({});
  RunCases({{"{{ range . }}x{{ else }}empty{{ end }}", "empty"}}, none);
}

TEST(TemplateTest, LineAndTimestamp) {
  RunCases({
      {"{{ __line__ }}", "hello world"},
      {"{{ __line__ | upper }}", "HELLO WORLD"},
      {"{{ __timestamp__ }}", "2023-03-28 10:40:00.123456789 +0000 UTC"},
      {"{{ __timestamp__ | date \"2006-01-02T15:04:05.00Z07:00\" }}", "2023-03-28T10:40:00.12Z"},
      {"{{ __timestamp__ | unixEpoch }}", "1680000000"},
      {"{{ __timestamp__ | unixEpochMillis }}", "1680000000123"},
      {"{{ __timestamp__ | unixEpochNanos }}", "1680000000123456789"},
      {"{{ date \"Mon Jan _2 15:04:05 MST 2006\" __timestamp__ }}", "Tue Mar 28 10:40:00 UTC 2023"},
      {"{{ date \"3:04PM Monday January 02 06 .000 .999999 002\" __timestamp__ }}",
       "10:40AM Tuesday March 28 23 .123 .123456 087"},
      {"{{ date \"2006-01-02\" 0 }}", "1970-01-01"},
  });
}

TEST(TemplateTest, DateParsing) {
  RunCases({
      {"{{ toDate \"2006-01-02\" \"2021-11-02\" | unixEpoch }}", "1635811200"},
      {"{{ toDate \"2006-01-02\" \"2021-11-02\" }}", "2021-11-02 00:00:00 +0000 UTC"},
      {"{{ toDateInZone \"2006-01-02 15:04\" \"America/New_York\" \"2021-11-02 10:00\" }}",
       "2021-11-02 10:00:00 -0400 EDT"},
      {"{{ toDateInZone \"2006-01-02 15:04\" \"America/New_York\" \"2021-11-02 10:00\" | "
       "unixEpoch }}",
       "1635861600"},
      {"{{ toDateInZone \"2006-01-02\" \"Not/AZone\" \"2021-11-02\" | unixEpoch }}", "1635811200"},
      {"{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2021-11-02T10:00:00+02:00\" }}",
       "2021-11-02 10:00:00 +0200 +0200"},
      {"{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2021-11-02T10:00:00.5Z\" | unixEpochMillis }}",
       "1635847200500"},
      {"{{ toDate \"Jan 2, 2006 at 3:04pm (MST)\" \"Feb 3, 2013 at 7:54pm (PST)\" }}",
       "2013-02-03 19:54:00 +0000 PST"},
      {"{{ toDate \"2006-01-02\" \"garbage\" }}", "0001-01-01 00:00:00 +0000 UTC"},
      {"{{ unixToTime \"1680000000\" | unixEpochMillis }}", "1680000000000"},
      {"{{ unixToTime \"1680000000123\" | unixEpochNanos }}", "1680000000123000000"},
      {"{{ unixToTime \"19444\" | unixEpoch }}", "1679961600"},
      {"{{ toDateInZone \"2006-01-02\" \"Asia/Kolkata\" \"2021-07-01\" }}",
       "2021-07-01 00:00:00 +0530 IST"},
      // date renders in Local (UTC).
      {"{{ toDateInZone \"2006-01-02 15:04\" \"Europe/Paris\" \"2021-07-01 12:00\" | "
       "date \"15:04 MST Z07:00\" }}",
       "10:00 UTC Z"},
      {"{{ printf \"%v|%s\" __timestamp__ (toDate \"2006\" \"2020\") }}",
       "2023-03-28 10:40:00.123456789 +0000 UTC|2020-01-01 00:00:00 +0000 UTC"},
  });
}

TEST(TemplateTest, StringFunctions) {
  RunCases({
      {"{{ Replace .foo \"a\" \"o\" -1 }}|{{ Replace \"aaa\" \"a\" \"b\" 2 }}", "bor|bba"},
      {"{{ Replace \"ab\" \"\" \"-\" -1 }}", "-a-b-"},
      {"{{ Trim \"  x  \" \" \" }}|{{ TrimLeft \"xxay\" \"x\" }}|{{ TrimRight \"ayxx\" \"x\" }}",
       "x|ay|ay"},
      {"{{ TrimPrefix \"prefix-x\" \"prefix-\" }}|{{ TrimSuffix \"x.log\" \".log\" }}", "x|x"},
      {"{{ TrimSpace \"  x \\n\" }}|{{ trim \"\\t y \" }}", "x|y"},
      {"{{ \"hello\" | title }}|{{ title \"hello world-foo_bar\" }}", "Hello|Hello World-Foo_bar"},
      {"{{ trunc 3 \"hello\" }}|{{ trunc -3 \"hello\" }}|{{ trunc 10 \"hi\" }}", "hel|llo|hi"},
      {"{{ substr 1 3 \"hello\" }}|{{ substr 2 -1 \"hello\" }}|{{ substr -1 2 \"hello\" }}",
       "el|llo|he"},
      {"{{ substr 0 2 \"h\xc3\xa9llo\" }}", "h\xc3\xa9"},
      {"{{ contains \"ell\" \"hello\" }} {{ hasPrefix \"he\" \"hello\" }} "
       "{{ hasSuffix \"x\" \"hello\" }}",
       "true true false"},
      {"{{ indent 2 \"a\\nb\" }}|{{ nindent 1 \"a\" }}", "  a\n  b|\n a"},
      {"{{ repeat 3 \"ab\" }}", "ababab"},
      {"{{ trimAll \"$\" \"$5.00$\" }}|{{ trimSuffix \"-\" \"hello-\" }}|"
       "{{ trimPrefix \"-\" \"-hello\" }}",
       "5.00|hello|hello"},
      {"{{ ToLower \"\xc3\x80\x42\" }}|{{ upper \"\xc3\xa9t\xc3\xa9\" }}",
       "\xc3\xa0\x62|\xc3\x89T\xc3\x89"},
      {"{{ alignLeft 5 \"ab\" }}|{{ alignRight 5 \"ab\" }}|{{ alignLeft 2 \"abcd\" }}|"
       "{{ alignRight 2 \"abcd\" }}",
       "ab   |   ab|ab|cd"},
      {"{{ abbrev 5 \"hello world\" }}|{{ abbrevboth 5 10 \"1234 5678 9123\" }}|"
       "{{ abbrev 20 \"short\" }}",
       "he...|...5678...|short"},
      {"{{ wrap 5 \"Hello World\" }}", "Hello\nWorld"},
      {"{{ b64enc \"hello\" }}|{{ b64dec \"aGVsbG8=\" }}|{{ b64dec \"!!\" }}",
       "aGVsbG8=|hello|illegal base64 data at input byte 0"},
      {"{{ urlencode \"a b/c\" }}|{{ urldecode \"a+b%2Fc\" }}", "a+b%2Fc|a b/c"},
      {"{{ .missing | default \"x\" }}|{{ .foo | default \"x\" }}|{{ default \"d\" 0 }}",
       "x|bar|d"},
  });
}

TEST(TemplateTest, RegexFunctions) {
  RunCases({
      {R"T({{ regexReplaceAll "(\\w+)@(\\w+)" "user@host" "${2}:$1" }})T", "host:user"},
      {R"T({{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }})T", "-W-xxW-"},
      {R"T({{ regexReplaceAll "a(x*)b" "-ab-axxb-" "$1W" }})T", "---"},
      {R"T({{ regexReplaceAll "a(?P<x>x*)b" "-ab-axxb-" "<$x>" }})T", "-<>-<xx>-"},
      {R"T({{ regexReplaceAll "a" "banana" "$$" }})T", "b$n$n$"},
      {R"T({{ regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "${1}" }})T", "-${1}-${1}-"},
      {R"T({{ regexReplaceAll "a*" "baaac" "X" }})T", "XbXcX"},
      {R"T({{ regexReplaceAll "^" "abc" "X" }})T", "Xabc"},
      // The piped value is the *last* argument (repl), so the source string is "" (as in Go).
      {R"T({{ .path | regexReplaceAll "/v[0-9]+" "" }})T", ""},
      {R"T({{ regexReplaceAll "/v[0-9]+" .path "" }})T", "/api/push"},
      {R"T({{ regexReplaceAll "(a)" .foo "[$1]" }})T", "b[a]r"},
      {R"T({{ count "a" "banana" }}|{{ count "a*" "baaac" }}|{{ count "z" "abc" }})T", "3|3|0"},
  });
}

TEST(TemplateTest, MathFunctions) {
  RunCases({
      {"{{ int \"42\" }}|{{ int 3.9 }}|{{ int \"0x10\" }}|{{ int \"7.0\" }}|{{ int \"x\" }}",
       "42|3|16|7|0"},
      {"{{ add 1 2 }}|{{ add .num 1 }}|{{ add }}|{{ sub 5 3 }}|{{ mul 2 3 4 }}", "3|43|0|2|24"},
      {"{{ div 7 2 }}|{{ mod 7 3 }}|{{ div -7 2 }}", "3|1|-3"},
      {"{{ addf 0.1 0.2 }}|{{ subf 1.5 0.5 }}|{{ mulf 1.1 3 }}|{{ divf 10 4 }}", "0.3|1|3.3|2.5"},
      {"{{ divf 1 3 }}|{{ addf .f 1 }}", "0.3333333333333333|4.14"},
      {"{{ max 1 5 3 }}|{{ min 4 2 }}|{{ maxf 1.5 2.5 }}|{{ minf 1.5 2.5 }}", "5|2|2.5|1.5"},
      {"{{ ceil 1.2 }}|{{ floor 1.8 }}|{{ round 3.14159 2 }}|{{ round 2.5 0 }}", "2|1|3.14|3"},
      {"{{ float64 \"1.5\" }}|{{ float64 2 }}", "1.5|2"},
      {"{{ \"1.5KB\" | bytes }}|{{ bytes \"1MiB\" }}|{{ bytes \"42\" }}", "1500|1.048576e+06|42"},
      {"{{ duration \"1m30s\" }}|{{ duration \"1.5h\" }}|{{ duration_seconds \"250ms\" }}",
       "90|5400|0.25"},
      {"{{ if gt (int .status) 199 }}ok{{ end }}", "ok"},
      {"{{ if gt (.num | int) 40 }}big{{ end }}", "big"},
  });
}

// Cases whose expected output comes from Loki's own formatter tests (pkg/logql/log/fmt_test.go),
// i.e. what Go text/template + sprig produce.
TEST(TemplateTest, LokiFormatterCases) {
  struct LokiCase {
    const char* tmpl;
    std::vector<PairsLabelSource::Pair> labels;
    int64_t ts;
    const char* line;
    const char* want;
  };
  const std::vector<LokiCase> cases = {
      {"foo{{.foo}}buzz{{  .bar  }}", {{"foo", "blip"}, {"bar", "blop"}}, 0, "", "fooblipbuzzblop"},
      {R"T(foo{{.foo}}buzz{{ Replace .bar "blop" "bar" -1 }})T",
       {{"foo", "blip"}, {"bar", "blop"}},
       0,
       "",
       "fooblipbuzzbar"},
      {R"T(foo{{.foo}}buzz{{ .bar | replace "blop" "bar" }})T",
       {{"foo", "blip"}, {"bar", "blop"}},
       0,
       "",
       "fooblipbuzzbar"},
      {"{{.foo | title }}", {{"foo", "blip"}}, 0, "", "Blip"},
      {"{{.foo | substr 1 3 }} {{ .bar  | trunc 1 }} {{ .bar  | trunc 3 }}",
       {{"foo", "blip"}, {"bar", "blop"}},
       0,
       "",
       "li b blo"},
      {R"T({{.foo | trim }} {{ .bar  | trimAll "op" }} {{ .bar  | trimPrefix "b" }} {{ .bar  | trimSuffix "p" }})T",
       {{"foo", "  blip "}, {"bar", "blop"}},
       0,
       "",
       "blip bl lop blo"},
      {"{{.foo | lower }} {{ .bar  | upper }}",
       {{"foo", "BLIp"}, {"bar", "blop"}},
       0,
       "",
       "blip BLOP"},
      {R"T({{ "foo" | repeat 3 }})T", {}, 0, "", "foofoofoo"},
      {R"T({{ "foo\n bar" | indent 4 }})T", {}, 0, "", "    foo\n     bar"},
      {R"T({{ "foo" | nindent 2 }})T", {}, 0, "", "\n  foo"},
      {R"T({{ if  .foo | contains "p"}}yes{{end}}-{{ if  .foo | contains "z"}}no{{end}})T",
       {{"foo", "BLIp"}},
       0,
       "",
       "yes-"},
      {R"T({{ if  .foo | hasPrefix "BL" }}yes{{end}}-{{ if  .foo | hasPrefix "p"}}no{{end}})T",
       {{"foo", "BLIp"}},
       0,
       "",
       "yes-"},
      {R"T({{ if  .foo | hasSuffix "Ip" }}yes{{end}}-{{ if  .foo | hasSuffix "pw"}}no{{end}})T",
       {{"foo", "BLIp"}},
       0,
       "",
       "yes-"},
      {R"T({{ regexReplaceAll "(p)" .foo "t" }})T", {{"foo", "BLIp"}}, 0, "", "BLIt"},
      {R"T({{ regexReplaceAllLiteral "(p)" .foo "${1}" }})T", {{"foo", "BLIp"}}, 0, "", "BLI${1}"},
      {"foo {{.foo}}buzz{{  .bar  }}", {{"bar", "blop"}}, 0, "", "foo buzzblop"},
      {"foo {{.foo | ToUpper }} buzz{{  .bar  }}",
       {{"foo", "blip"}, {"bar", "blop"}},
       0,
       "",
       "foo BLIP buzzblop"},
      {"{{ add .foo 1 | sub .bar | mul .baz | div .bazz}}",
       {{"foo", "1"}, {"bar", "3"}, {"baz", "10"}, {"bazz", "20"}},
       0,
       "",
       "2"},
      {"{{ addf .foo 1.5 | subf .bar 1.5 | mulf .baz | divf .bazz }}",
       {{"foo", "1.5"}, {"bar", "5"}, {"baz", "10.5"}, {"bazz", "20.2"}},
       0,
       "",
       "3.8476190476190477"},
      {"{{ round (addf .foo 1.5 | subf .bar | mulf .baz | divf .bazz) 5 .2}}",
       {{"foo", "1.5"}, {"bar", "3.5"}, {"baz", "10.5"}, {"bazz", "20.4"}},
       0,
       "",
       "3.88572"},
      {"min is {{ min .foo .bar .baz }} and max is {{ max .foo .bar .baz }}",
       {{"foo", "5"}, {"bar", "10"}, {"baz", "15"}},
       0,
       "",
       "min is 5 and max is 15"},
      {"minf is {{ minf .foo .bar .baz }} and maxf is {{maxf .foo .bar .baz}}",
       {{"foo", "5.3"}, {"bar", "10.5"}, {"baz", "15.2"}},
       0,
       "",
       "minf is 5.3 and maxf is 15.2"},
      {"ceil is {{ ceil .foo }} and floor is {{floor .foo }}",
       {{"foo", "5.3"}},
       0,
       "",
       "ceil is 6 and floor is 5"},
      {"mod is {{ mod .foo 3 }}", {{"foo", "20"}}, 0, "", "mod is 2"},
      {R"T({{ "2.5" | float64 | int | add 10}})T", {}, 0, "", "12"},
      {R"T({{ sub (unixEpoch (toDate "2006-01-02" "2021-11-02")) (unixEpoch (toDate "2006-01-02" "2021-11-01")) }})T",
       {},
       0,
       "",
       "86400"},
      {R"T({{ date "2006-01-02" (toDate "2006-01-02" "2021-11-02") }})T", {}, 0, "", "2021-11-02"},
      {"{{ div (unixEpoch now) (unixEpoch now) }}", {}, 0, "", "1"},
      {"{{ __line__ }} bar {{ .bar }}", {{"bar", "2"}}, 0, "1", "1 bar 2"},
      {R"T({{.foo | default "-" }}{{.bar | default "-"}}{{.unknown | default "-"}})T",
       {{"foo", "blip"}, {"bar", ""}},
       0,
       "",
       "blip--"},
      {R"T({{ __timestamp__ | date "2006-01-02T15:04:05.00Z00:00" }} bar {{ .bar }})T",
       // Loki's test expects 14:05 (its CI's local zone is UTC-4); Norn's Local is UTC.
       {{"bar", "2"}},
       1656353124120000000,
       "1",
       "2022-06-27T18:05:24.12Z00:00 bar 2"},
      {"{{ __timestamp__ | unixEpoch }} bar {{ .bar }}",
       {{"bar", "2"}},
       1656353124120000000,
       "1",
       "1656353124 bar 2"},
      {"{{div .status 100 }}", {{"status", "200"}}, 0, "", "2"},
      // Loki's rune-safe trunc and substring.
      {"{{ trunc -1 .s }}|{{ trunc 1 .s }}|{{ trunc 0 .s }}|{{ trunc 20 .s }}|{{ trunc -20 .s }}",
       {{"s", "Hello, \xe4\xb8\x96\xe7\x95\x8c"}},
       0,
       "",
       "\xe7\x95\x8c|H||Hello, \xe4\xb8\x96\xe7\x95\x8c|Hello, \xe4\xb8\x96\xe7\x95\x8c"},
      {"{{ substr 1 8 .s }}|{{ substr -10 8 .s }}|{{ substr -1 1 .s }}|{{ substr -1 -1 .s }}|"
       "{{ substr 20 -1 .s }}|{{ substr 5 1 .s }}|{{ substr 3 -1 .s }}",
       {{"s", "Hello, \xe4\xb8\x96\xe7\x95\x8c"}},
       0,
       "",
       "ello, \xe4\xb8\x96|Hello, \xe4\xb8\x96|H||||lo, \xe4\xb8\x96\xe7\x95\x8c"},
  };
  for (const auto& c : cases) {
    PairsLabelSource labels(c.labels);
    auto got = Render(c.tmpl, labels, c.line, c.ts);
    ASSERT_TRUE(got.ok()) << c.tmpl << " -> " << got.status();
    EXPECT_EQ(*got, c.want) << c.tmpl;
  }
  // Loki's "err" case: arguments after a field.
  EXPECT_THAT(ErrorOf(R"T({{.foo Replace "foo"}})T"),
              HasSubstr("foo is not a method but has arguments"));
  // Loki's RequiredLabelNames cases.
  auto names = [](const char* tmpl) {
    auto t = Template::Parse(tmpl);
    EXPECT_TRUE(t.ok()) << tmpl;
    return t.ok() ? (*t)->RequiredLabelNames() : std::vector<std::string>{};
  };
  EXPECT_THAT(names("{{.foo}} and {{.bar}}"), ElementsAre("foo", "bar"));
  EXPECT_THAT(names("{{ .foo | ToUpper | .buzz }} and {{.bar}}"),
              ElementsAre("foo", "buzz", "bar"));
  EXPECT_THAT(names(R"T({{ regexReplaceAllLiteral "(p)" .foo "${1}" }})T"), ElementsAre("foo"));
  EXPECT_THAT(names(R"T({{with .foo}}{{printf "%q" .}} {{else}} {{ .buzz | lower }} {{end}})T"),
              ElementsAre("foo", "buzz"));
}

TEST(TemplateTest, ParseErrors) {
  struct ErrCase {
    const char* tmpl;
    const char* want;
  };
  std::vector<ErrCase> cases = {
      {"{{ nosuch }}", "template: line:1: function \"nosuch\" not defined"},
      {"{{ .foo", "template: line:1: unclosed action"},
      {"{{ if .foo }}x", "template: line:1: unexpected EOF"},
      {"{{ end }}", "template: line:1: unexpected {{end}}"},
      {"{{ else }}", "template: line:1: unexpected {{else}}"},
      {"{{ .foo | \"x\" }}", "template: line:1: non executable command in pipeline stage 2"},
      {"{{ }}", "template: line:1: missing value for command"},
      {"{{ .foo-bar }}", "template: line:1: bad character U+002D '-'"},
      {"{{ \"abc }}", "template: line:1: unterminated quoted string"},
      {"{{ (1 }}", "template: line:1: unclosed left paren"},
      {"{{ 1) }}", "template: line:1: unexpected right paren"},
      {"{{/* x }}", "template: line:1: unclosed comment"},
      {"{{/* x */ }}", "template: line:1: comment ends before closing delimiter"},
      {"{{ break }}", "template: line:1: {{break}} outside {{range}}"},
      {"a\n{{ .foo\n| nosuch }}", "template: line:3: function \"nosuch\" not defined"},
      {"{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}",
       "template: line:1: undefined variable \"$x\""},
      {"{{ 1.foo }}", "template: line:1: bad number syntax: \"1.f\""},
      {"{{ \"a\".foo }}", "template: line:1: unexpected . after term \"\\\"a\\\"\""},
      {"{{ if }}{{ end }}", "template: line:1: missing value for if"},
      {"{{ range $a, $b, $c := . }}{{ end }}", "template: line:1: too many declarations in range"},
      {"{{ .foo , }}", "template: line:1: unexpected \",\" in operand"},
      {"{{ if .a }}{{ else }}{{ else }}{{ end }}",
       "template: line:1: expected end; found {{else}}"},
  };
  for (const auto& c : cases) {
    auto t = Template::Parse(c.tmpl);
    ASSERT_FALSE(t.ok()) << c.tmpl;
    EXPECT_EQ(t.status().message(), c.want) << c.tmpl;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  }
  std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_EQ(Template::Parse(deep).status().message(),
            "template: line:1: max expression depth exceeded");
  std::string deep_if;
  for (int i = 0; i < 5000; i++)
    deep_if += "{{ if 1 }}";
  EXPECT_EQ(Template::Parse(deep_if).status().message(),
            "template: line:1: max expression depth exceeded");
  auto t = Template::Parse("{{ nosuch }}", "label");
  EXPECT_EQ(t.status().message(), "template: label:1: function \"nosuch\" not defined");
}

TEST(TemplateTest, ExecErrors) {
  EXPECT_EQ(ErrorOf("{{ div 1 0 }}"),
            "template: line:1:3: executing \"line\" at <div 1 0>: error calling div: runtime "
            "error: integer divide by zero");
  EXPECT_EQ(ErrorOf("{{ trunc \"a\" \"hello\" }}"),
            "template: line:1:9: executing \"line\" at <\"a\">: expected integer; found \"a\"");
  EXPECT_EQ(ErrorOf("{{ .foo | trunc 2.5 }}"),
            "template: line:1:16: executing \"line\" at <2.5>: expected integer; found 2.5");
  EXPECT_EQ(ErrorOf("{{ add 1 2 | trunc 1 }}"),
            "template: line:1:19: executing \"line\" at <1>: wrong type for value; expected "
            "string; got int64");
  EXPECT_EQ(ErrorOf("{{ .foo.bar }}"),
            "template: line:1:7: executing \"line\" at <.foo.bar>: can't evaluate field bar in "
            "type string");
  EXPECT_EQ(ErrorOf("{{ duration \"abc\" }}"),
            "template: line:1:3: executing \"line\" at <duration \"abc\">: error calling "
            "duration: time: invalid duration \"abc\"");
  EXPECT_THAT(ErrorOf("{{ urldecode \"%zz\" }}"),
              HasSubstr("error calling urldecode: invalid URL escape \"%zz\""));
  EXPECT_THAT(ErrorOf("{{ regexReplaceAll \"(\" .foo \"x\" }}"),
              HasSubstr("error calling regexReplaceAll: error parsing regexp: missing closing ): "
                        "`(`"));
  EXPECT_THAT(ErrorOf("{{ $r := \"(\" }}{{ count $r .foo }}"),
              HasSubstr("error calling count: error parsing regexp: missing closing )"));
  EXPECT_THAT(ErrorOf("{{ printf }}"),
              HasSubstr("wrong number of args for printf: want at least 1 got 0"));
  EXPECT_THAT(ErrorOf("{{ ToUpper }}"),
              HasSubstr("wrong number of args for ToUpper: want 1 got 0"));
  EXPECT_THAT(ErrorOf("{{ .foo 1 }}"), HasSubstr("foo is not a method but has arguments"));
  EXPECT_THAT(ErrorOf("{{ 1 2 }}"), HasSubstr("can't give argument to non-function 1"));
  EXPECT_THAT(ErrorOf("{{ lt true false }}"),
              HasSubstr("error calling lt: invalid type for comparison"));
  EXPECT_THAT(ErrorOf("{{ eq 1 \"a\" }}"),
              HasSubstr("error calling eq: incompatible types for comparison"));
  EXPECT_THAT(ErrorOf("{{ eq 1 1.0 }}"), HasSubstr("incompatible types for comparison"));
  EXPECT_THAT(ErrorOf("{{ range .foo }}{{ end }}"), HasSubstr("range can't iterate over bar"));
  EXPECT_THAT(ErrorOf("{{ nil }}"), HasSubstr("nil is not a command"));
  EXPECT_THAT(ErrorOf("{{ repeat -1 \"a\" }}"),
              HasSubstr("error calling repeat: strings: negative Repeat count"));
  EXPECT_THAT(ErrorOf("{{ ToUpper nil }}"), HasSubstr("cannot assign nil to string"));
  EXPECT_THAT(ErrorOf("{{ unixEpoch .foo }}"),
              HasSubstr("wrong type for value; expected time.Time; got string"));
  EXPECT_THAT(ErrorOf("{{ $x = 1 }}"), HasSubstr("undefined variable: $x"));
}

TEST(TemplateTest, Introspection) {
  auto t = Template::Parse("{{.a}} {{.b.c}} {{ $.d }} {{ .a }} {{ __line__ }}");
  ASSERT_TRUE(t.ok());
  EXPECT_THAT((*t)->RequiredLabelNames(), ElementsAre("a", "b", "c", "d"));
  EXPECT_TRUE((*t)->UsesLine());
  EXPECT_FALSE((*t)->UsesTimestamp());
  EXPECT_FALSE((*t)->UsesAllLabels());
  EXPECT_FALSE((*t)->IsConstant());

  auto all = Template::Parse("{{ range $k, $v := . }}{{ end }}{{ __timestamp__ }}");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE((*all)->UsesAllLabels());
  EXPECT_TRUE((*all)->UsesTimestamp());

  auto c = Template::Parse("constant");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->IsConstant());
  EXPECT_EQ((*c)->ConstantText(), "constant");
}

TEST(TemplateTest, ReusableAcrossExecutions) {
  auto t = Template::Parse("{{ .foo | ToUpper }}-{{ __line__ }}");
  ASSERT_TRUE(t.ok());
  std::string out;
  for (int i = 0; i < 100; i++) {
    std::string v = "v" + std::to_string(i);
    std::string line = "line" + std::to_string(i);
    PairsLabelSource labels({{"foo", v}});
    ExecContext ctx{&labels, line, 0};
    ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
    EXPECT_EQ(out, "V" + std::to_string(i) + "-" + line);
  }
  // Null labels behave as an empty map.
  ExecContext ctx;
  ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  EXPECT_EQ(out, "-");
}

TEST(TemplateTest, NoAllocationsForFieldsAndLiterals) {
  auto t = Template::Parse(
      "{{ .method }} {{ .path }} status={{ .status }}{{ if eq .status \"200\" }} ok{{ end }}"
      "{{ with .foo }} foo={{ . }}{{ end }} {{ __line__ }} {{ .missing }}");
  ASSERT_TRUE(t.ok());
  ExecContext ctx{&DefaultLabels(), "the line", kTs};
  std::string out;
  out.reserve(256);
  ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  long before = g_allocs.load();
  for (int i = 0; i < 1000; i++) {
    ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  }
  EXPECT_EQ(g_allocs.load() - before, 0);
  EXPECT_EQ(out, "GET /api/v1/push status=200 ok foo=bar the line ");
}

TEST(TemplateTest, Speed) {
  for (const char* tmpl :
       {"{{ .method }} {{ .path }}", "{{ .method | ToUpper }}", "{{ printf \"%.2f\" 3.14159 }}",
        "{{ if eq .status \"200\" }}x{{end}}"}) {
    auto t = Template::Parse(tmpl);
    ASSERT_TRUE(t.ok());
    ExecContext ctx{&DefaultLabels(), "the line", kTs};
    std::string out;
    auto start = std::chrono::steady_clock::now();
    constexpr int kN = 20000;
    for (int i = 0; i < kN; i++) {
      ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::printf("%s: %.0f ns per execution\n", tmpl, static_cast<double>(ns) / kN);
  }
  auto t = Template::Parse("{{ .method | ToUpper }} {{ .path }} {{ printf \"%.2f\" 3.14159 }}");
  ASSERT_TRUE(t.ok());
  ExecContext ctx{&DefaultLabels(), "the line", kTs};
  std::string out;
  auto start = std::chrono::steady_clock::now();
  constexpr int kN = 200000;
  for (int i = 0; i < kN; i++) {
    ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  }
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("%.0f ns per execution\n", static_cast<double>(ns) / kN);
  EXPECT_EQ(out, "GET /api/v1/push 3.14");
}

// fromJson (sprig's, shipped by Loki 2.7) and Go's map[string]interface{} / []interface{} values.
TEST(TemplateTest, FromJsonConformanceCase) {
  // tests/conformance/cases/format_17_from_json.json over the generated packed/app lines.
  constexpr char kTmpl[] = "{{ $o := fromJson __line__ }}{{ $o.component }}/{{ $o.level }}";
  struct LineCase {
    const char* line;
    const char* want;
  };
  const LineCase cases[] = {
      {R"({"_entry":"method=POST path=/ status=500 took=866ms","component":"auth","level":"error","app":"frontend"})",
       "auth/error"},
      {R"({"_entry":"method=POST path=/api/items status=404 took=240ms","component":"auth","level":"warn","app":"frontend"})",
       "auth/warn"},
      {R"({"_entry":"method=GET path=/api/items status=404 took=367ms","component":"router","level":"info","app":"frontend"})",
       "router/info"},
      {R"({"_entry":"method=GET path=/api/items/7 status=200 took=153ms","component":"router","level":"error","app":"frontend"})",
       "router/error"},
      {R"({"_entry":"method=GET path=/api/items status=404 took=457ms","component":"router","level":"warn","app":"frontend"})",
       "router/warn"},
      {R"({"_entry":"method=POST path=/ status=404 took=28ms","component":"auth","level":"warn","app":"frontend"})",
       "auth/warn"},
      {R"({"_entry":"method=GET path=/api/items status=200 took=185ms","component":"auth","level":"error","app":"frontend"})",
       "auth/error"},
      {R"({"_entry":"method=POST path=/api/items/7 status=200 took=92ms","component":"renderer","level":"warn","app":"frontend"})",
       "renderer/warn"},
  };
  auto t = Template::Parse(kTmpl);
  ASSERT_TRUE(t.ok()) << t.status();
  PairsLabelSource labels(std::vector<PairsLabelSource::Pair>{{"job", "packed/app"}});
  std::string out;
  for (const LineCase& c : cases) {
    ExecContext ctx;
    ctx.labels = &labels;
    ctx.line = c.line;
    ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
    EXPECT_EQ(out, c.want) << c.line;
  }
  EXPECT_TRUE((*t)->UsesLine());
  // Not JSON: sprig ignores the error and yields nil, whose fields are "<no value>".
  auto got = Render(kTmpl, labels, "level=info component=x");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "<no value>/<no value>");
}

constexpr char kJsonLine[] =
    R"({"a":1,"b":"x","c":[1,2.5,"s",null,true],"d":{"e":1000000,"f":null},"g":false,"n":null})";

void RunJsonCases(const std::vector<Case>& cases) {
  PairsLabelSource labels(std::vector<PairsLabelSource::Pair>{{"app", "web"}});
  for (const Case& c : cases) {
    std::string tmpl = std::string("{{ $o := fromJson __line__ }}") + c.tmpl;
    auto got = Render(tmpl, labels, kJsonLine);
    ASSERT_TRUE(got.ok()) << c.tmpl << " -> " << got.status();
    EXPECT_EQ(*got, c.want) << "template: " << c.tmpl;
  }
}

TEST(TemplateTest, FromJsonValues) {
  RunJsonCases({
      {"{{ $o.a }}", "1"},
      {"{{ $o.b }}", "x"},
      {"{{ $o.c }}", "[1 2.5 s <nil> true]"},
      {"{{ $o.d }}", "map[e:1e+06 f:<nil>]"},
      {"{{ $o.d.e }}", "1e+06"},
      {"{{ $o.d.f }}", "<no value>"},
      {"{{ $o.n }}", "<no value>"},
      {"{{ $o.missing }}", "<no value>"},
      {"{{ $o.g }}", "false"},
      {"{{ $o }}", "map[a:1 b:x c:[1 2.5 s <nil> true] d:map[e:1e+06 f:<nil>] g:false n:<nil>]"},
      {"{{ (fromJson __line__).b }}", "x"},
      {"{{ $o.b | upper }}", "X"},
      {"{{ printf \"%v|%T|%T\" $o.a $o.a $o.c }}", "1|float64|[]interface {}"},
      {"{{ printf \"%d\" $o.a }}", "%!d(float64=1)"},
      {"{{ printf \"%v\" $o.d }}", "map[e:1e+06 f:<nil>]"},
      {"{{ printf \"%5v\" $o.c }}", "[    1   2.5     s <nil>  true]"},
      {"{{ print $o.a $o.b $o.g $o.a }}", "1xfalse 1"},
  });
}

TEST(TemplateTest, FromJsonBuiltins) {
  RunJsonCases({
      {"{{ index $o \"b\" }}", "x"},
      {"{{ index $o \"c\" 1 }}", "2.5"},
      {"{{ index $o.c 2 }}", "s"},
      {"{{ index $o \"zz\" }}", "<no value>"},
      {"{{ index $o \"d\" \"e\" }}", "1e+06"},
      {"{{ len $o }}", "6"},
      {"{{ len $o.c }}", "5"},
      {"{{ len $o.d }}", "2"},
      {"{{ len $o.b }}", "1"},
      {"{{ if $o.g }}y{{ else }}n{{ end }}", "n"},
      {"{{ if $o.d }}y{{ end }}{{ if $o.missing }}m{{ end }}", "y"},
      {"{{ with $o.d }}{{ .e }}{{ end }}", "1e+06"},
      {"{{ eq $o.b \"x\" }} {{ eq $o.a 1.0 }} {{ ne $o.a 2.0 }}", "true true true"},
      {"{{ default \"dflt\" $o.missing }}", "dflt"},
      {"{{ range $k, $v := $o.d }}{{ $k }}={{ $v }};{{ end }}", "e=1e+06;f=<no value>;"},
      {"{{ range $o }}{{ . }},{{ end }}",
       "1,x,[1 2.5 s <nil> true],map[e:1e+06 f:<nil>],false,"
       "<no value>,"},
      {"{{ range $o.c }}{{ . }},{{ end }}", "1,2.5,s,<no value>,true,"},
      {"{{ range $i, $e := $o.c }}{{ $i }}{{ end }}", "01234"},
      {"{{ range $o.c }}{{ break }}{{ else }}empty{{ end }}", ""},
      {"{{ $e := fromJson \"[]\" }}{{ range $e }}x{{ else }}empty{{ end }}{{ len $e }}", "empty0"},
      {"{{ $e := fromJson \"{}\" }}{{ $e }}{{ if $e }}y{{ else }}n{{ end }}", "map[]n"},
  });
}

TEST(TemplateTest, FromJsonDecoding) {
  RunCases({
      {"{{ fromJson `[1,\"a\",{\"k\":[]}]` }}", "[1 a map[k:[]]]"},
      {"{{ fromJson `\"s\"` }}", "s"},
      {"{{ fromJson `12345678901234567890` }}", "1.2345678901234567e+19"},
      {"{{ fromJson `1e400` }}", "<no value>"},
      {"{{ fromJson `1e-400` }}", "0"},
      {"{{ fromJson `-0.000001` }} {{ fromJson `123456` }} {{ fromJson `1234567` }}",
       "-1e-06 123456 1.234567e+06"},
      {"{{ fromJson `{\"a\":1,\"a\":2,\"B\":3}` }}", "map[B:3 a:2]"},
      {"{{ fromJson `\"\\u00e9\\ud83d\\ude00\\ud800x\\/\\t|\"` }}",
       "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx/\t|"},
      {"{{ fromJson \"\\\"a\\xffb\\\"\" }}",
       "a\xef\xbf\xbd"
       "b"},
      {"{{ fromJson ` {\"x\" : [ true , false ] } ` }}", "map[x:[true false]]"},
      // Invalid JSON: nil.
      {"{{ fromJson `{\"a\":1,}` }}", "<no value>"},
      {"{{ fromJson `{} x` }}", "<no value>"},
      {"{{ fromJson `01` }}", "<no value>"},
      {"{{ fromJson `` }}", "<no value>"},
      {"{{ fromJson `\"a\nb\"` }}", "<no value>"},
      {"{{ fromJson `nul` }}", "<no value>"},
      {"{{ fromJson `[1.]` }}", "<no value>"},
      {"{{ fromJson .foo }}", "<no value>"},
  });
  std::string deep(501, '[');
  deep += std::string(501, ']');
  Value v;
  EXPECT_FALSE(DecodeJson(deep, &v));
  EXPECT_TRUE(DecodeJson(deep.substr(1, deep.size() - 2), &v));
  EXPECT_EQ(v.type(), Type::kList);
}

TEST(TemplateTest, FromJsonErrors) {
  std::string pre = "{{ $o := fromJson `{\"b\":\"x\",\"d\":{\"e\":1},\"c\":[1]}` }}";
  EXPECT_THAT(ErrorOf(pre + "{{ $o.b.x }}"),
              HasSubstr("can't evaluate field x in type interface {}"));
  EXPECT_THAT(ErrorOf(pre + "{{ $o.missing.x }}"),
              HasSubstr("nil pointer evaluating interface {}.x"));
  EXPECT_THAT(ErrorOf(pre + "{{ $o.c.x }}"),
              HasSubstr("can't evaluate field x in type interface {}"));
  EXPECT_THAT(ErrorOf(pre + "{{ $c := $o.c }}{{ $c.x }}"),
              HasSubstr("can't evaluate field x in type []interface {}"));
  EXPECT_THAT(ErrorOf(pre + "{{ $b := $o.b }}{{ $b.x }}"),
              HasSubstr("can't evaluate field x in type string"));
  EXPECT_THAT(ErrorOf(pre + "{{ index $o.c 1 }}"),
              HasSubstr("error calling index: reflect: slice index out of range"));
  EXPECT_THAT(ErrorOf(pre + "{{ index $o.c 2 }}"), HasSubstr("index out of range: 2"));
  EXPECT_THAT(ErrorOf(pre + "{{ index $o 1 }}"), HasSubstr("value has type int; should be string"));
  EXPECT_THAT(ErrorOf(pre + "{{ index $o \"zz\" \"y\" }}"), HasSubstr("index of nil pointer"));
  EXPECT_THAT(ErrorOf(pre + "{{ eq $o $o }}"), HasSubstr("non-comparable type"));
  EXPECT_THAT(ErrorOf(pre + "{{ eq $o.d.e 1 }}"), HasSubstr("incompatible types for comparison"));
  EXPECT_THAT(ErrorOf(pre + "{{ upper $o.d }}"),
              HasSubstr("wrong type for value; expected string; got map[string]interface {}"));
  EXPECT_THAT(ErrorOf("{{ fromJson 1 }}"), HasSubstr("expected string; found 1"));
}

}  // namespace
}  // namespace norn::logql_template
