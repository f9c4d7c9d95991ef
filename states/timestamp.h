// ISO-8601 / RFC 3339 timestamps as ASL uses them (Wait Timestamp, Choice
// Timestamp comparisons, context object times).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stepwise::states {

// Nanoseconds since the Unix epoch, UTC.
using EpochNanos = std::int64_t;

// An instant with the full range AWS accepts (years 0000-9999), which
// EpochNanos cannot hold: whole seconds since the epoch plus 0..999999999 ns.
// Ordered by instant.
struct Instant {
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;
  friend auto operator<=>(const Instant&, const Instant&) = default;
};

// Parses an RFC 3339 date-time as AWS accepts it:
//   YYYY-MM-DD 'T' hh:mm:ss [ '.' 1-9 digits ] ( 'Z' | ('+'|'-') hh:mm )
// 'T' and 'Z' may be lower case. Fields are range-checked (month 1-12, day
// within the month incl. leap years, hour 0-23, minute and second 0-59,
// offset at most 18:00). nullopt when invalid.
std::optional<Instant> parse_instant(std::string_view text);

// As parse_instant, in nanoseconds. Instants outside the int64 nanosecond
// range (before 1677 or after 2262) saturate to INT64_MIN / INT64_MAX, so a
// far-future Wait still reads as "too long" rather than invalid.
std::optional<EpochNanos> parse_timestamp(std::string_view text);

// Formats as AWS prints context times: "2025-01-01T00:00:00.000Z" (milliseconds,
// truncated toward the past).
std::string format_timestamp(EpochNanos t);

}  // namespace stepwise::states
