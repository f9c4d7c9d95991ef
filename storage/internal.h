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

// State machine and activity pages resume after a name, encoded as "n" and the name's
// bytes in hexadecimal, so that a token Stepwise did not hand out is refused
// rather than read as a name.
std::string encode_name_cursor(std::string_view name);
std::optional<std::string> decode_name_cursor(std::string_view token);

// History pages resume after an event id.
std::string encode_event_cursor(std::int64_t last_id);
std::optional<std::int64_t> decode_event_cursor(std::string_view token);

// The checks of a Transition that need no stored data.
Status validate_transition_shape(const Transition& t);
// The ids of a transition's first and last events (events, then
// encoded_events); none when it appends none.
std::optional<std::int64_t> first_event_id(const Transition& t);
std::optional<std::int64_t> last_event_id(const Transition& t);
// How many events a transition appends.
std::size_t event_count(const Transition& t);
// The checks of a Transition against the execution's stored fields.
Status check_transition_against(const Transition& t, ExecutionStatus status, std::int64_t version,
                                std::int64_t last_event_id, const std::string& lease_owner);

// A failure of transition `index` of a batch: same code, the message
// prefixed "transition <index> (<execution ARN>): ".
Status in_batch(const Status& failure, std::size_t index, const std::string& execution_arn);

Status not_found_execution(const std::string& arn);
Status not_found_state_machine(const std::string& arn);
Status not_found_token(const std::string& token);
Status not_found_activity(const std::string& arn);

// Whether a SendTask* call may still act on the token: OPEN, its execution
// RUNNING, no deadline passed at `now`. Conflict (with the reason) otherwise.
Status check_token_open(const TaskTokenRecord& token, ExecutionStatus execution_status, UnixNanos now);
// A heartbeat at `now`: moves last_heartbeat and heartbeat_due.
void apply_heartbeat(TaskTokenRecord& token, UnixNanos now);

// The task_tokens.result column: {"date", "output"} or {"date", "error", "cause"}.
std::string encode_token_result(const TaskTokenResult& r);
std::optional<TaskTokenResult> decode_token_result(std::string_view text);

}  // namespace stepwise::storage::internal
