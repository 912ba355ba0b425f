#include "common/log_level.h"

#include "gtest/gtest.h"

namespace norn {
namespace {

TEST(DetectLogLevelTest, Fields) {
  EXPECT_EQ(DetectLogLevel("ts=1 level=error msg=x"), "error");
  EXPECT_EQ(DetectLogLevel("lvl=WARN msg=\"disk\""), "warn");
  EXPECT_EQ(DetectLogLevel("level=\"info\" msg=done"), "info");
  EXPECT_EQ(DetectLogLevel(R"({"msg":"x","level":"debug"})"), "debug");
  EXPECT_EQ(DetectLogLevel(R"({"severity" : "CRITICAL"})"), "critical");
  EXPECT_EQ(DetectLogLevel(R"({"Level":"Warning","x":1})"), "warn");
  // `loglevel=` is not `level=`; the keyword scan still finds nothing.
  EXPECT_EQ(DetectLogLevel("loglevel=5 msg=ok"), "unknown");
}

TEST(DetectLogLevelTest, Keywords) {
  EXPECT_EQ(DetectLogLevel("2024-01-01 ERROR something broke"), "error");
  EXPECT_EQ(DetectLogLevel("[WARN] low disk"), "warn");
  EXPECT_EQ(DetectLogLevel("INFO retrying after error"), "error");
  EXPECT_EQ(DetectLogLevel("GET /index.html 200"), "unknown");
  EXPECT_EQ(DetectLogLevel("information technology"), "unknown");
  EXPECT_EQ(DetectLogLevel(""), "unknown");
}

TEST(NormalizeLogLevelTest, Spellings) {
  EXPECT_EQ(NormalizeLogLevel("ERR"), "error");
  EXPECT_EQ(NormalizeLogLevel("Information"), "info");
  EXPECT_EQ(NormalizeLogLevel("panic"), "fatal");
  EXPECT_EQ(NormalizeLogLevel("verbose"), "unknown");
}

TEST(LevelFromOtlpSeverityTest, Ranges) {
  EXPECT_EQ(LevelFromOtlpSeverity(1), "trace");
  EXPECT_EQ(LevelFromOtlpSeverity(8), "debug");
  EXPECT_EQ(LevelFromOtlpSeverity(9), "info");
  EXPECT_EQ(LevelFromOtlpSeverity(16), "warn");
  EXPECT_EQ(LevelFromOtlpSeverity(17), "error");
  EXPECT_EQ(LevelFromOtlpSeverity(24), "fatal");
  EXPECT_EQ(LevelFromOtlpSeverity(0), "unknown");
  EXPECT_EQ(LevelFromOtlpSeverity(25), "unknown");
}

}  // namespace
}  // namespace norn
