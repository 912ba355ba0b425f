#include "common/spare_body.h"

#include <string>

#include <gtest/gtest.h>

namespace norn {
namespace {

// A given body's buffer comes back empty with its capacity; small and huge ones are not kept.
TEST(SpareBodyTest, KeepsBuffersOfResponseSize) {
  while (SpareBodies().size() > 0)
    TakeSpareBody();
  std::string body(300 << 10, 'x');
  const char* data = body.data();
  GiveSpareBody(std::move(body));
  EXPECT_EQ(SpareBodies().size(), 1u);
  std::string again = TakeSpareBody();
  EXPECT_TRUE(again.empty());
  EXPECT_GE(again.capacity(), size_t{300} << 10);
  EXPECT_EQ(again.data(), data);  // the same buffer: no new pages to fault in

  GiveSpareBody(std::string(1000, 'x'));
  GiveSpareBody(std::string(5 << 20, 'x'));
  EXPECT_EQ(SpareBodies().size(), 0u);
  EXPECT_EQ(TakeSpareBody().capacity(), std::string().capacity());
}

}  // namespace
}  // namespace norn
