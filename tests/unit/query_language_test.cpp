// JSONata states and workflow variables (Assign) where the conformance corpus
// does not reach: validation pointers, scope rules, the values Assign and
// Output see, assignedVariables in history, variables in snapshots.
#include <string>

#include "engine/snapshot.h"
#include "engine_test_util.h"

using namespace stepwise;
using stepwise::testing::parse_or_fail;
using stepwise::testing::virtual_time_options;

namespace {

json::value J(const char* text) { return *parse_json(text); }

ExecutionResult run(Engine& e, const char* def, const char* input = "{}", RunOptions o = {}) {
  return e.run(parse_or_fail(def), J(input), std::move(o));
}

// The diagnostics of a definition that must be rejected, as "pointer: message" lines.
std::string rejected(const char* def) {
  auto r = states::parse_definition_text(def);
  REQUIRE_FALSE(r.diagnostics.empty());
  std::string out;
  for (const auto& d : r.diagnostics) out += d.pointer + ": " + d.message + "\n";
  return out;
}

}  // namespace

TEST_CASE("JSONata validation: fields of the other query language are rejected where they are") {
  std::string d = rejected(R"({"QueryLanguage":"JSONata","StartAt":"A","States":{
      "A":{"Type":"Pass","InputPath":"$.x","Parameters":{"a":1},"Next":"B"},
      "B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","ResultSelector":{},"OutputPath":"$","End":true}}})");
  CHECK(d.find("/States/A/InputPath: The field 'InputPath' is not supported in a Pass state using JSONata") !=
        std::string::npos);
  CHECK(d.find("/States/A/Parameters:") != std::string::npos);
  CHECK(d.find("/States/B/ResultSelector:") != std::string::npos);
  CHECK(d.find("/States/B/OutputPath:") != std::string::npos);

  std::string p = rejected(R"({"StartAt":"A","States":{
      "A":{"Type":"Pass","Output":{"a":1},"Next":"B"},
      "B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Arguments":{},"End":true}}})");
  CHECK(p.find("/States/A/Output: The field 'Output' is not supported in a Pass state using JSONPath") !=
        std::string::npos);
  CHECK(p.find("/States/B/Arguments: The field 'Arguments' is not supported in a Task state using JSONPath") !=
        std::string::npos);
}

TEST_CASE("JSONata validation: a syntax error is reported with its pointer and position") {
  std::string d = rejected(R"({"QueryLanguage":"JSONata","StartAt":"A","States":{
      "A":{"Type":"Pass","Output":{"x":{"y":["ok","{% 1 + %}"]}},"End":true}}})");
  CHECK(d.find("/States/A/Output/x/y/1: The JSONata expression is not valid: S0207") != std::string::npos);
  CHECK(d.find("position") != std::string::npos);

  std::string c = rejected(R"({"StartAt":"C","States":{
      "C":{"Type":"Choice","QueryLanguage":"JSONata","Choices":[{"Condition":"{% $states.input.( %}","Next":"E"}]},
      "E":{"Type":"Succeed"}}})");
  CHECK(c.find("/States/C/Choices/0/Condition: The JSONata expression is not valid") != std::string::npos);
}

TEST_CASE("Assign validation: variable names must be identifiers and not 'states'") {
  std::string d = rejected(R"({"StartAt":"A","States":{
      "A":{"Type":"Pass","Assign":{"9lives":1,"states":2,"ok_1":3},"End":true}}})");
  CHECK(d.find("/States/A/Assign/9lives: The variable name '9lives' is not valid") != std::string::npos);
  CHECK(d.find("/States/A/Assign/states: The variable name 'states' is reserved") != std::string::npos);
  CHECK(d.find("ok_1") == std::string::npos);
}

TEST_CASE("Assign: every Assign and Output of a state sees the variables as of its entry") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"QueryLanguage":"JSONata","StartAt":"A","States":{
      "A":{"Type":"Pass","Assign":{"x":1},"Next":"B"},
      "B":{"Type":"Pass","Assign":{"x":"{% $x + 10 %}","y":"{% $x %}"},"Output":{"x":"{% $x %}"},"Next":"C"},
      "C":{"Type":"Pass","Output":{"x":"{% $x %}","y":"{% $y %}","before":"{% $states.input.x %}"},"End":true}}})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"({"x":11,"y":1,"before":1})");
}

TEST_CASE("Assign: a Map iteration reads the outer scope; its own variables stay inside") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"QueryLanguage":"JSONata","StartAt":"Init","States":{
      "Init":{"Type":"Pass","Assign":{"base":100},"Next":"M"},
      "M":{"Type":"Map","Items":[1,2],"ItemProcessor":{"StartAt":"In","States":{
          "In":{"Type":"Pass","Assign":{"inner":"{% $base + $states.input %}"},"Next":"Out"},
          "Out":{"Type":"Pass","Output":"{% $inner %}","End":true}}},
        "Next":"After"},
      "After":{"Type":"Pass","Output":{"r":"{% $states.input %}","base":"{% $base %}",
                                       "inner":"{% $exists($inner) %}"},"End":true}}})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"({"r":[101,102],"base":100,"inner":false})");
}

TEST_CASE("Assign: a matched Choice rule's Assign replaces the state's; a Catcher's replaces the Task's") {
  Engine e(virtual_time_options());
  e.functions().add("Boom", [](const json::value&, const InvocationContext&) -> json::value {
    throw TaskError("Bad", "it broke");
  });
  auto r = run(e, R"({"StartAt":"C","States":{
      "C":{"Type":"Choice","Assign":{"from":"state"},
           "Choices":[{"Variable":"$.go","BooleanEquals":true,"Assign":{"from":"rule","v.$":"$.n"},"Next":"T"}],
           "Default":"T"},
      "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Boom",
           "Assign":{"task":"ran"},
           "Catch":[{"ErrorEquals":["States.ALL"],"Assign":{"err.$":"$.Error"},"ResultPath":"$.caught","Next":"D"}],
           "End":true},
      "D":{"Type":"Pass","Parameters":{"from.$":"$from","v.$":"$v","err.$":"$err"},"End":true}}})",
               R"({"go":true,"n":7})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"({"from":"rule","v":7,"err":"Bad"})");
}

TEST_CASE("Assign: StateExited carries assignedVariables as JSON text") {
  Engine e(virtual_time_options());
  RunOptions o;
  o.record_history = true;
  auto r = run(e, R"({"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"n":1,"s":"t"},"End":true}}})", "{}", o);
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  const HistoryEvent* exited = nullptr;
  for (const auto& ev : r.history)
    if (ev.type == "PassStateExited") exited = &ev;
  REQUIRE(exited != nullptr);
  auto det = exited->details_object().at("stateExitedEventDetails").as_object();
  CHECK(to_json(det.at("assignedVariables")) == R"({"n":"1","s":"\"t\""})");
  CHECK(to_json(det.at("assignedVariablesDetails")) == R"({"truncated":false})");
}

TEST_CASE("JSONata: an undefined result and a failing expression are States.QueryEvaluationError") {
  Engine e(virtual_time_options());
  RunOptions o;
  o.record_history = true;
  auto r = run(e, R"({"QueryLanguage":"JSONata","StartAt":"A","States":{
      "A":{"Type":"Pass","Output":{"v":"{% $nope %}"},"End":true}}})", "{}", o);
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.QueryEvaluationError");
  CHECK(r.cause.find("The JSONata expression '$nope' specified for the field 'Output/v' returned nothing") !=
        std::string::npos);
  bool evaluation_failed = false;
  for (const auto& ev : r.history) evaluation_failed |= ev.type == "EvaluationFailed";
  CHECK(evaluation_failed);

  auto r2 = run(e, R"({"QueryLanguage":"JSONata","StartAt":"A","States":{
      "A":{"Type":"Pass","Output":"{% 1 + 'a' %}","End":true}}})");
  CHECK(r2.error == "States.QueryEvaluationError");
  CHECK(r2.cause.find("threw an error during evaluation. T2002:") != std::string::npos);
}

TEST_CASE("Assign: a variable over 256 KiB fails the state") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"QueryLanguage":"JSONata","StartAt":"A","States":{
      "A":{"Type":"Pass","Assign":{"big":"{% $join([1..30000].$string($pad('', 10, 'x'))) %}"},"End":true}}})");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.DataLimitExceeded");
  CHECK(r.cause.find("'big'") != std::string::npos);
}

TEST_CASE("Variables are part of the snapshot and survive a round trip") {
  Engine e(virtual_time_options());
  std::vector<ExecutionSnapshot> snaps;
  RunOptions o;
  o.on_transition = [&](const Checkpoint& c) { snaps.push_back(c.snapshot()); };
  auto r = run(e, R"({"StartAt":"A","States":{
      "A":{"Type":"Pass","Assign":{"k":{"deep":[1,2]}},"Next":"W"},
      "W":{"Type":"Wait","Seconds":5,"Next":"B"},
      "B":{"Type":"Pass","Parameters":{"k.$":"$k.deep[1]"},"End":true}}})", "{}", o);
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"({"k":2})");
  bool seen = false;
  for (const auto& s : snaps) {
    json::value j = snapshot_to_json(s);
    auto back = snapshot_from_json(j);
    REQUIRE(back);
    CHECK(back->state == s.state);
    if (!s.state.frames.empty() && !s.state.frames[0].variables.empty()) {
      seen = true;
      CHECK(to_json(s.state.frames[0].variables) == R"({"k":{"deep":[1,2]}})");
    }
  }
  CHECK(seen);
}

TEST_CASE("Assign validation: a branch or iteration cannot shadow a variable of an enclosing scope") {
  std::string d = rejected(R"({"StartAt":"Init","States":{
      "Init":{"Type":"Pass","Assign":{"x":1,"y.$":"$.n"},"Next":"P"},
      "P":{"Type":"Parallel","Branches":[
          {"StartAt":"B","States":{"B":{"Type":"Pass","Assign":{"x":2},"End":true}}},
          {"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true,
              "Catch":[{"ErrorEquals":["States.ALL"],"Assign":{"y":0},"Next":"F"}]},"F":{"Type":"Fail"}}}],
       "Next":"M"},
      "M":{"Type":"Map","ItemProcessor":{"StartAt":"C","States":{
          "C":{"Type":"Choice","Choices":[{"Variable":"$","IsNull":true,"Assign":{"x.$":"$"},"Next":"E"}],
               "Default":"E"},
          "E":{"Type":"Succeed"}}},"End":true}}})");
  CHECK(d.find("/States/P/Branches/0/States/B/Assign/x: The variable 'x' is already assigned in an enclosing "
               "scope (at /States/Init/Assign/x)") != std::string::npos);
  CHECK(d.find("/States/P/Branches/1/States/T/Catch/0/Assign/y: The variable 'y' is already assigned") !=
        std::string::npos);
  CHECK(d.find("/States/M/ItemProcessor/States/C/Choices/0/Assign/x.$: The variable 'x'") != std::string::npos);

  // A nested Map inside a branch sees the branch's variables as outer ones.
  std::string n = rejected(R"({"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"z":1},"Next":"M"},
       "M":{"Type":"Map","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"z":2},"End":true}}},
            "End":true}}}],"End":true}}})");
  CHECK(n.find("/States/P/Branches/0/States/M/ItemProcessor/States/I/Assign/z: The variable 'z'") !=
        std::string::npos);
}

TEST_CASE("Assign validation: sibling scopes and distributed Map children may reuse a name") {
  // Two branches are not nested in each other, a later top-level state may
  // assign again, and a distributed Map's children see no outer variables.
  auto ok = states::parse_definition_text(R"({"StartAt":"Init","States":{
      "Init":{"Type":"Pass","Assign":{"x":1},"Next":"P"},
      "P":{"Type":"Parallel","Branches":[
          {"StartAt":"B1","States":{"B1":{"Type":"Pass","Assign":{"local":1},"End":true}}},
          {"StartAt":"B2","States":{"B2":{"Type":"Pass","Assign":{"local":2},"End":true}}}],"Next":"Again"},
      "Again":{"Type":"Pass","Assign":{"x":3},"Next":"D"},
      "D":{"Type":"Map","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
           "StartAt":"C","States":{"C":{"Type":"Pass","Assign":{"x":4},"End":true}}},"End":true}}})");
  for (const auto& diag : ok.diagnostics) INFO(diag.pointer << ": " << diag.message);
  CHECK(ok.diagnostics.empty());
  CHECK(ok.definition != nullptr);
}

namespace {

// A Map whose `n` iterations each assign a variable of about 195 KiB and then
// wait, so that all their scopes are alive at once unless `max_concurrency`
// runs them one after the other.
std::string wide_assign_map(int n, int max_concurrency) {
  return R"({"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map","Items":"{% [1..)" +
         std::to_string(n) + R"(] %}","MaxConcurrency":)" + std::to_string(max_concurrency) +
         R"(,"ItemProcessor":{"StartAt":"A","States":{
           "A":{"Type":"Pass","Assign":{"big":"{% $pad('', 200000, 'x') %}"},"Next":"W"},
           "W":{"Type":"Wait","Seconds":1,"Output":"{% $length($big) %}","End":true}}},"End":true}}})";
}

}  // namespace

TEST_CASE("Assign: the variables of every scope alive count against the execution's 10 MiB") {
  Engine e(virtual_time_options());
  // 60 live iterations x 195 KiB = 11.4 MiB: over the limit, though each
  // iteration's own chain of scopes holds only 195 KiB.
  auto over = run(e, wide_assign_map(60, 0).c_str());
  CHECK(over.status == ExecutionStatus::Failed);
  CHECK(over.error == "States.DataLimitExceeded");
  CHECK(over.cause.find("An error occurred while executing the state 'A'") == 0);
  CHECK(over.cause.find("The execution's variables have a size exceeding the maximum number of bytes service limit.") !=
        std::string::npos);

  // 40 live iterations (7.6 MiB) stay under it.
  auto under = run(e, wide_assign_map(40, 0).c_str());
  CHECK(under.status == ExecutionStatus::Succeeded);

  // One iteration at a time: each finished iteration's scope is gone, so 60
  // of them never hold more than one variable.
  auto serial = run(e, wide_assign_map(60, 1).c_str());
  REQUIRE(serial.status == ExecutionStatus::Succeeded);
  CHECK(serial.output.as_array().size() == 60);
  CHECK(serial.output.as_array()[59] == 200000);
}
