#include "logql/log/pipeline.h"

#include <gtest/gtest.h>

#include "logql/log/formatters.h"
#include "logql/log/json_parser.h"
#include "logql/log/label_filter.h"
#include "logql/log/line_filter.h"
#include "logql/log/logfmt_parser.h"
#include "logql/log/parsers.h"

namespace norn::logql_log {
namespace {

// A stand-in for the template module: substitutes `{{.name}}` with the label value and
// `{{__line__}}` with the line; the text "FAIL" makes Render fail.
class FakeTemplate : public TemplateRenderer {
 public:
  explicit FakeTemplate(std::string t) : t_(std::move(t)) {}
  absl::Status Render(const LabelsView& labels, std::string_view line, int64_t,
                      std::string* out) override {
    if (t_ == "FAIL") return absl::InvalidArgumentError("template: boom");
    size_t i = 0;
    while (i < t_.size()) {
      size_t open = t_.find("{{", i);
      if (open == std::string::npos) {
        out->append(t_, i);
        break;
      }
      out->append(t_, i, open - i);
      size_t close = t_.find("}}", open);
      std::string key = t_.substr(open + 2, close - open - 2);
      if (key == "__line__") {
        out->append(line);
      } else {
        auto v = labels.Get(key.substr(1));
        if (v) out->append(*v);
      }
      i = close + 2;
    }
    return absl::OkStatus();
  }

 private:
  std::string t_;
};

std::unique_ptr<TemplateRenderer> T(std::string s) {
  return std::make_unique<FakeTemplate>(std::move(s));
}

Labels Stream() { return Labels({{"job", "auth/service"}, {"pod", "auth-1"}}); }

TEST(PipelineTest, LogfmtFilterFormat) {
  std::vector<std::unique_ptr<Stage>> st;
  st.push_back(std::make_unique<LineFilterStage>(
      *NewLineFilter(LineMatchType::kContains, "status=")));
  st.push_back(std::make_unique<LogfmtParser>());
  st.push_back(NewNumericLabelFilter("status", CompareOp::kGreaterEqual, 500));
  st.push_back(std::make_unique<LineFormatter>(T("{{.pod}} {{.status}} {{.msg}}")));
  Pipeline p(std::move(st));
  EXPECT_EQ(p.RequiredSubstrings(), std::vector<std::string>{"status="});
  StreamPipeline* sp = p.ForStream(Stream());
  EXPECT_EQ(sp, p.ForStream(Stream()));  // cached
  std::string_view out;
  EXPECT_TRUE(sp->Process(1, "level=error status=503 msg=\"upstream down\"", {}, &out));
  EXPECT_EQ(out, "auth-1 503 upstream down");
  Labels got = sp->builder().CachedLabels();
  EXPECT_EQ(got.Get("status"), "503");
  EXPECT_EQ(got.Get("level"), "error");
  EXPECT_EQ(sp->builder().Hash(), got.Hash());
  EXPECT_FALSE(sp->Process(2, "level=info status=200 msg=ok", {}, &out));
  EXPECT_FALSE(sp->Process(3, "no status here", {}, &out));
  // Non-numeric status: LabelFilterErr, entry kept.
  EXPECT_TRUE(sp->Process(4, "status=abc msg=x", {}, &out));
  EXPECT_EQ(sp->builder().GetErr(), "LabelFilterErr");
}

TEST(PipelineTest, ErrorFilterAfterJson) {
  std::vector<std::unique_ptr<Stage>> st;
  st.push_back(std::make_unique<JsonParser>());
  st.push_back(*NewStringLabelFilter("__error__", StringMatchType::kEqual, "JSONParserErr"));
  st.push_back(std::make_unique<LineFormatter>(T("{{.__error__}}")));
  Pipeline p(std::move(st));
  auto* sp = p.ForStream(Stream());
  std::string_view out;
  EXPECT_FALSE(sp->Process(1, R"({"a":1})", {}, &out));
  ASSERT_TRUE(sp->Process(2, "panic: boom", {}, &out));
  EXPECT_EQ(out, "JSONParserErr");
  const Labels& l = sp->builder().CachedLabels();
  EXPECT_EQ(l.Get("__error_details__"), "expecting json object(6), but it is not");
}

TEST(PipelineTest, LabelFormatRenameTemplateAndErrors) {
  std::vector<LabelFormat> fmts;
  fmts.push_back({"who", "user", nullptr});
  fmts.push_back({"summary", "", T("{{.method}} {{.path}} {{.user}}")});
  std::vector<std::unique_ptr<Stage>> st;
  st.push_back(std::make_unique<LogfmtParser>());
  st.push_back(*LabelFormatter::Create(std::move(fmts)));
  Pipeline p(std::move(st));
  auto* sp = p.ForStream(Stream());
  std::string_view out;
  ASSERT_TRUE(sp->Process(1, "user=bob method=GET path=/x", {}, &out));
  const Labels& l = sp->builder().CachedLabels();
  EXPECT_EQ(l.Get("who"), "bob");
  EXPECT_FALSE(l.Has("user"));
  // Templates see the labels as of the first template: the rename already happened.
  EXPECT_EQ(l.Get("summary"), "GET /x ");

  std::vector<LabelFormat> dup;
  dup.push_back({"a", "b", nullptr});
  dup.push_back({"a", "c", nullptr});
  EXPECT_FALSE(LabelFormatter::Create(std::move(dup)).ok());

  std::vector<std::unique_ptr<Stage>> st2;
  st2.push_back(std::make_unique<LineFormatter>(T("FAIL")));
  Pipeline p2(std::move(st2));
  auto* sp2 = p2.ForStream(Stream());
  ASSERT_TRUE(sp2->Process(1, "original", {}, &out));
  EXPECT_EQ(out, "original");
  EXPECT_EQ(sp2->builder().GetErr(), "TemplateFormatErr");
  EXPECT_EQ(sp2->builder().GetErrorDetails(), "template: boom");
}

TEST(PipelineTest, LabelFormatOverridesStreamLabel) {
  std::vector<LabelFormat> fmts;
  fmts.push_back({"pod", "", T("X{{.pod}}")});
  std::vector<std::unique_ptr<Stage>> st;
  st.push_back(*LabelFormatter::Create(std::move(fmts)));
  Pipeline p(std::move(st));
  auto* sp = p.ForStream(Stream());
  std::string_view out;
  ASSERT_TRUE(sp->Process(1, "l", {}, &out));
  EXPECT_EQ(sp->builder().CachedLabels(),
            Labels({{"job", "auth/service"}, {"pod", "Xauth-1"}}));
}

TEST(PipelineTest, DropKeepDecolorizeDistinct) {
  std::vector<LabelSelector> drop;
  drop.push_back({"level", std::nullopt});
  drop.push_back({"", *LabelMatcher::Create("user", StringMatchType::kEqual, "bob")});
  drop.push_back({"__error__", std::nullopt});
  drop.push_back({"__error_details__", std::nullopt});
  std::vector<std::unique_ptr<Stage>> st;
  st.push_back(std::make_unique<Decolorizer>());
  st.push_back(std::make_unique<LogfmtParser>());
  st.push_back(std::make_unique<DropLabels>(std::move(drop)));
  Pipeline p(std::move(st));
  auto* sp = p.ForStream(Stream());
  std::string_view out;
  ASSERT_TRUE(sp->Process(1, "\x1b[1;31mlevel=error\x1b[0m user=bob x=1 =bad", {}, &out));
  EXPECT_EQ(out, "level=error user=bob x=1 =bad");
  EXPECT_EQ(sp->builder().CachedLabels(),
            Labels({{"job", "auth/service"}, {"pod", "auth-1"}, {"x", "1"}}));
  ASSERT_TRUE(sp->Process(2, "level=error user=alice", {}, &out));
  EXPECT_EQ(sp->builder().CachedLabels().Get("user"), "alice");

  std::vector<LabelSelector> keep;
  keep.push_back({"pod", std::nullopt});
  keep.push_back({"", *LabelMatcher::Create("level", StringMatchType::kEqual, "warn")});
  std::vector<std::unique_ptr<Stage>> st2;
  st2.push_back(std::make_unique<LogfmtParser>());
  st2.push_back(std::make_unique<KeepLabels>(std::move(keep)));
  st2.push_back(std::make_unique<DistinctFilter>(std::vector<std::string>{"pod"}));
  Pipeline p2(std::move(st2));
  auto* sp2 = p2.ForStream(Stream());
  ASSERT_TRUE(sp2->Process(1, "level=warn user=x", {}, &out));
  EXPECT_EQ(sp2->builder().CachedLabels(), Labels({{"level", "warn"}, {"pod", "auth-1"}}));
  // distinct pod: second entry with the same pod is dropped.
  EXPECT_FALSE(sp2->Process(2, "level=info", {}, &out));
}

TEST(PipelineTest, StructuredMetadataVisibleToStages) {
  std::vector<std::unique_ptr<Stage>> st;
  st.push_back(*NewStringLabelFilter("trace_id", StringMatchType::kEqual, "t1"));
  Pipeline p(std::move(st));
  auto* sp = p.ForStream(Stream());
  std::vector<Label> sm = {{"trace_id", "t1"}};
  std::string_view out;
  EXPECT_TRUE(sp->Process(1, "x", sm, &out));
  EXPECT_EQ(sp->builder().CategoryOf("trace_id"), LabelCategory::kStructuredMetadata);
  EXPECT_FALSE(sp->Process(2, "x", {}, &out));
}

TEST(SampleExtractorTest, UnwrapRemovesLabelAndConverts) {
  std::vector<std::unique_ptr<Stage>> pre;
  pre.push_back(std::make_unique<LogfmtParser>());
  std::vector<std::unique_ptr<Stage>> post;
  post.push_back(*NewStringLabelFilter("__error__", StringMatchType::kEqual, ""));
  SampleExtractorOptions o;
  o.source = SampleSource::kUnwrap;
  o.unwrap_label = "duration";
  o.conversion = UnwrapConversion::kDurationSeconds;
  SampleExtractor ex(std::move(pre), std::move(post), o);
  auto* s = ex.ForStream(Stream());
  double v;
  ASSERT_TRUE(s->Process(1, "duration=1.5s level=info", {}, &v));
  EXPECT_DOUBLE_EQ(v, 1.5);
  EXPECT_EQ(s->builder().GroupedLabels(),
            Labels({{"job", "auth/service"}, {"level", "info"}, {"pod", "auth-1"}}));
  ASSERT_TRUE(s->Process(2, "duration=250ms", {}, &v));
  EXPECT_DOUBLE_EQ(v, 0.25);
  EXPECT_FALSE(s->Process(3, "duration=fast", {}, &v));  // error filtered by post stage
  EXPECT_FALSE(s->Process(4, "level=info", {}, &v));     // missing label: no sample
  EXPECT_FALSE(s->Process(5, "duration=", {}, &v));      // empty label: no sample
}

TEST(SampleExtractorTest, UnwrapErrorKeepsAllLabels) {
  std::vector<std::unique_ptr<Stage>> pre;
  pre.push_back(std::make_unique<LogfmtParser>());
  SampleExtractorOptions o;
  o.source = SampleSource::kUnwrap;
  o.unwrap_label = "bytes";
  o.conversion = UnwrapConversion::kBytes;
  SampleExtractor ex(std::move(pre), {}, o);
  auto* s = ex.ForStream(Stream());
  double v;
  ASSERT_TRUE(s->Process(1, "bytes=2MiB", {}, &v));
  EXPECT_EQ(v, 2097152);
  ASSERT_TRUE(s->Process(2, "bytes=lots", {}, &v));
  const Labels& l = s->builder().GroupedLabels();
  EXPECT_EQ(l.Get("__error__"), "SampleExtractionErr");
  EXPECT_EQ(l.Get("bytes"), "lots");
}

TEST(SampleExtractorTest, CountAndBytesWithGrouping) {
  std::vector<std::unique_ptr<Stage>> pre;
  pre.push_back(std::make_unique<LogfmtParser>());
  pre.push_back(std::make_unique<LineFormatter>(T("{{.level}}")));
  SampleExtractorOptions o;
  o.source = SampleSource::kBytes;
  o.groups = {"level"};
  SampleExtractor ex(std::move(pre), {}, o);
  auto* s = ex.ForStream(Stream());
  double v;
  ASSERT_TRUE(s->Process(1, "level=warn a=1", {}, &v));
  EXPECT_EQ(v, 4);  // bytes of the rewritten line
  EXPECT_EQ(s->builder().GroupedLabels(), Labels({{"level", "warn"}}));
}

}  // namespace
}  // namespace norn::logql_log
