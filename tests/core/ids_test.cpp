#include <gtest/gtest.h>

#include <set>

#include "tw/core/ids.hpp"

TEST(Ulid, FormatAndTimeRoundTrip) {
  tw::UlidGenerator g;
  auto id = g.next(1700000000123);
  EXPECT_EQ(id.size(), 26u);
  EXPECT_TRUE(tw::is_valid_ulid(id));
  EXPECT_EQ(tw::ulid_time_ms(id).value(), 1700000000123);
}

TEST(Ulid, MonotonicWithinOneMillisecondAndUnique) {
  tw::UlidGenerator g;
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 10000; ++i) {
    auto id = g.next(1700000000000 + i / 1000);
    EXPECT_GT(id, prev);
    prev = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(Ulid, RejectsInvalid) {
  EXPECT_FALSE(tw::is_valid_ulid(""));
  EXPECT_FALSE(tw::is_valid_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA"));    // 25 chars
  EXPECT_FALSE(tw::is_valid_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));   // U not in alphabet
  EXPECT_FALSE(tw::is_valid_ulid("81ARZ3NDEKTSV4RRFFQ69G5FAV"));   // overflows 128 bits
  EXPECT_TRUE(tw::is_valid_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}
