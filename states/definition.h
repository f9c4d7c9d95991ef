// The parsed, validated, immutable model of a state machine. One Definition is
// shared by every execution of it; nothing here changes while executions run.
// Everything an execution changes lives in engine/execution_state.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "states/choice.h"
#include "states/failure.h"
#include "states/intrinsics.h"
#include "states/json.h"
#include "states/jsonpath.h"
#include "states/payload.h"
#include "states/query.h"

namespace stepwise::states {

using StateIndex = std::uint32_t;
using MachineId = std::uint32_t;
inline constexpr StateIndex kNoState = UINT32_MAX;

// Compensate is a Stepwise extension (docs/sagas.md): it runs the roll-back
// of the completed steps that declare a Compensate block.
enum class StateType : std::uint8_t { Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map, Compensate };
const char* state_type_name(StateType t);  // "Task", "Pass", ..., "Compensate"

// ResultPath: absent means "$" (replace input), JSON null means discard the
// result (keep input), otherwise a reference path.
struct ResultPathSpec {
  enum class Kind : std::uint8_t { Replace, Discard, Path } kind = Kind::Replace;
  std::optional<JsonPath> path;  // set when kind == Path
};

// InputPath/OutputPath: absent means "$", null means {} (empty object).
struct PathSpec {
  enum class Kind : std::uint8_t { Whole, Empty, Path } kind = Kind::Whole;
  std::optional<JsonPath> path;
};

// A number given either literally or through a ...Path field.
// A number given literally, through a ...Path field, or (JSONata) as an expression.
struct NumberSource {
  std::optional<double> literal;
  std::optional<JsonPath> path;
  std::optional<QueryExpression> expression;
  bool present() const { return literal || path || expression; }
};

// Assign: variable names and their values. In a JSONPath state a template
// like Parameters ("name.$": path or intrinsic); in a JSONata state a
// JSONata template. Evaluated to an object of name -> value.
struct AssignSpec {
  std::optional<PayloadTemplate> path;
  std::optional<QueryTemplate> query;
};

enum class Jitter : std::uint8_t { None, Full };

struct Retrier {
  std::vector<std::string> errors;  // ErrorEquals
  double interval_seconds = 1;
  int max_attempts = 3;
  double backoff_rate = 2.0;
  std::optional<double> max_delay_seconds;
  Jitter jitter = Jitter::None;
};

struct Catcher {
  std::vector<std::string> errors;  // ErrorEquals
  ResultPathSpec result_path;
  std::optional<AssignSpec> assign;
  std::optional<QueryTemplate> output;  // JSONata: default $states.errorOutput
  StateIndex next = kNoState;
  std::string next_name;
};

struct TaskSpec {
  std::string resource;
  NumberSource timeout_seconds;    // TimeoutSeconds / TimeoutSecondsPath
  NumberSource heartbeat_seconds;  // HeartbeatSeconds / HeartbeatSecondsPath
  std::optional<json::value> credentials;
};

struct PassSpec {
  std::optional<json::value> result;  // Result
};

struct ChoiceBranch {
  std::optional<ChoiceRule> rule;                  // JSONPath
  std::optional<QueryExpression> condition;        // JSONata Condition
  std::optional<AssignSpec> assign;
  std::optional<QueryTemplate> output;
  StateIndex next = kNoState;
  std::string next_name;
};

struct ChoiceSpec {
  std::vector<ChoiceBranch> choices;
  StateIndex default_next = kNoState;  // kNoState: States.NoChoiceMatched
  std::string default_name;
};

struct WaitSpec {
  std::optional<double> seconds;
  std::optional<std::string> timestamp;  // validated RFC 3339 text
  std::optional<JsonPath> seconds_path;
  std::optional<JsonPath> timestamp_path;
  std::optional<QueryExpression> seconds_expression;    // JSONata
  std::optional<QueryExpression> timestamp_expression;  // JSONata
};

struct SucceedSpec {};

struct FailSpec {
  std::optional<std::string> error;
  std::optional<std::string> cause;
  std::optional<JsonPath> error_path;
  std::optional<Intrinsic> error_intrinsic;  // ErrorPath may be an intrinsic
  std::optional<JsonPath> cause_path;
  std::optional<Intrinsic> cause_intrinsic;
  std::optional<QueryExpression> error_expression;  // JSONata
  std::optional<QueryExpression> cause_expression;  // JSONata
};

struct ParallelSpec {
  std::vector<MachineId> branches;
};

// ItemReader of a DISTRIBUTED Map (docs/distributed-map.md "Reading items").
// Where AWS reads S3, Stepwise reads <data dir>/<Bucket>/<Key>.
struct ItemReaderSpec {
  // Resource: arn:aws:states:::s3:getObject (one object's content) or
  // arn:aws:states:::s3:listObjectsV2 (the objects under a Prefix).
  enum class Source : std::uint8_t { GetObject, ListObjects } source = Source::GetObject;
  std::string resource;
  // ReaderConfig.InputType; None for a listing (listObjectsV2 has none).
  enum class InputType : std::uint8_t { None, Json, Jsonl, Csv } input_type = InputType::None;
  // ReaderConfig.CSVHeaderLocation (CSV only): FIRST_ROW (default) or GIVEN,
  // where csv_headers holds ReaderConfig.CSVHeaders.
  enum class CsvHeaderLocation : std::uint8_t { FirstRow, Given } csv_header_location = CsvHeaderLocation::FirstRow;
  std::vector<std::string> csv_headers;
  // ReaderConfig.CSVDelimiter: COMMA (default) ',', PIPE '|', SEMICOLON ';', SPACE ' ', TAB '\t'.
  char csv_delimiter = ',';
  // ReaderConfig.MaxItems / MaxItemsPath (JSONata: an expression); absent: every item.
  NumberSource max_items;
  // ReaderConfig.ItemsPointer (JSON files): RFC 6901 pointer to the array; empty: the whole document.
  std::string items_pointer;
  // Parameters (JSONPath) / Arguments (JSONata): evaluate to {"Bucket","Key"} or {"Bucket","Prefix"}.
  std::optional<PayloadTemplate> parameters;
  std::optional<QueryTemplate> arguments;
};

// ItemBatcher of a DISTRIBUTED Map: each child gets {"BatchInput": ..., "Items": [...]}.
struct ItemBatcherSpec {
  NumberSource max_items_per_batch;        // MaxItemsPerBatch / MaxItemsPerBatchPath
  NumberSource max_input_bytes_per_batch;  // MaxInputBytesPerBatch / MaxInputBytesPerBatchPath
  std::optional<PayloadTemplate> batch_input;        // BatchInput (JSONPath: a payload template)
  std::optional<QueryTemplate> batch_input_query;    // BatchInput (JSONata)
};

// ResultWriter of a DISTRIBUTED Map (docs/distributed-map.md "Writing results").
struct ResultWriterSpec {
  enum class Transformation : std::uint8_t { None, Compact, Flatten };
  enum class OutputType : std::uint8_t { Json, Jsonl };
  // Resource arn:aws:states:::s3:putObject with Parameters/Arguments {Bucket, Prefix}:
  // results go to files. Absent: only WriterConfig, the results stay in the state's output.
  std::optional<std::string> resource;
  std::optional<PayloadTemplate> parameters;
  std::optional<QueryTemplate> arguments;
  // WriterConfig.Transformation; absent: NONE when writing files, COMPACT otherwise.
  std::optional<Transformation> transformation;
  OutputType output_type = OutputType::Json;  // WriterConfig.OutputType
  bool writes_files() const { return resource.has_value(); }
  Transformation effective_transformation() const {
    return transformation ? *transformation : (writes_files() ? Transformation::None : Transformation::Compact);
  }
};

struct MapSpec {
  MachineId processor = 0;                     // ItemProcessor / Iterator
  std::optional<JsonPath> items_path;          // ItemsPath (default "$")
  std::optional<PayloadTemplate> item_selector;  // ItemSelector or legacy Parameters
  std::optional<QueryTemplate> items;             // JSONata Items
  std::optional<QueryTemplate> item_selector_query;  // JSONata ItemSelector
  NumberSource max_concurrency;                // MaxConcurrency / MaxConcurrencyPath; 0 = unlimited
  NumberSource tolerated_failure_percentage;
  NumberSource tolerated_failure_count;
  std::string mode = "INLINE";                 // ProcessorConfig.Mode
  std::optional<std::string> label;
  // DISTRIBUTED only (docs/distributed-map.md).
  std::optional<ItemReaderSpec> item_reader;
  std::optional<ItemBatcherSpec> item_batcher;
  std::optional<ResultWriterSpec> result_writer;
};

// A Compensate state (Stepwise extension): its data flow is the State's
// ResultPath; the roll-back itself needs nothing more.
struct CompensateStateSpec {};

// A step's Compensate block (Stepwise extension, docs/sagas.md): the call
// that undoes a completed Task, Parallel or Map state. Its Parameters read
// {"Input": <the step's effective input>, "Result": <the step's result>}.
struct CompensationSpec {
  std::string resource;                   // Resource
  std::optional<PayloadTemplate> parameters;  // Parameters; absent: the {"Input","Result"} object itself
  std::vector<Retrier> retry;             // Retry
  std::optional<double> timeout_seconds;  // TimeoutSeconds
};

// The larger specs live on the heap so that State stays small: a definition
// may hold thousands of states, parsing touches each one's memory and a run
// reads them in turn. A Boxed is a value (copies copy the spec); a
// default-constructed one holds nothing until a spec is assigned.
template <class T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(T value) : p_(std::make_unique<T>(std::move(value))) {}  // NOLINT: implicit by design
  Boxed(const Boxed& other) : p_(other.p_ ? std::make_unique<T>(*other.p_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& other) {
    if (this != &other) p_ = other.p_ ? std::make_unique<T>(*other.p_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  const T& operator*() const { return *p_; }
  T& operator*() { return *p_; }

 private:
  std::unique_ptr<T> p_;
};

template <class T>
inline constexpr bool kBoxedSpec = std::is_same_v<T, TaskSpec> || std::is_same_v<T, WaitSpec> ||
                                   std::is_same_v<T, FailSpec> || std::is_same_v<T, MapSpec>;

// Read a state's spec with State::as<T>(), which unboxes.
using StateSpec = std::variant<Boxed<TaskSpec>, PassSpec, ChoiceSpec, Boxed<WaitSpec>, SucceedSpec,
                               Boxed<FailSpec>, ParallelSpec, Boxed<MapSpec>, CompensateStateSpec>;

struct State {
  // Fields are ordered by how often running the state reads them, so that a
  // run touches as few of each state's cache lines as possible.
  StateType type = StateType::Pass;
  bool end = false;  // Transition: End, or else...
  StateIndex index = 0;
  StateIndex next = kNoState;  // ...the next state of this (sub)machine.

  // Data flow (present only where the state type allows it).
  PathSpec input_path;
  PathSpec output_path;
  std::optional<PayloadTemplate> parameters;  // Parameters (Task, Pass, Parallel; Map legacy → item_selector)
  ResultPathSpec result_path;
  StateSpec spec;
  std::vector<Retrier> retry;                      // Task, Parallel, Map
  std::vector<Catcher> catches;                    // Task, Parallel, Map
  std::optional<PayloadTemplate> result_selector;  // Task, Parallel, Map
  std::shared_ptr<const CompensationSpec> compensate;  // Task, Parallel, Map (extension)

  // JSONata (QueryLanguage "JSONata" for this state) and variables.
  bool jsonata = false;
  std::optional<QueryTemplate> arguments;  // Task, Parallel
  std::optional<QueryTemplate> output;     // all but Fail
  std::optional<AssignSpec> assign;

  std::string name;
  std::string next_name;
  std::optional<std::string> comment;

  template <class T>
  const T& as() const {
    if constexpr (kBoxedSpec<T>) {
      return *std::get<Boxed<T>>(spec);
    } else {
      return std::get<T>(spec);
    }
  }
};

// A state machine: the top level, a Parallel branch or a Map processor.
struct Machine {
  MachineId id = 0;
  std::string pointer;  // JSON pointer of this machine in the definition ("" for the top level)
  std::string start_at;
  StateIndex start = 0;
  std::vector<State> states;
  std::unordered_map<std::string, StateIndex> by_name;
  std::optional<std::string> comment;

  const State* find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &states[it->second];
  }
};

// A whole definition: every machine, nested ones included, in one flat table
// so that an execution can name a machine by id (plain data, serializable).
struct Definition {
  std::vector<std::unique_ptr<Machine>> machines;  // machines[0] is the top level
  std::optional<double> timeout_seconds;           // top-level TimeoutSeconds
  std::optional<std::string> version;
  std::optional<std::string> comment;
  std::string query_language = "JSONPath";
  // Some state declares a Compensate block or is a Compensate state: the
  // engine keeps the record of completed steps (docs/sagas.md).
  bool has_compensation = false;
  json::value source;  // the definition as given

  const Machine& top() const { return *machines[0]; }
  const Machine& machine(MachineId id) const { return *machines[id]; }
};

// What the definition is validated for, beyond the language itself.
struct ParseOptions {
  // An EXPRESS state machine: AWS rejects activities and the .sync and
  // .waitForTaskToken integration patterns there.
  bool express = false;
};

// Parses and validates a definition. Returns the definition, or every problem
// found (never just the first), each with a JSON pointer (RFC 6901; "" is the
// whole definition, where AWS prints "/").
//
// Features that are valid ASL but not implemented (e.g. ItemReader InputType
// MANIFEST or PARQUET) are reported as diagnostics with an empty code and a
// "... is not supported" message, so that a definition using them is rejected
// clearly rather than misread.
struct ParseResult {
  std::shared_ptr<const Definition> definition;  // null when diagnostics is non-empty
  Diagnostics diagnostics;
};
ParseResult parse_definition(const json::value& definition, const ParseOptions& options = {});
// Also parses the JSON text: syntax errors give code INVALID_JSON_DESCRIPTION,
// pointer "" and "invalid JSON at line L, column C: ..."; blank text or a
// value that is not an object gives "Definition must be a valid JSON object".
ParseResult parse_definition_text(std::string_view text, const ParseOptions& options = {});

}  // namespace stepwise::states
