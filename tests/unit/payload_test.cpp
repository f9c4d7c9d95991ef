#include "states/payload.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace stepwise;
using namespace stepwise::states;

namespace {

json::value j(std::string_view text) {
  return *parse_json(text);
}

PayloadTemplate compile_ok(const json::value& spec) {
  Diagnostics diags;
  auto t = PayloadTemplate::compile(spec, "/States/S/Parameters", diags);
  INFO("spec: ", to_json(spec), " first diagnostic: ", diags.empty() ? "" : diags[0].message);
  REQUIRE(t.has_value());
  CHECK(diags.empty());
  return *t;
}

Result<json::value> run(std::string_view spec, const json::value& input,
                        const json::value& context = json::object()) {
  auto t = compile_ok(j(spec));
  return t.evaluate(Scope{input, context, nullptr});
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The context object a recorded case ran with, as far as the cases use it.
json::value context_for(const json::object& c) {
  json::object ctx;
  const auto* info = c.if_contains("context");
  json::object execution;
  execution["Input"] = c.contains("input") ? c.at("input") : json::value(json::object());
  json::object machine;
  if (info && info->is_object()) {
    const auto& i = info->get_object();
    if (i.contains("execution_arn")) execution["Id"] = i.at("execution_arn");
    if (i.contains("execution_name")) execution["Name"] = i.at("execution_name");
    if (i.contains("role_arn")) execution["RoleArn"] = i.at("role_arn");
    if (i.contains("state_machine_arn")) machine["Id"] = i.at("state_machine_arn");
    if (i.contains("state_machine_name")) machine["Name"] = i.at("state_machine_name");
  }
  ctx["Execution"] = std::move(execution);
  ctx["StateMachine"] = std::move(machine);
  return ctx;
}

}  // namespace

TEST_CASE("payload template copies constants and resolves .$ keys") {
  auto input = j(R"j({"a":{"b":[1,2,3]},"s":"x"})j");
  auto context = j(R"j({"Execution":{"Name":"exec-1"}})j");
  auto r = run(R"j({"const":1,"nested":{"v.$":"$.a.b","k":[{"x.$":"$.s"},2]},
                    "whole.$":"$","name.$":"$$.Execution.Name",
                    "len.$":"States.ArrayLength($.a.b)"})j",
               input, context);
  REQUIRE(r.ok());
  CHECK(*r == j(R"j({"const":1,"nested":{"v":[1,2,3],"k":[{"x":"x"},2]},
                     "whole":{"a":{"b":[1,2,3]},"s":"x"},"name":"exec-1","len":3})j"));
  // Keys keep the template's order.
  CHECK(to_json(*r).starts_with(R"j({"const":1,"nested":{"v":[1,2,3],"k":)j"));
}

TEST_CASE("payload template of constants evaluates to the same value each time") {
  auto spec = j(R"j({"Error":"error-value","list":[1,{"a":null}],"dollar$":"$.not_a_path"})j");
  auto t = compile_ok(spec);
  json::value input = json::object();
  for (int i = 0; i < 3; ++i) {
    auto r = t.evaluate(Scope{input, input, nullptr});
    REQUIRE(r.ok());
    CHECK(*r == spec);
  }
  auto scalar = compile_ok(json::value(5));
  CHECK(*scalar.evaluate(Scope{input, input, nullptr}) == json::value(5));
}

TEST_CASE("payload template reports AWS's message for a missing path") {
  auto input = j(R"j({"int-literal":0})j");
  auto r = run(R"j({"value.$":"$.no_such_jsonpath"})j", input);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure().error == "States.Runtime");
  CHECK(r.failure().in_state);
  CHECK(r.failure().cause ==
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in "
        "the input '{\"int-literal\":0}'");

  auto context = j(R"j({"Execution":{"Input":{"int-literal":0}}})j");
  auto c = run(R"j({"value.$":"$$.Execution.Input.no_such_jsonpath"})j", input, context);
  REQUIRE_FALSE(c.ok());
  CHECK(
      c.failure().cause ==
      "The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' could "
      "not be found in the input '{\"int-literal\":0}'");

  auto nested = run(R"j({"outer":{"inner.$":"$.nope"}})j", input);
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.failure().cause.find("for the field 'inner.$'") != std::string::npos);
}

TEST_CASE("payload template: intrinsic failures pass through") {
  json::value input = json::object();
  auto r = run(R"j({"v.$":"States.ArrayGetItem(States.Array(1), 3)"})j", input);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure().error == "States.IntrinsicFailure");
  auto missing = run(R"j({"v.$":"States.Array($.gone)"})j", input);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.failure().cause ==
        "The JSONPath '$.gone' specified for the field 'v.$' could not be found in the input '{}'");
}

TEST_CASE("payload template: indefinite paths yield arrays") {
  auto input = j(R"j({"items":[{"id":1},{"id":2}]})j");
  auto r = run(R"j({"all.$":"$.items[*]"})j", input);
  REQUIRE(r.ok());
  CHECK(*r == j(R"j({"all":[{"id":1},{"id":2}]})j"));
}

TEST_CASE("payload template compile errors carry AWS's message and pointer") {
  Diagnostics diags;
  // ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION: \" is not an intrinsic escape.
  auto t = PayloadTemplate::compile(
      j(R"j({"parsed.$":"States.StringToJson('{\"text\":\"An \\\"escaped\\\" here\"}')"})j"),
      "/States/IntrinsicEscape/Parameters", diags);
  CHECK_FALSE(t.has_value());
  REQUIRE(diags.size() == 1);
  CHECK(diags[0].pointer == "/States/IntrinsicEscape/Parameters");
  CHECK(diags[0].message ==
        "The value for the field 'parsed.$' must be a valid JSONPath or a valid intrinsic function "
        "call");
  CHECK(diags[0].code == "SCHEMA_VALIDATION_FAILED");

  diags.clear();
  t = PayloadTemplate::compile(j(R"j({"a/b":{"c~d":[{"n.$":5}]},"ok.$":"$.x",
                                      "bad.$":"not a path","call.$":"States.Nope()"})j"),
                               "/States/S/Parameters", diags);
  CHECK_FALSE(t.has_value());
  REQUIRE(diags.size() == 3);
  CHECK(diags[0].pointer == "/States/S/Parameters/a~1b/c~0d/0");
  CHECK(diags[0].message.find("'n.$'") != std::string::npos);
  CHECK(diags[1].pointer == "/States/S/Parameters");
  CHECK(diags[1].message.find("'bad.$'") != std::string::npos);
  CHECK(diags[2].message.find("'call.$'") != std::string::npos);
}

TEST_CASE("payload template: the JSONPath escape-sequence case") {
  // ESCAPE_SEQUENCES_JSONPATH: a quoted member name with backslashes and quotes.
  auto input = j(R"j({"Test\\\"\"Name\"":"Value\"\\"})j");
  auto r = run(R"j({"value.$":"$['Test\\\"\"Name\"']"})j", input);
  REQUIRE(r.ok());
  CHECK(*r == j(R"j({"value":"Value\"\\"})j"));
}

// Replays every JSONPath case of tests/conformance/cases/intrinsic_functions
// whose definition is a single Pass state with Parameters: the template's
// output must be AWS's recorded output.
TEST_CASE("payload templates reproduce the intrinsic_functions conformance cases") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(__FILE__).parent_path().parent_path() / "conformance" / "cases" /
                 "intrinsic_functions";
  REQUIRE(fs::is_directory(dir));
  int replayed = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto parsed = parse_json(read_file(entry.path()));
    REQUIRE(parsed.has_value());
    const auto& c = parsed->get_object();
    if (c.at("query_language") != "JSONPath") continue;
    const auto& states = c.at("definition").at("States").get_object();
    if (states.size() != 1) continue;
    const auto& state = states.begin()->value().get_object();
    if (state.at("Type") != "Pass" || !state.contains("Parameters")) continue;
    bool plain = true;
    for (const auto& kv : state)
      if (kv.key() != "Type" && kv.key() != "Parameters" && kv.key() != "End") plain = false;
    const auto& expected = c.at("expected").get_object();
    if (!plain || expected.at("status") != "SUCCEEDED") continue;

    INFO("case: ", entry.path().filename().string());
    json::value input = c.contains("input") ? c.at("input") : json::value(json::object());
    json::value context = context_for(c);
    struct CountingRandom : RandomSource {
      std::uint64_t n = 0x9e3779b97f4a7c15ULL;
      std::uint64_t next_u64() override { return n += 0x9e3779b97f4a7c15ULL; }
    } random;
    auto t = compile_ok(state.at("Parameters"));
    auto r = t.evaluate(Scope{input, context, &random});
    INFO("failure: ", r.ok() ? "" : r.failure().cause);
    REQUIRE(r.ok());
    const auto& want = expected.at("output");
    if (c.contains("nondeterministic")) {
      // UUIDs and random numbers: same shape, any value.
      REQUIRE(r->is_object());
      CHECK(r->get_object().size() == want.get_object().size());
      const auto& got = r->at("FunctionResult");
      auto name = entry.path().filename().string();
      if (name.find("uuid") != std::string::npos) {
        CHECK(got.is_string());
        CHECK(got.get_string().size() == 36);
      } else {
        CHECK(got.is_int64());
      }
    } else {
      INFO("got: ", to_json(*r), " want: ", to_json(want));
      CHECK(*r == want);
    }
    ++replayed;
  }
  CHECK(replayed >= 125);
}

namespace {

// Every Parameters / ResultSelector / ItemSelector object in a definition,
// with its JSON pointer.
void collect_templates(const json::value& node, const std::string& pointer,
                       std::vector<std::pair<std::string, const json::value*>>& out) {
  if (const auto* obj = node.if_object()) {
    for (const auto& kv : *obj) {
      std::string child = pointer + "/" + std::string(kv.key());
      if (kv.key() == "Parameters" || kv.key() == "ResultSelector" || kv.key() == "ItemSelector") {
        out.emplace_back(child, &kv.value());
      }
      collect_templates(kv.value(), child, out);
    }
  } else if (const auto* arr = node.if_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i)
      collect_templates((*arr)[i], pointer + "/" + std::to_string(i), out);
  }
}

// Workflow variables ("$name") are not in Scope yet; templates using them are skipped.
bool uses_variables(const json::value& v) {
  if (const auto* obj = v.if_object()) {
    for (const auto& kv : *obj) {
      if (kv.key().ends_with(".$") && kv.value().is_string()) {
        std::string_view s = kv.value().get_string();
        if (s.size() > 1 && s[0] == '$' && s[1] != '.' && s[1] != '$' && s[1] != '[') return true;
        if (s.starts_with("States.") && s.find("($") != std::string_view::npos) {
          for (std::size_t i = s.find('$'); i != std::string_view::npos; i = s.find('$', i + 1)) {
            if (i + 1 < s.size() && std::isalpha(static_cast<unsigned char>(s[i + 1]))) return true;
          }
        }
      }
      if (uses_variables(kv.value())) return true;
    }
  } else if (const auto* arr = v.if_array()) {
    for (const auto& e : *arr)
      if (uses_variables(e)) return true;
  }
  return false;
}

}  // namespace

// Every template in the JSONPath conformance cases compiles; the cases AWS
// rejected for a bad ".$" value produce AWS's diagnostic at AWS's location.
TEST_CASE("payload templates of all conformance cases compile as AWS decided") {
  namespace fs = std::filesystem;
  fs::path root = fs::path(__FILE__).parent_path().parent_path() / "conformance" / "cases";
  int compiled = 0;
  int rejected = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".json") continue;
    auto parsed = parse_json(read_file(entry.path()));
    REQUIRE(parsed.has_value());
    const auto& c = parsed->get_object();
    if (!c.contains("definition") || c.at("query_language") != "JSONPath") continue;
    const auto& expected = c.at("expected").get_object();
    bool invalid = expected.at("status") == "INVALID_DEFINITION";
    std::vector<std::pair<std::string, const json::value*>> templates;
    collect_templates(c.at("definition"), "", templates);
    for (const auto& [pointer, spec] : templates) {
      if (uses_variables(*spec)) continue;
      INFO("case: ", entry.path().filename().string(), " at ", pointer);
      Diagnostics diags;
      auto t = PayloadTemplate::compile(*spec, pointer, diags);
      if (!invalid) {
        CHECK(t.has_value());
        CHECK(diags.empty());
        ++compiled;
        continue;
      }
      for (const auto& d : diags) {
        bool matched = false;
        for (const auto& want : expected.at("diagnostics").get_array()) {
          if (want.at("location").get_string() == d.pointer &&
              want.at("message").get_string().starts_with(d.message))
            matched = true;
        }
        CHECK(matched);
        ++rejected;
      }
    }
  }
  CHECK(compiled > 300);
  CHECK(rejected == 2);
}
