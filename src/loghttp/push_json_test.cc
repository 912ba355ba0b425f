#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loghttp/push_request.h"

namespace norn::loghttp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(JsonPushTest, V1StreamsValuesAndMetadata) {
  auto req = DecodeJsonPush(R"({
    "streams": [
      {"stream": {"app": "api", "env": "prod"},
       "values": [
         ["1700000000123456789", "hello"],
         ["1700000000123456790", "with metadata", {"trace_id": "t1", "user": "u"}]
       ]},
      {"values": [["-5", "negative ts"]], "stream": {"z": "1", "a": "2"}}
    ],
    "ignored": {"x": [1, 2, 3]}
  })");
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->streams.size(), 2u);
  const PushStream& s = req->streams[0];
  ASSERT_TRUE(s.labels.has_value());
  EXPECT_EQ(s.labels->ToString(), R"({app="api", env="prod"})");
  EXPECT_TRUE(s.labels_text.empty());
  ASSERT_EQ(s.entries.size(), 2u);
  EXPECT_EQ(s.entries[0].timestamp_ns, 1700000000123456789);
  EXPECT_EQ(s.entries[0].line, "hello");
  EXPECT_THAT(s.entries[0].structured_metadata, IsEmpty());
  EXPECT_EQ(s.entries[1].line, "with metadata");
  EXPECT_THAT(s.entries[1].structured_metadata,
              ElementsAre(LabelView{"trace_id", "t1"}, LabelView{"user", "u"}));
  // Labels are sorted whatever the key order; values may precede the stream object.
  EXPECT_EQ(req->streams[1].labels->ToString(), R"({a="2", z="1"})");
  EXPECT_EQ(req->streams[1].entries[0].timestamp_ns, -5);
  EXPECT_EQ(req->entry_count(), 3u);
}

TEST(JsonPushTest, UnicodeAndEscapes) {
  auto req =
      DecodeJsonPush(R"({"streams":[{"stream":{"app":"caf\u00e9"},"values":[)"
                     R"(["1","tab\there \"quoted\" back\\slash \u2603 snow \ud83d\ude00 nl\n"],)"
                     "[\"2\",\"raw utf8 \xe2\x9c\x93\"]]}]}");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->streams[0].labels->Get("app"), "caf\xc3\xa9");
  EXPECT_EQ(req->streams[0].entries[0].line,
            "tab\there \"quoted\" back\\slash \xe2\x98\x83 snow \xf0\x9f\x98\x80 nl\n");
  EXPECT_EQ(req->streams[0].entries[1].line, "raw utf8 \xe2\x9c\x93");
}

TEST(JsonPushTest, LegacyLabelsAndEntries) {
  auto req = DecodeJsonPush(R"({"streams":[{"labels":"{foo=\"bar\", job=\"x\"}","entries":[
      {"ts":"2023-11-14T22:13:20.123456789Z","line":"legacy line"},
      {"ts":"2023-11-14T23:13:20+01:00","line":"offset","structuredMetadata":[{"name":"a","value":"b"}]},
      {"line":"order does not matter","ts":"1970-01-01T00:00:01Z"}]}]})");
  ASSERT_TRUE(req.ok()) << req.status();
  const PushStream& s = req->streams[0];
  EXPECT_FALSE(s.labels.has_value());
  EXPECT_EQ(s.labels_text, R"({foo="bar", job="x"})");
  auto parsed = s.ParsedLabels();
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Get("foo"), "bar");
  ASSERT_EQ(s.entries.size(), 3u);
  EXPECT_EQ(s.entries[0].timestamp_ns, 1700000000123456789);
  EXPECT_EQ(s.entries[0].line, "legacy line");
  EXPECT_EQ(s.entries[1].timestamp_ns, 1700000000000000000);
  EXPECT_THAT(s.entries[1].structured_metadata, ElementsAre(LabelView{"a", "b"}));
  EXPECT_EQ(s.entries[2].timestamp_ns, 1000000000);
}

TEST(JsonPushTest, EmptyAndNullForms) {
  for (std::string_view body : {R"({})", R"({"streams":[]})", R"({"streams":null})"}) {
    auto req = DecodeJsonPush(body);
    ASSERT_TRUE(req.ok()) << body << ": " << req.status();
    EXPECT_TRUE(req->streams.empty());
  }
  auto req = DecodeJsonPush(R"({"streams":[{"stream":{"a":"b"},"values":null}]})");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_TRUE(req->streams[0].entries.empty());
}

TEST(JsonPushTest, ViewsSurviveMove) {
  auto decoded =
      DecodeJsonPush(R"({"streams":[{"stream":{"a":"b"},"values":[["1","line one",{"k":"v"}]]}]})");
  ASSERT_TRUE(decoded.ok());
  PushRequest req = *std::move(decoded);
  // A second decode on the same thread reuses the parser; earlier views must not change.
  auto other = DecodeJsonPush(R"({"streams":[{"stream":{"a":"b"},"values":[["2","XXXXXXXX"]]}]})");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(req.streams[0].entries[0].line, "line one");
  EXPECT_THAT(req.streams[0].entries[0].structured_metadata, ElementsAre(LabelView{"k", "v"}));
}

struct BadCase {
  std::string body;
  std::string want;
};

TEST(JsonPushTest, RejectsMalformedBodiesWithUsefulMessages) {
  std::vector<BadCase> cases = {
      {"", "invalid push request JSON"},
      {"{", "invalid push request JSON"},
      {"[]", "invalid push request JSON"},
      {R"({"streams":{}})", "\"streams\" must be an array"},
      {R"({"streams":[1]})", "must be an object"},
      {R"({"streams":[{"stream":{"a":1},"values":[]}]})", "value of label \"a\" must be a string"},
      {R"({"streams":[{"stream":"a","values":[]}]})", "streams[0].stream must be an object"},
      {R"({"streams":[{"values":[["1","x"]]}]})", "has no labels"},
      {R"({"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]})", "timestamp must be a string"},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["12x","x"]]}]})", "invalid timestamp \"12x\""},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["99999999999999999999","x"]]}]})",
       "invalid timestamp"},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["","x"]]}]})", "invalid timestamp"},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["1",2]]}]})", "log line must be a string"},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["1"]]}]})", "want [\"<unix epoch ns>\""},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]})",
       "structured metadata value of \"k\" must be a string"},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["1","x",{},"y"]]}]})", "at most 3 items"},
      {R"({"streams":[{"stream":{"a":"b"},"values":["1","x"]}]})", "values[0] must be an array"},
      {R"({"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"yesterday","line":"x"}]}]})",
       "entries[0].ts must be an RFC3339 time string"},
      {R"({"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":12,"line":"x"}]}]})", "RFC3339"},
      {R"({"streams":[{"stream":{"a":"b"},"values":[["1","unterminated]]}]})",
       "invalid push request JSON"},
      {R"({"streams":[]} trailing)", "invalid push request JSON"},
  };
  for (const BadCase& c : cases) {
    auto req = DecodeJsonPush(c.body);
    ASSERT_FALSE(req.ok()) << c.body;
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(req.status().message(), HasSubstr(c.want)) << c.body;
  }
}

}  // namespace
}  // namespace norn::loghttp
