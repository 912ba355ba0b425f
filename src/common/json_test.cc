#include "common/json.h"

#include <string>
#include <utility>

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

// Each special byte at every position of strings longer than one 16-byte step (the plain
// runs are skipped 16 bytes at a time), next to bytes that are plain: 0x20, 0x7f, 0x80, 0xff.
TEST(JsonStringTest, EscapesInLongStrings) {
  const std::pair<std::string, std::string> specials[] = {
      {"\"", "\\\""},      {"\\", "\\\\"}, {"\n", "\\n"},    {std::string(1, '\0'), "\\u0000"},
      {"\x1f", "\\u001f"}, {" ", " "},     {"\x7f", "\x7f"}, {"\x80", "\x80"},
      {"\xff", "\xff"}};
  for (const auto& [raw, escaped] : specials) {
    for (size_t pos = 0; pos < 40; ++pos) {
      const std::string plain(40, 'x');
      const std::string s = plain.substr(0, pos) + raw + plain.substr(pos);
      EXPECT_EQ(JsonString(s), "\"" + plain.substr(0, pos) + escaped + plain.substr(pos) + "\"")
          << escaped << " at " << pos;
    }
  }
}

}  // namespace
}  // namespace norn
