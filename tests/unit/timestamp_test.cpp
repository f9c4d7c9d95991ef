#include "states/timestamp.h"

#include <doctest/doctest.h>

#include <limits>

using namespace stepwise::states;

namespace {
constexpr EpochNanos kSecond = 1'000'000'000;
constexpr EpochNanos k2025 = 1'735'689'600 * kSecond;  // 2025-01-01T00:00:00Z
}  // namespace

TEST_CASE("parse_timestamp accepts what AWS accepts") {
  // Values from the Wait conformance cases that AWS ran successfully.
  CHECK(parse_timestamp("2025-01-01T00:00:00Z") == k2025);
  CHECK(parse_timestamp("2025-01-01T00:00:00.00Z") == k2025);
  CHECK(parse_timestamp("2025-01-01T00:00:00.000000Z") == k2025);
  CHECK(parse_timestamp("2025-01-01T00:00:00.000Z") == k2025);
  CHECK(parse_timestamp("2016-03-14T01:59:00Z") == 1'457'920'740 * kSecond);
  CHECK(parse_timestamp("2016-03-05T21:29:29.243167252Z") == 1'457'213'369 * kSecond + 243'167'252);
  CHECK(parse_timestamp("2012-10-09T19:00:55Z") == 1'349'809'255 * kSecond);
}

TEST_CASE("parse_timestamp applies offsets and fractions") {
  CHECK(parse_timestamp("2012-10-09T19:00:55+01:00") == 1'349'805'655 * kSecond);
  CHECK(parse_timestamp("2012-10-09T19:00:55-02:30") == 1'349'818'255 * kSecond);
  CHECK(parse_timestamp("2025-01-01T00:00:00.5Z") == k2025 + kSecond / 2);
  CHECK(parse_timestamp("2025-01-01T00:00:00.000000001Z") == k2025 + 1);
  CHECK(parse_timestamp("2025-01-01t00:00:00z") == k2025);
  CHECK(parse_timestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_timestamp("1969-12-31T23:59:59.999Z") == -1'000'000);
  CHECK(parse_timestamp("2024-02-29T00:00:00Z").has_value());  // leap year
  CHECK(parse_timestamp("2000-02-29T00:00:00Z").has_value());  // 400-year leap
}

TEST_CASE("parse_timestamp rejects what AWS rejects") {
  // Values from the Wait conformance cases that AWS refused.
  CHECK_FALSE(parse_timestamp("2016-13-05T21:29:29Z"));  // month 13
  CHECK_FALSE(parse_timestamp("05-12-2016T21:29:29Z"));  // not ISO order
  CHECK_FALSE(parse_timestamp("2016-12-05T25:29:29Z"));  // hour 25
  CHECK_FALSE(parse_timestamp("2016-12-05 21:29:29Z"));  // no T
  CHECK_FALSE(parse_timestamp("2016-12-05T21:29:29"));   // no offset
  CHECK_FALSE(parse_timestamp("2025-01-01T00:00:00.000000"));
  CHECK_FALSE(parse_timestamp("{% '2016-03-14T01:59:00Z' %}"));
  // Choice conformance values that are not timestamps.
  CHECK_FALSE(parse_timestamp("2023-02-24"));
  CHECK_FALSE(parse_timestamp("2023-02-24 12:15:56.832957"));
  CHECK_FALSE(parse_timestamp(""));
  CHECK_FALSE(parse_timestamp(" "));
  // Range and shape checks.
  CHECK_FALSE(parse_timestamp("2023-02-29T00:00:00Z"));  // not a leap year
  CHECK_FALSE(parse_timestamp("1900-02-29T00:00:00Z"));
  CHECK_FALSE(parse_timestamp("2023-04-31T00:00:00Z"));
  CHECK_FALSE(parse_timestamp("2023-00-10T00:00:00Z"));
  CHECK_FALSE(parse_timestamp("2023-01-00T00:00:00Z"));
  CHECK_FALSE(parse_timestamp("2023-01-01T24:00:00Z"));
  CHECK_FALSE(parse_timestamp("2023-01-01T23:60:00Z"));
  CHECK_FALSE(parse_timestamp("2023-01-01T23:59:60Z"));
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00Z"));                // seconds required
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00:00.Z"));            // empty fraction
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00:00.1234567890Z"));  // > 9 digits
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00:00+0100"));
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00:00+01"));
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00:00+19:00"));
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00:00+01:60"));
  CHECK_FALSE(parse_timestamp("2023-01-01T00:00:00Zx"));
  CHECK_FALSE(parse_timestamp(" 2023-01-01T00:00:00Z"));
  CHECK_FALSE(parse_timestamp("+2023-01-01T00:00:00Z"));
  CHECK_FALSE(parse_timestamp("2023-1-01T00:00:00Z"));
}

TEST_CASE("parse_instant keeps the full year range") {
  auto late = parse_instant("9999-12-31T23:59:59.999999999Z");
  auto early = parse_instant("0000-01-01T00:00:00Z");
  REQUIRE(late);
  REQUIRE(early);
  CHECK(late->seconds == 253'402'300'799);
  CHECK(late->nanos == 999'999'999);
  CHECK(early->seconds == -62'167'219'200);
  CHECK(*early < *late);
  // EpochNanos saturates outside its range.
  CHECK(parse_timestamp("9999-12-31T23:59:59Z") == std::numeric_limits<EpochNanos>::max());
  CHECK(parse_timestamp("1000-01-01T00:00:00Z") == std::numeric_limits<EpochNanos>::min());
}

TEST_CASE("format_timestamp prints milliseconds in UTC") {
  CHECK(format_timestamp(k2025) == "2025-01-01T00:00:00.000Z");
  CHECK(format_timestamp(k2025 + 123'456'789) == "2025-01-01T00:00:00.123Z");
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_timestamp(*parse_timestamp("2012-10-09T19:00:55+01:00")) ==
        "2012-10-09T18:00:55.000Z");
  CHECK(format_timestamp(*parse_timestamp("2024-02-29T23:59:59.5Z")) == "2024-02-29T23:59:59.500Z");
}

TEST_CASE("format_timestamp round-trips through parse_timestamp") {
  for (EpochNanos t : {EpochNanos{0}, k2025, k2025 + 999'000'000, EpochNanos{-86'400'000'000'000},
                       EpochNanos{951'782'400'000'000'000}}) {
    CHECK(parse_timestamp(format_timestamp(t)) == t);
  }
}
