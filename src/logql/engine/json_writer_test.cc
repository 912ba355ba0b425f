#include "logql/engine/json_writer.h"

#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace norn::logql_engine {
namespace {

std::string Value(double v) {
  std::string s;
  AppendPromValue(&s, v);
  return s;
}
std::string Ts(int64_t ms) {
  std::string s;
  AppendPromTimestamp(&s, ms);
  return s;
}
std::string Str(std::string_view v) {
  std::string s;
  AppendGoJsonString(&s, v);
  return s;
}

TEST(JsonWriterTest, PrometheusValues) {
  EXPECT_EQ(Value(7), "7");
  EXPECT_EQ(Value(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(Value(-2.5), "-2.5");
  EXPECT_EQ(Value(1e20), "100000000000000000000");
  EXPECT_EQ(Value(1e21), "1e+21");
  EXPECT_EQ(Value(1.5e-7), "1.5e-07");
  EXPECT_EQ(Value(0.000001), "0.000001");
  EXPECT_EQ(Value(0), "0");
  EXPECT_EQ(Value(std::nan("")), "NaN");
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(JsonWriterTest, Timestamps) {
  EXPECT_EQ(Ts(1704067200000), "1704067200");
  EXPECT_EQ(Ts(1704067265500), "1704067265.500");
  EXPECT_EQ(Ts(1704067265005), "1704067265.005");
  EXPECT_EQ(Ts(-1500), "-1.500");
}

TEST(JsonWriterTest, GoStringEscaping) {
  EXPECT_EQ(Str("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  EXPECT_EQ(Str("<a&b>"), "\"\\u003ca\\u0026b\\u003e\"");
  EXPECT_EQ(Str("f\xc3\xbcr \xf0\x9f\x9a\x80"), "\"f\xc3\xbcr \xf0\x9f\x9a\x80\"");
  EXPECT_EQ(Str("bad\xff\xc3"), "\"bad\\ufffd\\ufffd\"");
  EXPECT_EQ(Str("\xe2\x80\xa8"), "\"\\u2028\"");
  EXPECT_EQ(Str("\x1b[31m"), "\"\\u001b[31m\"");
}

// Every special byte at every position of lines longer than one 16-byte step, so the fast
// skip over plain bytes hands each one to the escaping code, before and after a step boundary.
TEST(JsonWriterTest, GoStringEscapingInLongLines) {
  const std::vector<std::pair<std::string, std::string>> specials = {
      {"\"", "\\\""},      {"\\", "\\\\"},
      {"\n", "\\n"},       {"\x01", "\\u0001"},
      {"<", "\\u003c"},    {">", "\\u003e"},
      {"&", "\\u0026"},    {"\xc3\xbc", "\xc3\xbc"},
      {"\xff", "\\ufffd"}, {"\xe2\x80\xa9", "\\u2029"},
      {"\x7f", "\x7f"}};
  for (const auto& [raw, escaped] : specials) {
    for (size_t pos = 0; pos < 40; ++pos) {
      const std::string plain(40, 'x');
      const std::string line = plain.substr(0, pos) + raw + plain.substr(pos);
      EXPECT_EQ(Str(line), "\"" + plain.substr(0, pos) + escaped + plain.substr(pos) + "\"")
          << "special " << escaped << " at " << pos;
    }
  }
}

// Go's encoding/json rules for a string, one byte at a time: the reference for the fast
// encoder.
std::string ReferenceGoString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char buf[7];
            snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Valid UTF-8 (no overlongs, surrogates or values past U+10FFFF) is kept, except U+2028/9.
    size_t n = c >= 0xC2 && c < 0xE0   ? 2
               : c >= 0xE0 && c < 0xF0 ? 3
               : c >= 0xF0 && c < 0xF5 ? 4
                                       : 0;
    for (size_t k = 1; k < n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
        n = 0;
    }
    if (n >= 3) {
      const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
          (c == 0xF4 && c1 >= 0x90))
        n = 0;
    }
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 3;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out + "\"";
}

// Quotes and backslashes in runs and at every offset of several 16-byte steps (escaped in
// place, each followed by a copy of the rest), mixed with bytes that need EncodeAt.
TEST(JsonWriterTest, GoStringEscapingOfQuoteDenseLines) {
  const std::string patterns[] = {"\"", "\\", "\"\"x", "a\"b\\c", "\"\xc3\xbc\"", "\"<\"\n"};
  for (const std::string& pattern : patterns) {
    for (size_t offset = 0; offset < 17; ++offset) {
      std::string line(offset, 'x');
      while (line.size() < 90)
        line += pattern;
      for (size_t len = 0; len <= line.size(); ++len) {
        const std::string cut = line.substr(0, len);
        ASSERT_EQ(Str(cut), ReferenceGoString(cut)) << pattern << " " << offset << " " << len;
      }
    }
  }
}

TEST(JsonWriterTest, GoStringEscapingOfRandomLines) {
  std::mt19937_64 rng(5);
  const std::string pieces[] = {"\"",
                                "\\",
                                "\n",
                                "\t",
                                "\r",
                                "\x01",
                                "\x1f",
                                "<",
                                ">",
                                "&",
                                "\xc3\xbc",
                                "\xe2\x80\xa8",
                                "\xe2\x80\xa9",
                                "\xf0\x9f\x9a\x80",
                                "\xff",
                                "\xc3",
                                "\xed\xa0\x80",
                                "\xe0\x80\x80",
                                "\x7f",
                                "{\"level\":\"info\",",
                                "plain text ",
                                "0123456789abcdef"};
  std::string appended = "prefix";
  std::string want_appended = "prefix";
  for (int k = 0; k < 20000; ++k) {
    std::string line;
    const int parts = static_cast<int>(rng() % 40);
    for (int p = 0; p < parts; ++p)
      line += pieces[rng() % std::size(pieces)];
    if (rng() % 4 == 0)
      line.resize(rng() % (line.size() + 1));  // cut inside a sequence
    ASSERT_EQ(Str(line), ReferenceGoString(line)) << k;
    AppendGoJsonString(&appended, line);
    want_appended += ReferenceGoString(line);
  }
  EXPECT_EQ(appended, want_appended);
}

TEST(JsonWriterTest, Shapes) {
  QueryResult streams;
  streams.type = ResultType::kStreams;
  streams.streams.push_back(Stream{Labels({{"app", "x"}}), {{1704067200000000001, "hello"}}});
  std::string s = RenderQueryResponse(streams);
  EXPECT_EQ(s.substr(0, s.find(",\"stats\"")),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":"
            "{\"app\":\"x\"},\"values\":[[\"1704067200000000001\",\"hello\"]]}]");

  QueryResult m;
  m.type = ResultType::kMatrix;
  m.matrix.push_back(Series{Labels({{"a", "b"}}), {{1000, 1}, {2500, std::nan("")}}});
  s = RenderQueryResponse(m);
  EXPECT_NE(
      s.find("\"result\":[{\"metric\":{\"a\":\"b\"},\"values\":[[1,\"1\"],[2.500,\"NaN\"]]}]"),
      std::string::npos)
      << s;

  QueryResult v;
  v.type = ResultType::kVector;
  v.vector.push_back(Sample{Labels(), {3000, 42}});
  s = RenderQueryResponse(v);
  EXPECT_NE(s.find("\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[3,\"42\"]}]"),
            std::string::npos)
      << s;

  QueryResult sc;
  sc.type = ResultType::kScalar;
  sc.scalar = {3000, 7};
  s = RenderQueryResponse(sc);
  EXPECT_NE(s.find("\"resultType\":\"scalar\",\"result\":[3,\"7\"]"), std::string::npos) << s;
  EXPECT_NE(s.find("\"stats\":{\"summary\":{"), std::string::npos) << s;
  EXPECT_EQ(s.substr(s.size() - 2), "}}");
}

TEST(JsonWriterTest, StreamsInChunks) {
  QueryResult r;
  r.type = ResultType::kStreams;
  Stream st{Labels({{"app", "x"}}), {}};
  for (int i = 0; i < 5000; ++i)
    st.entries.push_back({i, std::string(100, 'x')});
  r.streams.push_back(std::move(st));
  std::string joined;
  int calls = 0;
  WriteQueryResponse(
      r,
      [&](std::string_view piece) {
        ++calls;
        EXPECT_LE(piece.size(), 8192u + 200);
        joined.append(piece);
      },
      8192);
  EXPECT_GT(calls, 50);
  EXPECT_EQ(joined, RenderQueryResponse(r));
}

}  // namespace
}  // namespace norn::logql_engine
