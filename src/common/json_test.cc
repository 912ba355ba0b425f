#include "common/json.h"

#include <gtest/gtest.h>

namespace norn {
namespace {

TEST(JsonStringTest, EscapesControlsQuotesAndBackslashes) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
  EXPECT_EQ(JsonString(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonString("héllo 🚀"), "\"héllo 🚀\"");
  EXPECT_EQ(JsonString(""), "\"\"");
}

}  // namespace
}  // namespace norn
