#include "common/logging.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace norn::log {
namespace {

std::vector<std::string>* captured = nullptr;
void Capture(std::string_view line) { captured->emplace_back(line); }

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    captured = &lines_;
    SetSinkForTesting(&Capture);
    SetLevel(Level::kInfo);
    SetFormat(Format::kLogfmt);
  }
  void TearDown() override {
    SetSinkForTesting(nullptr);
    SetLevel(Level::kInfo);
    SetFormat(Format::kLogfmt);
    captured = nullptr;
  }
  std::vector<std::string> lines_;
};

TEST_F(LoggingTest, LogfmtShapeLikeLoki) {
  NORN_LOG(Info).Msg("Starting Norn").Kv("version", "1.0").Kv("port", 3100).Kv("empty", "");
  ASSERT_EQ(lines_.size(), 1u);
  const std::string& l = lines_[0];
  EXPECT_EQ(l.rfind("level=info ts=", 0), 0u) << l;
  EXPECT_NE(l.find(" caller=logging_test.cc:"), std::string::npos) << l;
  EXPECT_NE(l.find(" msg=\"Starting Norn\" version=1.0 port=3100 empty=\"\"\n"), std::string::npos)
      << l;
}

TEST_F(LoggingTest, LevelFilteringSkipsArgumentEvaluation) {
  int evaluated = 0;
  auto side_effect = [&] {
    ++evaluated;
    return std::string("x");
  };
  NORN_LOG(Debug).Msg(side_effect());
  EXPECT_EQ(evaluated, 0);
  EXPECT_TRUE(lines_.empty());
  SetLevel(Level::kDebug);
  NORN_LOG(Debug).Msg(side_effect());
  EXPECT_EQ(evaluated, 1);
  EXPECT_EQ(lines_.size(), 1u);
}

TEST_F(LoggingTest, EscapesQuotesAndNewlines) {
  NORN_LOG(Warn).Kv("err", "bad \"thing\"\nhappened");
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("err=\"bad \\\"thing\\\"\\nhappened\""), std::string::npos) << lines_[0];
}

TEST_F(LoggingTest, JsonFormat) {
  SetFormat(Format::kJson);
  NORN_LOG(Error).Msg("boom").Kv("n", 3).Kv("ok", false);
  ASSERT_EQ(lines_.size(), 1u);
  const std::string& l = lines_[0];
  EXPECT_EQ(l.rfind("{\"level\":\"error\",\"ts\":\"", 0), 0u) << l;
  EXPECT_NE(l.find("\"msg\":\"boom\",\"n\":3,\"ok\":false}\n"), std::string::npos) << l;
}

TEST(LoggingParseTest, Levels) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("WARN"), Level::kWarn);
  EXPECT_FALSE(ParseLevel("verbose").ok());
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace norn::log
