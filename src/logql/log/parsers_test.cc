#include "logql/log/parsers.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "logql/log/json_parser.h"
#include "logql/log/labels_builder.h"
#include "logql/log/logfmt_parser.h"

namespace norn::logql_log {
namespace {

Labels Stream() { return Labels({{"job", "payments/api"}, {"pod", "p-1"}}); }

// Runs `stage` on `line` and returns the resulting labels (minus the stream labels' unchanged
// entries) as a Labels value, plus the possibly rewritten line.
struct Result {
  Labels labels;
  std::string line;
};
Result RunStage(Stage& stage, std::string_view line, const ParserHints* hints = nullptr,
           Labels base = Stream()) {
  LabelsBuilder b(base);
  b.set_hints(hints);
  std::string_view l = line;
  EXPECT_TRUE(stage.Process(0, &l, &b));
  return {b.ToLabels(), std::string(l)};
}

Labels With(std::initializer_list<std::pair<std::string_view, std::string_view>> extra) {
  std::vector<Label> v;
  for (const auto& l : Stream()) v.push_back(l);
  for (const auto& [n, val] : extra) v.push_back(Label{std::string(n), std::string(val)});
  return Labels(std::move(v));
}

TEST(JsonParserTest, FlattenAndRender) {
  JsonParser p;
  auto r = RunStage(p,
               R"({"ts":"2024-01-01T01:59:26.339Z","level":"info","latency_ms":86,)"
               R"("success":true,"amount":142.28,"http.route":"/v1/{id}","trace-id":"8c",)"
               R"("request":{"id":"r1","client":{"ip":"10.3.2.1"},"headers":)"
               R"({"User-Agent":"Go"}},"tags":["card","3ds"],"retry":null,"ratio":0.4819,)"
               R"("neg":-1.5e3,"f":false,"job":"settlement-batch"})");
  EXPECT_EQ(r.labels, With({{"ts", "2024-01-01T01:59:26.339Z"},
                            {"level", "info"},
                            {"latency_ms", "86"},
                            {"success", "true"},
                            {"amount", "142.28"},
                            {"http_route", "/v1/{id}"},
                            {"trace_id", "8c"},
                            {"request_id", "r1"},
                            {"request_client_ip", "10.3.2.1"},
                            {"request_headers_User_Agent", "Go"},
                            {"ratio", "0.4819"},
                            {"neg", "-1.5e3"},
                            {"f", "false"},
                            {"job_extracted", "settlement-batch"}}));
}

TEST(JsonParserTest, EscapesDuplicatesUnicode) {
  JsonParser p;
  auto r = RunStage(p, R"({"msg":"a \"q\" \u00e9\n\ud83d\ude80","level":"warn","level":"critical",)"
                  R"("k\u00e9y":"v","1st":"x","":"empty"})");
  EXPECT_EQ(r.labels, With({{"msg", "a \"q\" é\n🚀"},
                            {"level", "critical"},
                            {"k_y", "v"},
                            {"_1st", "x"}}));
}

// Runs `lines` twice through one parser of type P, with all labels wanted and with only
// `wanted`, and expects each line's labels to be those a fresh parser gives.
template <typename P>
void ExpectReusedParserAgreesWithFreshOnes(const std::vector<std::string>& lines,
                                           std::vector<std::string> wanted) {
  const ParserHints only = ParserHints::Only(std::move(wanted));
  for (const ParserHints* hints : {static_cast<const ParserHints*>(nullptr), &only}) {
    P reused;
    for (int round = 0; round < 2; ++round) {
      for (const std::string& line : lines) {
        P fresh;
        EXPECT_EQ(RunStage(reused, line, hints).labels, RunStage(fresh, line, hints).labels)
            << line;
      }
    }
  }
}

// A parser reused across lines remembers each position's key and matches it as one token
// (`"key":`): lines that break the pattern (spaces, escaped or longer keys, another order,
// nesting, a duplicate, an error) must parse exactly as a fresh parser parses them.
TEST(JsonParserTest, ReusedParserAgreesWithFreshOnes) {
  const std::vector<std::string> lines = {
      R"({"ts":"1","level":"info","status":200,"req":{"id":"r"},"job":"x"})",
      R"({"ts":"2","level":"warn","status":503,"req":{"id":"s"},"job":"y"})",
      R"({"ts" :"3","level": "error" ,"status":500})",
      R"({"t\u0073":"4","level":"info","status":201})",
      R"({"tsx":"5","leve":"info","statusx":1})",
      R"({"level":"debug","ts":"6","status":404})",
      R"({"ts":"7","level":"info","level":"dup","status":302})",
      R"({"ts":"8","level":"info","status":})",
      R"({"ts":"9","level":"info","status":"x\"y"})",
      R"({ "ts":"10",  "level":"info"})",
      R"({"ts":"11","level":"info","status":200,"req":{"id":"t"},"job":"z"})",
      R"({"ts":)",
  };
  ExpectReusedParserAgreesWithFreshOnes<JsonParser>(lines, {"status", "level", "req_id"});
}

// Escaped quotes and backslashes at every offset around the scanner's 8-byte steps.
TEST(JsonParserTest, EscapesAtEveryOffset) {
  JsonParser p;
  // Strings of several 8-byte steps, escapes before, across and after each.
  for (size_t pos = 0; pos < 40; ++pos) {
    for (const char* esc : {"\\\"", "\\\\", "\\n"}) {
      std::string raw(40, 'x');
      raw.insert(pos, esc);
      std::string want(40, 'x');
      want.insert(pos, std::string_view(esc) == "\\n" ? "\n" : std::string(1, esc[1]));
      auto r = RunStage(p, "{\"k\":\"" + raw + "\",\"z\":\"" + raw.substr(0, pos) + "\"}");
      EXPECT_EQ(r.labels.Get("k"), want) << raw;
      EXPECT_EQ(r.labels.Get("z"), raw.substr(0, pos));
      EXPECT_FALSE(r.labels.Has("__error__")) << raw;
    }
    // An unterminated string ending in a backslash at this offset is an error, not a read
    // past the end.
    auto bad = RunStage(p, "{\"k\":\"" + std::string(pos, 'y') + "\\");
    EXPECT_TRUE(bad.labels.Has("__error__")) << pos;
  }
}

TEST(JsonParserTest, Errors) {
  JsonParser p;
  auto r = RunStage(p, "panic: runtime error: invalid memory address");
  EXPECT_EQ(r.labels.Get("__error__"), "JSONParserErr");
  EXPECT_EQ(r.labels.Get("__error_details__"), "expecting json object(6), but it is not");
  r = RunStage(p, "");
  EXPECT_EQ(r.labels.Get("__error__"), "JSONParserErr");
  r = RunStage(p, "[1,2]");
  EXPECT_EQ(r.labels.Get("__error__"), "JSONParserErr");
  // Malformed later: labels read so far are kept, plus the error.
  r = RunStage(p, R"({"a":"1","b":})");
  EXPECT_EQ(r.labels.Get("a"), "1");
  EXPECT_EQ(r.labels.Get("__error__"), "JSONParserErr");
  EXPECT_NE(r.labels.Get("__error_details__").find("Skip: do not know how to skip: 125"),
            std::string::npos)
      << r.labels.Get("__error_details__");
  r = RunStage(p, R"({"a":"1")");
  EXPECT_EQ(r.labels.Get("__error__"), "JSONParserErr");
  EXPECT_NE(r.labels.Get("__error_details__").find("ReadMapCB: object not ended with }"),
            std::string::npos);
  // Leading whitespace and trailing garbage are fine (jsoniter).
  r = RunStage(p, "  {\"a\":1} trailing");
  EXPECT_EQ(r.labels, With({{"a", "1"}}));
  r = RunStage(p, "{}");
  EXPECT_EQ(r.labels, Stream());
}

TEST(JsonParserTest, HintsSkipUnwanted) {
  JsonParser p;
  ParserHints h = ParserHints::Only({"status", "request_client_ip"});
  auto r = RunStage(p, R"({"status":200,"level":"x","request":{"id":"r","client":{"ip":"1.2.3.4"}},)"
                  R"("response":{"status":201}})",
               &h);
  EXPECT_EQ(r.labels, With({{"status", "200"}, {"request_client_ip", "1.2.3.4"}}));
  ParserHints none = ParserHints::NoLabels();
  r = RunStage(p, "not json", &none);
  EXPECT_EQ(r.labels, Stream());
}

TEST(JsonExpressionParserTest, Paths) {
  auto p = JsonExpressionParser::Create({{"first_tag", "tags[0]"},
                                         {"ua", "request.headers[\"User-Agent\"]"},
                                         {"tags", "tags"},
                                         {"x", "does.not.exist"},
                                         {"lvl", "level"},
                                         {"esc", "msg"},
                                         {"n", "retry"},
                                         {"job", "job"}});
  ASSERT_TRUE(p.ok()) << p.status();
  auto r = RunStage(**p, R"({"level":"error","msg":"a \"b\"","tags":["card","3ds"],)"
                    R"("request":{"headers":{"User-Agent":"curl/8.4.0"}},"retry":null,)"
                    R"("job":"j"})");
  EXPECT_EQ(r.labels, With({{"first_tag", "card"},
                            {"ua", "curl/8.4.0"},
                            {"tags", R"(["card","3ds"])"},
                            {"x", ""},
                            {"lvl", "error"},
                            {"esc", R"(a \"b\")"},  // Loki 2.7: raw JSON string text
                            {"n", ""},
                            {"job_extracted", "j"}}));
  r = RunStage(**p, R"({"tags":[]})");
  EXPECT_EQ(r.labels.Get("first_tag"), "");
  r = RunStage(**p, "panic: x");
  EXPECT_EQ(r.labels.Get("__error__"), "JSONParserErr");
  EXPECT_FALSE(JsonExpressionParser::Create({{"a", "b..c"}}).ok());
  EXPECT_FALSE(JsonExpressionParser::Create({{"1a", "b"}}).ok());
}

TEST(UnpackParserTest, Basic) {
  UnpackParser p;
  auto r = RunStage(p, R"({"_entry":"method=POST path=/ status=500","level":"error",)"
                  R"("component":"auth","num":1,"job":"x"})");
  EXPECT_EQ(r.line, "method=POST path=/ status=500");
  EXPECT_EQ(r.labels, With({{"level", "error"}, {"component", "auth"}, {"job_extracted", "x"}}));
  // Without _entry nothing changes.
  r = RunStage(p, R"({"level":"error"})");
  EXPECT_EQ(r.line, R"({"level":"error"})");
  EXPECT_EQ(r.labels, Stream());
  r = RunStage(p, "plain");
  EXPECT_EQ(r.labels.Get("__error__"), "JSONParserErr");
  EXPECT_EQ(r.line, "plain");
}

// As for json: a reused parser tries each position's previous key as one token (`key=`);
// lines that break the pattern must parse exactly as a fresh parser parses them.
TEST(LogfmtParserTest, ReusedParserAgreesWithFreshOnes) {
  const std::vector<std::string> lines = {
      R"(ts=1 level=info status=200 msg="a b" job=x)",
      R"(ts=2 level=warn status=503 msg="c" job=y)",
      R"(ts =3 level=info status=500)",
      R"(tsx=4 leve=info statusx=1)",
      R"(level=debug ts=5 status=404)",
      R"(ts=6 level=info level=dup status=302)",
      R"(ts=7 level="unterminated)",
      "ts=8 lev\xc3\xa9l=x status=1",
      R"(ts=9 level status=2)",
      R"(  ts=10   level=info)",
      R"(ts=11=x level=info)",
      R"(t"s=12 level=info)",
      R"(ts=13 level=info status=200 msg="d" job=z)",
      R"(ts=)",
  };
  ExpectReusedParserAgreesWithFreshOnes<LogfmtParser>(lines, {"status", "level", "job"});
}

TEST(LogfmtParserTest, Table) {
  LogfmtParser p;
  auto r = RunStage(p,
               "ts=2024-01-01T01:57:25.077000Z level=info caller=session.go:201 "
               "msg=\"token refreshed\" user= method=DELETE mfa=false bare job=x");
  EXPECT_EQ(r.labels, With({{"ts", "2024-01-01T01:57:25.077000Z"},
                            {"level", "info"},
                            {"caller", "session.go:201"},
                            {"msg", "token refreshed"},
                            {"user", ""},
                            {"method", "DELETE"},
                            {"mfa", "false"},
                            {"bare", ""},
                            {"job_extracted", "x"}}));
  r = RunStage(p, R"(msg="user \"bob\" locked out" level=warn level=error)");
  EXPECT_EQ(r.labels, With({{"msg", "user \"bob\" locked out"}, {"level", "error"}}));
  r = RunStage(p, "a=1 b=\"unterminated");
  EXPECT_EQ(r.labels.Get("a"), "1");
  EXPECT_EQ(r.labels.Get("__error__"), "LogfmtParserErr");
  EXPECT_EQ(r.labels.Get("__error_details__"),
            "logfmt syntax error at pos 20 : unterminated quoted value");
  r = RunStage(p, "a=1 =b c=2");
  EXPECT_EQ(r.labels.Get("__error_details__"), "logfmt syntax error at pos 5 : unexpected '='");
  EXPECT_FALSE(r.labels.Has("c"));  // stops at the first error (Loki 2.x)
  r = RunStage(p, "a=b=c");
  EXPECT_EQ(r.labels.Get("__error_details__"), "logfmt syntax error at pos 4 : unexpected '='");
  r = RunStage(p, "a\"b=1");
  EXPECT_EQ(r.labels.Get("__error_details__"), "logfmt syntax error at pos 2 : unexpected '\"'");
  r = RunStage(p, "bad=\"\\q\"");
  EXPECT_EQ(r.labels.Get("__error_details__"),
            "logfmt syntax error at pos 9 : invalid quoted value");
  r = RunStage(p, "v=\xff\xfe");
  EXPECT_EQ(r.labels.Get("v"), "");  // invalid UTF-8 value -> empty
  r = RunStage(p, "Hello wörld 123");
  EXPECT_EQ(r.labels, With({{"Hello", ""}, {"w_rld", ""}, {"_123", ""}}));
}

TEST(LogfmtDecoderTest, TokensAcrossWordBoundaries) {
  // Keys and values of every length from 1 to 80 put stop bytes on every offset of the
  // decoder's 64-byte stop-bit words, including the padded tail word.
  std::mt19937 rng(5);
  LogfmtDecoder dec;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::pair<std::string, std::string>> want;
    std::string line;
    size_t pairs = 1 + rng() % 8;
    for (size_t i = 0; i < pairs; ++i) {
      std::string key(1 + rng() % 80, 'k');
      key[0] = static_cast<char>('a' + i);
      std::string value(rng() % 80, 'v');
      if (!value.empty() && rng() % 4 == 0) value[rng() % value.size()] = '.';
      if (!line.empty()) line.append(1 + rng() % 3, ' ');
      line += key + "=" + value;
      want.emplace_back(key, value);
    }
    dec.Reset(line);
    std::vector<std::pair<std::string, std::string>> got;
    while (dec.ScanKeyval()) {
      got.emplace_back(std::string(dec.key()), std::string(dec.value()));
      EXPECT_FALSE(dec.value_maybe_non_ascii());
    }
    EXPECT_TRUE(dec.err().empty()) << line;
    EXPECT_EQ(got, want) << line;
  }
  // A multibyte value is flagged for the rune check; an '=' inside a value is an error at
  // its position even past the first word.
  const std::string multibyte = std::string(70, 'k') + "=caf\xc3\xa9 x=1";
  dec.Reset(multibyte);
  ASSERT_TRUE(dec.ScanKeyval());
  EXPECT_EQ(dec.value(), "caf\xc3\xa9");
  EXPECT_TRUE(dec.value_maybe_non_ascii());
  ASSERT_TRUE(dec.ScanKeyval());
  EXPECT_FALSE(dec.value_maybe_non_ascii());
  const std::string bad = std::string(100, 'k') + "=a=b";
  dec.Reset(bad);
  EXPECT_FALSE(dec.ScanKeyval());
  EXPECT_EQ(dec.err(), "logfmt syntax error at pos 103 : unexpected '='");
}

TEST(LogfmtParserTest, LinesLongerThanTheKeyCacheBoundKeepTheirNames) {
  // More distinct keys than the key cache holds, many on one line: names handed to the labels
  // builder earlier in the line must stay valid (the cache is only cleared between lines).
  LogfmtParser p;
  for (int line_no = 0; line_no < 3; ++line_no) {
    std::string line;
    for (size_t i = 0; i < ParserKeyCache::kMaxKeys + 100; ++i) {
      line += "key_" + std::to_string(line_no) + "_" + std::to_string(i) + "=v" +
              std::to_string(i) + " ";
    }
    auto r = RunStage(p, line);
    ASSERT_EQ(r.labels.Get("key_" + std::to_string(line_no) + "_0"), "v0");
    ASSERT_EQ(r.labels.Get("key_" + std::to_string(line_no) + "_4100"), "v4100");
  }
}

TEST(LogfmtParserTest, ContinueOnErrorAndDropEmpty) {
  LogfmtParser p(LogfmtOptions{.continue_on_error = true, .drop_empty = true});
  auto r = RunStage(p, "a=1 =b c=2 d=");
  EXPECT_EQ(r.labels.Get("c"), "2");
  EXPECT_FALSE(r.labels.Has("d"));
  EXPECT_EQ(r.labels.Get("__error__"), "LogfmtParserErr");
  // Bare keys have an empty value: dropped too (Loki 3 without --keep-empty).
  r = RunStage(p, "tenant b line x=1");
  EXPECT_FALSE(r.labels.Has("tenant"));
  EXPECT_FALSE(r.labels.Has("b"));
  EXPECT_EQ(r.labels.Get("x"), "1");
}

TEST(LogfmtExpressionParserTest, Selected) {
  auto p = LogfmtExpressionParser::Create({{"lvl", "level"}, {"user", ""}, {"job", ""}});
  ASSERT_TRUE(p.ok());
  auto r = RunStage(**p, "level=info user=bob other=1 job=j");
  EXPECT_EQ(r.labels, With({{"lvl", "info"}, {"user", "bob"}, {"job_extracted", "j"}}));
  r = RunStage(**p, "nothing=here");
  EXPECT_EQ(r.labels, With({{"lvl", ""}, {"user", ""}}));
}

TEST(RegexpParserTest, Table) {
  auto p = RegexpParser::Create(
      "^(?P<ip>\\S+) \\S+ (?P<user>\\S+) \\[(?P<ts>[^\\]]+)\\] \"(?P<method>\\w+) "
      "(?P<path>\\S+) [^\"]*\" (?P<status>\\d+) (?P<size>\\S+)$");
  ASSERT_TRUE(p.ok()) << p.status();
  auto r = RunStage(**p, "1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 "
                    "2326");
  EXPECT_EQ(r.labels, With({{"ip", "1.2.3.4"},
                            {"user", "frank"},
                            {"ts", "10/Oct/2000:13:55:36 -0700"},
                            {"method", "GET"},
                            {"path", "/a.gif"},
                            {"status", "200"},
                            {"size", "2326"}}));
  r = RunStage(**p, "no match");
  EXPECT_EQ(r.labels, Stream());
  auto u = RegexpParser::Create("(?P<n>\\d+) 条记录|(?P<pod>x)");
  ASSERT_TRUE(u.ok());
  r = RunStage(**u, "处理了 5234 条记录");
  EXPECT_EQ(r.labels, With({{"n", "5234"}, {"pod_extracted", ""}}));
  EXPECT_FALSE(RegexpParser::Create("(\\d+)").ok());
  EXPECT_FALSE(RegexpParser::Create("(?P<a>x)(?P<a>y)").ok());
}

TEST(PatternParserTest, Table) {
  auto p = PatternParser::Create(
      "<ip> - <user> [<_>] \"<method> <path> <_>\" <status> <size> \"<ref>\" \"<ua>\" <rt>");
  ASSERT_TRUE(p.ok()) << p.status();
  auto r = RunStage(**p, "10.0.0.1 - - [01/Jan/2024:00:00:01 +0000] \"GET /api HTTP/1.1\" 200 512 "
                    "\"-\" \"curl/8\" 0.012");
  EXPECT_EQ(r.labels, With({{"ip", "10.0.0.1"},
                            {"user", "-"},
                            {"method", "GET"},
                            {"path", "/api"},
                            {"status", "200"},
                            {"size", "512"},
                            {"ref", "-"},
                            {"ua", "curl/8"},
                            {"rt", "0.012"}}));
  auto a = PatternParser::Create("time=\"<time>\" level=<level> <_>");
  ASSERT_TRUE(a.ok());
  r = RunStage(**a, "time=\"2024\" level=warning step=3");
  EXPECT_EQ(r.labels, With({{"time", "2024"}, {"level", "warning"}}));
  auto m = PatternParser::Create("level=<level> <_>");
  r = RunStage(**m, "time=\"2024\" level=warning step=3");  // anchored literal mismatch
  EXPECT_EQ(r.labels, Stream());
  // A missing literal ends matching; the capture takes the rest.
  auto t = PatternParser::Create("<a> | <b> | <c>");
  r = RunStage(**t, "x | y");
  EXPECT_EQ(r.labels, With({{"a", "x"}, {"b", "y"}}));
  EXPECT_FALSE(PatternParser::Create("<a><b>").ok());
  EXPECT_FALSE(PatternParser::Create("no captures <_>").ok());
  EXPECT_FALSE(PatternParser::Create("<a> <a>").ok());
}

}  // namespace
}  // namespace norn::logql_log
