// ISO-8601 / RFC 3339 timestamps as ASL uses them (Wait Timestamp, Choice
// Timestamp comparisons, context object times).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stepwise::states {

// Milliseconds... nanoseconds since the Unix epoch, UTC.
using EpochNanos = std::int64_t;

// Parses an RFC 3339 date-time with a mandatory 'T', an offset ('Z' or
// +hh:mm) and optional fractional seconds, as AWS accepts it. nullopt when invalid.
std::optional<EpochNanos> parse_timestamp(std::string_view text);

// Formats as AWS prints context times: "2025-01-01T00:00:00.000Z" (milliseconds).
std::string format_timestamp(EpochNanos t);

}  // namespace stepwise::states
