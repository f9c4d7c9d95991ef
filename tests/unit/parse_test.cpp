// parse_definition / parse_definition_text: the model they build and every
// diagnostic they report, checked against hand-written definitions and the
// recorded AWS conformance corpus.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "states/definition.h"

using namespace stepwise;
using namespace stepwise::states;

namespace {

ParseResult parse(std::string_view text, ParseOptions options = {}) {
  return parse_definition_text(text, options);
}

std::string describe(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags) out += "  [" + d.code + "] " + d.pointer + ": " + d.message + "\n";
  return out;
}

// The diagnostic at `pointer` whose message contains `text`, or null.
const Diagnostic* find(const ParseResult& r, std::string_view pointer, std::string_view text = "") {
  for (const auto& d : r.diagnostics)
    if (d.pointer == pointer && d.message.find(text) != std::string::npos) return &d;
  return nullptr;
}

#define CHECK_DIAG(result, pointer, text)                     \
  do {                                                        \
    INFO("diagnostics:\n" << describe((result).diagnostics)); \
    CHECK(find((result), (pointer), (text)) != nullptr);      \
  } while (0)

#define REQUIRE_OK(result)                                    \
  do {                                                        \
    INFO("diagnostics:\n" << describe((result).diagnostics)); \
    REQUIRE((result).diagnostics.empty());                    \
    REQUIRE((result).definition != nullptr);                  \
  } while (0)

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path source_dir() {
  return STEPWISE_SOURCE_DIR;
}

std::vector<std::filesystem::path> case_files(const std::string& category = "") {
  std::vector<std::filesystem::path> files;
  auto root = source_dir() / "tests/conformance/cases";
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".json") continue;
    if (!category.empty() && e.path().parent_path().filename() != category) continue;
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("state_type_name names every state type") {
  CHECK(std::string(state_type_name(StateType::Task)) == "Task");
  CHECK(std::string(state_type_name(StateType::Pass)) == "Pass");
  CHECK(std::string(state_type_name(StateType::Choice)) == "Choice");
  CHECK(std::string(state_type_name(StateType::Wait)) == "Wait");
  CHECK(std::string(state_type_name(StateType::Succeed)) == "Succeed");
  CHECK(std::string(state_type_name(StateType::Fail)) == "Fail");
  CHECK(std::string(state_type_name(StateType::Parallel)) == "Parallel");
  CHECK(std::string(state_type_name(StateType::Map)) == "Map");
}

TEST_CASE("parse: a chain of states resolves names to indices") {
  auto r = parse(R"({
    "Comment": "chain", "Version": "1.0", "TimeoutSeconds": 30,
    "StartAt": "B",
    "States": {
      "A": {"Type": "Succeed"},
      "B": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": null, "InputPath": null,
            "OutputPath": "$.x", "Next": "A", "Comment": "first"}
    }})");
  REQUIRE_OK(r);
  const Definition& d = *r.definition;
  CHECK(d.machines.size() == 1);
  CHECK(d.comment == "chain");
  CHECK(d.version == "1.0");
  CHECK(d.timeout_seconds == 30);
  CHECK(d.query_language == "JSONPath");
  const Machine& m = d.top();
  CHECK(m.id == 0);
  CHECK(m.pointer == "");
  CHECK(m.start_at == "B");
  CHECK(m.start == 1);
  REQUIRE(m.states.size() == 2);
  const State& b = m.states[1];
  CHECK(b.name == "B");
  CHECK(b.index == 1);
  CHECK(b.type == StateType::Pass);
  CHECK(b.comment == "first");
  CHECK(b.next == 0);
  CHECK(b.next_name == "A");
  CHECK_FALSE(b.end);
  CHECK(b.result_path.kind == ResultPathSpec::Kind::Discard);
  CHECK(b.input_path.kind == PathSpec::Kind::Empty);
  CHECK(b.output_path.kind == PathSpec::Kind::Path);
  REQUIRE(b.as<PassSpec>().result.has_value());
  CHECK(to_json(*b.as<PassSpec>().result) == R"({"x":1})");
  CHECK(m.find("A") == &m.states[0]);
  CHECK(m.find("nope") == nullptr);
  CHECK(m.states[0].type == StateType::Succeed);
  CHECK(m.states[0].input_path.kind == PathSpec::Kind::Whole);
  CHECK(m.states[0].result_path.kind == ResultPathSpec::Kind::Replace);
}

TEST_CASE("parse: Task fields, Retry and Catch go into the model") {
  auto r = parse(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "f", "Payload.$": "$"},
          "ResultSelector": {"p.$": "$.Payload"},
          "ResultPath": "$.out",
          "TimeoutSeconds": 10, "HeartbeatSecondsPath": "$.hb",
          "Credentials": {"RoleArn": "arn:aws:iam::1:role/r"},
          "Retry": [{"ErrorEquals": ["A", "B"], "IntervalSeconds": 2, "MaxAttempts": 0,
                     "BackoffRate": 1.5, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"},
                    {"ErrorEquals": ["States.ALL"]}],
          "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "F"},
                    {"ErrorEquals": ["States.ALL"], "Next": "S"}],
          "End": true},
    "F": {"Type": "Fail", "Error": "E", "Cause": "C"},
    "S": {"Type": "Succeed"}}})");
  REQUIRE_OK(r);
  const State& t = r.definition->top().states[0];
  CHECK(t.type == StateType::Task);
  CHECK(t.end);
  CHECK(t.next == kNoState);
  CHECK(t.parameters.has_value());
  CHECK(t.result_selector.has_value());
  CHECK(t.result_path.kind == ResultPathSpec::Kind::Path);
  const TaskSpec& task = t.as<TaskSpec>();
  CHECK(task.resource == "arn:aws:states:::lambda:invoke");
  CHECK(task.timeout_seconds.literal == 10);
  CHECK_FALSE(task.timeout_seconds.path.has_value());
  CHECK_FALSE(task.heartbeat_seconds.literal.has_value());
  CHECK(task.heartbeat_seconds.path.has_value());
  CHECK(task.credentials.has_value());
  REQUIRE(t.retry.size() == 2);
  CHECK(t.retry[0].errors == std::vector<std::string>{"A", "B"});
  CHECK(t.retry[0].interval_seconds == 2);
  CHECK(t.retry[0].max_attempts == 0);
  CHECK(t.retry[0].backoff_rate == 1.5);
  CHECK(t.retry[0].max_delay_seconds == 5);
  CHECK(t.retry[0].jitter == Jitter::Full);
  // Defaults.
  CHECK(t.retry[1].interval_seconds == 1);
  CHECK(t.retry[1].max_attempts == 3);
  CHECK(t.retry[1].backoff_rate == 2.0);
  CHECK_FALSE(t.retry[1].max_delay_seconds.has_value());
  CHECK(t.retry[1].jitter == Jitter::None);
  REQUIRE(t.catches.size() == 2);
  CHECK(t.catches[0].next == 1);
  CHECK(t.catches[0].next_name == "F");
  CHECK(t.catches[0].result_path.kind == ResultPathSpec::Kind::Path);
  CHECK(t.catches[1].next == 2);
  CHECK(t.catches[1].result_path.kind == ResultPathSpec::Kind::Replace);
  const FailSpec& f = r.definition->top().states[1].as<FailSpec>();
  CHECK(f.error == "E");
  CHECK(f.cause == "C");
}

TEST_CASE("parse: Choice rules and Default resolve to indices") {
  auto r = parse(R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "NumericEquals": 1, "Next": "One"},
            {"Not": {"Variable": "$.x", "IsPresent": true}, "Next": "Two"}],
          "Default": "Two"},
    "One": {"Type": "Succeed"},
    "Two": {"Type": "Succeed"}}})");
  REQUIRE_OK(r);
  const ChoiceSpec& c = r.definition->top().states[0].as<ChoiceSpec>();
  REQUIRE(c.choices.size() == 2);
  CHECK(c.choices[0].next == 1);
  CHECK(c.choices[0].next_name == "One");
  CHECK(c.choices[1].next == 2);
  CHECK(c.default_next == 2);
  CHECK(c.default_name == "Two");
}

TEST_CASE("parse: a Choice without Default keeps kNoState") {
  auto r = parse(R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "S"}]},
    "S": {"Type": "Succeed"}}})");
  REQUIRE_OK(r);
  CHECK(r.definition->top().states[0].as<ChoiceSpec>().default_next == kNoState);
}

TEST_CASE("parse: Wait variants") {
  auto r = parse(R"({"StartAt": "A", "States": {
    "A": {"Type": "Wait", "Seconds": 0, "Next": "B"},
    "B": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.123+01:00", "Next": "C"},
    "C": {"Type": "Wait", "SecondsPath": "$.s", "Next": "D"},
    "D": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}})");
  REQUIRE_OK(r);
  const auto& s = r.definition->top().states;
  CHECK(s[0].as<WaitSpec>().seconds == 0);
  CHECK(s[1].as<WaitSpec>().timestamp == "2016-03-14T01:59:00.123+01:00");
  CHECK(s[2].as<WaitSpec>().seconds_path.has_value());
  CHECK(s[3].as<WaitSpec>().timestamp_path.has_value());
  CHECK_FALSE(s[3].as<WaitSpec>().seconds.has_value());
}

TEST_CASE("parse: Fail with ErrorPath as a path and CausePath as an intrinsic") {
  auto r = parse(R"J({"StartAt": "F", "States": {
    "F": {"Type": "Fail", "ErrorPath": "$.error",
          "CausePath": "States.Format('bad {}', $.x)"}}})J");
  REQUIRE_OK(r);
  const FailSpec& f = r.definition->top().states[0].as<FailSpec>();
  CHECK(f.error_path.has_value());
  CHECK_FALSE(f.error_intrinsic.has_value());
  CHECK(f.cause_intrinsic.has_value());
  CHECK_FALSE(f.cause_path.has_value());
}

TEST_CASE("parse: Parallel branches and Map processors become machines") {
  auto r = parse(R"({"StartAt": "Fan", "States": {
    "Fan": {"Type": "Parallel", "Next": "M", "Branches": [
      {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
      {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "B2"},
                                   "B2": {"Type": "Succeed"}}}]},
    "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
          "ItemSelector": {"v.$": "$$.Map.Item.Value"}, "Label": "L",
          "ToleratedFailurePercentage": 12.5, "ToleratedFailureCountPath": "$.n",
          "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                            "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
          "Next": "Old"},
    "Old": {"Type": "Map", "Parameters": {"x.$": "$"}, "End": true,
            "Iterator": {"StartAt": "J", "States": {"J": {"Type": "Succeed"}}}}}})");
  REQUIRE_OK(r);
  const Definition& d = *r.definition;
  REQUIRE(d.machines.size() == 5);
  const ParallelSpec& p = d.top().states[0].as<ParallelSpec>();
  REQUIRE(p.branches.size() == 2);
  const Machine& b1 = d.machine(p.branches[1]);
  CHECK(b1.pointer == "/States/Fan/Branches/1");
  CHECK(b1.start_at == "B");
  CHECK(b1.states[0].next == 1);
  const MapSpec& m = d.top().states[1].as<MapSpec>();
  CHECK(d.machine(m.processor).pointer == "/States/M/ItemProcessor");
  CHECK(d.machine(m.processor).states[0].name == "I");
  CHECK(m.mode == "DISTRIBUTED");
  CHECK(m.items_path.has_value());
  CHECK(m.item_selector.has_value());
  CHECK(m.max_concurrency.literal == 2);
  CHECK(m.tolerated_failure_percentage.literal == 12.5);
  CHECK(m.tolerated_failure_count.path.has_value());
  CHECK(m.label == "L");
  CHECK_FALSE(m.item_reader.has_value());  // refused until the distributed Map issue
  CHECK_FALSE(m.item_batcher.has_value());
  const State& old = d.top().states[2];
  const MapSpec& legacy = old.as<MapSpec>();
  CHECK(legacy.mode == "INLINE");
  CHECK(legacy.item_selector.has_value());  // legacy Parameters
  CHECK_FALSE(old.parameters.has_value());
  CHECK(d.machine(legacy.processor).pointer == "/States/Old/Iterator");
  for (MachineId id = 0; id < d.machines.size(); ++id) CHECK(d.machine(id).id == id);
}

TEST_CASE("parse: every problem is reported at once, each with its pointer") {
  auto r = parse(R"({"StartAt": "A", "Bogus": 1, "States": {
    "A": {"Type": "Task", "Next": "Nowhere", "TimeoutSeconds": 0, "Colour": "red"},
    "B": {"Type": "Wait", "End": true},
    "C": {"Type": "Pass", "Next": "A", "End": true},
    "D": {"Type": "Teleport"}}})");
  CHECK(r.definition == nullptr);
  CHECK_DIAG(r, "/Bogus", "'Bogus' is not supported at the top level");
  CHECK_DIAG(r, "/States/A", "These fields are required: [Resource]");
  CHECK_DIAG(r, "/States/A/Next", "Missing 'Next' target: Nowhere");
  CHECK_DIAG(r, "/States/A/TimeoutSeconds", "positive integer");
  CHECK_DIAG(r, "/States/A/Colour", "The field 'Colour' is not supported in a Task state");
  CHECK_DIAG(r, "/States/B", "Exactly one of the fields 'Seconds', 'Timestamp'");
  CHECK_DIAG(r, "/States/C", "Only one of the fields 'Next' and 'End'");
  CHECK_DIAG(r, "/States/D/Type", "must be one of [Task, Pass");
  // D's transitions are unknown, so reachability is not judged (no noise).
  CHECK(find(r, "/States/B", "is not reachable") == nullptr);
  CHECK(find(r, "/States/A/Next")->code == "MISSING_TRANSITION_TARGET");
  CHECK(find(r, "/States/A/Colour")->code == "SCHEMA_VALIDATION_FAILED");
  CHECK(r.diagnostics.size() == 8);
}

TEST_CASE("parse: pointers escape '~' and '/' in state names (RFC 6901)") {
  auto r = parse(R"({"StartAt": "a/b~c", "States": {
    "a/b~c": {"Type": "Pass", "Next": "x/y"}}})");
  CHECK_DIAG(r, "/States/a~1b~0c/Next", "Missing 'Next' target: x/y");
}

TEST_CASE("parse: transitions") {
  SUBCASE("neither Next nor End") {
    auto r = parse(R"({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})");
    CHECK_DIAG(r, "/States/A", "Either 'Next' or 'End'");
  }
  SUBCASE("End false is not an end") {
    auto r = parse(R"({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": false}}})");
    CHECK_DIAG(r, "/States/A", "Either 'Next' or 'End'");
  }
  SUBCASE("wrong types") {
    auto r =
        parse(R"({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": 3, "End": "yes"}}})");
    CHECK_DIAG(r, "/States/A/Next", "must be a string, not number");
    CHECK_DIAG(r, "/States/A/End", "must be a boolean, not string");
  }
  SUBCASE("Succeed, Fail and Choice take no Next or End") {
    auto r = parse(R"({"StartAt": "A", "States": {
      "A": {"Type": "Succeed", "Next": "B"},
      "B": {"Type": "Fail", "End": true},
      "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "A"}],
            "End": true}}})");
    CHECK_DIAG(r, "/States/A/Next", "'Next' is not supported in a Succeed state");
    CHECK_DIAG(r, "/States/B/End", "'End' is not supported in a Fail state");
    CHECK_DIAG(r, "/States/C/End", "'End' is not supported in a Choice state");
  }
  SUBCASE("unknown StartAt") {
    auto r = parse(R"({"StartAt": "Z", "States": {"A": {"Type": "Succeed"}}})");
    CHECK_DIAG(r, "/StartAt", "Missing 'StartAt' target: Z");
    // No reachability noise when the start is unknown.
    CHECK(r.diagnostics.size() == 1);
  }
  SUBCASE("unreachable states, through Choice, Catch and Default") {
    auto r = parse(R"({"StartAt": "C", "States": {
      "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "T"}],
            "Default": "D"},
      "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]},
      "D": {"Type": "Succeed"},
      "H": {"Type": "Succeed"},
      "Lost": {"Type": "Pass", "Next": "Lost2"},
      "Lost2": {"Type": "Succeed"}}})");
    REQUIRE(r.diagnostics.size() == 2);
    CHECK_DIAG(r, "/States/Lost", "State \"Lost\" is not reachable");
    CHECK_DIAG(r, "/States/Lost2", "State \"Lost2\" is not reachable");
  }
  SUBCASE("no reachability noise when a transition cannot be read") {
    auto r = parse(R"({"StartAt": "A", "States": {
      "A": {"Type": "Pass", "Next": 7}, "B": {"Next": "C"}, "C": {"Type": "Succeed"}}})");
    CHECK_DIAG(r, "/States/A/Next", "must be a string");
    CHECK_DIAG(r, "/States/B", "These fields are required: [Type]");
    CHECK(r.diagnostics.size() == 2);
  }
  SUBCASE("a loop with no terminal state") {
    auto r = parse(R"({"StartAt": "A", "States": {
      "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}})");
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].code == "MISSING_END_STATE");
    CHECK(r.diagnostics[0].pointer == "/States");
  }
}

TEST_CASE("parse: nested machines are separate scopes") {
  auto r = parse(R"({"StartAt": "Fan", "States": {
    "Fan": {"Type": "Parallel", "End": true, "Branches": [
      {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
      {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Fan"}}}]},
    "M": {"Type": "Map", "End": true,
          "ItemProcessor": {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Next": "Nope"}}}}}})");
  CHECK_DIAG(r, "/States/Fan/Branches/1/States/X/Next", "Missing 'Next' target: Fan");
  CHECK_DIAG(r, "/States/M/ItemProcessor/States/Q/Next", "Missing 'Next' target: Nope");
  CHECK_DIAG(r, "/States/M", "is not reachable");
}

TEST_CASE("parse: state names are unique over the whole definition") {
  auto r = parse(R"({"StartAt": "Fan", "States": {
    "Fan": {"Type": "Parallel", "End": true, "Branches": [
      {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
      {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]}}})");
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].pointer == "/States/Fan/Branches/1/States/A");
  CHECK(r.diagnostics[0].code == "DUPLICATE_STATE_NAME");
}

TEST_CASE("parse: state names longer than 80 characters") {
  std::string name(81, 'n');
  auto r = parse(R"({"StartAt": ")" + name + R"(", "States": {")" + name +
                 R"(": {"Type": "Succeed"}}})");
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].code == "INVALID_STATE_NAME");
  std::string ok(80, 'n');
  REQUIRE_OK(
      parse(R"({"StartAt": ")" + ok + R"(", "States": {")" + ok + R"(": {"Type": "Succeed"}}})"));
}

TEST_CASE("parse: the top level") {
  SUBCASE("required fields, in AWS's wording") {
    auto r = parse("{}");
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].pointer == "");
    CHECK(r.diagnostics[0].message == "These fields are required: [States, StartAt]");
    CHECK(parse(R"({"StartAt": "A"})").diagnostics[0].message ==
          "These fields are required: [States]");
    CHECK(parse(R"({"States": {"A": {"Type": "Succeed"}}})").diagnostics[0].message ==
          "These fields are required: [StartAt]");
  }
  SUBCASE("types and values") {
    auto r = parse(R"({"StartAt": 1, "States": [], "Comment": 2, "Version": 3,
                       "TimeoutSeconds": -1, "QueryLanguage": "XPath"})");
    CHECK_DIAG(r, "/StartAt", "must be a string, not number");
    CHECK_DIAG(r, "/States", "must be an object, not array");
    CHECK_DIAG(r, "/Comment", "must be a string");
    CHECK_DIAG(r, "/Version", "must be a string");
    CHECK_DIAG(r, "/TimeoutSeconds", "positive integer");
    CHECK_DIAG(r, "/QueryLanguage", "must be one of [JSONPath, JSONata]");
  }
  SUBCASE("empty States") {
    auto r = parse(R"({"StartAt": "A", "States": {}})");
    CHECK_DIAG(r, "/States", "at least one state");
  }
  SUBCASE("a state that is not an object") {
    auto r = parse(R"({"StartAt": "A", "States": {"A": 5}})");
    CHECK_DIAG(r, "/States/A", "A state must be an object, not number");
  }
}

TEST_CASE("parse_definition_text: JSON problems") {
  auto r = parse("{\n  \"StartAt\": \"A\",\n  \"States\": ,\n}");
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].pointer == "");
  CHECK(r.diagnostics[0].code == "INVALID_JSON_DESCRIPTION");
  CHECK(r.diagnostics[0].message.rfind("invalid JSON at line 3, column ", 0) == 0);

  for (const char* text : {"", " \n ", "[]", "\"x\"", "null"}) {
    auto blank = parse(text);
    REQUIRE(blank.diagnostics.size() == 1);
    CHECK(blank.diagnostics[0].message == "Definition must be a valid JSON object");
    CHECK(blank.diagnostics[0].code == "SCHEMA_VALIDATION_FAILED");
  }
}

TEST_CASE("parse_definition takes a json::value and keeps it as the source") {
  json::value v = *parse_json(R"({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})");
  auto r = parse_definition(v);
  REQUIRE_OK(r);
  CHECK(r.definition->source == v);
}

TEST_CASE("parse: paths") {
  auto r = parse(R"({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "InputPath": "nope", "OutputPath": 4, "ResultPath": "$.a[*]",
          "Next": "B"},
    "B": {"Type": "Pass", "ResultPath": "$$.Execution", "Next": "C"},
    "C": {"Type": "Wait", "SecondsPath": 5, "End": true}}})");
  CHECK_DIAG(r, "/States/A/InputPath", "must be a valid JSONPath");
  CHECK_DIAG(r, "/States/A/OutputPath", "must be a string, not number");
  CHECK_DIAG(r, "/States/A/ResultPath", "ReferencePath");
  CHECK_DIAG(r, "/States/B/ResultPath", "ReferencePath");
  CHECK_DIAG(r, "/States/C/SecondsPath", "must be a string, not number");
}

TEST_CASE("parse: Task numbers and their ...Path variants") {
  auto r = parse(R"({"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Next": "B",
          "TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t", "HeartbeatSeconds": 10},
    "B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
          "TimeoutSeconds": 1.5, "HeartbeatSeconds": "5"}}})");
  CHECK_DIAG(r, "/States/A", "'TimeoutSeconds' and 'TimeoutSecondsPath' cannot both be set");
  CHECK_DIAG(r, "/States/A/HeartbeatSeconds", "smaller than 'TimeoutSeconds'");
  CHECK_DIAG(r, "/States/B/TimeoutSeconds", "must be an integer, not number");
  CHECK_DIAG(r, "/States/B/HeartbeatSeconds", "must be an integer, not string");
}

TEST_CASE("parse: Retry validation") {
  auto r = parse(R"({"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
          "Retry": [
            {"ErrorEquals": ["States.ALL", "X"]},
            {"ErrorEquals": [], "IntervalSeconds": 0, "MaxAttempts": -1, "BackoffRate": 0.5,
             "MaxDelaySeconds": 31622401, "JitterStrategy": "HALF", "Extra": 1},
            {"ErrorEquals": [7]},
            {"IntervalSeconds": 1}]}}})");
  CHECK_DIAG(r, "/States/A/Retry/0/ErrorEquals", "'States.ALL' must appear alone");
  CHECK_DIAG(r, "/States/A/Retry/0/ErrorEquals", "must be the last retrier");
  CHECK_DIAG(r, "/States/A/Retry/1/ErrorEquals", "must not be empty");
  CHECK_DIAG(r, "/States/A/Retry/1/IntervalSeconds", "positive integer");
  CHECK_DIAG(r, "/States/A/Retry/1/MaxAttempts", "non-negative integer");
  CHECK_DIAG(r, "/States/A/Retry/1/BackoffRate", "at least 1.0");
  CHECK_DIAG(r, "/States/A/Retry/1/MaxDelaySeconds", "less than 31622401");
  CHECK_DIAG(r, "/States/A/Retry/1/JitterStrategy", "[FULL, NONE]");
  CHECK_DIAG(r, "/States/A/Retry/1/Extra", "not supported in a retrier");
  CHECK_DIAG(r, "/States/A/Retry/2/ErrorEquals/0", "must be a string");
  CHECK_DIAG(r, "/States/A/Retry/3", "These fields are required: [ErrorEquals]");
}

TEST_CASE("parse: Catch validation") {
  auto r = parse(R"({"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
          "Catch": [
            {"ErrorEquals": ["States.ALL"], "Next": "S"},
            {"ErrorEquals": ["X"]},
            {"ErrorEquals": ["Y"], "Next": "Gone", "ResultPath": "bad"}]},
    "S": {"Type": "Succeed"}}})");
  CHECK_DIAG(r, "/States/A/Catch/0/ErrorEquals", "must be the last catcher");
  CHECK_DIAG(r, "/States/A/Catch/1", "These fields are required: [Next]");
  CHECK_DIAG(r, "/States/A/Catch/2/Next", "Missing 'Next' target: Gone");
  CHECK_DIAG(r, "/States/A/Catch/2/ResultPath", "must be a valid JSONPath");
  CHECK(find(r, "/States/S") == nullptr);  // reachable through the catcher
}

TEST_CASE("parse: Wait and Fail exclusivity") {
  auto r = parse(R"({"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "Next": "W2"},
    "W2": {"Type": "Wait", "Seconds": -1, "Next": "W3"},
    "W3": {"Type": "Wait", "Timestamp": "2016-02-30T00:00:00Z", "Next": "F"},
    "F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e", "Cause": "C", "CausePath": "$.c",
          "InputPath": "$"}}})");
  CHECK_DIAG(r, "/States/W", "Exactly one of the fields");
  CHECK_DIAG(r, "/States/W2/Seconds", "non-negative integer");
  CHECK_DIAG(r, "/States/W3/Timestamp", "String does not match RFC3339 timestamp");
  CHECK_DIAG(r, "/States/F", "'Error' and 'ErrorPath' cannot both be set");
  CHECK_DIAG(r, "/States/F", "'Cause' and 'CausePath' cannot both be set");
  CHECK_DIAG(r, "/States/F/InputPath", "not supported in a Fail state");
}

TEST_CASE("parse: Choice validation") {
  auto r = parse(R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "IsNull": true},
            {"Variable": "$.x", "IsNull": true, "Next": "Gone"},
            3],
          "Default": "Lost"},
    "D": {"Type": "Choice", "Choices": []}}})");
  CHECK_DIAG(r, "/States/C/Choices/0", "These fields are required: [Next]");
  CHECK_DIAG(r, "/States/C/Choices/1/Next", "Missing 'Next' target: Gone");
  CHECK_DIAG(r, "/States/C/Choices/2", "must be an object");
  CHECK_DIAG(r, "/States/C/Default", "Missing 'Default' target: Lost");
  CHECK_DIAG(r, "/States/D/Choices", "at least one rule");
  // The same problem found twice is reported once.
  auto same = std::count_if(r.diagnostics.begin(), r.diagnostics.end(), [](const Diagnostic& d) {
    return d.pointer == "/States/C/Choices/0" && d.message == "These fields are required: [Next]";
  });
  CHECK(same == 1);
}

TEST_CASE("parse: Parallel and Map validation") {
  auto r = parse(R"({"StartAt": "P", "States": {
    "P": {"Type": "Parallel", "Branches": [], "Next": "P2"},
    "P2": {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Succeed"}},
                                             "QueryLanguage": "JSONPath"}], "Next": "M"},
    "M": {"Type": "Map", "ItemSelector": {}, "Parameters": {}, "Next": "M2",
          "MaxConcurrency": 1, "MaxConcurrencyPath": "$.m", "ToleratedFailurePercentage": 101},
    "M2": {"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "FAST", "Other": 1},
            "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}}})");
  CHECK_DIAG(r, "/States/P/Branches", "at least one branch");
  CHECK_DIAG(r, "/States/P2/Branches/0/QueryLanguage", "not supported in a Parallel branch");
  CHECK_DIAG(r, "/States/M", "These fields are required: [ItemProcessor]");
  CHECK_DIAG(r, "/States/M", "'ItemSelector' and 'Parameters'");
  CHECK_DIAG(r, "/States/M", "'MaxConcurrency' and 'MaxConcurrencyPath' cannot both be set");
  CHECK_DIAG(r, "/States/M/ToleratedFailurePercentage", "between 0 and 100");
  CHECK_DIAG(r, "/States/M2/ItemProcessor/ProcessorConfig/Mode", "[INLINE, DISTRIBUTED]");
  CHECK_DIAG(r, "/States/M2/ItemProcessor/ProcessorConfig/Other", "not supported");
}

TEST_CASE("parse: Task resources") {
  SUBCASE("an unknown optimized integration action") {
    auto r = parse(R"({"StartAt": "Q", "States": {"Q": {"Type": "Task",
      "Resource": "arn:aws:states:::dynamodb:query", "End": true}}})");
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].pointer == "/States/Q/Resource");
    CHECK(r.diagnostics[0].message ==
          "The resource provided arn:<partition>:states:::dynamodb:query is not recognized. The "
          "value is not a valid resource ARN, or the resource is not available in this region.");
  }
  SUBCASE("not an ARN") {
    auto r = parse(R"({"StartAt": "Q", "States": {"Q": {"Type": "Task",
      "Resource": "lambda", "End": true}}})");
    CHECK_DIAG(r, "/States/Q/Resource", "is not recognized");
  }
  SUBCASE("accepted resources") {
    for (const char* res :
         {"arn:aws:states:::lambda:invoke.waitForTaskToken",
          "arn:aws:states:::aws-sdk:dynamodb:query",
          "arn:aws:states:::states:startExecution.sync:2", "arn:aws:states:::someservice:anyAction",
          "arn:aws:lambda:us-east-1:111111111111:function:f",
          "arn:aws:states:us-east-1:111111111111:activity:a"}) {
      CAPTURE(res);
      REQUIRE_OK(parse(std::string(R"({"StartAt": "Q", "States": {"Q": {"Type": "Task",
        "Resource": ")") +
                       res + R"(", "End": true}}})"));
    }
  }
  SUBCASE("Express state machines reject activities, .sync and .waitForTaskToken") {
    ParseOptions express{true};
    auto one = [&](const char* res) {
      return parse(std::string(R"({"StartAt": "Q", "States": {"Q": {"Type": "Task",
        "Resource": ")") +
                       res + R"(", "End": true}}})",
                   express);
    };
    CHECK_DIAG(one("arn:aws:states:us-east-1:1:activity:a"), "/States/Q/Resource",
               "Express state machine does not support Activity ARN");
    CHECK_DIAG(one("arn:aws:states:::states:startExecution.sync"), "/States/Q/Resource",
               "Express state machine does not support '.sync' service integration");
    CHECK_DIAG(one("arn:aws:states:::sqs:sendMessage.waitForTaskToken"), "/States/Q/Resource",
               "Express state machine does not support '.waitForTaskToken' service integration");
    REQUIRE_OK(one("arn:aws:states:::lambda:invoke"));
  }
}

TEST_CASE("parse: Credentials need a RoleArn") {
  auto r = parse(R"({"StartAt": "Q", "States": {
    "Q": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "R",
          "Credentials": {}},
    "R": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Credentials": {"RoleArn.$": "$.role"}, "Next": "S"},
    "S": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
          "Credentials": {"RoleArn.$": "States.Format('arn:{}', $.r"}}}})");
  CHECK_DIAG(r, "/States/S/Credentials/RoleArn.$", "must be a valid JSONPath or a valid intrinsic");
  REQUIRE(r.diagnostics.size() == 2);
  CHECK(r.diagnostics[0].pointer == "/States/Q/Credentials");
  CHECK(r.diagnostics[0].message == "The field 'RoleArn' is required but was missing");
}

TEST_CASE("parse: Assign is accepted in JSONPath states; JSONata-only fields are not") {
  auto ok = parse(R"J({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Assign": {"x": 1, "y.$": "$.a", "z.$": "States.MathAdd($x, 1)"}, "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$x", "IsNull": true, "Next": "S",
                                         "Assign": {"y": 2}}], "Default": "S"},
    "S": {"Type": "Succeed"}}})J");
  CHECK(ok.diagnostics.empty());
  REQUIRE(ok.definition != nullptr);
  CHECK(ok.definition->top().states[0].assign.has_value());
  CHECK(ok.definition->top().states[1].as<ChoiceSpec>().choices[0].assign.has_value());

  auto r = parse(R"({"StartAt": "S", "States": {"S": {"Type": "Succeed", "Output": {}}}})");
  CHECK(r.definition == nullptr);
  CHECK_DIAG(r, "/States/S/Output", "The field 'Output' is not supported in a Succeed state using JSONPath");
}

TEST_CASE("parse: workflow variable paths are read as variables; ResultPath cannot name one") {
  auto r = parse(R"({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "InputPath": "$count", "ResultPath": "$total", "End": true}}})");
  CHECK(r.definition == nullptr);
  CHECK(find(r, "/States/A/InputPath") == nullptr);
  CHECK_DIAG(r, "/States/A/ResultPath", "must be a valid ReferencePath");
}

TEST_CASE("parse: JSONata states are validated with their own fields") {
  auto r = parse(R"({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Arguments": "{% $states.input %}", "Output": {"x": 1}, "Assign": {"v": 1},
          "TimeoutSeconds": "{% 3 %}", "Next": "W"},
    "W": {"Type": "Wait", "Seconds": "{% 1 %}", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "S"}], "Default": "P"},
    "P": {"Type": "Pass", "InputPath": "$", "Next": "S"},
    "S": {"Type": "Succeed"}}})");
  CHECK(r.definition == nullptr);
  CHECK_DIAG(r, "/States/P/InputPath", "not supported in a Pass state using JSONata");
  CHECK(r.diagnostics.size() == 1);

  auto state_level = parse(R"({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"a": "{% 1 + 1 %}"}, "End": true}}})");
  CHECK(state_level.diagnostics.empty());
  REQUIRE(state_level.definition != nullptr);
  CHECK(state_level.definition->top().states[0].jsonata);
  CHECK(state_level.definition->top().states[0].output.has_value());

  auto back = parse(R"({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
    "A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}})");
  CHECK_DIAG(back, "/States/A", "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine");
}

// ---------------------------------------------------------------------------
// The conformance corpus.

TEST_CASE("conformance: every INVALID_DEFINITION case is rejected as AWS rejects it") {
  auto files = case_files("validation");
  REQUIRE(files.size() == 23);
  for (const auto& file : files) {
    CAPTURE(file.filename().string());
    json::value c = *parse_json(read_file(file));
    const json::object& expected = c.at("expected").get_object();
    REQUIRE(expected.at("status") == "INVALID_DEFINITION");
    ParseOptions options;
    if (const auto* ctx = c.as_object().if_contains("context")) {
      if (const auto* type = ctx->as_object().if_contains("state_machine_type"))
        options.express = *type == "EXPRESS";
    }
    ParseResult r;
    if (const auto* text = c.as_object().if_contains("definition_text")) {
      r = parse_definition_text(text->get_string(), options);
    } else {
      r = parse_definition(c.at("definition"), options);
    }
    INFO("diagnostics:\n" << describe(r.diagnostics));
    CHECK(r.definition == nullptr);
    for (const auto& e : expected.at("diagnostics").get_array()) {
      std::string code(e.at("code").get_string());
      std::string message(e.at("message").get_string());
      const json::value* location = e.as_object().if_contains("location");
      CAPTURE(code);
      CAPTURE(message);
      bool matched = false;
      for (const auto& d : r.diagnostics) {
        if (d.code != code) continue;
        if (!location) {
          matched = d.message == message;
        } else if (code == "INVALID_JSON_DESCRIPTION") {
          matched = true;  // AWS's location is its Jackson parser's "[Source: ...]" text
        } else {
          // AWS writes the root as "/", RFC 6901 as "". CreateStateMachine
          // appends " at <location>" to the message; ValidateStateMachineDefinition
          // does not.
          std::string where(location->get_string());
          matched = d.pointer == (where == "/" ? "" : where) &&
                    (d.message == message || d.message + " at " + where == message);
        }
        if (matched) break;
      }
      CHECK(matched);
    }
  }
}

TEST_CASE("conformance: every definition AWS ran parses without diagnostics, JSONata and Assign included") {
  int parsed = 0;
  for (const auto& file : case_files()) {
    json::value c = *parse_json(read_file(file));
    const json::object& o = c.as_object();
    if (o.at("expected").at("status") == "INVALID_DEFINITION") continue;
    CAPTURE(file.filename().string());
    ParseOptions options;
    options.express = o.at("context").at("state_machine_type") == "EXPRESS";
    auto r = parse_definition(o.at("definition"), options);
    INFO("diagnostics:\n" << describe(r.diagnostics));
    CHECK(r.diagnostics.empty());
    CHECK(r.definition != nullptr);
    ++parsed;
  }
  CHECK(parsed > 1000);
}

TEST_CASE("pass_chain.asl.json (200 KiB, 1000 states per iteration) parses into the model") {
  // Its speed is measured by bench/ (stepwise_bench), not here.
  std::string text = read_file(source_dir() / "bench/workflows/pass_chain.asl.json");
  REQUIRE(text.size() > 100000);
  auto r = parse_definition(*parse_json(text));
  REQUIRE(r.definition != nullptr);
  REQUIRE(r.definition->machines.size() == 2);
  CHECK(r.definition->machine(1).states.size() == 1000);
}

TEST_CASE("regression: $name references parse as variables, not as $") {
  auto params = parse_definition_text(
      R"({"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$x"},"End":true}}})");
  CHECK(params.diagnostics.empty());
  auto intrinsic = parse_definition_text(
      R"json({"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"States.ArrayGetItem($x, 0)"},"End":true}}})json");
  CHECK(intrinsic.diagnostics.empty());
  auto choice = parse_definition_text(R"({"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[
      {"Variable":"$x","StringEquals":"a","Next":"D"}],"Default":"D"},"D":{"Type":"Succeed"}}})");
  CHECK(choice.diagnostics.empty());
}

TEST_CASE("regression: ItemReader, ItemBatcher and ResultWriter are refused until distributed Map reads files") {
  auto r = parse_definition_text(R"({"StartAt":"M","States":{"M":{"Type":"Map",
      "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","Parameters":{"Bucket":"b","Key":"k"}},
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
                       "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}})");
  CHECK(r.definition == nullptr);
  bool found = false;
  for (const auto& d : r.diagnostics) found = found || d.pointer == "/States/M/ItemReader";
  CHECK(found);
}
