// The Service: every operation, AWS's error names and messages, paging, the
// idempotent StartExecution rule, StopExecution against a parked execution,
// the history's shape; on the in-memory store and on a SQLite file.
#include "engine/service.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "engine/worker.h"
#include "engine_test_util.h"
#include "service_test.h"
#include "storage/fault_injection.h"

using namespace stepwise;
using stepwise::testing::CountingRandom;
using stepwise::testing::run_stored;
using stepwise::testing::ServiceTempDir;

namespace {

constexpr Nanos kT0 = 1735689600LL * kNanosPerSecond;  // 2025-01-01T00:00:00Z
const std::string kMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:Hello";
const std::string kExecPrefix = "arn:aws:states:us-east-1:123456789012:execution:Hello:";

const char* kWaitThenPass = R"({"StartAt":"W","States":{
  "W":{"Type":"Wait","Seconds":3600,"Next":"P"},
  "P":{"Type":"Pass","Result":{"done":true},"End":true}}})";
const char* kPass = R"({"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}})";

struct Fixture {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0);
  std::shared_ptr<storage::Store> store;
  std::unique_ptr<Service> service;

  explicit Fixture(std::shared_ptr<storage::Store> s = nullptr) {
    store = s ? std::move(s) : std::shared_ptr<storage::Store>(std::move(storage::open_memory()).value());
    ServiceOptions o;
    o.clock = clock;
    o.random = std::make_shared<CountingRandom>();
    service = std::make_unique<Service>(store, o);
  }

  json::object ok(std::string_view op, const json::object& request) {
    auto r = service->call(op, request);
    INFO(op, ": ", (r.ok() ? "" : r.error().code + ": " + r.error().message));
    REQUIRE(r.ok());
    return r.response();
  }
  ServiceError fails(std::string_view op, const json::object& request) {
    auto r = service->call(op, request);
    INFO(op, " answered ", (r.ok() ? to_json(r.response()) : ""));
    REQUIRE_FALSE(r.ok());
    return r.error();
  }

  std::string create(const std::string& name = "Hello", const char* definition = kWaitThenPass) {
    auto r = ok("CreateStateMachine", {{"name", name}, {"definition", definition}});
    return std::string(r.at("stateMachineArn").get_string());
  }
  std::string start(const std::string& name, const std::string& input = "{}",
                    const std::string& machine = kMachineArn) {
    auto r = ok("StartExecution", {{"stateMachineArn", machine}, {"name", name}, {"input", input}});
    return std::string(r.at("executionArn").get_string());
  }
  json::object describe(const std::string& arn) { return ok("DescribeExecution", {{"executionArn", arn}}); }
  std::vector<std::string> history_types(const std::string& arn) {
    std::vector<std::string> types;
    const auto history = ok("GetExecutionHistory", {{"executionArn", arn}});
    for (const auto& e : history.at("events").get_array()) {
      types.emplace_back(e.at("type").get_string());
    }
    return types;
  }
  // Runs the stored execution until it parks (e.g. in a Wait), committing as a worker would.
  void advance(const std::string& arn) {
    EngineOptions eo;
    eo.clock = clock;
    Engine engine(eo);
    run_stored(*store, *service, engine, arn, [](Engine& e) { e.poll(0); });
  }
  // Runs the stored execution to its end on virtual time.
  void finish(const std::string& arn, const std::function<void(Engine&)>& setup = nullptr) {
    EngineOptions eo;
    eo.clock = clock;
    eo.virtual_time = true;
    Engine engine(eo);
    if (setup) setup(engine);
    run_stored(*store, *service, engine, arn, [](Engine& e) { e.run_pending(); });
  }
};

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "<absent>";
}

}  // namespace

// ---- State machines -------------------------------------------------------------

TEST_CASE("Service: CreateStateMachine answers the ARN and date; DescribeStateMachine shows it") {
  Fixture f;
  f.clock->advance(123 * kNanosPerMilli);
  auto created = f.ok("CreateStateMachine", {{"name", "Hello"}, {"definition", kWaitThenPass}});
  CHECK(str(created, "stateMachineArn") == kMachineArn);
  CHECK(created.at("creationDate").as_double() == doctest::Approx(1735689600.123).epsilon(1e-12));
  CHECK(str(created, "stateMachineVersionArn") == kMachineArn + ":1");

  auto d = f.ok("DescribeStateMachine", {{"stateMachineArn", kMachineArn}});
  CHECK(str(d, "name") == "Hello");
  CHECK(str(d, "status") == "ACTIVE");
  CHECK(str(d, "definition") == kWaitThenPass);  // byte for byte, as given
  CHECK(str(d, "roleArn") == "arn:aws:iam::123456789012:role/StepwiseExecutionRole");
  CHECK(str(d, "type") == "STANDARD");
  CHECK(d.at("creationDate") == created.at("creationDate"));
  CHECK(to_json(d.at("loggingConfiguration")) == R"({"level":"OFF","includeExecutionData":false})");

  auto express = f.ok("CreateStateMachine", {{"name", "Fast"},
                                             {"definition", kPass},
                                             {"type", "EXPRESS"},
                                             {"roleArn", "arn:aws:iam::123456789012:role/Mine"}});
  auto fd = f.ok("DescribeStateMachine", {{"stateMachineArn", express.at("stateMachineArn")}});
  CHECK(str(fd, "type") == "EXPRESS");
  CHECK(str(fd, "roleArn") == "arn:aws:iam::123456789012:role/Mine");
}

TEST_CASE(
    "Service: CreateStateMachine again: the same returns the machine, a different one is StateMachineAlreadyExists") {
  Fixture f;
  auto first = f.ok("CreateStateMachine", {{"name", "Hello"}, {"definition", kWaitThenPass}});
  f.clock->advance(kNanosPerSecond);
  auto again = f.ok("CreateStateMachine", {{"name", "Hello"}, {"definition", kWaitThenPass}});
  CHECK(again.at("stateMachineArn") == first.at("stateMachineArn"));
  CHECK(again.at("creationDate") == first.at("creationDate"));

  auto e = f.fails("CreateStateMachine", {{"name", "Hello"}, {"definition", kPass}});
  CHECK(e.code == "StateMachineAlreadyExists");
  CHECK(e.message == "State Machine Already Exists: '" + kMachineArn + "'");
  e = f.fails("CreateStateMachine",
              {{"name", "Hello"}, {"definition", kWaitThenPass}, {"roleArn", "arn:aws:iam::123456789012:role/Other"}});
  CHECK(e.code == "StateMachineAlreadyExists");
  e = f.fails("CreateStateMachine", {{"name", "Hello"}, {"definition", kWaitThenPass}, {"type", "EXPRESS"}});
  CHECK(e.code == "StateMachineAlreadyExists");
}

TEST_CASE("Service: CreateStateMachine refuses bad requests with AWS's errors") {
  Fixture f;
  auto e =
      f.fails("CreateStateMachine",
              {{"name", "Bad"}, {"definition", R"({"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nope"}}})"}});
  CHECK(e.code == "InvalidDefinition");
  CHECK(e.message ==
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at "
        "/States/A/Next'");
  e = f.fails("CreateStateMachine", {{"name", "Bad"}, {"definition", R"({"StartAt":"A"})"}});
  CHECK(e.code == "InvalidDefinition");
  CHECK(e.message.find("/'") != std::string::npos);  // the whole definition is "/"
  e = f.fails("CreateStateMachine", {{"name", "Bad"}, {"definition", "{not json"}});
  CHECK(e.code == "InvalidDefinition");
  CHECK(e.message.find("INVALID_JSON_DESCRIPTION") != std::string::npos);
  // An Express machine refuses what Express cannot run.
  e = f.fails(
      "CreateStateMachine",
      {{"name", "Bad"},
       {"type", "EXPRESS"},
       {"definition",
        R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}})"}});
  CHECK(e.code == "InvalidDefinition");

  e = f.fails("CreateStateMachine", {{"name", "a b"}, {"definition", kPass}});
  CHECK(e.code == "InvalidName");
  CHECK(e.message == "Invalid Name: 'a b'");
  const std::string long_name(81, 'a');
  e = f.fails("CreateStateMachine", {{"name", long_name}, {"definition", kPass}});
  CHECK(e.code == "ValidationException");
  CHECK(e.message == "1 validation error detected: Value '" + long_name +
                         "' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80");
  e = f.fails("CreateStateMachine", {{"definition", kPass}});
  CHECK(e.code == "ValidationException");
  CHECK(e.message ==
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null");
  e = f.fails("CreateStateMachine", {{"name", "X"}});
  CHECK(e.message.find("at 'definition'") != std::string::npos);
  e = f.fails("CreateStateMachine", {{"name", "X"}, {"definition", kPass}, {"type", "BATCH"}});
  CHECK(e.code == "ValidationException");
  CHECK(e.message.find("[STANDARD, EXPRESS]") != std::string::npos);
  e = f.fails("CreateStateMachine", {{"name", "X"}, {"definition", kPass}, {"roleArn", "role"}});
  CHECK(e.code == "InvalidArn");
  CHECK(e.message == "Invalid Arn: 'Invalid ARN prefix: role'");
  e = f.fails("CreateStateMachine", {{"name", 7}, {"definition", kPass}});
  CHECK(e.code == "SerializationException");
  // Nothing was stored by any of them.
  CHECK(f.ok("ListStateMachines", {}).at("stateMachines").get_array().empty());
}

TEST_CASE("Service: UpdateStateMachine keeps each definition as a version") {
  Fixture f;
  f.create();
  f.clock->advance(kNanosPerSecond);
  auto u = f.ok("UpdateStateMachine", {{"stateMachineArn", kMachineArn}, {"definition", kPass}});
  CHECK(u.at("updateDate").as_double() == doctest::Approx(1735689601.0));
  CHECK(str(u, "stateMachineVersionArn") == kMachineArn + ":2");
  CHECK(str(f.ok("DescribeStateMachine", {{"stateMachineArn", kMachineArn}}), "definition") == kPass);
  CHECK(str(f.ok("DescribeStateMachine", {{"stateMachineArn", kMachineArn + ":1"}}), "definition") == kWaitThenPass);
  CHECK(str(f.ok("DescribeStateMachine", {{"stateMachineArn", kMachineArn + ":2"}}), "stateMachineArn") ==
        kMachineArn + ":2");
  CHECK(f.fails("DescribeStateMachine", {{"stateMachineArn", kMachineArn + ":3"}}).code == "StateMachineDoesNotExist");

  // A role alone changes no definition.
  auto r = f.ok("UpdateStateMachine", {{"stateMachineArn", kMachineArn}, {"roleArn", "arn:aws:iam::1:role/R"}});
  CHECK(str(r, "stateMachineVersionArn") == kMachineArn + ":2");
  CHECK(str(f.ok("DescribeStateMachine", {{"stateMachineArn", kMachineArn}}), "roleArn") == "arn:aws:iam::1:role/R");

  // Executions started before and after run their own versions.
  auto e2 = f.start("on-v2");
  CHECK(str(f.describe(e2), "stateMachineVersionArn") == kMachineArn + ":2");
  auto e1 = f.ok("StartExecution", {{"stateMachineArn", kMachineArn + ":1"}, {"name", "on-v1"}});
  CHECK(str(f.describe(std::string(e1.at("executionArn").get_string())), "stateMachineVersionArn") ==
        kMachineArn + ":1");

  auto e = f.fails("UpdateStateMachine", {{"stateMachineArn", kMachineArn}});
  CHECK(e.code == "MissingRequiredParameter");
  e = f.fails("UpdateStateMachine", {{"stateMachineArn", kMachineArn}, {"definition", "{}"}});
  CHECK(e.code == "InvalidDefinition");
  e = f.fails("UpdateStateMachine", {{"stateMachineArn", kMachineArn + "Nope"}, {"definition", kPass}});
  CHECK(e.code == "StateMachineDoesNotExist");
  e = f.fails("UpdateStateMachine", {{"stateMachineArn", kMachineArn + ":1"}, {"definition", kPass}});
  CHECK(e.code == "ValidationException");
  e = f.fails("UpdateStateMachine", {{"stateMachineArn", kMachineArn}, {"roleArn", "nope"}});
  CHECK(e.code == "InvalidArn");
}

TEST_CASE("Service: ARNs: InvalidArn for a malformed one or the wrong resource type") {
  Fixture f;
  f.create();
  auto e = f.fails("DescribeStateMachine", {{"stateMachineArn", "abc"}});
  CHECK(e.code == "InvalidArn");
  CHECK(e.message == "Invalid Arn: 'Invalid ARN prefix: abc'");
  e = f.fails("DescribeStateMachine", {{"stateMachineArn", kExecPrefix + "x"}});
  CHECK(e.code == "InvalidArn");
  CHECK(e.message == "Invalid Arn: 'Resource type not valid in this context: execution'");
  e = f.fails("DescribeExecution", {{"executionArn", kMachineArn}});
  CHECK(e.message == "Invalid Arn: 'Resource type not valid in this context: stateMachine'");
  e = f.fails("DescribeStateMachine", {{"stateMachineArn", "arn:aws:lambda:us-east-1:1:function:F"}});
  CHECK(e.code == "InvalidArn");
  e = f.fails("DescribeStateMachine", {{"stateMachineArn", kMachineArn + "Nope"}});
  CHECK(e.code == "StateMachineDoesNotExist");
  CHECK(e.message == "State Machine Does Not Exist: '" + kMachineArn + "Nope'");
  e = f.fails("DescribeStateMachine", {});
  CHECK(e.code == "ValidationException");
  e = f.fails("DescribeExecution", {{"executionArn", kExecPrefix + "nope"}});
  CHECK(e.code == "ExecutionDoesNotExist");
  CHECK(e.message == "Execution Does Not Exist: '" + kExecPrefix + "nope'");
  e = f.fails("NoSuchThing", {});
  CHECK(e.code == "UnknownOperationException");
  CHECK(Service::operations().size() == 22);
  // Every listed operation is one call() knows (an empty request is refused by it, not as unknown).
  for (std::string_view op : Service::operations()) {
    auto r = f.service->call(op, {});
    CHECK_MESSAGE((r.ok() || r.error().code != "UnknownOperationException"), op);
  }
}

TEST_CASE("Service: ListStateMachines pages by name") {
  Fixture f;
  for (const char* name : {"e", "b", "d", "a", "c"}) f.create(name, kPass);
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    json::object request{{"maxResults", 2}};
    if (!token.empty()) request["nextToken"] = token;
    auto page = f.ok("ListStateMachines", request);
    CHECK(page.at("stateMachines").get_array().size() <= 2);
    for (const auto& m : page.at("stateMachines").get_array()) {
      names.emplace_back(m.at("name").get_string());
      CHECK(m.at("type") == "STANDARD");
      CHECK(m.at("creationDate").is_double());
    }
    token = page.contains("nextToken") ? std::string(page.at("nextToken").get_string()) : "";
    ++pages;
  } while (!token.empty());
  CHECK(pages == 3);
  CHECK(names == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(f.ok("ListStateMachines", {}).at("stateMachines").get_array().size() == 5);
  CHECK(!f.ok("ListStateMachines", {}).contains("nextToken"));

  auto e = f.fails("ListStateMachines", {{"maxResults", 1001}});
  CHECK(e.code == "ValidationException");
  CHECK(e.message.find("less than or equal to 1000") != std::string::npos);
  CHECK(f.fails("ListStateMachines", {{"maxResults", -1}}).code == "ValidationException");
}

TEST_CASE("Service: DeleteStateMachine hides the machine; its executions stay") {
  Fixture f;
  f.create();
  auto arn = f.start("before");
  CHECK(f.ok("DeleteStateMachine", {{"stateMachineArn", kMachineArn}}).empty());
  CHECK(f.fails("DescribeStateMachine", {{"stateMachineArn", kMachineArn}}).code == "StateMachineDoesNotExist");
  CHECK(f.ok("ListStateMachines", {}).at("stateMachines").get_array().empty());
  // AWS answers a delete of a missing machine with success.
  CHECK(f.ok("DeleteStateMachine", {{"stateMachineArn", kMachineArn}}).empty());
  auto e = f.fails("StartExecution", {{"stateMachineArn", kMachineArn}});
  CHECK(e.code == "StateMachineDoesNotExist");
  CHECK(str(f.describe(arn), "status") == "RUNNING");
  // Its running execution can still be stopped (its version is kept).
  f.ok("StopExecution", {{"executionArn", arn}});
  CHECK(str(f.describe(arn), "status") == "ABORTED");
  CHECK(f.fails("DeleteStateMachine", {{"stateMachineArn", "x"}}).code == "InvalidArn");
}

// ---- Executions ----------------------------------------------------------------------

TEST_CASE("Service: StartExecution records a RUNNING execution with its ExecutionStarted event") {
  Fixture f;
  f.create();
  f.clock->advance(5 * kNanosPerMilli);
  auto started = f.ok("StartExecution", {{"stateMachineArn", kMachineArn}, {"name", "e1"}, {"input", R"({"a": 1})"}});
  const std::string arn = str(started, "executionArn");
  CHECK(arn == kExecPrefix + "e1");
  CHECK(started.at("startDate").as_double() == doctest::Approx(1735689600.005).epsilon(1e-12));

  auto d = f.describe(arn);
  CHECK(str(d, "name") == "e1");
  CHECK(str(d, "stateMachineArn") == kMachineArn);
  CHECK(str(d, "status") == "RUNNING");
  CHECK(str(d, "input") == R"({"a": 1})");  // as given
  CHECK(to_json(d.at("inputDetails")) == R"({"included":true})");
  CHECK(d.at("startDate") == started.at("startDate"));
  for (const char* absent : {"stopDate", "output", "error", "cause", "redriveDate"}) CHECK_FALSE(d.contains(absent));
  CHECK(d.at("redriveCount") == 0);
  CHECK(str(d, "redriveStatus") == "NOT_REDRIVABLE");
  CHECK(str(d, "redriveStatusReason") == "Execution is RUNNING and cannot be redriven");

  CHECK(f.history_types(arn) == std::vector<std::string>{"ExecutionStarted"});

  // No name: a UUID.
  auto unnamed = f.ok("StartExecution", {{"stateMachineArn", kMachineArn}});
  auto ud = f.describe(std::string(unnamed.at("executionArn").get_string()));
  CHECK(str(ud, "name").size() == 36);
  CHECK(str(ud, "input") == "{}");
}

TEST_CASE("Service: the stored state is a snapshot a worker resumes, and it runs to the end") {
  Fixture f;
  f.create();
  auto arn = f.start("e1", R"({"x":1})");
  f.finish(arn);
  auto d = f.describe(arn);
  CHECK(str(d, "status") == "SUCCEEDED");
  CHECK(str(d, "output") == R"({"done":true})");
  CHECK(to_json(d.at("outputDetails")) == R"({"included":true})");
  CHECK(d.contains("stopDate"));
  CHECK(d.at("stopDate").as_double() >= d.at("startDate").as_double() + 3600);  // the Wait, on virtual time
  CHECK(str(d, "redriveStatusReason") == "Execution is SUCCEEDED and cannot be redriven");
  CHECK(f.history_types(arn) == std::vector<std::string>{"ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                                                         "PassStateEntered", "PassStateExited", "ExecutionSucceeded"});
}

TEST_CASE(
    "Service: StartExecution with a running execution's name and input returns it; otherwise ExecutionAlreadyExists") {
  Fixture f;
  f.create();
  auto first = f.ok("StartExecution", {{"stateMachineArn", kMachineArn}, {"name", "same"}, {"input", R"({"a":1})"}});
  f.clock->advance(kNanosPerSecond);
  // Equal as JSON is the same input.
  auto again =
      f.ok("StartExecution", {{"stateMachineArn", kMachineArn}, {"name", "same"}, {"input", R"({ "a" : 1 })"}});
  CHECK(again.at("executionArn") == first.at("executionArn"));
  CHECK(again.at("startDate") == first.at("startDate"));
  CHECK(f.history_types(kExecPrefix + "same").size() == 1);

  auto e = f.fails("StartExecution", {{"stateMachineArn", kMachineArn}, {"name", "same"}, {"input", R"({"a":2})"}});
  CHECK(e.code == "ExecutionAlreadyExists");
  CHECK(e.message == "Execution Already Exists: '" + kExecPrefix + "same'");

  // Once it has ended, even the same input is refused.
  f.ok("StopExecution", {{"executionArn", kExecPrefix + "same"}});
  e = f.fails("StartExecution", {{"stateMachineArn", kMachineArn}, {"name", "same"}, {"input", R"({"a":1})"}});
  CHECK(e.code == "ExecutionAlreadyExists");
}

TEST_CASE("Service: StartExecution refuses bad requests in AWS's order") {
  Fixture f;
  f.create();
  const std::string missing = kMachineArn + "Nope";
  const std::string long_name(81, 'n');
  auto e = f.fails("StartExecution", {{"stateMachineArn", missing}, {"name", long_name}});
  CHECK(e.code == "ValidationException");  // model constraints before existence
  e = f.fails("StartExecution", {{"stateMachineArn", missing}, {"name", "a b"}, {"input", "{"}});
  CHECK(e.code == "StateMachineDoesNotExist");
  CHECK(e.message == "State Machine Does Not Exist: '" + missing + "'");
  e = f.fails("StartExecution", {{"stateMachineArn", kMachineArn}, {"name", "a b"}, {"input", "{"}});
  CHECK(e.code == "InvalidName");
  e = f.fails("StartExecution", {{"stateMachineArn", kMachineArn}, {"name", "n"}, {"input", "{"}});
  CHECK(e.code == "InvalidExecutionInput");
  CHECK(e.message.rfind("Invalid State Machine Execution Input: '", 0) == 0);
  e = f.fails("StartExecution", {{"stateMachineArn", kMachineArn}, {"input", "\"" + std::string(262144, 'a') + "\""}});
  CHECK(e.code == "ValidationException");
  CHECK(e.message ==
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than "
        "or equal to 262144 bytes in UTF-8 encoding");
  e = f.fails("StartExecution", {{"name", "n"}});
  CHECK(e.message ==
        "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not "
        "be null");
  e = f.fails("StartExecution", {{"stateMachineArn", "not-an-arn"}});
  CHECK(e.message == "Invalid Arn: 'Invalid ARN prefix: not-an-arn'");
  CHECK(f.ok("ListExecutions", {}).at("executions").get_array().empty());
}

TEST_CASE("Service: ListExecutions filters by machine and status, newest first, in pages") {
  Fixture f;
  f.create();
  f.create("Other", kPass);
  std::vector<std::string> started;
  for (int i = 0; i < 5; ++i) {
    f.clock->advance(kNanosPerSecond);
    started.push_back(f.start("e" + std::to_string(i)));
  }
  f.clock->advance(kNanosPerSecond);
  f.ok("StartExecution",
       {{"stateMachineArn", "arn:aws:states:us-east-1:123456789012:stateMachine:Other"}, {"name", "o1"}});
  f.ok("StopExecution", {{"executionArn", started[1]}});

  std::vector<std::string> arns;
  std::string token;
  do {
    json::object request{{"stateMachineArn", kMachineArn}, {"maxResults", 2}};
    if (!token.empty()) request["nextToken"] = token;
    auto page = f.ok("ListExecutions", request);
    for (const auto& e : page.at("executions").get_array()) {
      arns.emplace_back(e.at("executionArn").get_string());
      CHECK(str(e.get_object(), "stateMachineArn") == kMachineArn);
      CHECK(e.at("startDate").is_double());
    }
    token = page.contains("nextToken") ? std::string(page.at("nextToken").get_string()) : "";
  } while (!token.empty());
  CHECK(arns == std::vector<std::string>{started[4], started[3], started[2], started[1], started[0]});

  auto aborted = f.ok("ListExecutions", {{"stateMachineArn", kMachineArn}, {"statusFilter", "ABORTED"}});
  REQUIRE(aborted.at("executions").get_array().size() == 1);
  const auto& item = aborted.at("executions").get_array()[0].get_object();
  CHECK(str(item, "executionArn") == started[1]);
  CHECK(str(item, "status") == "ABORTED");
  CHECK(item.contains("stopDate"));
  CHECK(f.ok("ListExecutions", {}).at("executions").get_array().size() == 6);  // every machine
  CHECK(f.ok("ListExecutions", {{"statusFilter", "PENDING_REDRIVE"}}).at("executions").get_array().empty());

  CHECK(f.fails("ListExecutions", {{"statusFilter", "DONE"}}).code == "ValidationException");
  CHECK(f.fails("ListExecutions", {{"stateMachineArn", kMachineArn + "X"}}).code == "StateMachineDoesNotExist");
  CHECK(f.fails("ListExecutions", {{"nextToken", "bogus"}}).code == "InvalidToken");
  CHECK(f.fails("ListStateMachines", {{"nextToken", "bogus"}}).code == "InvalidToken");
  CHECK(f.fails("ListExecutions", {{"stateMachineArn", kExecPrefix + "e1"}}).code == "InvalidArn");
}

TEST_CASE("Service: GetExecutionHistory: AWS-shaped events, reverse order, pages, without data") {
  Fixture f;
  f.create();
  auto arn = f.start("e1", R"({"x":1})");
  f.finish(arn);
  auto all = f.ok("GetExecutionHistory", {{"executionArn", arn}}).at("events").get_array();
  REQUIRE(all.size() == 6);
  const auto& first = all[0].get_object();
  CHECK(first.at("timestamp").as_double() == doctest::Approx(1735689600.0));
  CHECK(first.at("type") == "ExecutionStarted");
  CHECK(first.at("id") == 1);
  CHECK(first.at("previousEventId") == 0);
  CHECK(
      to_json(first.at("executionStartedEventDetails")) ==
      R"({"input":"{\"x\":1}","inputDetails":{"truncated":false},"roleArn":"arn:aws:iam::123456789012:role/StepwiseExecutionRole"})");
  const auto& entered = all[1].get_object();
  CHECK(entered.at("previousEventId") == 1);
  CHECK(to_json(entered.at("stateEnteredEventDetails")) ==
        R"({"name":"W","input":"{\"x\":1}","inputDetails":{"truncated":false}})");
  // A Wait's exit an hour later (virtual time).
  CHECK(all[2].at("timestamp").as_double() == doctest::Approx(1735693200.0));

  auto reversed = f.ok("GetExecutionHistory", {{"executionArn", arn}, {"reverseOrder", true}}).at("events").get_array();
  REQUIRE(reversed.size() == 6);
  CHECK(reversed[0].at("type") == "ExecutionSucceeded");
  CHECK(reversed[5].at("id") == 1);

  std::vector<std::int64_t> ids;
  std::string token;
  do {
    json::object request{{"executionArn", arn}, {"maxResults", 4}};
    if (!token.empty()) request["nextToken"] = token;
    auto page = f.ok("GetExecutionHistory", request);
    CHECK(page.at("events").get_array().size() <= 4);
    for (const auto& e : page.at("events").get_array()) ids.push_back(e.at("id").to_number<std::int64_t>());
    token = page.contains("nextToken") ? std::string(page.at("nextToken").get_string()) : "";
  } while (!token.empty());
  CHECK(ids == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});

  auto bare = f.ok("GetExecutionHistory", {{"executionArn", arn}, {"includeExecutionData", false}}).at("events");
  CHECK(to_json(bare.at(0).at("executionStartedEventDetails")) ==
        R"({"roleArn":"arn:aws:iam::123456789012:role/StepwiseExecutionRole"})");
  CHECK(to_json(bare.at(1).at("stateEnteredEventDetails")) == R"({"name":"W"})");

  CHECK(f.fails("GetExecutionHistory", {{"executionArn", kExecPrefix + "nope"}}).code == "ExecutionDoesNotExist");
  CHECK(f.fails("GetExecutionHistory", {{"executionArn", arn}, {"nextToken", "x"}}).code == "InvalidToken");
  CHECK(f.fails("GetExecutionHistory", {{"executionArn", arn}, {"reverseOrder", "yes"}}).code ==
        "SerializationException");
}

TEST_CASE("Service: StopExecution of an execution parked in a Wait writes WaitStateAborted and ExecutionAborted") {
  Fixture f;
  f.create();
  auto arn = f.start("e1");
  f.advance(arn);  // a worker ran it into the Wait
  REQUIRE(f.history_types(arn) == std::vector<std::string>{"ExecutionStarted", "WaitStateEntered"});
  {  // and armed the Wait's durable timer
    storage::Transition timer;
    timer.execution_arn = arn;
    timer.expected_version = f.store->describe_execution(arn)->version;
    timer.timers_to_set.push_back({"", "wait", kT0 + 3600 * kNanosPerSecond});
    REQUIRE(f.store->commit_transition(timer).ok());
    REQUIRE(f.store->list_timers(arn)->size() == 1);
  }

  f.clock->advance(7 * kNanosPerSecond);
  auto stopped = f.ok("StopExecution", {{"executionArn", arn}, {"error", "Operator"}, {"cause", "by hand"}});
  CHECK(stopped.at("stopDate").as_double() == doctest::Approx(1735689607.0));

  auto events = f.ok("GetExecutionHistory", {{"executionArn", arn}}).at("events").get_array();
  REQUIRE(events.size() == 4);
  CHECK(events[2].at("type") == "WaitStateAborted");
  CHECK(events[2].at("previousEventId") == 2);
  CHECK(events[3].at("type") == "ExecutionAborted");
  CHECK(events[3].at("id") == 4);
  CHECK(to_json(events[3].at("executionAbortedEventDetails")) == R"({"error":"Operator","cause":"by hand"})");
  CHECK(events[3].at("timestamp") == stopped.at("stopDate"));

  auto d = f.describe(arn);
  CHECK(str(d, "status") == "ABORTED");
  CHECK(str(d, "error") == "Operator");
  CHECK(str(d, "cause") == "by hand");
  CHECK(d.at("stopDate") == stopped.at("stopDate"));
  CHECK(str(d, "redriveStatus") == "REDRIVABLE");
  CHECK_FALSE(d.contains("redriveStatusReason"));
  // The stored state is the aborted snapshot; the execution's timers are gone.
  auto rec = f.store->describe_execution(arn);
  REQUIRE(rec.ok());
  CHECK(rec->state.find("\"status\":\"ABORTED\"") != std::string::npos);
  CHECK(f.store->list_timers(arn)->empty());

  auto e = f.fails("StopExecution", {{"executionArn", arn}});
  CHECK(e.code == "ValidationException");
  CHECK(f.fails("StopExecution", {{"executionArn", kExecPrefix + "nope"}}).code == "ExecutionDoesNotExist");
  CHECK(f.fails("StopExecution", {{"executionArn", "nope"}}).code == "InvalidArn");
  CHECK(f.fails("StopExecution", {{"executionArn", kExecPrefix + "x"}, {"error", std::string(257, 'e')}}).code ==
        "ValidationException");
}

TEST_CASE("Service: StopExecution without error or cause; a Parallel in progress is aborted inside out") {
  Fixture f;
  f.create("Par", R"({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
    {"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}},
    {"StartAt":"V","States":{"V":{"Type":"Wait","Seconds":90,"End":true}}}]}}})");
  auto arn = f.start("p1", "{}", "arn:aws:states:us-east-1:123456789012:stateMachine:Par");
  f.advance(arn);
  f.ok("StopExecution", {{"executionArn", arn}});
  auto types = f.history_types(arn);
  REQUIRE(types.size() >= 4);
  CHECK(types.back() == "ExecutionAborted");
  CHECK(types[types.size() - 2] == "ParallelStateAborted");
  CHECK(std::count(types.begin(), types.end(), "WaitStateAborted") == 2);
  auto last = f.ok("GetExecutionHistory", {{"executionArn", arn}, {"reverseOrder", true}, {"maxResults", 1}});
  CHECK(to_json(last.at("events").at(0).at("executionAbortedEventDetails")) == "{}");
  auto d = f.describe(arn);
  CHECK_FALSE(d.contains("error"));
  CHECK_FALSE(d.contains("cause"));
}

namespace {

// Lets a "worker" commit a step between StopExecution's read and its write, `times` times.
class RacingStore final : public storage::StoreWrapper {
 public:
  RacingStore(std::shared_ptr<storage::Store> target, int times) : StoreWrapper(std::move(target)), times_(times) {}
  storage::StatusOr<std::int64_t> commit_transition(const storage::Transition& t) override {
    if (t.outcome && times_ > 0) {
      --times_;
      storage::Transition step;
      step.execution_arn = t.execution_arn;
      step.expected_version = t.expected_version;
      auto v = target_->commit_transition(step);
      REQUIRE(v.ok());
    }
    return target_->commit_transition(t);
  }

 private:
  int times_;
};

}  // namespace

TEST_CASE("Service: StopExecution re-reads and retries when a worker commits in between") {
  auto memory = std::shared_ptr<storage::Store>(std::move(storage::open_memory()).value());
  auto racing = std::make_shared<RacingStore>(memory, 2);
  Fixture f(racing);
  f.create();
  auto arn = f.start("e1");
  f.ok("StopExecution", {{"executionArn", arn}});
  CHECK(str(f.describe(arn), "status") == "ABORTED");
  CHECK(f.history_types(arn) == std::vector<std::string>{"ExecutionStarted", "ExecutionAborted"});

  // A store that keeps racing: the stop gives up with a retryable error, nothing half-written.
  auto always = std::make_shared<RacingStore>(memory, 1000);
  Fixture g(always);
  g.create("Again");
  auto other = g.start("e2", "{}", "arn:aws:states:us-east-1:123456789012:stateMachine:Again");
  auto e = g.fails("StopExecution", {{"executionArn", other}});
  CHECK(e.code == "ServiceUnavailable");
  CHECK(str(g.describe(other), "status") == "RUNNING");
}

TEST_CASE("Service: StopExecution still ends an execution whose stored state cannot be resumed") {
  Fixture f;
  f.create();
  auto arn = f.start("e1");
  storage::Transition broken;
  broken.execution_arn = arn;
  broken.expected_version = 1;
  broken.state = "not a snapshot";
  REQUIRE(f.store->commit_transition(broken).ok());
  f.ok("StopExecution", {{"executionArn", arn}, {"cause", "cleanup"}});
  auto events = f.ok("GetExecutionHistory", {{"executionArn", arn}}).at("events").get_array();
  REQUIRE(events.size() == 2);
  CHECK(events[1].at("type") == "ExecutionAborted");
  CHECK(events[1].at("previousEventId") == 1);
  CHECK(to_json(events[1].at("executionAbortedEventDetails")) == R"({"cause":"cleanup"})");
  CHECK(str(f.describe(arn), "status") == "ABORTED");
}

TEST_CASE("Service: an input the engine refuses ends the execution FAILED at once") {
  Fixture f;
  f.create();
  // Within AWS's 256 KiB as text, but larger as the engine counts it ("1e9" is 1000000000.0).
  std::string input = "[";
  for (int i = 0; i < 60000; ++i) input += "1e9,";
  input += "1]";
  REQUIRE(input.size() < 262144);
  auto arn = f.start("big", input);
  auto d = f.describe(arn);
  CHECK(str(d, "status") == "FAILED");
  CHECK(str(d, "error") == "States.DataLimitExceeded");
  CHECK(d.contains("stopDate"));
  CHECK(f.history_types(arn) == std::vector<std::string>{"ExecutionStarted", "ExecutionFailed"});
}

TEST_CASE("Service: redrive_status and resource names follow AWS's rules") {
  storage::ExecutionRecord e;
  e.status = storage::ExecutionStatus::kFailed;
  e.stop_date = kT0;
  CHECK(redrive_status(e, kT0 + kNanosPerSecond).status == "REDRIVABLE");
  auto late = redrive_status(e, kT0 + 15LL * 24 * 3600 * kNanosPerSecond);
  CHECK(late.status == "NOT_REDRIVABLE");
  CHECK(late.reason == "Execution redrivable period exceeded");
  e.status = storage::ExecutionStatus::kSucceeded;
  CHECK(redrive_status(e, kT0).reason == "Execution is SUCCEEDED and cannot be redriven");

  for (const char* good : {"a", "Hello-World_1", "naïve", "日本語", "a.b+c=d@e!f'g(h)"}) {
    CHECK_MESSAGE(is_valid_resource_name(good), good);
  }
  for (const char* bad : {"",    "a b", "a\tb", "a<b", "a{b",   "a[b",       "a?b",       "a*b",           "a\"b",
                          "a#b", "a%b", "a\\b", "a^b", "a|b",   "a~b",       "a`b",       "a$b",           "a&b",
                          "a,b", "a;b", "a:b",  "a/b", "a\x7f", "a\xc2\x85", "a\xc2\xa0", "a\xe3\x80\x80", "\xff"}) {
    CHECK_FALSE_MESSAGE(is_valid_resource_name(bad), bad);
  }
}

TEST_CASE("Service: definitions are parsed once per version") {
  Fixture f;
  f.create();
  ServiceError error;
  auto a = f.service->definition(kMachineArn, 1, &error);
  auto b = f.service->definition(kMachineArn, 1, &error);
  REQUIRE(a);
  CHECK(a == b);
  CHECK(f.service->definition(kMachineArn, 9, &error) == nullptr);
  CHECK(error.code == "StateMachineDoesNotExist");
  // A second Service over the same store parses the stored text itself.
  Service other(f.store);
  auto c = other.definition(kMachineArn, 1, &error);
  REQUIRE(c);
  CHECK(c != a);
  CHECK(c->top().states.size() == 2);
}

TEST_CASE("Service: on a SQLite file, everything survives reopening") {
  ServiceTempDir dir;
  const std::string path = dir.file("stepwise.db");
  std::string arn;
  {
    Fixture f(std::shared_ptr<storage::Store>(std::move(storage::open_sqlite(path)).value()));
    f.create();
    arn = f.start("e1", R"({"k":"v"})");
    f.advance(arn);
    f.ok("StopExecution", {{"executionArn", arn}, {"error", "E"}});
    // The idempotent start rule holds on the file too.
    f.create("Two", kPass);
    const std::string two = "arn:aws:states:us-east-1:123456789012:stateMachine:Two";
    auto a = f.ok("StartExecution", {{"stateMachineArn", two}, {"name", "x"}, {"input", "[1]"}});
    auto b = f.ok("StartExecution", {{"stateMachineArn", two}, {"name", "x"}, {"input", "[1]"}});
    CHECK(a == b);
    CHECK(f.fails("StartExecution", {{"stateMachineArn", two}, {"name", "x"}, {"input", "[2]"}}).code ==
          "ExecutionAlreadyExists");
  }
  Fixture g(std::shared_ptr<storage::Store>(std::move(storage::open_sqlite(path)).value()));
  auto d = g.describe(arn);
  CHECK(str(d, "status") == "ABORTED");
  CHECK(str(d, "error") == "E");
  CHECK(str(d, "input") == R"({"k":"v"})");
  CHECK(g.history_types(arn) ==
        std::vector<std::string>{"ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionAborted"});
  CHECK(g.ok("ListStateMachines", {}).at("stateMachines").get_array().size() == 2);
  CHECK(g.ok("ListExecutions", {}).at("executions").get_array().size() == 2);
}

TEST_CASE("Service with a Worker: what StartExecution records, a worker runs; StopExecution wins over the worker") {
  Fixture f;
  f.create();
  f.create("Quick", R"({"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"ok":1},"End":true}}})");
  const std::string quick =
      str(f.ok("StartExecution",
               {{"stateMachineArn", "arn:aws:states:us-east-1:123456789012:stateMachine:Quick"}, {"name", "q1"}}),
          "executionArn");
  const std::string parked = f.start("parked");

  EngineOptions eo;
  eo.clock = f.clock;
  Engine engine(eo);
  WorkerOptions wo;
  wo.claim_every = 0;
  wo.hibernate_after = 0;
  Worker worker(engine, f.store, wo);
  for (int i = 0; i < 20 && str(f.describe(quick), "status") == "RUNNING"; ++i) (void)worker.run_once(kNanosPerMilli);
  auto q = f.describe(quick);
  CHECK(str(q, "status") == "SUCCEEDED");
  CHECK(str(q, "output") == R"({"ok":1})");
  CHECK(f.history_types(quick) ==
        std::vector<std::string>{"ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"});

  // The other one waits in its Wait, owned by the worker.
  for (int i = 0; i < 20 && f.history_types(parked).size() < 2; ++i) (void)worker.run_once(kNanosPerMilli);
  REQUIRE(f.history_types(parked) == std::vector<std::string>{"ExecutionStarted", "WaitStateEntered"});
  REQUIRE_FALSE(f.store->describe_execution(parked)->lease_owner.empty());

  f.ok("StopExecution", {{"executionArn", parked}, {"error", "Operator"}});
  // The Wait falls due; the worker's commit meets the stop and it drops the execution.
  f.clock->advance(3601 * kNanosPerSecond);
  for (int i = 0; i < 20 && worker.active() > 0; ++i) (void)worker.run_once(kNanosPerMilli);
  CHECK(worker.active() == 0);
  auto d = f.describe(parked);
  CHECK(str(d, "status") == "ABORTED");
  CHECK(str(d, "error") == "Operator");
  CHECK(f.history_types(parked) ==
        std::vector<std::string>{"ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionAborted"});
  CHECK(f.store->describe_execution(parked)->lease_owner.empty());
}

TEST_CASE("Service RedriveExecution: a failed execution continues from where it failed, run by a worker") {
  Fixture f;
  f.create("Flaky", R"({"StartAt":"Prep","States":{
    "Prep":{"Type":"Pass","Result":"prepared","ResultPath":"$.prep","Next":"Call"},
    "Call":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Once","End":true}}})");
  const std::string machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Flaky";
  const std::string arn =
      str(f.ok("StartExecution", {{"stateMachineArn", machine}, {"name", "r"}, {"input", R"({"k":1})"}}),
          "executionArn");
  CHECK(f.fails("RedriveExecution", {{"executionArn", arn}}).code == "ExecutionNotRedrivable");  // RUNNING

  EngineOptions eo;
  eo.clock = f.clock;
  Engine engine(eo);
  int calls = 0;
  engine.functions().add("Once", [&](const json::value& in, const InvocationContext&) -> json::value {
    if (++calls == 1) throw TaskError("Broken", "first call fails");
    return in;
  });
  WorkerOptions wo;
  wo.claim_every = 0;
  Worker worker(engine, f.store, wo);
  auto run_until_ended = [&] {
    for (int i = 0; i < 50 && str(f.describe(arn), "status") == "RUNNING"; ++i) (void)worker.run_once(kNanosPerMilli);
  };
  run_until_ended();
  auto failed = f.describe(arn);
  REQUIRE(str(failed, "status") == "FAILED");
  CHECK(str(failed, "redriveStatus") == "REDRIVABLE");

  auto redriven = f.ok("RedriveExecution", {{"executionArn", arn}});
  CHECK(redriven.contains("redriveDate"));
  auto now_running = f.describe(arn);
  CHECK(str(now_running, "status") == "RUNNING");
  CHECK(now_running.at("redriveCount").to_number<int>() == 1);
  run_until_ended();
  auto done = f.describe(arn);
  CHECK(str(done, "status") == "SUCCEEDED");
  CHECK(str(done, "output") == R"({"k":1,"prep":"prepared"})");
  CHECK(calls == 2);  // Prep did not run again; Call did
  const auto types = f.history_types(arn);
  const std::vector<std::string> expected{"ExecutionStarted",   "PassStateEntered",        "PassStateExited",
                                          "TaskStateEntered",   "LambdaFunctionScheduled", "LambdaFunctionStarted",
                                          "LambdaFunctionFailed", "ExecutionFailed",       "ExecutionRedriven",
                                          "TaskStateEntered",   "LambdaFunctionScheduled", "LambdaFunctionStarted",
                                          "LambdaFunctionSucceeded", "TaskStateExited",    "ExecutionSucceeded"};
  CHECK(types == expected);
  // Succeeded now: not again.
  auto again = f.fails("RedriveExecution", {{"executionArn", arn}});
  CHECK(again.code == "ExecutionNotRedrivable");
  CHECK(again.message == "Execution is SUCCEEDED and cannot be redriven");
  CHECK(f.fails("RedriveExecution", {{"executionArn", arn + "x"}}).code == "ExecutionDoesNotExist");
}
