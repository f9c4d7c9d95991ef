// How the store commands print: JSON as the AWS CLI prints it, a readable
// table (--output table), and errors in the AWS CLI's words.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/clock.h"
#include "engine/service.h"
#include "states/json.h"

namespace stepwise::cli {

// A wire date (epoch seconds, e.g. 1735689600.123) as the AWS CLI renders it:
// ISO 8601 in UTC with microseconds, "2025-01-01T00:00:00.123000+00:00"; the
// fraction is left out when it is zero ("2025-01-01T00:00:00+00:00"), as
// Python's isoformat does.
std::string aws_cli_date(double epoch_seconds);
std::string aws_cli_date_nanos(Nanos t);

// The response with every date member (creationDate, updateDate, startDate,
// stopDate, redriveDate, timestamp) rendered by aws_cli_date.
json::value with_cli_dates(const json::value& response);

// JSON as the AWS CLI prints it: four-space indentation, ": " after keys,
// non-ASCII characters as they are, members in response order.
std::string aws_cli_json(const json::value& v);

// A readable table of a response: the operation's name as the title, scalar
// members as name/value rows, arrays of objects (state machines, executions,
// events) as columns. Dates must already be rendered (with_cli_dates).
std::string render_table(std::string_view operation, const json::object& response);

// Boxed, aligned columns with a title, in the AWS CLI's table style.
struct Table {
  std::string title;
  std::vector<std::string> headers;  // empty: no header row
  std::vector<std::vector<std::string>> rows;
  std::string render() const;
};

// "\nAn error occurred (CODE) when calling the OPERATION operation: MESSAGE" on stderr.
void print_service_error(std::string_view operation, const ServiceError& error);

}  // namespace stepwise::cli
