#include <snappy.h>

#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loghttp/push_request.h"
#include "proto/push.pb.h"

namespace norn::loghttp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Compress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

logproto::PushRequest TwoStreams() {
  logproto::PushRequest req;
  auto* s1 = req.add_streams();
  s1->set_labels(R"({app="api", env="prod"})");
  s1->set_hash(12345);
  auto* e1 = s1->add_entries();
  e1->mutable_timestamp()->set_seconds(1700000000);
  e1->mutable_timestamp()->set_nanos(123456789);
  e1->set_line("first line");
  auto* e2 = s1->add_entries();
  e2->mutable_timestamp()->set_seconds(1700000001);
  e2->set_line("second \xe2\x9c\x93 line");
  auto* md = e2->add_structuredmetadata();
  md->set_name("trace_id");
  md->set_value("abc");
  md = e2->add_structuredmetadata();
  md->set_name("user");
  md->set_value("");
  auto* s2 = req.add_streams();
  s2->set_labels(R"({app="db"})");
  auto* e3 = s2->add_entries();
  e3->mutable_timestamp()->set_seconds(1);
  e3->set_line("");
  return req;
}

TEST(ProtobufPushTest, DecodesStreamsEntriesAndMetadata) {
  auto req = DecodeProtobufPush(Compress(TwoStreams().SerializeAsString()));
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->streams.size(), 2u);
  const PushStream& s1 = req->streams[0];
  EXPECT_EQ(s1.labels_text, R"({app="api", env="prod"})");
  EXPECT_FALSE(s1.labels.has_value());
  auto parsed = s1.ParsedLabels();
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Get("env"), "prod");
  ASSERT_EQ(s1.entries.size(), 2u);
  EXPECT_EQ(s1.entries[0].timestamp_ns, 1700000000123456789);
  EXPECT_EQ(s1.entries[0].line, "first line");
  EXPECT_THAT(s1.entries[0].structured_metadata, IsEmpty());
  EXPECT_EQ(s1.entries[1].timestamp_ns, 1700000001000000000);
  EXPECT_EQ(s1.entries[1].line, "second \xe2\x9c\x93 line");
  EXPECT_THAT(s1.entries[1].structured_metadata,
              ElementsAre(LabelView{"trace_id", "abc"}, LabelView{"user", ""}));
  ASSERT_EQ(req->streams[1].entries.size(), 1u);
  EXPECT_EQ(req->streams[1].entries[0].timestamp_ns, 1000000000);
  EXPECT_EQ(req->streams[1].entries[0].line, "");
  EXPECT_EQ(req->entry_count(), 3u);
  EXPECT_EQ(req->line_bytes(), 10u + 15u);
  EXPECT_EQ(req->structured_metadata_bytes(), 8u + 3u + 4u);
}

TEST(ProtobufPushTest, ViewsSurviveMovingTheRequest) {
  auto decoded = DecodeProtobufPush(Compress(TwoStreams().SerializeAsString()));
  ASSERT_TRUE(decoded.ok());
  PushRequest moved = *std::move(decoded);
  PushRequest again = std::move(moved);
  EXPECT_EQ(again.streams[0].entries[1].line, "second \xe2\x9c\x93 line");
  EXPECT_EQ(again.streams[0].entries[1].structured_metadata[0].name, "trace_id");
}

TEST(ProtobufPushTest, EmptyBodyIsAnEmptyRequest) {
  auto req = DecodeProtobufPush(Compress(""));
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_TRUE(req->streams.empty());
}

TEST(ProtobufPushTest, UnknownFieldsAreSkipped) {
  std::string raw = TwoStreams().SerializeAsString();
  // Field 15 varint and field 16 length-delimited appended at top level.
  raw += std::string("\x78\x05", 2);
  raw += std::string("\x82\x01\x03xyz", 6);
  auto req = DecodeProtobufPush(Compress(raw));
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->streams.size(), 2u);
}

TEST(ProtobufPushTest, UncompressedEntryPoint) {
  auto req = DecodeUncompressedProtobufPush(TwoStreams().SerializeAsString());
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->entry_count(), 3u);
}

TEST(ProtobufPushTest, RejectsBadSnappy) {
  auto req = DecodeProtobufPush("this is not snappy at all \xff\xff\xff\xff\xff");
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(req.status().message(), HasSubstr("failed to decompress snappy body"));

  // A valid header with corrupt content.
  std::string c = Compress(std::string(1000, 'a') + "0123456789");
  c.resize(c.size() - 3);
  req = DecodeProtobufPush(c);
  ASSERT_FALSE(req.ok());
  EXPECT_THAT(req.status().message(), HasSubstr("failed to decompress snappy body"));
}

TEST(ProtobufPushTest, RejectsTruncatedProtobufAtEveryLength) {
  std::string raw = TwoStreams().SerializeAsString();
  int failures = 0;
  for (size_t n = 1; n < raw.size(); ++n) {
    auto req = DecodeProtobufPush(Compress(raw.substr(0, n)));
    if (!req.ok()) {
      ++failures;
      EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(req.status().message(), HasSubstr("invalid protobuf push request"));
    }
  }
  // Cutting inside any length-delimited field must fail; only cuts at message boundaries of the
  // outermost stream list can succeed, and there is exactly one inside (between the streams).
  EXPECT_GE(failures, static_cast<int>(raw.size()) - 2);
}

TEST(ProtobufPushTest, RejectsGarbageWireData) {
  // Wire type 3 (group) is not accepted; field number 0 is invalid.
  for (std::string raw : {std::string("\x0b", 1), std::string("\x00\x01", 2),
                          std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11)}) {
    auto req = DecodeProtobufPush(Compress(raw));
    EXPECT_FALSE(req.ok()) << "accepted " << raw.size() << " bytes";
  }
}

TEST(ProtobufPushTest, RejectsOutOfRangeTimestamps) {
  logproto::PushRequest req;
  auto* s = req.add_streams();
  s->set_labels(R"({a="b"})");
  auto* e = s->add_entries();
  e->mutable_timestamp()->set_seconds(1);
  e->mutable_timestamp()->set_nanos(-1);
  auto decoded = DecodeProtobufPush(Compress(req.SerializeAsString()));
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("nanos"));
  EXPECT_THAT(decoded.status().message(), HasSubstr(R"({a="b"})"));

  e->mutable_timestamp()->set_nanos(0);
  e->mutable_timestamp()->set_seconds(int64_t{1} << 40);
  decoded = DecodeProtobufPush(Compress(req.SerializeAsString()));
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("out of range"));
}

TEST(ProtobufPushTest, DecodeLokiPushDispatchesOnContentType) {
  std::string pb = Compress(TwoStreams().SerializeAsString());
  for (std::string_view ct : {"", "application/x-protobuf", "application/x-protobuf; charset=x"}) {
    auto req = DecodeLokiPush(ct, "", pb);
    ASSERT_TRUE(req.ok()) << ct << ": " << req.status();
    EXPECT_EQ(req->entry_count(), 3u);
  }
  auto snappy_header = DecodeLokiPush("application/x-protobuf", "snappy", pb);
  ASSERT_TRUE(snappy_header.ok());
  auto json = DecodeLokiPush("Application/JSON; charset=utf-8", "",
                             R"({"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->streams[0].entries[0].line, "x");
  auto br = DecodeLokiPush("application/x-protobuf", "br", pb);
  ASSERT_FALSE(br.ok());
  EXPECT_EQ(br.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(br.status().message(), R"(Content-Encoding "br" not supported)");
}

// Cheap in-tree fuzzing: corrupted payloads must decode or fail cleanly (run under ASan/UBSan).
TEST(ProtobufPushTest, RandomCorruptionNeverCrashes) {
  std::string raw = TwoStreams().SerializeAsString();
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string m = raw;
    for (int k = 0; k < 1 + i % 4; ++k)
      m[rng() % m.size()] = static_cast<char>(rng());
    auto req = DecodeProtobufPush(Compress(m));
    if (req.ok()) {
      for (const auto& s : req->streams) {
        for (const auto& e : s.entries)
          EXPECT_LE(e.line.size(), raw.size());
      }
    }
  }
}

TEST(CheckContentEncodingTest, PerApi) {
  EXPECT_TRUE(CheckContentEncoding("", PushApi::kLoki).ok());
  EXPECT_TRUE(CheckContentEncoding("identity", PushApi::kOtlp).ok());
  EXPECT_TRUE(CheckContentEncoding("Snappy", PushApi::kLoki).ok());
  EXPECT_TRUE(CheckContentEncoding("gzip", PushApi::kLoki).ok());
  EXPECT_FALSE(CheckContentEncoding("snappy", PushApi::kOtlp).ok());
  EXPECT_TRUE(CheckContentEncoding("zstd", PushApi::kOtlp).ok());
  EXPECT_TRUE(CheckContentEncoding("lz4", PushApi::kOtlp).ok());
  EXPECT_FALSE(CheckContentEncoding("zstd", PushApi::kLoki).ok());
  EXPECT_FALSE(CheckContentEncoding("compress", PushApi::kLoki).ok());
}

}  // namespace
}  // namespace norn::loghttp
