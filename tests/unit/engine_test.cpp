// The interpreter end to end: each state type, the data flow, errors, Retry
// and Catch, Parallel and Map, timeouts. Time is virtual: no test sleeps.
#include <atomic>
#include <thread>

#include "engine_test_util.h"
#include "states/timestamp.h"

using namespace stepwise;
using stepwise::testing::parse_or_fail;
using stepwise::testing::virtual_time_options;

namespace {

json::value J(const char* text) { return *parse_json(text); }

ExecutionResult run(Engine& e, const char* def, const char* input = "{}", RunOptions o = {}) {
  return e.run(parse_or_fail(def), J(input), std::move(o));
}

Nanos elapsed(Engine& e, const std::function<void()>& body) {
  auto clock = std::dynamic_pointer_cast<ManualClock>(e.options().clock);
  Nanos t0 = clock->now();
  body();
  return clock->now() - t0;
}

}  // namespace

TEST_CASE("Pass: InputPath, Parameters, Result, ResultPath, OutputPath") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"StartAt":"A","States":{
      "A":{"Type":"Pass","InputPath":"$.in","Parameters":{"x.$":"$.v","k":"lit"},"ResultPath":"$.out","Next":"B"},
      "B":{"Type":"Pass","Result":{"r":1},"ResultPath":"$.res","OutputPath":"$.res","End":true}}})",
               R"({"in":{"v":7}})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"({"r":1})");

  auto r2 = run(e, R"({"StartAt":"A","States":{
      "A":{"Type":"Pass","InputPath":"$.in","Parameters":{"x.$":"$.v","k":"lit"},"ResultPath":"$.out","End":true}}})",
                R"({"in":{"v":7}})");
  // ResultPath writes into the raw state input, not the InputPath selection.
  CHECK(to_json(r2.output) == R"({"in":{"v":7},"out":{"x":7,"k":"lit"}})");
}

TEST_CASE("ResultPath null keeps the input; ResultPath creates nested objects") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"StartAt":"A","States":{
      "A":{"Type":"Pass","Result":"x","ResultPath":null,"Next":"B"},
      "B":{"Type":"Pass","Result":5,"ResultPath":"$.a.b.c","End":true}}})",
               R"({"keep":true})");
  CHECK(to_json(r.output) == R"({"keep":true,"a":{"b":{"c":5}}})");
}

TEST_CASE("InputPath that matches nothing fails with AWS's States.Runtime message") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"StartAt":"pass","States":{"pass":{"Type":"Pass","InputPath":"$.NoSuchInputPath","End":true}}})");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.Runtime");
  CHECK(r.cause ==
        "An error occurred while executing the state 'pass' (entered at the event id #2). Invalid path "
        "'$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']");
}

TEST_CASE("Choice: first matching rule wins, Default, NoChoiceMatched") {
  Engine e(virtual_time_options());
  const char* def = R"({"StartAt":"C","States":{
      "C":{"Type":"Choice","Choices":[
          {"Variable":"$.n","NumericGreaterThan":10,"Next":"Big"},
          {"And":[{"Variable":"$.n","NumericGreaterThan":0},{"Variable":"$.s","StringMatches":"a*z"}],"Next":"Small"}],
       "Default":"Other"},
      "Big":{"Type":"Pass","Result":"big","End":true},
      "Small":{"Type":"Pass","Result":"small","End":true},
      "Other":{"Type":"Pass","Result":"other","End":true}}})";
  CHECK(to_json(run(e, def, R"({"n":11,"s":""})").output) == R"("big")");
  CHECK(to_json(run(e, def, R"({"n":3,"s":"abcz"})").output) == R"("small")");
  CHECK(to_json(run(e, def, R"({"n":3,"s":"abc"})").output) == R"("other")");

  auto r = run(e, R"({"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[
      {"Variable":"$.n","NumericEquals":1,"Next":"X"}]},"X":{"Type":"Succeed"}}})",
               R"({"n":2})");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.NoChoiceMatched");
}

TEST_CASE("Wait: Seconds, SecondsPath and Timestamp run on virtual time") {
  Engine e(virtual_time_options());
  Nanos d = elapsed(e, [&] {
    auto r = run(e, R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"P"},
        "P":{"Type":"Wait","SecondsPath":"$.s","End":true}}})",
                 R"({"s":5})");
    CHECK(r.status == ExecutionStatus::Succeeded);
    CHECK(to_json(r.output) == R"({"s":5})");
  });
  CHECK(d == 3605 * kNanosPerSecond);

  auto bad = run(e, R"({"StartAt":"WaitState","States":{"WaitState":{"Type":"Wait","SecondsPath":"$.s","End":true}}})",
                 R"({"s":-1})");
  CHECK(bad.error == "States.Runtime");
  CHECK(bad.cause ==
        "An error occurred while executing the state 'WaitState' (entered at the event id #2). The SecondsPath "
        "parameter references a negative value: $.s == -1");

  // A timestamp in the past does not wait.
  Nanos d2 = elapsed(e, [&] {
    auto r = run(e, R"({"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2016-03-14T01:59:00Z","End":true}}})");
    CHECK(r.status == ExecutionStatus::Succeeded);
  });
  CHECK(d2 == 0);
}

TEST_CASE("Fail: Error and Cause, literal and from paths") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"$.c"}}})",
               R"({"e":"error string","c":"cause string"})");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "error string");
  CHECK(r.cause == "cause string");
}

TEST_CASE("Task: in-process functions, Lambda ARN and lambda:invoke") {
  Engine e(virtual_time_options());
  e.functions().add("Double", [](const json::value& ev, const InvocationContext&) {
    return json::value(ev.at("x").as_int64() * 2);
  });
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task",
      "Resource":"arn:aws:lambda:us-east-1:123456789012:function:Double","ResultPath":"$.y","End":true}}})",
               R"({"x":21})");
  CHECK(to_json(r.output) == R"({"x":21,"y":42})");

  auto r2 = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
      "Parameters":{"FunctionName":"Double","Payload":{"x.$":"$.v"}},"ResultSelector":{"p.$":"$.Payload","s.$":"$.StatusCode"},
      "End":true}}})",
                R"({"v":5})");
  CHECK(to_json(r2.output) == R"({"p":10,"s":200})");

  auto missing = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task",
      "Resource":"arn:aws:lambda:us-east-1:123456789012:function:Nope","End":true}}})");
  CHECK(missing.status == ExecutionStatus::Failed);
  CHECK(missing.error == "Lambda.ResourceNotFoundException");
}

TEST_CASE("Task: asynchronous functions complete from another thread") {
  Engine e(virtual_time_options());
  std::vector<std::thread> threads;
  e.functions().add_async("Later", [&](const json::value& ev, const InvocationContext&, TaskCompletion done) {
    threads.emplace_back([ev, done] { done(TaskOutcome::success(ev)); });
  });
  auto r = run(e, R"({"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
      {"StartAt":"T1","States":{"T1":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:Later","End":true}}},
      {"StartAt":"T2","States":{"T2":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:Later","End":true}}}],
      "End":true}}})",
               R"({"a":1})");
  for (auto& t : threads) t.join();
  CHECK(to_json(r.output) == R"([{"a":1},{"a":1}])");
}

TEST_CASE("Retry: IntervalSeconds, BackoffRate, MaxDelaySeconds; then success") {
  Engine e(virtual_time_options());
  int calls = 0;
  e.functions().add("Flaky", [&](const json::value&, const InvocationContext& ctx) -> json::value {
    ++calls;
    if (ctx.attempt < 3) throw TaskError("Busy", "try again");
    return json::value(ctx.attempt);
  });
  Nanos d = elapsed(e, [&] {
    auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:Flaky",
        "Retry":[{"ErrorEquals":["Other"]},{"ErrorEquals":["Busy"],"IntervalSeconds":2,"BackoffRate":3,"MaxAttempts":5,
                  "MaxDelaySeconds":10}],"End":true}}})");
    CHECK(r.status == ExecutionStatus::Succeeded);
    CHECK(to_json(r.output) == "3");
  });
  CHECK(calls == 4);
  CHECK(d == (2 + 6 + 10) * kNanosPerSecond);  // 2, 6, then 18 capped at 10
}

TEST_CASE("Retry exhausted, then Catch with ResultPath; States.ALL") {
  Engine e(virtual_time_options());
  int calls = 0;
  e.functions().add("Bad", [&](const json::value&, const InvocationContext&) -> json::value {
    ++calls;
    throw TaskError("Boom", "it broke");
  });
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:Bad",
      "Retry":[{"ErrorEquals":["Boom"],"MaxAttempts":2,"IntervalSeconds":1}],
      "Catch":[{"ErrorEquals":["Nope"],"Next":"X"},{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"Handled"}],
      "End":true},"X":{"Type":"Fail"},"Handled":{"Type":"Pass","End":true}}})",
               R"({"in":1})");
  CHECK(calls == 3);
  CHECK(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"({"in":1,"err":{"Error":"Boom","Cause":"it broke"}})");
}

TEST_CASE("States.TaskFailed does not match States.Timeout; TimeoutSeconds on a task that never answers") {
  Engine e(virtual_time_options());
  std::vector<TaskCompletion> parked;
  e.functions().add_async("Hang", [&](const json::value&, const InvocationContext&, TaskCompletion done) {
    parked.push_back(std::move(done));
  });
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:Hang",
      "TimeoutSeconds":5,"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Caught"}],"End":true},
      "Caught":{"Type":"Succeed"}}})");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.Timeout");
  for (auto& p : parked) p(TaskOutcome::success(nullptr));  // late answers are ignored
}

TEST_CASE("HeartbeatSeconds: a task without heartbeats fails with States.HeartbeatTimeout") {
  Engine e(virtual_time_options());
  std::vector<TaskCompletion> parked;
  e.functions().add_async("Silent", [&](const json::value&, const InvocationContext&, TaskCompletion done) {
    parked.push_back(std::move(done));
  });
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:Silent",
      "TimeoutSeconds":100,"HeartbeatSeconds":10,"End":true}}})");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.HeartbeatTimeout");
}

TEST_CASE("Parallel: outputs in branch order; a failed branch fails the state; Catch catches it") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":10,"Next":"A2"},"A2":{"Type":"Pass","Result":1,"End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Pass","Result":2,"End":true}}}],
      "ResultSelector":{"first.$":"$[0]","all.$":"$"},"End":true}}})");
  CHECK(to_json(r.output) == R"({"first":1,"all":[1,2]})");

  auto f = run(e, R"({"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":10,"End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Fail","Error":"FailureType","Cause":"Cause description"}}}],
      "End":true}}})");
  CHECK(f.status == ExecutionStatus::Failed);
  CHECK(f.error == "FailureType");
  CHECK(f.cause == "Cause description");

  auto c = run(e, R"({"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
      {"StartAt":"B","States":{"B":{"Type":"Fail","Error":"E1"}}}],
      "Catch":[{"ErrorEquals":["E1"],"Next":"OK"}],"End":true},"OK":{"Type":"Pass","End":true}}})");
  CHECK(c.status == ExecutionStatus::Succeeded);
  CHECK(to_json(c.output) == R"({"Error":"E1","Cause":null})");
}

TEST_CASE("Map: ItemsPath, ItemSelector with $$.Map.Item, MaxConcurrency, results in order") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrency":2,
      "ItemSelector":{"i.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value","k.$":"$.k"},
      "ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"W","States":{
          "W":{"Type":"Wait","SecondsPath":"$.v","End":true}}},
      "End":true}}})",
               R"({"k":"K","xs":[3,1,2]})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"([{"i":0,"v":3,"k":"K"},{"i":1,"v":1,"k":"K"},{"i":2,"v":2,"k":"K"}])");

  auto legacy = run(e, R"({"StartAt":"M","States":{"M":{"Type":"Map","Parameters":{"x.$":"$$.Map.Item.Value"},
      "Iterator":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}})",
                    R"([1,2])");
  CHECK(to_json(legacy.output) == R"([{"x":1},{"x":2}])");

  auto empty = run(e, R"({"StartAt":"M","States":{"M":{"Type":"Map",
      "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}})",
                   R"([])");
  CHECK(to_json(empty.output) == "[]");
}

TEST_CASE("Map: MaxConcurrency bounds the iterations in flight") {
  Engine e(virtual_time_options());
  // Each iteration waits 10 s: 5 items at concurrency 2 take 3 rounds.
  Nanos d = elapsed(e, [&] {
    auto r = run(e, R"({"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":2,
        "ItemProcessor":{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"End":true}}},"End":true}}})",
                 "[1,2,3,4,5]");
    CHECK(r.status == ExecutionStatus::Succeeded);
  });
  CHECK(d == 30 * kNanosPerSecond);
  Nanos d0 = elapsed(e, [&] {
    run(e, R"({"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":0,
        "ItemProcessor":{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"End":true}}},"End":true}}})",
        "[1,2,3,4,5]");
  });
  CHECK(d0 == 10 * kNanosPerSecond);
}

TEST_CASE("Map: tolerated failures and States.ExceedToleratedFailureThreshold") {
  Engine e(virtual_time_options());
  const char* body = R"("ItemProcessor":{"StartAt":"C","States":{
      "C":{"Type":"Choice","Choices":[{"Variable":"$","NumericGreaterThan":2,"Next":"F"}],"Default":"OK"},
      "F":{"Type":"Fail","Error":"TooBig","Cause":"no"},"OK":{"Type":"Pass","End":true}}},"End":true}}})";
  auto ok = run(e, (std::string(R"({"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailureCount":1,)") + body).c_str(),
                "[1,2,3]");
  CHECK(ok.status == ExecutionStatus::Succeeded);
  CHECK(to_json(ok.output) == R"([1,2,{"Error":"TooBig","Cause":"no"}])");
  auto over = run(e, (std::string(R"({"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailurePercentage":10,)") + body).c_str(),
                  "[1,2,3]");
  CHECK(over.status == ExecutionStatus::Failed);
  CHECK(over.error == "States.ExceedToleratedFailureThreshold");
  auto none = run(e, (std::string(R"({"StartAt":"M","States":{"M":{"Type":"Map",)") + body).c_str(), "[1,5]");
  CHECK(none.error == "TooBig");
}

TEST_CASE("Machine TimeoutSeconds ends the execution TIMED_OUT") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"TimeoutSeconds":5,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}})");
  CHECK(r.status == ExecutionStatus::TimedOut);
  CHECK(r.error == "States.Timeout");
}

TEST_CASE("Payload limit: an oversized result raises States.DataLimitExceeded") {
  EngineOptions o = virtual_time_options();
  o.payload_limit = 100;
  Engine e(o);
  auto r = run(e, R"({"StartAt":"State_1","States":{"State_1":{"Type":"Pass","Result":
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "End":true}}})");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.DataLimitExceeded");
  CHECK(r.cause ==
        "The state/task 'State_1' returned a result with a size exceeding the maximum number of bytes service limit.");
}

TEST_CASE("Context object: execution, state machine, state") {
  Engine e(virtual_time_options());
  RunOptions o;
  o.state_machine_name = "SM";
  o.execution_name = "exec1";
  auto r = run(e, R"({"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{
      "id.$":"$$.Execution.Id","name.$":"$$.StateMachine.Name","state.$":"$$.State.Name",
      "input.$":"$$.Execution.Input","entered.$":"$$.State.EnteredTime"},"End":true}}})",
               R"({"a":1})", o);
  CHECK(to_json(r.output) ==
        R"({"id":"arn:aws:states:us-east-1:123456789012:execution:SM:exec1","name":"SM","state":"S","input":{"a":1},)"
        R"("entered":"2025-01-01T00:00:00.000Z"})");
}

TEST_CASE("History: event types and ids as AWS writes them") {
  Engine e(virtual_time_options());
  RunOptions o;
  o.record_history = true;
  e.functions().add("Id", [](const json::value& v, const InvocationContext&) { return v; });
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:Id",
      "Next":"M"},"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},
      "End":true}}})",
               "[1]", o);
  std::vector<std::string> types;
  for (const auto& ev : r.history) types.push_back(ev.type);
  std::vector<std::string> expected = {"ExecutionStarted",      "TaskStateEntered",   "LambdaFunctionScheduled",
                                       "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                                       "MapStateEntered",       "MapStateStarted",    "MapIterationStarted",
                                       "PassStateEntered",      "PassStateExited",    "MapIterationSucceeded",
                                       "MapStateSucceeded",     "MapStateExited",     "ExecutionSucceeded"};
  CHECK(types == expected);
  for (std::size_t i = 0; i < r.history.size(); ++i) CHECK(r.history[i].id == static_cast<std::int64_t>(i + 1));
}

TEST_CASE("History: a state enters at the instant the state before it exited") {
  // Real time: every read of the clock differs, so equal timestamps mean
  // one reading shared by the two events (and the state's entered time).
  Engine e;
  RunOptions o;
  o.record_history = true;
  auto r = run(e, R"({"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},
      "B":{"Type":"Pass","Parameters":{"entered.$":"$$.State.EnteredTime"},"Next":"C"},
      "C":{"Type":"Pass","End":true}}})",
               "{}", o);
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  std::vector<std::string> types;
  for (const auto& ev : r.history) types.push_back(ev.type);
  REQUIRE(types == std::vector<std::string>{"ExecutionStarted", "PassStateEntered", "PassStateExited",
                                            "PassStateEntered", "PassStateExited", "PassStateEntered",
                                            "PassStateExited", "ExecutionSucceeded"});
  CHECK(r.history[3].timestamp == r.history[2].timestamp);
  CHECK(r.history[5].timestamp == r.history[4].timestamp);
  CHECK(r.history[2].timestamp >= r.history[1].timestamp);
  CHECK(std::string(r.output.at("entered").as_string()) == states::format_timestamp(r.history[3].timestamp));
}

TEST_CASE("Mocks: MockConfigFile responses by call index, Return and Throw") {
  Engine e(virtual_time_options());
  auto cfg = J(R"({"StateMachines":{"SM":{"TestCases":{"Retry":{"T":"FailThenOk"}}}},
      "MockedResponses":{"FailThenOk":{"0-1":{"Throw":{"Error":"Lambda.ServiceException","Cause":"down"}},
                                        "2":{"Return":{"ok":true}}}}})");
  Diagnostics errs;
  auto table = load_mock_config(cfg, "SM", "Retry", errs);
  REQUIRE(table);
  RunOptions o;
  o.invoker = std::make_shared<MockInvoker>(*table, nullptr);
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage",
      "Retry":[{"ErrorEquals":["Lambda.ServiceException"],"MaxAttempts":3}],"End":true}}})",
               "{}", o);
  CHECK(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"({"ok":true})");

  Diagnostics bad;
  CHECK_FALSE(load_mock_config(cfg, "SM", "NoSuchCase", bad));
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].pointer == "/StateMachines/SM/TestCases/NoSuchCase");
}

TEST_CASE("Mocks: a call the mock does not cover fails clearly") {
  Engine e(virtual_time_options());
  MockTable t;
  t["T"] = {MockResponse{false, J("1"), "", ""}};
  RunOptions o;
  o.invoker = std::make_shared<MockInvoker>(t, nullptr);
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage",
      "Next":"T2"},"T2":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}})",
               "{}", o);
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.cause.find("no mocked response for the state 'T2'") != std::string::npos);
}

TEST_CASE("Several executions run side by side on one engine") {
  Engine e(virtual_time_options());
  auto def = parse_or_fail(R"({"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}})");
  std::vector<std::string> order;
  for (int s : {30, 10, 20}) {
    RunOptions o;
    e.start(def, json::value{{"s", s}}, o,
            [&order, s](ExecutionResult r) { order.push_back(std::to_string(s) + status_name(r.status)); });
  }
  e.run_pending();
  CHECK(order == std::vector<std::string>{"10SUCCEEDED", "20SUCCEEDED", "30SUCCEEDED"});
}

TEST_CASE("ResultPath into a non-object input fails with States.ReferencePathConflict, as AWS reports it") {
  Engine e(virtual_time_options());
  auto r = run(e, R"({"StartAt":"P","States":{"P":{"Type":"Pass","Result":1,"ResultPath":"$.someTaskResult","End":true}}})",
               R"("input1")");
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "States.ReferencePathConflict");
  CHECK(r.cause == R"(Unable to apply ReferencePath $.someTaskResult to input "input1")");
}

TEST_CASE("regression: a function that completes after its engine is destroyed does no harm") {
  TaskCompletion late;
  {
    Engine e(virtual_time_options());
    e.functions().add_async("Slow", [&](const json::value&, const InvocationContext&, TaskCompletion done) {
      late = std::move(done);
    });
    auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":1,
        "Resource":"arn:aws:lambda:us-east-1:1:function:Slow","End":true}}})");
    CHECK(r.error == "States.Timeout");
  }  // the engine goes away; the function has not answered yet
  REQUIRE(late);
  late(TaskOutcome::success(json::value(1)));  // must not touch the destroyed engine
  CHECK(true);
}

TEST_CASE("regression: a Catch of a failed ResultPath sees the state's raw input") {
  Engine e(virtual_time_options());
  e.functions().add("One", [](const json::value&, const InvocationContext&) { return json::value(1); });
  auto r = run(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:One",
      "ResultPath":"$.x","Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"After"}],"End":true},
      "After":{"Type":"Pass","End":true}}})",
               R"("raw input")");
  CHECK(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output) == R"("raw input")");
}
