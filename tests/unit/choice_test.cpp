#include "states/choice.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "states/json.h"

using namespace stepwise;
using namespace stepwise::states;

namespace {

json::value parse(std::string_view text) {
  auto v = parse_json(text);
  REQUIRE(v.has_value());
  return *v;
}

std::string describe(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags) out += d.pointer + ": " + d.message + "\n";
  return out;
}

// Compiles a nested (Next-less) rule given as JSON text; fails the test on diagnostics.
ChoiceRule rule(std::string_view text) {
  Diagnostics diags;
  auto r = ChoiceRule::compile(parse(text), "/r", /*top_level=*/false, diags);
  INFO(describe(diags));
  REQUIRE(diags.empty());
  REQUIRE(r.has_value());
  return *r;
}

const json::value kEmptyContext = json::object();

// Evaluates a rule on an input given as JSON text; fails the test on a Failure.
bool eval(const ChoiceRule& r, std::string_view input, const json::value& context = kEmptyContext) {
  json::value in = parse(input);
  auto result = r.evaluate(Scope{in, context});
  if (!result.ok()) FAIL_CHECK("unexpected failure: " << result.failure().cause);
  return result.ok() && *result;
}

bool eval(std::string_view rule_text, std::string_view input) {
  return eval(rule(rule_text), input);
}

// The diagnostics compiling the rule produces.
Diagnostics diagnose(std::string_view text, bool top_level = false) {
  Diagnostics diags;
  auto r = ChoiceRule::compile(parse(text), "/States/C/Choices/0", top_level, diags);
  CHECK(r.has_value() == diags.empty());
  return diags;
}

bool has_diagnostic(const Diagnostics& diags, std::string_view pointer, std::string_view message) {
  for (const auto& d : diags)
    if (d.pointer == pointer && d.message == message) return true;
  return false;
}

std::filesystem::path corpus_dir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "conformance" / "cases" /
         "choice_operators";
}

}  // namespace

// Every JSONPath case of the choice_operators corpus: the template state
// "CheckValues" branches to ConditionTrue or ConditionFalse, and the expected
// output names the branch AWS took.
TEST_CASE("choice rules pick the branch AWS picked in every choice_operators case") {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir())) {
    std::ifstream file(entry.path());
    std::stringstream text;
    text << file.rdbuf();
    json::value test_case = parse(text.str());
    const json::object& c = test_case.as_object();
    if (c.at("query_language").as_string() != "JSONPath") continue;
    const json::object& states = c.at("definition").at("States").as_object();
    const json::value* check = states.if_contains("CheckValues");
    const json::object& expected = c.at("expected").as_object();
    const json::value* output = expected.if_contains("output");
    if (!check || !output || !output->is_object() || !output->as_object().contains("TestResult.$"))
      continue;
    INFO(entry.path().filename().string());

    std::string taken = std::string(check->at("Default").as_string());
    const json::value& input = c.at("input");
    for (const auto& choice : check->at("Choices").as_array()) {
      Diagnostics diags;
      auto r = ChoiceRule::compile(choice, "/States/CheckValues/Choices/0", true, diags);
      INFO(describe(diags));
      REQUIRE(r.has_value());
      auto result = r->evaluate(Scope{input, kEmptyContext});
      REQUIRE(result.ok());
      if (*result) {
        taken = std::string(choice.at("Next").as_string());
        break;
      }
    }
    CHECK(taken == output->at("TestResult.$").as_string());
    ++checked;
  }
  CHECK(checked == 472);
}

TEST_CASE("AWS docs scenario: Not, NumericEquals and And over a range") {
  // choice_operators/scenarios__...CHOICE_STATE_AWS_SCENARIO and scenarios/test_path_based_on_data.
  auto choices = parse(R"([
    {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
    {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
    {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20},
             {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"}])");
  auto pick = [&](std::string_view input) -> std::string {
    json::value in = parse(input);
    for (const auto& choice : choices.as_array()) {
      Diagnostics diags;
      auto r = ChoiceRule::compile(choice, "/c", true, diags);
      REQUIRE(r);
      auto hit = r->evaluate(Scope{in, kEmptyContext});
      REQUIRE(hit.ok());
      if (*hit) return std::string(choice.at("Next").as_string());
    }
    return "Default";
  };
  CHECK(pick(R"({"type": "Private", "value": 22})") == "ValueInTwenties");
  CHECK(pick(R"({"type": "Public", "value": 3})") == "Public");
  CHECK(pick(R"({"type": "Private", "value": 3})") == "Default");
  CHECK(pick(R"({"type": "Private", "value": 0})") == "ValueIsZero");
  CHECK(pick(R"({"type": "Private", "value": 30})") == "Default");
}

TEST_CASE("string comparisons") {
  CHECK(eval(R"({"Variable": "$.v", "StringEquals": "Hello"})", R"({"v": "Hello"})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "StringEquals": "Hello"})", R"({"v": "hello"})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "StringEquals": "1"})", R"({"v": 1})"));
  CHECK(eval(R"({"Variable": "$.v", "StringLessThan": "AB"})", R"({"v": "A"})"));
  CHECK(eval(R"({"Variable": "$.v", "StringLessThan": "b"})", R"({"v": "a"})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "StringLessThan": "A"})", R"({"v": "A"})"));
  CHECK(eval(R"({"Variable": "$.v", "StringLessThanEquals": "A"})", R"({"v": "A"})"));
  CHECK(eval(R"({"Variable": "$.v", "StringGreaterThan": "A"})", R"({"v": "A "})"));
  CHECK(eval(R"({"Variable": "$.v", "StringGreaterThanEquals": ""})", R"({"v": ""})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "StringGreaterThan": "a"})", R"({"v": "B"})"));
  CHECK(eval(R"({"Variable": "$.v", "StringEqualsPath": "$.w"})", R"({"v": "x", "w": "x"})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "StringEqualsPath": "$.w"})", R"({"v": "1", "w": 1})"));
}

TEST_CASE("string order is Java's UTF-16 order") {
  // U+FF61 (3 UTF-8 bytes, one UTF-16 unit) sorts above U+1F600 (a surrogate
  // pair starting 0xD83D) in UTF-16, though below it in code point order.
  CHECK(eval(R"({"Variable": "$.v", "StringGreaterThan": "\ud83d\ude00"})",
             "{\"v\": \"\xEF\xBD\xA1\"}"));
  CHECK(eval(R"({"Variable": "$.v", "StringLessThan": "\u00e9"})", R"({"v": "z"})"));
  CHECK(
      eval(R"({"Variable": "$.v", "StringLessThan": "\ud83d\ude01"})", R"({"v": "\ud83d\ude00"})"));
}

TEST_CASE("StringMatches wildcards and escapes") {
  auto matches = [](std::string_view pattern_json, std::string_view value_json) {
    return eval(rule(std::string(R"({"Variable": "$.v", "StringMatches": )") +
                     std::string(pattern_json) + "}"),
                std::string(R"({"v": )") + std::string(value_json) + "}");
  };
  // The ASL spec's examples.
  CHECK(matches(R"("foo*.log")", R"("foo23.log")"));
  CHECK(matches(R"("*.log")", R"("zebra.log")"));
  CHECK(matches(R"("foo*.*")", R"("foobar.zebra")"));
  CHECK_FALSE(matches(R"("foo*.log")", R"("foo23.txt")"));
  CHECK_FALSE(matches(R"("*.log")", R"("zebra.log.gz")"));
  // Anchoring and multiple stars.
  CHECK(matches(R"("*")", R"("")"));
  CHECK(matches(R"("**")", R"("anything")"));
  CHECK(matches(R"("a*b*c")", R"("abc")"));
  CHECK(matches(R"("a*b*c")", R"("aXbYbZc")"));
  CHECK_FALSE(matches(R"("a*b*c")", R"("acb")"));
  CHECK_FALSE(matches(R"("ab*ba")", R"("aba")"));  // pieces must not overlap
  CHECK(matches(R"("exact")", R"("exact")"));
  CHECK_FALSE(matches(R"("exact")", R"("exactly")"));
  // Escapes: \* is a literal star, \\ a literal backslash.
  CHECK(matches(R"("a\\*b")", R"("a*b")"));
  CHECK_FALSE(matches(R"("a\\*b")", R"("aXb")"));
  CHECK(matches(R"("a\\\\*")", R"("a\\xyz")"));
  CHECK_FALSE(matches(R"("a\\\\*")", R"("axyz")"));
  CHECK(matches(R"("*\\*")", R"("x*")"));
  // Only strings match.
  CHECK_FALSE(matches(R"("*")", "1"));
  CHECK_FALSE(matches(R"("*")", "null"));
}

TEST_CASE("numeric comparisons compare by value across int and double") {
  CHECK(eval(R"({"Variable": "$.v", "NumericEquals": 1})", R"({"v": 1.0})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericEquals": 1.0})", R"({"v": 1})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericEquals": 2.22})", R"({"v": 2.22})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "NumericEquals": 1})", R"({"v": 1.1})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "NumericEquals": 1})", R"({"v": "1"})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "NumericEquals": 1})", R"({"v": true})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "NumericEquals": 0})", R"({"v": null})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericLessThan": 0})", R"({"v": -0.5})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericGreaterThan": -1})", R"({"v": 18446744073709551615})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericLessThan": 18446744073709551615})",
             R"({"v": 9223372036854775807})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericGreaterThan": 9223372036854775806})",
             R"({"v": 9223372036854775807})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericLessThanEquals": 1.5})", R"({"v": 1})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericGreaterThanEquals": 1})", R"({"v": 1})"));
  CHECK(eval(R"({"Variable": "$.v", "NumericLessThanPath": "$.w"})", R"({"v": 1, "w": 1.5})"));
  CHECK_FALSE(
      eval(R"({"Variable": "$.v", "NumericLessThanPath": "$.w"})", R"({"v": 1, "w": "2"})"));
}

TEST_CASE("boolean comparisons") {
  CHECK(eval(R"({"Variable": "$.v", "BooleanEquals": true})", R"({"v": true})"));
  CHECK(eval(R"({"Variable": "$.v", "BooleanEquals": false})", R"({"v": false})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "BooleanEquals": false})", R"({"v": 0})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "BooleanEquals": true})", R"({"v": "true"})"));
  CHECK(eval(R"({"Variable": "$.v", "BooleanEqualsPath": "$.w"})", R"({"v": false, "w": false})"));
  CHECK_FALSE(
      eval(R"({"Variable": "$.v", "BooleanEqualsPath": "$.w"})", R"({"v": false, "w": null})"));
}

TEST_CASE("timestamp comparisons compare instants") {
  CHECK(eval(R"({"Variable": "$.v", "TimestampEquals": "2012-10-09T19:00:55Z"})",
             R"({"v": "2012-10-09T20:00:55+01:00"})"));
  CHECK(eval(R"({"Variable": "$.v", "TimestampEquals": "2012-10-09T19:00:55Z"})",
             R"({"v": "2012-10-09T19:00:55.000Z"})"));
  CHECK(eval(R"({"Variable": "$.v", "TimestampLessThan": "2012-10-09T19:00:55.000000001Z"})",
             R"({"v": "2012-10-09T19:00:55Z"})"));
  CHECK(eval(R"({"Variable": "$.v", "TimestampGreaterThan": "2012-10-09T19:00:55Z"})",
             R"({"v": "9999-12-31T23:59:59Z"})"));
  CHECK(eval(R"({"Variable": "$.v", "TimestampLessThanEquals": "2012-10-09T19:00:55Z"})",
             R"({"v": "2012-10-09T19:00:55Z"})"));
  CHECK(eval(R"({"Variable": "$.v", "TimestampGreaterThanEquals": "2012-10-09T19:00:55Z"})",
             R"({"v": "2012-10-09T19:00:56Z"})"));
  // A value that is not a timestamp makes the comparison false, not an error.
  CHECK_FALSE(eval(R"({"Variable": "$.v", "TimestampEquals": "2012-10-09T19:00:55Z"})",
                   R"({"v": "2012-10-09T19:00:55"})"));
  CHECK_FALSE(
      eval(R"({"Variable": "$.v", "TimestampLessThan": "2012-10-09T19:00:55Z"})", R"({"v": 0})"));
  CHECK(eval(R"({"Variable": "$.v", "TimestampLessThanPath": "$.w"})",
             R"({"v": "2012-10-09T19:00:55Z", "w": "2012-10-09T19:00:56Z"})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "TimestampLessThanPath": "$.w"})",
                   R"({"v": "2012-10-09T19:00:55Z", "w": "tomorrow"})"));
}

TEST_CASE("type tests") {
  CHECK(eval(R"({"Variable": "$.v", "IsNull": true})", R"({"v": null})"));
  CHECK(eval(R"({"Variable": "$.v", "IsNull": false})", R"({"v": 0})"));
  CHECK(eval(R"({"Variable": "$.v", "IsNumeric": true})", R"({"v": 1.1})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "IsNumeric": true})", R"({"v": "1"})"));
  CHECK(eval(R"({"Variable": "$.v", "IsString": true})", R"({"v": ""})"));
  CHECK(eval(R"({"Variable": "$.v", "IsString": false})", R"({"v": [""]})"));
  CHECK(eval(R"({"Variable": "$.v", "IsBoolean": true})", R"({"v": false})"));
  CHECK(eval(R"({"Variable": "$.v", "IsBoolean": false})", R"({"v": null})"));
  CHECK(eval(R"({"Variable": "$.v", "IsTimestamp": true})", R"({"v": "2016-03-14T01:59:00Z"})"));
  CHECK(eval(R"({"Variable": "$.v", "IsTimestamp": false})", R"({"v": "2023-02-24"})"));
  CHECK(eval(R"({"Variable": "$.v", "IsTimestamp": false})", R"({"v": 12})"));
  CHECK(eval(R"({"Variable": "$.v", "IsPresent": true})", R"({"v": null})"));
  CHECK(eval(R"({"Variable": "$.v", "IsPresent": false})", R"({"w": 1})"));
  CHECK_FALSE(eval(R"({"Variable": "$.v", "IsPresent": true})", R"({"w": 1})"));
  CHECK(eval(R"({"Variable": "$.a.b", "IsPresent": false})", R"({"a": "not an object"})"));
}

TEST_CASE("a missing Variable or operand path is States.Runtime") {
  json::value in = parse(R"({"v": 1})");
  auto missing_variable = rule(R"({"Variable": "$.missing", "NumericEquals": 1})");
  auto r = missing_variable.evaluate(Scope{in, kEmptyContext});
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure().error == "States.Runtime");
  CHECK(r.failure().cause ==
        "Invalid path '$.missing': The choice state's condition path references an invalid "
        "value.");
  CHECK(r.failure().in_state);

  auto missing_operand = rule(R"({"Variable": "$.v", "NumericEqualsPath": "$.right"})");
  r = missing_operand.evaluate(Scope{in, kEmptyContext});
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure().cause ==
        "Invalid path '$.right': The choice state's condition path references an invalid value.");

  // Type tests other than IsPresent need the value too.
  r = rule(R"({"Variable": "$.missing", "IsNull": false})").evaluate(Scope{in, kEmptyContext});
  CHECK_FALSE(r.ok());
  // The error passes through Not, And and Or.
  r = rule(R"({"Not": {"Variable": "$.missing", "StringEquals": "x"}})")
          .evaluate(Scope{in, kEmptyContext});
  CHECK_FALSE(r.ok());
  // ... but And and Or stop at the first rule that decides them.
  CHECK_FALSE(eval(R"({"And": [{"Variable": "$.v", "NumericEquals": 2},
                                {"Variable": "$.missing", "NumericEquals": 1}]})",
                   R"({"v": 1})"));
  CHECK(eval(R"({"Or": [{"Variable": "$.v", "NumericEquals": 1},
                         {"Variable": "$.missing", "NumericEquals": 1}]})",
             R"({"v": 1})"));
  // The usual guard: IsPresent first.
  CHECK_FALSE(eval(R"({"And": [{"Variable": "$.missing", "IsPresent": true},
                                {"Variable": "$.missing", "NumericEquals": 1}]})",
                   R"({"v": 1})"));
}

TEST_CASE("And, Or and Not nest to any depth") {
  auto r = rule(R"({"Or": [
      {"And": [{"Variable": "$.a", "IsPresent": true},
               {"Not": {"Not": {"Variable": "$.a", "NumericGreaterThan": 10}}}]},
      {"Not": {"Or": [{"Variable": "$.b", "StringEquals": "x"},
                      {"Variable": "$.b", "StringEquals": "y"}]}}]})");
  CHECK(eval(r, R"({"a": 11, "b": "x"})"));
  CHECK_FALSE(eval(r, R"({"a": 10, "b": "x"})"));
  CHECK(eval(r, R"({"a": 10, "b": "z"})"));
  CHECK_FALSE(eval(r, R"({"b": "y"})"));
  CHECK(eval(R"({"And": [{"Variable": "$.type", "StringEquals": "Public"}]})",
             R"({"type": "Public", "value": 22})"));
}

TEST_CASE("Variable and operand paths may read the context object") {
  // context_object/test_variable: "$$.Execution.Input.input-value" <= 0.
  json::value context = parse(R"({"Execution": {"Input": {"input-value": 0}}})");
  auto r = rule(R"({"Variable": "$$.Execution.Input.input-value", "NumericLessThanEquals": 0})");
  CHECK(eval(r, "{}", context));
  auto p = rule(R"({"Variable": "$.v", "NumericEqualsPath": "$$.Execution.Input.input-value"})");
  CHECK(eval(p, R"({"v": 0})", context));
  CHECK_FALSE(eval(p, R"({"v": 1})", context));
}

TEST_CASE("copies of a compiled rule share and keep working") {
  auto original = rule(R"({"Variable": "$.v", "StringMatches": "a*"})");
  ChoiceRule copy = original;
  ChoiceRule moved = std::move(original);
  CHECK(eval(copy, R"({"v": "abc"})"));
  CHECK(eval(moved, R"({"v": "abc"})"));
  copy = moved;
  CHECK_FALSE(eval(copy, R"({"v": "bc"})"));
}

TEST_CASE("compile: top-level rules need Next, nested ones must not have it") {
  auto diags = diagnose(R"({"Variable": "$.v", "IsNull": true})", /*top_level=*/true);
  CHECK(has_diagnostic(diags, "/States/C/Choices/0", "These fields are required: [Next]"));
  CHECK(diagnose(R"({"Variable": "$.v", "IsNull": true, "Next": "S"})", true).empty());
  CHECK(diagnose(R"({"Variable": "$.v", "IsNull": true, "Next": "S", "Assign": {"x": 1},
                     "Comment": "c"})",
                 true)
            .empty());
  diags =
      diagnose(R"({"Not": {"Variable": "$.v", "IsNull": true, "Next": "S"}, "Next": "S"})", true);
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/Not/Next",
                       "The field 'Next' is not supported in a nested choice rule"));
  CHECK(diags.size() == 1);
}

TEST_CASE("compile: exactly one comparison operator") {
  auto diags = diagnose(R"({"Variable": "$.v"})");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0", "Choice rule has no comparison operator"));
  diags = diagnose(R"({"Variable": "$.v", "StringEquals": "a", "NumericEquals": 1})");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0",
                       "Choice rule has both StringEquals and NumericEquals"));
  diags = diagnose(R"({"And": [{"Variable": "$.v", "IsNull": true}],
                       "Or": [{"Variable": "$.v", "IsNull": true}]})");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0", "Choice rule has both And and Or"));
  diags = diagnose(R"("StringEquals")");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0", "Choice rule must be an object"));
}

TEST_CASE("compile: Variable is required and must be a path") {
  auto diags = diagnose(R"({"StringEquals": "a"})");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0", "These fields are required: [Variable]"));
  diags = diagnose(R"({"Variable": 5, "StringEquals": "a"})");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/Variable",
                       "The value for the field 'Variable' must be a valid JSONPath"));
  diags = diagnose(R"({"Variable": "v", "StringEquals": "a"})");
  REQUIRE(diags.size() == 1);
  CHECK(diags[0].pointer == "/States/C/Choices/0/Variable");
  CHECK(diags[0].message.rfind("The value for the field 'Variable' must be a valid JSONPath", 0) ==
        0);
  diags = diagnose(R"({"Variable": "$.v", "StringEqualsPath": "nope"})");
  REQUIRE(diags.size() == 1);
  CHECK(diags[0].pointer == "/States/C/Choices/0/StringEqualsPath");
  diags = diagnose(R"({"And": [{"Variable": "$.v", "IsNull": true}], "Variable": "$.v"})");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/Variable",
                       "The field 'Variable' is not supported with And"));
}

TEST_CASE("compile: operand types") {
  struct Case {
    const char* rule;
    const char* pointer;
    const char* message;
  };
  const Case cases[] = {
      {R"({"Variable": "$.v", "StringEquals": 1})", "/StringEquals",
       "The value for the field 'StringEquals' must be a string"},
      {R"({"Variable": "$.v", "StringLessThan": null})", "/StringLessThan",
       "The value for the field 'StringLessThan' must be a string"},
      {R"({"Variable": "$.v", "StringMatches": ["a"]})", "/StringMatches",
       "The value for the field 'StringMatches' must be a string"},
      {R"({"Variable": "$.v", "NumericEquals": "1"})", "/NumericEquals",
       "The value for the field 'NumericEquals' must be a number"},
      {R"({"Variable": "$.v", "NumericGreaterThanEquals": true})", "/NumericGreaterThanEquals",
       "The value for the field 'NumericGreaterThanEquals' must be a number"},
      {R"({"Variable": "$.v", "BooleanEquals": "true"})", "/BooleanEquals",
       "The value for the field 'BooleanEquals' must be a boolean"},
      {R"({"Variable": "$.v", "IsPresent": 1})", "/IsPresent",
       "The value for the field 'IsPresent' must be a boolean"},
      {R"({"Variable": "$.v", "IsTimestamp": "yes"})", "/IsTimestamp",
       "The value for the field 'IsTimestamp' must be a boolean"},
      {R"({"Variable": "$.v", "TimestampEquals": 5})", "/TimestampEquals",
       "The value for the field 'TimestampEquals' must be a string"},
      {R"({"Variable": "$.v", "TimestampLessThan": "2016-12-05T21:29:29"})", "/TimestampLessThan",
       "String does not match RFC3339 timestamp"},
      {R"({"Variable": "$.v", "TimestampGreaterThan": "2016-13-05T21:29:29Z"})",
       "/TimestampGreaterThan", "String does not match RFC3339 timestamp"},
      {R"({"Variable": "$.v", "BooleanEqualsPath": true})", "/BooleanEqualsPath",
       "The value for the field 'BooleanEqualsPath' must be a valid JSONPath"},
      {R"({"And": []})", "/And",
       "The value for the field 'And' must be a non-empty array of choice rules"},
      {R"({"Or": {"Variable": "$.v", "IsNull": true}})", "/Or",
       "The value for the field 'Or' must be a non-empty array of choice rules"},
      {R"({"Not": [{"Variable": "$.v", "IsNull": true}]})", "/Not",
       "The value for the field 'Not' must be a choice rule object"},
  };
  for (const auto& c : cases) {
    INFO(c.rule);
    auto diags = diagnose(c.rule);
    CHECK(diags.size() == 1);
    CHECK(has_diagnostic(diags, std::string("/States/C/Choices/0") + c.pointer, c.message));
    for (const auto& d : diags) CHECK(d.code == "SCHEMA_VALIDATION_FAILED");
  }
}

TEST_CASE("compile: problems in nested rules point into And, Or and Not") {
  auto diags = diagnose(R"({"And": [{"Variable": "$.v", "IsNull": true},
                                    {"Or": [{"Variable": "$.v", "NumericEquals": "x"}]},
                                    {"Not": {"Variable": "$.v"}}]})");
  CHECK(diags.size() == 2);
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/And/1/Or/0/NumericEquals",
                       "The value for the field 'NumericEquals' must be a number"));
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/And/2/Not",
                       "Choice rule has no comparison operator"));
}

TEST_CASE("compile: unknown fields are reported with escaped pointers") {
  auto diags = diagnose(R"({"Variable": "$.v", "IsNull": true, "Foo": 1, "a/b~c": 2})");
  CHECK(diags.size() == 2);
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/Foo",
                       "The field 'Foo' is not supported by Step Functions"));
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/a~1b~0c",
                       "The field 'a/b~c' is not supported by Step Functions"));
  // Assign belongs to top-level rules only.
  diags = diagnose(R"({"Variable": "$.v", "IsNull": true, "Assign": {}})");
  CHECK(has_diagnostic(diags, "/States/C/Choices/0/Assign",
                       "The field 'Assign' is not supported in a nested choice rule"));
}

TEST_CASE("compile reports every problem, not just the first") {
  auto diags = diagnose(R"({"Variable": 1, "NumericEquals": "1", "Bar": 0})", true);
  CHECK(diags.size() == 4);  // Variable, operand, Bar, missing Next
}

TEST_CASE("compile: Variable and ...Path operands must be Reference Paths") {
  for (const char* path : {"$.items[*]", "$..name", "$.a[0:2]", "$.a[?(@.b == 1)]", "$.a[-1]"}) {
    INFO(path);
    auto diags = diagnose(std::string(R"({"Variable": ")") + path + R"(", "IsNull": true})");
    CHECK(has_diagnostic(diags, "/States/C/Choices/0/Variable",
                         "The value for the field 'Variable' must be a valid Reference Path"));
    diags = diagnose(std::string(R"({"Variable": "$.v", "StringEqualsPath": ")") + path + "\"}");
    CHECK(has_diagnostic(
        diags, "/States/C/Choices/0/StringEqualsPath",
        "The value for the field 'StringEqualsPath' must be a valid Reference Path"));
  }
}

TEST_CASE("Variable paths use names, brackets and indices") {
  CHECK(eval(R"({"Variable": "$['a b'][1].c", "StringEquals": "x"})",
             R"({"a b": [{}, {"c": "x"}]})"));
  CHECK(eval(R"({"Variable": "$", "StringEquals": "No messages"})", R"("No messages")"));
  CHECK(eval(R"({"Variable": "$.list[5]", "IsPresent": false})", R"({"list": [1]})"));
  CHECK(eval(R"({"Variable": "$.list[0]", "NumericEqualsPath": "$.list[1]"})",
             R"({"list": [2, 2.0]})"));
}
