// Helpers both backends share, so that they behave alike. Not part of the
// storage API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/records.h"
#include "storage/status.h"

namespace stepwise::storage::internal {

// The page size a request asks for, after defaults and the cap.
int page_size(const PageRequest& page);

// AWS's idempotent StartExecution compares inputs: equal JSON values are the
// same input whatever their spacing; text that is not JSON compares as text.
bool same_input(std::string_view a, std::string_view b);

// Where a page of executions resumes: after (start_date, seq) in newest-first
// order. Encoded as "<start_date>.<seq>".
struct ExecutionCursor {
  UnixNanos start_date = 0;
  std::int64_t seq = 0;
};
std::string encode_cursor(const ExecutionCursor& c);
std::optional<ExecutionCursor> decode_cursor(std::string_view token);

// State machine pages resume after a name, encoded as "n" and the name's
// bytes in hexadecimal, so that a token Stepwise did not hand out is refused
// rather than read as a name.
std::string encode_name_cursor(std::string_view name);
std::optional<std::string> decode_name_cursor(std::string_view token);

// History pages resume after an event id.
std::string encode_event_cursor(std::int64_t last_id);
std::optional<std::int64_t> decode_event_cursor(std::string_view token);

// The checks of a Transition that need no stored data.
Status validate_transition_shape(const Transition& t);
// The checks of a Transition against the execution's stored fields.
Status check_transition_against(const Transition& t, ExecutionStatus status, std::int64_t version,
                                std::int64_t last_event_id, const std::string& lease_owner);

// A failure of transition `index` of a batch: same code, the message
// prefixed "transition <index> (<execution ARN>): ".
Status in_batch(const Status& failure, std::size_t index, const std::string& execution_arn);

Status not_found_execution(const std::string& arn);
Status not_found_state_machine(const std::string& arn);

}  // namespace stepwise::storage::internal
