// Private to the definition parser (parse*.cpp): the Parser that walks a
// definition once, fills the model and collects every diagnostic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "states/compile_cache.h"
#include "states/definition.h"

namespace stepwise::states::parse_detail {

// AWS's diagnostic codes; kUnsupported marks what this engine lacks, not an
// error in the definition.
inline constexpr const char* kSchema = "SCHEMA_VALIDATION_FAILED";
inline constexpr const char* kMissingTarget = "MISSING_TRANSITION_TARGET";
inline constexpr const char* kDuplicateName = "DUPLICATE_STATE_NAME";
inline constexpr const char* kInvalidName = "INVALID_STATE_NAME";
inline constexpr const char* kMissingEnd = "MISSING_END_STATE";
inline constexpr const char* kInvalidJson = "INVALID_JSON_DESCRIPTION";
inline constexpr const char* kUnsupported = "";

enum class Language : std::uint8_t { JsonPath, Jsonata };

enum class MachineKind : std::uint8_t { Top, Branch, ItemProcessor, Iterator };

// JSON pointers (RFC 6901): "~" is written "~0" and "/" is written "~1".
std::string child(std::string_view base, std::string_view token);
std::string child(std::string_view base, std::size_t index);

// A JSONata expression string, "{% ... %}".
bool is_jsonata_expression(const json::value& v);

// Reports each Assign key of a Parallel branch or inline Map iteration that
// reuses the name of a variable assigned in an enclosing scope (workflow
// variables allow no shadowing), at the key's JSON pointer.
void check_variable_scopes(const json::object& root, Diagnostics& diags);

// Whether a state of this type, in this query language, has the field
// (besides Type, Comment and QueryLanguage, which every state has).
bool state_allows(StateType type, Language lang, std::string_view field);

// What a literal number field must be.
enum class NumberRule : std::uint8_t {
  PositiveInteger,     // TimeoutSeconds, IntervalSeconds, ...
  NonNegativeInteger,  // MaxAttempts, Seconds, MaxConcurrency, ...
  Percentage,          // 0..100, any number
  AtLeastOne,          // BackoffRate
};

// A state name met in Next, Default, a Choice rule or a Catcher, resolved
// once every state of its machine is known.
struct Target {
  StateIndex from = 0;             // the state that names it
  StateIndex* slot;                // receives the index; null when there is nowhere to store it
  std::string_view name;           // into the source JSON, which outlives the parse
  std::string pointer;             // where the name is written
  const char* field;               // "Next", "Default" (for the message)
  StateIndex resolved = kNoState;  // set by resolve_targets
};

class Parser {
 public:
  Parser(Definition& def, const ParseOptions& options, Diagnostics& diags)
      : def_(def), options_(options), diags_(diags) {}

  // Parses the whole definition (def.source must be an object).
  void parse_root(const json::object& root);

 private:
  // --- machines and states (parse.cpp)
  MachineId parse_machine(const json::object& obj, const std::string& pointer, Language lang,
                          MachineKind kind);
  void parse_states(Machine& m, const json::object& states, const std::string& states_ptr,
                    Language lang, std::vector<Target>& targets);
  void parse_state(Machine& m, StateIndex i, const json::value& v, const std::string& ptr,
                   Language machine_lang, std::vector<Target>& targets);
  void check_state_fields(const State& s, const json::object& obj, const std::string& ptr,
                          Language lang);
  void parse_transition(State& s, const json::object& obj, const std::string& ptr,
                        std::vector<Target>& targets);
  void resolve_targets(Machine& m, std::vector<Target>& targets);
  void check_reachable(const Machine& m, const std::vector<Target>& targets);

  // --- state types (parse_states.cpp)
  void parse_data_flow(State& s, const json::object& obj, const std::string& ptr, Language lang,
                       std::vector<Target>& targets);
  void parse_task(State& s, const json::object& obj, const std::string& ptr, Language lang);
  void parse_pass(State& s, const json::object& obj, const std::string& ptr, Language lang);
  void parse_choice(State& s, const json::object& obj, const std::string& ptr, Language lang,
                    std::vector<Target>& targets);
  void parse_wait(State& s, const json::object& obj, const std::string& ptr, Language lang);
  void parse_fail(State& s, const json::object& obj, const std::string& ptr, Language lang);
  void parse_parallel(State& s, const json::object& obj, const std::string& ptr, Language lang);
  void parse_map(State& s, const json::object& obj, const std::string& ptr, Language lang);
  void check_jsonata_rule(const json::object& rule, const std::string& ptr);
  void check_resource(std::string_view resource, const std::string& ptr);
  void check_http_task(const json::object& obj, const std::string& ptr, Language lang);
  void check_credentials(const json::value& v, const std::string& ptr, Language lang);
  // --- ItemReader, ItemBatcher, ResultWriter of a distributed Map (parse_map_io.cpp)
  void parse_map_io(MapSpec& map, const json::object& obj, const std::string& ptr, Language lang);
  // --- saga extension (parse_saga.cpp)
  void parse_compensation(State& s, const json::value& v, const std::string& ptr);
  void parse_compensate_state(State& s, const json::object& obj);

  std::optional<std::string> parse_processor_config(const json::object& processor,
                                                    const std::string& ptr);

 public:
  // --- reporting and typed reading (parse_common.cpp); public for the helpers there.
  void error(std::string pointer, std::string message, const char* code = kSchema);
  void unsupported(std::string pointer, std::string message);
  void type_error(const std::string& base, std::string_view field, const char* expected,
                  const json::value& got);
  void required(const std::string& pointer, std::string_view fields);

  // The string at obj[key], or null (with a diagnostic when present but not a string).
  const json::string* string_field(const json::object& obj, std::string_view key,
                                   const std::string& base);
  std::optional<std::string> optional_string(const json::object& obj, std::string_view key,
                                             const std::string& base);
  std::optional<double> number(const json::value& v, const std::string& base,
                               std::string_view field, NumberRule rule);
  // A literal / ...Path pair such as TimeoutSeconds / TimeoutSecondsPath.
  NumberSource number_source(const json::object& obj, const std::string& base,
                             std::string_view literal_key, std::string_view path_key,
                             NumberRule rule, Language lang);
  std::optional<JsonPath> path(const json::value& v, const std::string& base,
                               std::string_view field);
  PathSpec path_spec(const json::value& v, const std::string& base, std::string_view field);
  ResultPathSpec result_path_spec(const json::value& v, const std::string& base);
  std::optional<PayloadTemplate> payload(const json::value& v, const std::string& base,
                                         std::string_view field);
  // A JSONata field value (literals with "{% %}" expressions inside).
  std::optional<QueryTemplate> query(const json::value& v, const std::string& base, std::string_view field);
  // A field that must be one "{% %}" expression.
  std::optional<QueryExpression> query_expression(const json::value& v, const std::string& base,
                                                  std::string_view field);
  // Assign (of a state, a Choice rule or a catcher) in either language.
  std::optional<AssignSpec> parse_assign(const json::value& v, const std::string& base, Language lang);
  std::vector<Retrier> parse_retry(const json::value& v, const std::string& base);
  std::vector<Catcher> parse_catch(const json::value& v, const std::string& base, Language lang,
                                   StateIndex from, std::vector<Target>& targets);
  // ErrorEquals of a retrier or catcher at `ptr`; sets *has_all when "States.ALL" is in it.
  std::vector<std::string> parse_error_equals(const json::object& obj, const std::string& ptr,
                                              bool* has_all);

 private:
  Definition& def_;
  const ParseOptions& options_;
  Diagnostics& diags_;
  CompileCache cache_;  // shares paths and calls compiled from the same text
  std::unordered_set<std::string_view> all_names_;  // state names over every machine
  // Transitions of the machine being parsed that could not be read (a state
  // without a valid Type, a Next that is not a string, ...).
  int unknown_transitions_ = 0;
};

}  // namespace stepwise::states::parse_detail
