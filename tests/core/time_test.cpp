#include <gtest/gtest.h>

#include <chrono>
#include <stop_token>
#include <thread>

#include "tw/core/time.hpp"

TEST(Time, FormatsAndParsesIso8601) {
  EXPECT_EQ(tw::format_iso8601_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(tw::format_iso8601_ms(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(tw::format_iso8601_us(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(tw::parse_iso8601_us("2023-11-14T22:13:20.123Z").value(), 1700000000123000);
  EXPECT_EQ(tw::parse_iso8601_us("2023-11-14 22:13:20.5").value(), 1700000000500000);
  EXPECT_EQ(tw::parse_iso8601_us("2023-11-14T23:13:20+01:00").value(), 1700000000000000);
  EXPECT_EQ(tw::parse_iso8601_us("1996-06-06T06:00:00.000001Z").value() % 1000000, 1);
  EXPECT_FALSE(tw::parse_iso8601_us("2023-13-14T22:13:20Z"));
  EXPECT_FALSE(tw::parse_iso8601_us("yesterday"));
  EXPECT_FALSE(tw::parse_iso8601_us("2023-11-14T22:13:20Zjunk"));
}

TEST(Time, SleepEndsAtItsDeadlineWhenNotStopped) {
  std::stop_source src;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(tw::sleep_for(src.get_token(), std::chrono::milliseconds(20)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(20));
  EXPECT_TRUE(tw::sleep_until(src.get_token(), t0));  // a deadline in the past returns at once
}

TEST(Time, SleepReturnsFalseWhenStopped) {
  std::stop_source src;
  src.request_stop();
  EXPECT_FALSE(tw::sleep_for(src.get_token(), std::chrono::hours(1)));

  // A stop requested by another thread ends an hour-long sleep.
  std::stop_source later;
  std::jthread stopper([&later] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    later.request_stop();
  });
  EXPECT_FALSE(tw::sleep_for(later.get_token(), std::chrono::hours(1)));
  EXPECT_TRUE(later.stop_requested());
}
