// What the store keeps: plain records and the requests that change them.
// The store knows nothing of ASL: definitions, inputs, outputs, event details
// and an execution's resumable state are opaque text (JSON by convention) that
// it keeps byte for byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stepwise::storage {

// Nanoseconds since the Unix epoch, UTC (the engine's Nanos).
using UnixNanos = std::int64_t;

enum class MachineType { kStandard, kExpress };
enum class ExecutionStatus { kRunning, kSucceeded, kFailed, kTimedOut, kAborted };
enum class TokenStatus { kOpen, kClosed };

// AWS spellings: "STANDARD", "RUNNING", "TIMED_OUT", ...; "OPEN"/"CLOSED" for tokens.
std::string_view to_string(MachineType type);
std::string_view to_string(ExecutionStatus status);
std::string_view to_string(TokenStatus status);
std::optional<MachineType> parse_machine_type(std::string_view text);
std::optional<ExecutionStatus> parse_execution_status(std::string_view text);
std::optional<TokenStatus> parse_token_status(std::string_view text);

// True for every status but RUNNING.
inline bool is_terminal(ExecutionStatus s) {
  return s != ExecutionStatus::kRunning;
}
// FAILED, TIMED_OUT and ABORTED executions may be redriven; SUCCEEDED ones may not.
inline bool is_redrivable(ExecutionStatus s) {
  return s == ExecutionStatus::kFailed || s == ExecutionStatus::kTimedOut ||
         s == ExecutionStatus::kAborted;
}

// ---- Pagination -------------------------------------------------------------

// max_results <= 0 means the default page of 100; larger than 1000 is read as
// 1000. next_token is empty for the first page, else the token a previous page
// returned for the same query.
struct PageRequest {
  int max_results = 0;
  std::string next_token;
};

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// One page of results; next_token is empty on the last page.
template <class T>
struct Page {
  std::vector<T> items;
  std::string next_token;
};

// ---- State machines ---------------------------------------------------------

struct NewStateMachine {
  std::string arn;
  std::string name;
  MachineType type = MachineType::kStandard;
  std::string role_arn;
  std::string definition;
  UnixNanos creation_date = 0;
};

// Absent fields stay as they are. A definition, even an identical one, adds a
// version.
struct StateMachineUpdate {
  std::optional<std::string> definition;
  std::optional<std::string> role_arn;
  UnixNanos update_date = 0;
};

struct StateMachineRecord {
  std::string arn;
  std::string name;
  MachineType type = MachineType::kStandard;
  std::string role_arn;
  UnixNanos creation_date = 0;
  // The current version: its number, definition and date.
  std::int64_t version = 0;
  std::string definition;
  UnixNanos version_date = 0;
};

struct StateMachineVersion {
  std::int64_t version = 0;  // 1 for the definition given at creation, then 2, 3, ...
  std::string definition;
  UnixNanos creation_date = 0;
};

// ---- Executions -------------------------------------------------------------

// One history event, as GetExecutionHistory shapes it. details is the JSON
// text of the event's "...EventDetails" member(s), e.g.
// {"stateEnteredEventDetails":{"name":"A","input":"{}"}}, or "{}".
struct EventRecord {
  std::int64_t id = 0;
  std::int64_t previous_id = 0;
  UnixNanos timestamp = 0;
  std::string type;
  std::string details = "{}";
};

// History events already encoded, as a writer that produces many of them
// (the worker) hands them to the store: no EventRecord per event, and the
// details kept as the JSON object they are, not escaped into a string. The
// text is the events' elements, `[id,previous_id,timestamp,"type",DETAILS]`,
// separated by commas: what a SQLite history chunk holds between its
// brackets (storage/history_chunk.h), so the store copies it as is.
// DETAILS must be the JSON text of an object (e.g. {} or
// {"stateEnteredEventDetails":{"name":"A","input":"{}"}}) holding no NUL
// byte; the store keeps it and gives it back byte for byte.
class EncodedEvents {
 public:
  // Starts an event and returns the text its details are to be appended to
  // (a JSON object, nothing else); end() closes the event.
  std::string& begin(std::int64_t id, std::int64_t previous_id, UnixNanos timestamp, std::string_view type);
  void end();

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  std::int64_t id(std::size_t i) const { return entries_[i].id; }
  // The i-th event's element: [id,previous_id,timestamp,"type",DETAILS].
  std::string_view element(std::size_t i) const {
    const std::size_t begin = i == 0 ? 0 : entries_[i - 1].end + 1;  // after the comma
    return std::string_view(text_).substr(begin, entries_[i].end - begin);
  }
  // Every element, comma-separated.
  const std::string& text() const { return text_; }
  // Makes room for `bytes` of text and `events` events: writing up to that
  // much then allocates (and copies) nothing more.
  void reserve(std::size_t bytes, std::size_t events) {
    text_.reserve(bytes);
    entries_.reserve(events);
  }
  // Empties it, keeping the memory for the next events.
  void clear() {
    text_.clear();
    entries_.clear();
  }

 private:
  struct Entry {
    std::int64_t id;
    std::size_t end;  // where its element ends in text_
  };
  std::string text_;
  std::vector<Entry> entries_;
  // The last timestamp begin() wrote, in decimal (see begin()).
  UnixNanos last_timestamp_ = 0;
  char timestamp_text_[20] = {};
  std::uint8_t timestamp_digits_ = 0;
};

// A durable timer: due at `due`, identified within its execution by `key`
// (opaque to the store; the engine names what the timer wakes).
struct TimerRecord {
  std::string execution_arn;
  std::string key;
  UnixNanos due = 0;
};

// What SendTaskSuccess or SendTaskFailure reported for a task token.
struct TaskTokenResult {
  bool success = true;
  std::string output;                // JSON text, when success
  std::optional<std::string> error;  // when !success
  std::optional<std::string> cause;
  UnixNanos date = 0;                // when it was recorded
};

// An activity (CreateActivity): a named queue of tasks that workers poll.
struct ActivityRecord {
  std::string arn;
  std::string name;
  UnixNanos creation_date = 0;
};

// A task token handed out for a callback task; frame_key (opaque) tells the
// engine which frame waits for it.
struct TaskTokenRecord {
  std::string token;
  std::string execution_arn;
  std::string frame_key;
  TokenStatus status = TokenStatus::kOpen;
  // Given with Transition::tokens_to_add:
  std::string activity_arn;          // the activity the task runs on; empty: a callback (.waitForTaskToken)
  std::string input = "{}";          // the task's input (JSON text), what GetActivityTask hands out
  UnixNanos created = 0;             // when the task was scheduled (activities are handed out oldest first)
  UnixNanos timeout_at = 0;          // the task's TimeoutSeconds deadline; 0: none
  std::int64_t heartbeat_seconds = 0;  // the task's HeartbeatSeconds; 0: none
  UnixNanos heartbeat_due = 0;       // the heartbeat deadline, moved by each heartbeat; 0: none
  // Changed by callers (close_task_token, heartbeat_task_token, take_activity_task):
  UnixNanos last_heartbeat = 0;            // the last SendTaskHeartbeat; 0: none
  std::optional<std::string> worker_name;  // an activity worker took the task (GetActivityTask)
  std::optional<TaskTokenResult> result;   // what SendTaskSuccess/SendTaskFailure recorded
  // The execution's worker closed the token (Transition::tokens_to_close) or
  // the execution ended: a result, if any, has been taken in.
  bool acknowledged = false;
};

struct NewExecution {
  std::string arn;
  std::string name;
  std::string state_machine_arn;
  std::int64_t state_machine_version = 0;
  std::string input = "{}";
  UnixNanos start_date = 0;
  std::string state;                // the initial resumable state
  std::vector<EventRecord> events;  // e.g. ExecutionStarted, recorded with the execution
  std::vector<TimerRecord> timers;  // e.g. the execution's TimeoutSeconds (execution_arn ignored)
  // A child execution of a map run (a Distributed Map's item or batch): the
  // map run it belongs to and its item index. Then state_machine_arn names
  // the map run's processor (not a stored state machine: the definition is
  // the map run's), and creating it counts it as launched and running in the
  // map run, in the same transaction. Empty: an ordinary execution.
  std::string map_run_arn;
  std::int64_t item_index = -1;
  std::int64_t item_count = 1;  // a map run's child: the items it processes (its batch's, with an ItemBatcher)
};

// What ListExecutions shows.
struct ExecutionSummary {
  std::string arn;
  std::string name;
  std::string state_machine_arn;
  std::int64_t state_machine_version = 0;
  ExecutionStatus status = ExecutionStatus::kRunning;
  UnixNanos start_date = 0;
  std::optional<UnixNanos> stop_date;
  std::int64_t redrive_count = 0;
  // Listed by map run: the items the child processes (ListExecutions' itemCount).
  std::optional<std::int64_t> item_count;
};

// Everything the store keeps about one execution (but its history, timers and
// tokens).
struct ExecutionRecord {
  std::string arn;
  std::string name;
  std::string state_machine_arn;
  std::int64_t state_machine_version = 0;
  ExecutionStatus status = ExecutionStatus::kRunning;
  std::string input;
  std::optional<std::string> output;
  std::optional<std::string> error;
  std::optional<std::string> cause;
  UnixNanos start_date = 0;
  std::optional<UnixNanos> stop_date;
  std::int64_t redrive_count = 0;
  std::optional<UnixNanos> redrive_date;
  std::string state;  // the resumable state, opaque
  // Increases by one with every committed transition: the optimistic
  // concurrency check of commit_transition. 1 after creation.
  std::int64_t version = 0;
  std::int64_t last_event_id = 0;  // 0 when no event has been recorded
  std::string lease_owner;         // empty: no worker holds the execution
  UnixNanos lease_expiry = 0;      // meaningful only with an owner
  std::string map_run_arn;         // a map run's child: its map run (empty: none)
  std::int64_t item_index = -1;    // a map run's child: its item (or batch) index
  std::int64_t item_count = 1;     // a map run's child: the items it processes

  ExecutionSummary summary() const {
    ExecutionSummary s{arn, name, state_machine_arn, state_machine_version, status, start_date, stop_date,
                       redrive_count, std::nullopt};
    if (!map_run_arn.empty()) s.item_count = item_count;
    return s;
  }
};

// create_execution's answer: the execution, and whether this call created it
// (false when an identical start of a RUNNING execution was repeated).
struct CreatedExecution {
  ExecutionRecord execution;
  bool created = true;
};

// Empty/absent fields do not filter.
struct ExecutionFilter {
  std::string state_machine_arn;
  std::string map_run_arn;  // the children of this map run; empty: executions that are no map run's child
  std::optional<ExecutionStatus> status;
};

// ---- Map runs (a Distributed Map's run) -------------------------------------

enum class MapRunStatus { kRunning, kSucceeded, kFailed, kAborted };
std::string_view to_string(MapRunStatus status);
std::optional<MapRunStatus> parse_map_run_status(std::string_view text);

// A Distributed Map state's run: its children are executions (NewExecution::
// map_run_arn) that the store counts by status as they are created and end.
struct MapRunRecord {
  std::string arn;
  std::string execution_arn;             // the parent execution
  std::string state_name;                // the Map state
  std::string state_machine_arn;         // the children's: <parent's machine ARN>/<label or state name>
  std::int64_t state_machine_version = 0;  // the parent's version
  std::string definition;                // the ItemProcessor as a state machine definition (JSON text)
  MapRunStatus status = MapRunStatus::kRunning;
  std::int64_t max_concurrency = 0;      // 0: unlimited
  std::optional<double> tolerated_failure_percentage;
  std::optional<std::int64_t> tolerated_failure_count;
  UnixNanos start_date = 0;
  std::optional<UnixNanos> stop_date;
  std::int64_t total = 0;     // children the run has (items or batches)
  std::int64_t launched = 0;  // children created so far; the next one has item_index == launched
  // Children by status, kept by the store (create_execution, commit_transition).
  std::int64_t running = 0, succeeded = 0, failed = 0, timed_out = 0, aborted = 0;
  std::int64_t redrive_count = 0;
  std::optional<UnixNanos> redrive_date;
  // With an ItemBatcher a child processes a batch: the number of items
  // (nullopt: one item per child, so the item counts are the children's).
  std::optional<std::int64_t> item_total;
  // With item_total, describe_map_run also counts the items of the children
  // by status (DescribeMapRun's itemCounts).
  struct ItemCounts {
    std::int64_t launched = 0, running = 0, succeeded = 0, failed = 0, timed_out = 0, aborted = 0;
  };
  std::optional<ItemCounts> items;
};

// What update_map_run changes; absent fields stay.
struct MapRunUpdate {
  std::optional<MapRunStatus> status;
  std::optional<UnixNanos> stop_date;  // set with a terminal status
  bool clear_stop_date = false;        // a redrive: RUNNING again
  std::optional<std::int64_t> total;
  std::optional<UnixNanos> redrive_date;  // a redrive: redrive_count + 1
  // UpdateMapRun: the run's MaxConcurrency (0: unlimited) and tolerances,
  // which its driver reads every round.
  std::optional<std::int64_t> max_concurrency;
  std::optional<double> tolerated_failure_percentage;
  std::optional<std::int64_t> tolerated_failure_count;
};

struct HistoryRequest {
  PageRequest page;
  bool reverse_order = false;  // newest event first
};

// How an execution ended.
// REQUIRES: status is terminal.
struct ExecutionOutcome {
  ExecutionStatus status = ExecutionStatus::kSucceeded;
  std::optional<std::string> output;
  std::optional<std::string> error;
  std::optional<std::string> cause;
  UnixNanos stop_date = 0;
};

// One step of an execution, committed as one transaction by
// Store::commit_transition: either all of it is stored or none of it.
// One function invocation's accounting (runtime/: Lambda's REPORT line).
struct InvocationRecord {
  std::string function_name;
  std::string request_id;
  UnixNanos start_time = 0;
  double duration_ms = 0;
  std::int64_t billed_duration_ms = 0;
  int memory_size_mb = 0;
  int max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;  // set on a cold start
  bool cold = false;
  bool throttled = false;
  std::string error;          // the Error when it failed; empty when it succeeded
  std::string execution_arn;  // the execution whose task called it; empty when invoked directly
  std::string state_name;
};

struct Transition {
  std::string execution_arn;
  // The version the writer last read; a different stored version means
  // another writer got there first (Conflict).
  std::int64_t expected_version = 0;
  // When not empty, the commit also requires that this owner holds the
  // execution's lease (expired or not: a lease nobody took over is still held).
  std::string lease_owner;
  // The new resumable state; absent keeps the stored one.
  std::optional<std::string> state;
  // Ends the execution: its timers are deleted, its open tokens closed and
  // its lease released.
  std::optional<ExecutionOutcome> outcome;
  // Redrives a FAILED, TIMED_OUT or ABORTED execution: RUNNING again,
  // redrive_count + 1, redrive_date set, output/error/cause/stop_date cleared.
  // REQUIRES: no outcome in the same transition.
  std::optional<UnixNanos> redrive_date;
  // Parks the execution: its lease is released in the same commit, and it is
  // claimable again only from this time on (claim_executions and
  // list_claimable_executions skip it until then). A worker unloads an
  // execution that only waits for a distant timer this way: it then costs no
  // lease renewals and no memory. REQUIRES: no outcome in the same transition.
  std::optional<UnixNanos> park_until;
  // Appended to the history: `events`, then `encoded_events`. REQUIRES: ids
  // strictly increasing across both, each greater than the execution's
  // last_event_id.
  std::vector<EventRecord> events;
  EncodedEvents encoded_events;
  // Timers are cleared first, then set (setting an existing key moves it).
  // Clearing a key that is not set does nothing. execution_arn is ignored
  // in timers_to_set.
  std::vector<std::string> timers_to_clear;
  std::vector<TimerRecord> timers_to_set;
  // New tokens (execution_arn ignored; status stored as OPEN) and tokens to
  // close. Closing a closed token only marks it acknowledged. A park
  // (park_until) of an execution with a token closed with a result and not
  // acknowledged is shortened: the execution is claimable at once.
  std::vector<TaskTokenRecord> tokens_to_add;
  std::vector<std::string> tokens_to_close;
};

}  // namespace stepwise::storage
