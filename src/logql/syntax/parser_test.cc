#include "logql/syntax/parser.h"

#include <cmath>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace norn::logql::syntax {
namespace {

using ::testing::HasSubstr;

struct PrintCase {
  std::string query;
  std::string printed;
};

// Valid queries and their canonical form. Each printed form must parse back to the same tree.
const PrintCase kPrintCases[] = {
    // Stream selectors.
    {R"({job="web/nginx"})", R"({job="web/nginx"})"},
    {R"({ job = "ticker" , pod = "ticker-1" }  # only ticker-1)",
     R"({job="ticker", pod="ticker-1"})"},
    {R"({a!="x", b=~"re.*", c!~`\d+`})", R"({a!="x", b=~"re.*", c!~"\\d+"})"},
    {R"({job="nginx", missing=""})", R"({job="nginx", missing=""})"},
    {"{job=\"a\\u00e9\\x1b\"}", "{job=\"aé\\x1b\"}"},
    {R"({rate="x", bytes="y"})", R"({rate="x", bytes="y"})"},
    {"{JOB=\"x\"}\n|= \"y\"", R"({JOB="x"} |= "y")"},
    // Line filters.
    {R"({a="b"} |= "x" != "y" |~ "z+" !~ "w")", R"({a="b"} |= "x" != "y" |~ "z+" !~ "w")"},
    {R"({a="b"} |= "x" or "y" or `z`)", R"({a="b"} |= "x" or "y" or "z")"},
    {R"({a="b"} != "x" or "y")", R"({a="b"} != "x" != "y")"},
    {R"({a="b"} |> "<_> foo <_>" !> "bar")", R"({a="b"} |> "<_> foo <_>" !> "bar")"},
    {R"({a="b"} |= ip("10.0.0.0/8"))", R"({a="b"} |= ip("10.0.0.0/8"))"},
    {R"({a="b"} != ip("2001:db8::/32") or "x")", R"({a="b"} != ip("2001:db8::/32") != "x")"},
    {R"({a="b"} |= "x" or ip("1.2.3.4"))", R"({a="b"} |= "x" or ip("1.2.3.4"))"},
    {R"({a="b"} |= "")", R"({a="b"} |= "")"},
    // Parsers.
    {R"({a="b"} | json)", R"({a="b"} | json)"},
    {R"({a="b"} | json first="tags[0]", ua="request.headers[\"User-Agent\"]")",
     R"({a="b"} | json first="tags[0]",ua="request.headers[\"User-Agent\"]")"},
    {R"({a="b"} | json user, level)", R"({a="b"} | json user="user",level="level")"},
    {R"({a="b"} | logfmt)", R"({a="b"} | logfmt)"},
    {R"({a="b"} | logfmt --strict --keep-empty)", R"({a="b"} | logfmt --strict --keep-empty)"},
    {R"({a="b"} | logfmt --keep-empty a="b", c)", R"({a="b"} | logfmt --keep-empty a="b",c="c")"},
    {R"({a="b"} | regexp "(?P<n>\\d+) x")", R"({a="b"} | regexp "(?P<n>\\d+) x")"},
    {R"({a="b"} | pattern `<ip> - <_> "<m>"`)", R"({a="b"} | pattern "<ip> - <_> \"<m>\"")"},
    {R"({a="b"} | unpack | decolorize)", R"({a="b"} | unpack | decolorize)"},
    {R"({a="b"} | JSON | Logfmt)", R"({a="b"} | json | logfmt)"},
    // Label filters.
    {R"({a="b"} | status >= 500)", R"({a="b"} | status>=500)"},
    {R"({a="b"} | status = 200)", R"({a="b"} | status==200)"},
    {R"({a="b"} | status != -1.5)", R"({a="b"} | status!=-1.5)"},
    {R"({a="b"} | x == +3)", R"({a="b"} | x==3)"},
    {R"({a="b"} | value="49")", R"({a="b"} | value="49")"},
    {R"({a="b"} | level=~"warn|error", user!~"bot.*")",
     R"({a="b"} | ( level=~"warn|error" , user!~"bot.*" ))"},
    {R"({a="b"} | duration <= 500us)", R"({a="b"} | duration<=500µs)"},
    {R"({a="b"} | duration >= 1m30s)", R"({a="b"} | duration>=1m30s)"},
    {R"({a="b"} | d > 1h)", R"({a="b"} | d>1h0m0s)"},
    {R"({a="b"} | d > -5m)", R"({a="b"} | d>-5m0s)"},
    {R"({a="b"} | d == 1.5s)", R"({a="b"} | d==1.5s)"},
    {R"({a="b"} | bytes > 15MB)", R"({a="b"} | bytes>15MB)"},
    {R"({a="b"} | bytes > 0KB)", R"({a="b"} | bytes>0kB)"},
    {R"({a="b"} | b >= 990KB and b < 1MiB)", R"({a="b"} | ( b>=990kB , b<1048576B ))"},
    {R"({a="b"} | client = ip("10.0.0.0/8"))", R"({a="b"} | client=ip("10.0.0.0/8"))"},
    {R"({a="b"} | client != ip("10.0.0.1-10.0.0.9"))",
     R"({a="b"} | client!=ip("10.0.0.1-10.0.0.9"))"},
    {R"({a="b"} | x="1" and y="2")", R"({a="b"} | ( x="1" , y="2" ))"},
    {R"({a="b"} | x="1" y="2")", R"({a="b"} | ( x="1" , y="2" ))"},
    {R"({a="b"} | x="1" or y="2" and z="3")", R"({a="b"} | ( x="1" or ( y="2" , z="3" ) ))"},
    {R"({a="b"} | x="1" and y="2" or z="3")", R"({a="b"} | ( ( x="1" , y="2" ) or z="3" ))"},
    {R"({a="b"} | x="1", y="2" or z="3")", R"({a="b"} | ( x="1" , ( y="2" or z="3" ) ))"},
    {R"({a="b"} | x="1" or y="2", z="3")", R"({a="b"} | ( x="1" or ( y="2" , z="3" ) ))"},
    {R"({a="b"} | (x="1" or y="2"), z="3")", R"({a="b"} | ( ( x="1" or y="2" ) , z="3" ))"},
    {R"({a="b"} | __error__="")", R"({a="b"} | __error__="")"},
    // Formatting and label stages.
    {R"({a="b"} | line_format "{{.x}} {{ .y | upper }}")",
     R"({a="b"} | line_format "{{.x}} {{ .y | upper }}")"},
    {R"({a="b"} | label_format a=b, c="{{.x}}")", R"({a="b"} | label_format a=b,c="{{.x}}")"},
    {R"({a="b"} | drop a, b="x", c=~"y.*")", R"({a="b"} | drop a,b="x",c=~"y.*")"},
    {R"({a="b"} | keep a, b!="x")", R"({a="b"} | keep a,b!="x")"},
    {R"({a="b"} | distinct a, b)", R"({a="b"} | distinct a,b)"},
    {R"(({a="b"} |= "x"))", R"({a="b"} |= "x")"},
    // Range aggregations.
    {R"(count_over_time({a="b"}[5m]))", R"(count_over_time({a="b"}[5m]))"},
    {R"(rate({a="b"} |= "x" [1h30m]))", R"(rate({a="b"} |= "x"[1h30m]))"},
    {R"(bytes_rate({a="b"}[1m] offset 1h))", R"(bytes_rate({a="b"}[1m] offset 1h0m0s))"},
    {R"(bytes_over_time({a="b"}[10s]))", R"(bytes_over_time({a="b"}[10s]))"},
    {R"(absent_over_time({a="b"}[1d]))", R"(absent_over_time({a="b"}[1d]))"},
    {R"(count_over_time({a="b"}[5m] | json))", R"(count_over_time({a="b"} | json[5m]))"},
    {R"(count_over_time({a="b"}[5m] offset 5m | json))",
     R"(count_over_time({a="b"} | json[5m] offset 5m0s))"},
    {R"(count_over_time(({a="b"} |= "x")[5m]))", R"(count_over_time({a="b"} |= "x"[5m]))"},
    {R"(count_over_time(({a="b"})[5m]))", R"(count_over_time({a="b"}[5m]))"},
    {R"(count_over_time(({a="b"}[5m])))", R"(count_over_time({a="b"}[5m]))"},
    {R"(count_over_time(({a="b"} |= "x" [5m])))", R"(count_over_time({a="b"} |= "x"[5m]))"},
    {R"(sum_over_time({a="b"} | logfmt | unwrap value [5m]))",
     R"(sum_over_time({a="b"} | logfmt | unwrap value[5m]))"},
    {R"(sum_over_time({a="b"} | unwrap value [5m]))",
     R"(sum_over_time({a="b"} | unwrap value[5m]))"},
    {R"(sum_over_time({a="b"}[5m] | unwrap value))",
     R"(sum_over_time({a="b"} | unwrap value[5m]))"},
    {R"(sum_over_time({a="b"}[5m] | logfmt | unwrap bytes(x)))",
     R"(sum_over_time({a="b"} | logfmt | unwrap bytes(x)[5m]))"},
    {R"(sum_over_time(({a="b"})[5m] | unwrap x))", R"(sum_over_time({a="b"} | unwrap x[5m]))"},
    {R"(avg_over_time({a="b"} | logfmt | unwrap duration_seconds(d) | __error__="" [30m]) by (pod))",
     R"(avg_over_time({a="b"} | logfmt | unwrap duration_seconds(d) | __error__=""[30m]) by (pod))"},
    {R"(max_over_time({a="b"} | unwrap duration(d) | x > 1 or y="z" [1m]) without (a, b))",
     R"(max_over_time({a="b"} | unwrap duration(d) | ( x>1 or y="z" )[1m]) without (a,b))"},
    {R"(quantile_over_time(0.99, {a="b"} | json | unwrap latency [1h]) by (cluster))",
     R"(quantile_over_time(0.99,{a="b"} | json | unwrap latency[1h]) by (cluster))"},
    {R"(quantile_over_time(0, {a="b"} | unwrap x [10m]))",
     R"(quantile_over_time(0,{a="b"} | unwrap x[10m]))"},
    {R"(rate({a="b"} | unwrap x [1m]))", R"(rate({a="b"} | unwrap x[1m]))"},
    {R"(rate_counter({a="b"} | unwrap x [1m]))", R"(rate_counter({a="b"} | unwrap x[1m]))"},
    {R"(first_over_time({a="b"} | unwrap x [1m] offset -1h) by ())",
     R"(first_over_time({a="b"} | unwrap x[1m] offset -1h0m0s) by ())"},
    {R"(last_over_time({a="b"} | unwrap x [1m]))", R"(last_over_time({a="b"} | unwrap x[1m]))"},
    {R"(stddev_over_time({a="b"} | unwrap x [1m]))", R"(stddev_over_time({a="b"} | unwrap x[1m]))"},
    {R"(stdvar_over_time({a="b"} | unwrap x [1m]))", R"(stdvar_over_time({a="b"} | unwrap x[1m]))"},
    {R"(min_over_time({a="b"} | unwrap x [1m]))", R"(min_over_time({a="b"} | unwrap x[1m]))"},
    {R"(absent_over_time({a="b"} | unwrap x [1m]))", R"(absent_over_time({a="b"} | unwrap x[1m]))"},
    {R"(COUNT_OVER_TIME({a="b"}[5m]))", R"(count_over_time({a="b"}[5m]))"},
    // Vector aggregations.
    {R"(sum(rate({a="b"}[5m])))", R"(sum(rate({a="b"}[5m])))"},
    {R"(sum by (a, b) (rate({a="b"}[5m])))", R"(sum by (a,b)(rate({a="b"}[5m])))"},
    {R"(sum(rate({a="b"}[5m])) by (a))", R"(sum by (a)(rate({a="b"}[5m])))"},
    {R"(sum without (a) (rate({a="b"}[5m])))", R"(sum without (a)(rate({a="b"}[5m])))"},
    {R"(sum by () (rate({a="b"}[5m])))", R"(sum(rate({a="b"}[5m])))"},
    {R"(topk(5, rate({a="b"}[5m])))", R"(topk(5,rate({a="b"}[5m])))"},
    {R"(topk by (c) (1, rate({a="b"}[5m])))", R"(topk by (c)(1,rate({a="b"}[5m])))"},
    {R"(bottomk(2, rate({a="b"}[5m])) by (c))", R"(bottomk by (c)(2,rate({a="b"}[5m])))"},
    {R"(approx_topk(3, rate({a="b"}[5m])))", R"(approx_topk(3,rate({a="b"}[5m])))"},
    {R"(sort(rate({a="b"}[5m])))", R"(sort(rate({a="b"}[5m])))"},
    {R"(sort_desc(rate({a="b"}[5m])))", R"(sort_desc(rate({a="b"}[5m])))"},
    {R"(count(min(max(stddev(stdvar(avg(rate({a="b"}[5m]))))))))",
     R"(count(min(max(stddev(stdvar(avg(rate({a="b"}[5m]))))))))"},
    {R"(sum(5))", R"(sum(5))"},
    {R"(Sum By (a) (rate({a="b"}[5m])))", R"(sum by (a)(rate({a="b"}[5m])))"},
    // Binary operations.
    {R"(1+1)", R"(2)"},
    {R"(2 * 3 + 4 ^ 2 % 5)", R"(7)"},
    {R"(1 + 2 * 3 - 8 / 4 / 2)", R"(6)"},
    {R"(2 ^ 3 ^ 2)", R"(512)"},
    {R"(-2 ^ 2)", R"(4)"},
    {R"(1 > 2)", R"(0)"},
    {R"(1 / 0)", R"((0 / 0))"},
    {R"(2 ^ 2000)", R"((2 ^ 1024))"},
    {R"(0 * -1)", R"((0 * -1))"},
    {R"(1e6)", R"(1e+06)"},
    {R"(.5 + 1.)", R"(1.5)"},
    {R"(-1 * sum(rate({a="b"}[5m])))", R"((-1 * sum(rate({a="b"}[5m]))))"},
    {R"(sum(rate({a="b"}[5m])) / 0)", R"((sum(rate({a="b"}[5m])) / 0))"},
    {R"(vector(1) + vector(2))", R"((vector(1) + vector(2)))"},
    {R"(vector(0.5))", R"(vector(0.5))"},
    {R"(rate({a="b"}[5m]) > bool 1)", R"((rate({a="b"}[5m]) > bool 1))"},
    {R"(rate({a="b"}[5m]) >= 20 <= 25)", R"(((rate({a="b"}[5m]) >= 20) <= 25))"},
    {R"(rate({a="b"}[5m]) + rate({c="d"}[5m]) * 2)",
     R"((rate({a="b"}[5m]) + (rate({c="d"}[5m]) * 2)))"},
    {R"(rate({a="b"}[5m]) ^ 2 ^ 3)", R"((rate({a="b"}[5m]) ^ 8))"},
    {R"(rate({a="b"}[5m]) ^ rate({a="b"}[5m]) ^ rate({a="b"}[5m]))",
     R"((rate({a="b"}[5m]) ^ (rate({a="b"}[5m]) ^ rate({a="b"}[5m]))))"},
    {R"(rate({a="b"}[5m]) - rate({a="b"}[5m]) - rate({a="b"}[5m]))",
     R"(((rate({a="b"}[5m]) - rate({a="b"}[5m])) - rate({a="b"}[5m])))"},
    {R"(rate({a="b"}[5m]) or rate({c="d"}[5m]) and rate({e="f"}[5m]))",
     R"((rate({a="b"}[5m]) or (rate({c="d"}[5m]) and rate({e="f"}[5m]))))"},
    {R"(rate({a="b"}[5m]) unless rate({c="d"}[5m]) > 1)",
     R"((rate({a="b"}[5m]) unless (rate({c="d"}[5m]) > 1)))"},
    {R"(rate({a="b"}[5m]) == 1 or vector(0))", R"(((rate({a="b"}[5m]) == 1) or vector(0)))"},
    {R"(rate({a="b"}[5m]) / ignoring (ns) rate({c="d"}[5m]))",
     R"((rate({a="b"}[5m]) / ignoring (ns) rate({c="d"}[5m])))"},
    {R"(rate({a="b"}[5m]) * on (c) group_left (ns) rate({c="d"}[5m]))",
     R"((rate({a="b"}[5m]) * on (c) group_left (ns) rate({c="d"}[5m])))"},
    {R"(rate({a="b"}[5m]) - on (c) group_right rate({c="d"}[5m]))",
     R"((rate({a="b"}[5m]) - on (c) group_right rate({c="d"}[5m])))"},
    {R"(rate({a="b"}[5m]) - on () rate({c="d"}[5m]))",
     R"((rate({a="b"}[5m]) - on () rate({c="d"}[5m])))"},
    {R"(rate({a="b"}[5m]) - ignoring () group_left () rate({c="d"}[5m]))",
     R"((rate({a="b"}[5m]) - ignoring () group_left rate({c="d"}[5m])))"},
    {R"(rate({a="b"}[5m]) == bool on (x) rate({c="d"}[5m]))",
     R"((rate({a="b"}[5m]) == bool on (x) rate({c="d"}[5m])))"},
    {R"((rate({a="b"}[5m]) + 1) * 2)", R"(((rate({a="b"}[5m]) + 1) * 2))"},
    // label_replace and vector.
    {R"q(label_replace(rate({a="b"}[5m]), "dst", "$1", "src", "(.*)"))q",
     R"q(label_replace(rate({a="b"}[5m]),"dst","$1","src","(.*)"))q"},
    {R"(label_replace(vector(1), "foo", "bar", "", ""))",
     R"(label_replace(vector(1),"foo","bar","",""))"},
    // Comments and whitespace.
    {"sum(\n  rate({a=\"b\"}[5m]) # per second\n)", R"(sum(rate({a="b"}[5m])))"},
    {"1 /* c */ + 1 // trailing", "2"},
};

TEST(ParserTest, PrintsCanonicalFormAndRoundTrips) {
  for (const PrintCase& c : kPrintCases) {
    absl::StatusOr<std::unique_ptr<Expr>> e = ParseExpr(c.query);
    ASSERT_TRUE(e.ok()) << c.query << " -> " << e.status();
    std::string printed = Print(**e);
    EXPECT_EQ(printed, c.printed) << c.query;
    absl::StatusOr<std::unique_ptr<Expr>> again = ParseExpr(printed);
    ASSERT_TRUE(again.ok()) << printed << " -> " << again.status();
    EXPECT_TRUE(**again == **e) << c.query << " re-parsed from " << printed;
    EXPECT_EQ(Print(**again), printed);
  }
}

struct ErrorCase {
  std::string query;
  std::string error;  // exact message
};

const ErrorCase kErrorCases[] = {
    // Syntax errors with Loki's positions.
    {R"({job="web/nginx")",
     "parse error at line 1, col 17: syntax error: unexpected $end, expecting } or ,"},
    {R"(count_over_time({job="ticker"}))",
     "parse error at line 1, col 31: syntax error: unexpected )"},
    {R"(foo_over_time({job="ticker"}[5m]))",
     "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"},
    {R"({job="ticker"} |= )",
     "parse error at line 1, col 19: syntax error: unexpected $end, expecting STRING or ip"},
    {R"({job="ticker"} | logfmt | tick > "abc")",
     "parse error at line 1, col 34: syntax error: unexpected STRING, expecting BYTES or NUMBER "
     "or DURATION"},
    {R"({job="ticker"}[5m])", "parse error at line 0, col 15: syntax error: unexpected RANGE"},
    {"{a=\"b\"}\n  | json @", "parse error at line 2, col 10: syntax error: unexpected IDENTIFIER"},
    {R"({a="b"} | unwrap x)", "parse error at line 1, col 11: syntax error: unexpected unwrap"},
    {R"(sum({a="b"}))", "parse error at line 1, col 12: syntax error: unexpected )"},
    {R"({a="b" | json)",
     "parse error at line 1, col 8: syntax error: unexpected |, expecting } or ,"},
    {R"({a="b"} |= "x)", "parse error at line 1, col 12: literal not terminated"},
    {R"({a="b"} |= "\d")", "parse error at line 1, col 12: invalid char escape"},
    {R"(count_over_time({a="b"}[5x]))",
     "parse error at line 0, col 24: not a valid duration string: \"5x\""},
    {R"(count_over_time({a="b"}[5m)",
     "parse error at line 0, col 24: missing closing ']' in duration"},
    {R"(-sum(rate({a="b"}[5m])))",
     "parse error at line 1, col 2: syntax error: unexpected SUM, expecting NUMBER"},
    {R"(rate({a="b"}[5m]) * group_left rate({a="b"}[5m]))",
     "parse error at line 1, col 21: syntax error: unexpected group_left"},
    {R"({by="x"})",
     "parse error at line 1, col 2: syntax error: unexpected by, expecting IDENTIFIER"},
    {R"(vector(-1))", "parse error at line 1, col 8: syntax error: unexpected -, expecting NUMBER"},
    {"", "parse error at line 1, col 1: syntax error: unexpected $end"},
    // Semantic errors Loki reports at parse time.
    {R"({job!="web/nginx"})",
     "parse error : queries require at least one regexp or equality matcher that does not have "
     "an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
     "app=~\".+\" will"},
    {R"({})",
     "parse error : queries require at least one regexp or equality matcher that does "
     "not have an empty-compatible value. For instance, app=~\".*\" does not meet this "
     "requirement, but app=~\".+\" will"},
    {R"(sum(rate({a=""}[5m])))",
     "parse error : queries require at least one regexp or equality matcher that does not have "
     "an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
     "app=~\".+\" will"},
    {R"({a=~"("})", "parse error : error parsing regexp: missing closing ): `(`"},
    {R"q({a="b"} | regexp "(\\d+)")q",
     "parse error : invalid regexp parser: at least one named capture must be supplied"},
    {R"({a="b"} | pattern "<a><b>")",
     "parse error : invalid pattern parser: found consecutive capture '<a><b>': invalid "
     "expression"},
    {R"({a="b"} | pattern "plain text")",
     "parse error : invalid pattern parser: at least one capture is required"},
    {R"({a="b"} | label_format a=pod, a=job)",
     "parse error : stage '| label_format a=pod,a=job' : multiple label name 'a' not allowed in a "
     "single format operation"},
    {R"({a="b"} | label_format __error__="x")",
     "parse error : stage '| label_format __error__=\"x\"' : __error__ cannot be formatted"},
    {R"({a="b"} |= ip("not-an-ip"))",
     "parse error : stage '|= ip(\"not-an-ip\")' : ip: invalid pattern: \"not-an-ip\""},
    {R"({a="b"} |~ ip("1.2.3.4"))",
     "parse error : stage '|~ ip(\"1.2.3.4\")' : ip: invalid operation"},
    {R"({a="b"} | x = ip("nope"))",
     "parse error : stage '| x=ip(\"nope\")' : ip: invalid pattern: \"nope\""},
    {R"({a="b"} |~ "(")",
     "parse error : stage '|~ \"(\"' : error parsing regexp: missing closing ): `(`"},
    {R"({a="b"} | json x="a..b")",
     "parse error : stage '| json x=\"a..b\"' : cannot parse expression [a..b]: syntax error"},
    {R"(sum_over_time({job="ticker"}[5m]))",
     "parse error : invalid aggregation sum_over_time without unwrap"},
    {R"(count_over_time({a="b"} | unwrap x [5m]))",
     "parse error : invalid aggregation count_over_time with unwrap"},
    {R"(rate({job="ticker"} | logfmt | unwrap value [5m]) by (pod))",
     "parse error : grouping not allowed for rate aggregation"},
    {R"(count_over_time({a="b"}[5m]) by (pod))",
     "parse error : grouping not allowed for count_over_time aggregation"},
    {R"(quantile_over_time({a="b"} | unwrap x [5m]))",
     "parse error : parameter required for operation quantile_over_time"},
    {R"(rate(0.5, {a="b"}[5m]))", "parse error : parameter 0.5 not supported for operation rate"},
    {R"(topk(count_over_time({job="ticker"}[5m])))",
     "parse error : parameter required for operation topk"},
    {R"(topk(0, count_over_time({job="ticker"}[5m])))",
     "parse error : invalid parameter (must be greater than 0) topk(0"},
    {R"(topk(1.5, count_over_time({job="ticker"}[5m])))",
     "parse error : invalid parameter topk(1.5,"},
    {R"(sum(2, count_over_time({job="ticker"}[5m])))",
     "parse error : unsupported parameter for operation sum(2,"},
    {R"(approx_topk by (a) (2, count_over_time({job="ticker"}[5m])))",
     "parse error : grouping not allowed for approx_topk aggregation"},
    {R"(sort by (a) (count_over_time({job="ticker"}[5m])))",
     "parse error : sort and sort_desc doesn't allow grouping by "},
    {R"({job="ticker"} + 1)",
     "parse error : unexpected type for left leg of binary operation (+): *syntax.MatchersExpr"},
    {R"(1 + {job="ticker"} |= "x")",
     "parse error : unexpected type for right leg of binary operation (+): *syntax.PipelineExpr"},
    {R"(1 and rate({a="b"}[5m]))",
     "parse error : unexpected literal for left leg of logical/set binary operation (and): "
     "1.000000"},
    {R"(label_replace(vector(1), "a", "$1", "b", "("))",
     "parse error : invalid regex in label_replace: error parsing regexp: missing closing ): "
     "`^(?:()$`"},
    {R"(0x1F + 1)",
     "parse error : unable to parse literal as a float: strconv.ParseFloat: parsing \"0x1F\": "
     "invalid syntax"},
};

TEST(ParserTest, ErrorsMatchLoki) {
  for (const ErrorCase& c : kErrorCases) {
    absl::StatusOr<std::unique_ptr<Expr>> e = ParseExpr(c.query);
    ASSERT_FALSE(e.ok()) << c.query << " parsed as " << Print(**e);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(e.status().message(), c.error) << c.query;
  }
}

TEST(ParserTest, RejectsOverlongInput) {
  std::string q = "{a=\"" + std::string(6000, 'x') + "\"}";
  EXPECT_EQ(ParseExpr(q).status().message(), "parse error : input size too long (6006 > 5120)");
}

TEST(ParserTest, DeepNestingFailsCleanly) {
  std::string q(2500, '(');
  q += "1";
  q += std::string(2500, ')');
  absl::StatusOr<std::unique_ptr<Expr>> e = ParseExpr(q);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("nests too deeply"));
  std::string ok(100, '(');
  ok += "1";
  ok += std::string(100, ')');
  EXPECT_TRUE(ParseExpr(ok).ok());
}

TEST(ParserTest, AstShapes) {
  auto e = ParseExpr(
      R"(sum by (pod) (quantile_over_time(0.5, {job="x", a!~"b"} |= "y" | json v="a.b" | unwrap bytes(v) | v > 1 [5m] offset 1m) by (pod)) > bool on (pod) group_left (ns) vector(2))");
  ASSERT_TRUE(e.ok()) << e.status();
  const auto& bin = std::get<BinaryOpExpr>((*e)->node);
  EXPECT_EQ(bin.op, BinaryOp::kGt);
  EXPECT_TRUE(bin.return_bool);
  EXPECT_TRUE(bin.matching.on);
  EXPECT_EQ(bin.matching.matching_labels, std::vector<std::string>{"pod"});
  EXPECT_EQ(bin.matching.card, VectorMatching::Card::kManyToOne);
  EXPECT_EQ(bin.matching.include, std::vector<std::string>{"ns"});
  EXPECT_EQ(std::get<VectorExpr>(bin.rhs->node).value, 2);
  const auto& agg = std::get<VectorAggregationExpr>(bin.lhs->node);
  EXPECT_EQ(agg.op, VectorOp::kSum);
  EXPECT_EQ(agg.grouping.labels, std::vector<std::string>{"pod"});
  const auto& r = std::get<RangeAggregationExpr>(agg.inner->node);
  EXPECT_EQ(r.op, RangeOp::kQuantileOverTime);
  EXPECT_EQ(r.param, 0.5);
  EXPECT_EQ(r.range.range_ns, 300'000'000'000);
  EXPECT_EQ(r.range.offset_ns, 60'000'000'000);
  ASSERT_TRUE(r.range.unwrap);
  EXPECT_EQ(r.range.unwrap->label, "v");
  EXPECT_EQ(r.range.unwrap->conv, UnwrapConv::kBytes);
  ASSERT_EQ(r.range.unwrap->post_filters.size(), 1u);
  const auto& sel = r.range.selector;
  ASSERT_EQ(sel.matchers.size(), 2u);
  EXPECT_EQ(sel.matchers[1].type(), MatchType::kNotRegexp);
  ASSERT_EQ(sel.pipeline.size(), 2u);
  const auto& json = std::get<JsonParserStage>(sel.pipeline[1]);
  ASSERT_EQ(json.extractions.size(), 1u);
  EXPECT_EQ(json.extractions[0].json_path.size(), 2u);
}

TEST(ParserTest, NegatedOrChainsAreSplit) {
  auto e = ParseLogSelector(R"({a="b"} |= "x" or "y" !~ "p" or "q")");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->pipeline.size(), 3u);
  EXPECT_EQ(std::get<LineFilterStage>(e->pipeline[0]).values.size(), 2u);
  EXPECT_EQ(std::get<LineFilterStage>(e->pipeline[1]).values[0].value, "p");
  EXPECT_EQ(std::get<LineFilterStage>(e->pipeline[2]).values[0].value, "q");
}

TEST(ParserTest, LabelFilterPrecedence) {
  auto e = ParseLogSelector(R"({a="b"} | x="1" or y="2" and z="3")");
  ASSERT_TRUE(e.ok());
  const auto& f = std::get<LabelFilterStage>(e->pipeline[0]).filter;
  const auto& top = std::get<BinaryLabelFilter>(f.node);
  EXPECT_FALSE(top.is_and);
  EXPECT_TRUE(std::get<BinaryLabelFilter>(top.rhs->node).is_and);
}

TEST(ParserTest, FunctionNamesAreIdentifiersUnlessCalled) {
  auto e = ParseLogSelector(R"({sum="a", rate="b"} | bytes > 1KB | duration="x" | ip="y")");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->matchers[0].name(), "sum");
  EXPECT_EQ(
      std::get<BytesLabelFilter>(std::get<LabelFilterStage>(e->pipeline[0]).filter.node).value,
      1000u);
}

TEST(MatcherTest, Semantics) {
  auto re = Matcher::Create(MatchType::kRegexp, "a", "web/.*");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->Matches("web/nginx"));
  EXPECT_FALSE(re->Matches("xweb/nginx"));  // fully anchored
  EXPECT_FALSE(re->MatchesEmpty());
  auto dot = Matcher::Create(MatchType::kRegexp, "a", "a.b");
  EXPECT_TRUE(dot->Matches("a\nb"));  // `.` matches newline like Prometheus
  auto any = Matcher::Create(MatchType::kRegexp, "a", ".*");
  EXPECT_TRUE(any->MatchesEmpty());
  auto nre = Matcher::Create(MatchType::kNotRegexp, "a", "x|y");
  EXPECT_TRUE(nre->Matches("z"));
  EXPECT_FALSE(nre->Matches("x"));
  EXPECT_TRUE(nre->MatchesEmpty());
  auto ne = Matcher::Create(MatchType::kNotEqual, "a", "");
  EXPECT_FALSE(ne->MatchesEmpty());
  EXPECT_EQ(ne->ToString(), "a!=\"\"");
}

TEST(ParserTest, EntryPoints) {
  EXPECT_TRUE(ParseLogSelector(R"({a="b"} | json)").ok());
  EXPECT_EQ(ParseLogSelector(R"(rate({a="b"}[1m]))").status().message(),
            "only log selector is supported");
  EXPECT_TRUE(ParseLogSelector(R"({a!="b"})", /*validate=*/false).ok());
  EXPECT_FALSE(ParseLogSelector(R"({a!="b"})").ok());

  EXPECT_TRUE(ParseSampleExpr(R"(rate({a="b"}[1m]))").ok());
  EXPECT_TRUE(ParseSampleExpr("1 + 1").ok());
  EXPECT_EQ(ParseSampleExpr(R"({a="b"})").status().message(), "only sample expression supported");

  auto m = ParseMatchers(R"({a="b", c=~"d.*"})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 2u);
  EXPECT_EQ(PrintMatchers(*m), R"({a="b", c=~"d.*"})");
  EXPECT_EQ(ParseMatchers(R"({a="b"} |= "x")").status().message(),
            "only label matchers is supported");
  EXPECT_TRUE(ParseMatchers(R"({a=~".*"})", /*validate=*/false).ok());
}

TEST(ParserTest, CloneIsDeepAndEqual) {
  auto e = ParseExpr(R"(sum(rate({a="b"} | x > 1 or y="2" [5m])) / 2)");
  ASSERT_TRUE(e.ok());
  Expr copy = **e;
  EXPECT_TRUE(copy == **e);
  std::get<BinaryOpExpr>(copy.node).op = BinaryOp::kMul;
  EXPECT_FALSE(copy == **e);
  EXPECT_EQ(Print(**e), R"((sum(rate({a="b"} | ( x>1 or y="2" )[5m])) / 2))");
}

TEST(PrintTest, NumericZeroStaysNumeric) {
  // Found by the fuzzer: `status=-00` printed as `status==-0`, which reparses as a duration.
  const std::pair<const char*, const char*> cases[] = {
      {R"({a="b"} | status=-00)", R"({a="b"} | status==-0.0)"},
      {R"({a="b"} | status==00)", R"({a="b"} | status==0.0)"}};
  for (const auto& [q, want] : cases) {
    auto e = ParseExpr(q);
    ASSERT_TRUE(e.ok()) << e.status();
    std::string printed = Print(**e);
    EXPECT_EQ(printed, want) << q;
    auto again = ParseExpr(printed);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(**again == **e) << printed;
  }
}

}  // namespace
}  // namespace norn::logql::syntax
