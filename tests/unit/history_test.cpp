// History events: their details as AWS's GetExecutionHistory shapes them, and
// the previousEventId chain.
#include <string>
#include <vector>

#include "engine/event_codec.h"
#include "engine_test_util.h"

using namespace stepwise;
using stepwise::testing::parse_or_fail;
using stepwise::testing::virtual_time_options;

namespace {

json::value J(const char* text) {
  return *parse_json(text);
}

ExecutionResult run_recorded(Engine& e, const char* def, const char* input, RunOptions o = {}) {
  o.record_history = true;
  o.state_machine_name = "SM";
  o.execution_name = "exec";
  return e.run(parse_or_fail(def), J(input), std::move(o));
}

// "id<previous Type {details}" per event.
std::vector<std::string> lines(const ExecutionResult& r) {
  std::vector<std::string> out;
  for (const auto& ev : r.history) {
    out.push_back(std::to_string(ev.id) + "<" + std::to_string(ev.previous_event_id) + " " +
                  ev.type + " " + ev.details);
  }
  return out;
}

void check_lines(const ExecutionResult& r, const std::vector<std::string>& expected) {
  auto got = lines(r);
  CHECK(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size() && i < expected.size(); ++i) CHECK(got[i] == expected[i]);
}

const HistoryEvent* find_event(const ExecutionResult& r, const std::string& type,
                               const std::string& name = "") {
  for (const auto& ev : r.history) {
    if (ev.type != type) continue;
    if (name.empty()) return &ev;
    for (const auto& kv : ev.details_object()) {
      const auto* n = kv.value().as_object().if_contains("name");
      if (n && n->as_string() == name) return &ev;
    }
  }
  return nullptr;
}

const std::string kStarted =
    R"(1<0 ExecutionStarted {"executionStartedEventDetails":{"input":"{\"x\":1}","inputDetails":{"truncated":false},)"
    R"("roleArn":"arn:aws:iam::123456789012:role/StepwiseExecutionRole"}})";

}  // namespace

TEST_CASE("History: a Pass state's events and their details") {
  Engine e(virtual_time_options());
  auto r = run_recorded(
      e, R"({"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"b":2},"ResultPath":"$.r",
      "End":true}}})",
      R"({"x":1})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  check_lines(
      r,
      {
          kStarted,
          R"(2<1 PassStateEntered {"stateEnteredEventDetails":{"name":"P","input":"{\"x\":1}",)"
          R"("inputDetails":{"truncated":false}}})",
          R"(3<2 PassStateExited {"stateExitedEventDetails":{"name":"P","output":"{\"x\":1,\"r\":{\"b\":2}}",)"
          R"("outputDetails":{"truncated":false}}})",
          R"(4<3 ExecutionSucceeded {"executionSucceededEventDetails":{"output":"{\"x\":1,\"r\":{\"b\":2}}",)"
          R"("outputDetails":{"truncated":false}}})",
      });
}

TEST_CASE("History: HistoryEvent::to_json is one event as the CLI prints it") {
  Engine e(virtual_time_options());
  auto r = run_recorded(e, R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"Next":"P"},
      "P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}],"End":true}}})",
                        R"({"x":1})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  REQUIRE(r.history.size() >= 5);
  CHECK(
      to_json(r.history[0].to_json()) ==
      R"({"timestamp":"2025-01-01T00:00:00.000+00:00","type":"ExecutionStarted","id":1,"previousEventId":0,)"
      R"("executionStartedEventDetails":{"input":"{\"x\":1}","inputDetails":{"truncated":false},)"
      R"("roleArn":"arn:aws:iam::123456789012:role/StepwiseExecutionRole"}})");
  // The Wait state's exit, 10 s later.
  CHECK(
      to_json(r.history[2].to_json()) ==
      R"({"timestamp":"2025-01-01T00:00:10.000+00:00","type":"WaitStateExited","id":3,"previousEventId":2,)"
      R"("stateExitedEventDetails":{"name":"W","output":"{\"x\":1}","outputDetails":{"truncated":false}}})");
  // ParallelStateStarted has no details member at all.
  CHECK(
      to_json(r.history[4].to_json()) ==
      R"({"timestamp":"2025-01-01T00:00:10.000+00:00","type":"ParallelStateStarted","id":5,"previousEventId":4})");
  CHECK(format_event_time(1735689600123456789LL) == "2025-01-01T00:00:00.123+00:00");
}

TEST_CASE("History: a Lambda ARN task and a lambda:invoke task") {
  Engine e(virtual_time_options());
  e.functions().add("Echo", [](const json::value& v, const InvocationContext&) { return v; });
  auto r = run_recorded(e, R"({"StartAt":"T","States":{
      "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Echo","TimeoutSeconds":30,
           "HeartbeatSeconds":10,"Next":"I"},
      "I":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"Echo",
           "Payload.$":"$"},"TimeoutSeconds":60,"HeartbeatSeconds":5,"ResultSelector":{"p.$":"$.Payload"},
           "End":true}}})",
                        R"({"x":1})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  check_lines(
      r,
      {
          kStarted,
          R"(2<1 TaskStateEntered {"stateEnteredEventDetails":{"name":"T","input":"{\"x\":1}",)"
          R"("inputDetails":{"truncated":false}}})",
          // LambdaFunctionScheduledEventDetails has no heartbeat.
          R"(3<2 LambdaFunctionScheduled {"lambdaFunctionScheduledEventDetails":{)"
          R"("resource":"arn:aws:lambda:us-east-1:123456789012:function:Echo","input":"{\"x\":1}",)"
          R"("inputDetails":{"truncated":false},"timeoutInSeconds":30}})",
          R"(4<3 LambdaFunctionStarted {})",
          R"(5<4 LambdaFunctionSucceeded {"lambdaFunctionSucceededEventDetails":{"output":"{\"x\":1}",)"
          R"("outputDetails":{"truncated":false}}})",
          R"(6<5 TaskStateExited {"stateExitedEventDetails":{"name":"T","output":"{\"x\":1}",)"
          R"("outputDetails":{"truncated":false}}})",
          R"(7<6 TaskStateEntered {"stateEnteredEventDetails":{"name":"I","input":"{\"x\":1}",)"
          R"("inputDetails":{"truncated":false}}})",
          R"(8<7 TaskScheduled {"taskScheduledEventDetails":{"resourceType":"lambda","resource":"invoke",)"
          R"("region":"us-east-1","parameters":"{\"FunctionName\":\"Echo\",\"Payload\":{\"x\":1}}",)"
          R"("timeoutInSeconds":60,"heartbeatInSeconds":5}})",
          R"(9<8 TaskStarted {"taskStartedEventDetails":{"resourceType":"lambda","resource":"invoke"}})",
          R"(10<9 TaskSucceeded {"taskSucceededEventDetails":{"resourceType":"lambda","resource":"invoke",)"
          R"("output":"{\"ExecutedVersion\":\"$LATEST\",\"Payload\":{\"x\":1},\"StatusCode\":200}",)"
          R"("outputDetails":{"truncated":false}}})",
          R"(11<10 TaskStateExited {"stateExitedEventDetails":{"name":"I","output":"{\"p\":{\"x\":1}}",)"
          R"("outputDetails":{"truncated":false}}})",
          R"(12<11 ExecutionSucceeded {"executionSucceededEventDetails":{"output":"{\"p\":{\"x\":1}}",)"
          R"("outputDetails":{"truncated":false}}})",
      });
}

TEST_CASE("History: a failed task caught into a Fail state") {
  Engine e(virtual_time_options());
  MockTable t;
  MockResponse boom;
  boom.is_throw = true;
  boom.error = "Boom";
  boom.cause = "bad";
  t["T"] = {boom};
  RunOptions o;
  o.invoker = std::make_shared<MockInvoker>(t, nullptr);
  auto r = run_recorded(e, R"({"StartAt":"T","States":{
      "T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
           "Parameters":{"QueueUrl":"q","MessageBody.$":"$$.Task.Token"},
           "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"F"}],"End":true},
      "F":{"Type":"Fail","Error":"X","Cause":"Y"}}})",
                        R"({"x":1})", o);
  REQUIRE(r.status == ExecutionStatus::Failed);
  auto got = lines(r);
  REQUIRE(got.size() == 9);
  CHECK(got[0] == kStarted);
  CHECK(got[1].rfind("2<1 TaskStateEntered ", 0) == 0);
  // The parameters hold the task token: check the fields around it.
  CHECK(got[2].rfind(R"(3<2 TaskScheduled {"taskScheduledEventDetails":{"resourceType":"sqs",)"
                     R"("resource":"sendMessage.waitForTaskToken","region":"us-east-1",)"
                     R"("parameters":"{\"QueueUrl\":\"q\",\"MessageBody\":\")",
                     0) == 0);
  CHECK(got[3] == R"(4<3 TaskStarted {"taskStartedEventDetails":{"resourceType":"sqs",)"
                  R"("resource":"sendMessage.waitForTaskToken"}})");
  CHECK(got[4] == R"(5<4 TaskSubmitted {"taskSubmittedEventDetails":{"resourceType":"sqs",)"
                  R"("resource":"sendMessage.waitForTaskToken"}})");
  CHECK(got[5] == R"(6<5 TaskFailed {"taskFailedEventDetails":{"resourceType":"sqs",)"
                  R"("resource":"sendMessage.waitForTaskToken","error":"Boom","cause":"bad"}})");
  const std::string caught = R"({\"x\":1,\"err\":{\"Error\":\"Boom\",\"Cause\":\"bad\"}})";
  CHECK(got[6] == R"(7<6 TaskStateExited {"stateExitedEventDetails":{"name":"T","output":")" +
                      caught + R"(","outputDetails":{"truncated":false}}})");
  CHECK(got[7] == R"(8<7 FailStateEntered {"stateEnteredEventDetails":{"name":"F","input":")" +
                      caught + R"(","inputDetails":{"truncated":false}}})");
  CHECK(got[8] ==
        R"(9<8 ExecutionFailed {"executionFailedEventDetails":{"error":"X","cause":"Y"}})");
}

TEST_CASE("History: Choice, Wait and Succeed") {
  Engine e(virtual_time_options());
  auto r = run_recorded(e, R"({"StartAt":"C","States":{
      "C":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericGreaterThan":0,"Next":"W"}],"Default":"S"},
      "W":{"Type":"Wait","Seconds":3,"Next":"S"},"S":{"Type":"Succeed"}}})",
                        R"({"x":1})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  const std::string in = R"("input":"{\"x\":1}","inputDetails":{"truncated":false}}})";
  const std::string out = R"("output":"{\"x\":1}","outputDetails":{"truncated":false}}})";
  check_lines(r, {
                     kStarted,
                     R"(2<1 ChoiceStateEntered {"stateEnteredEventDetails":{"name":"C",)" + in,
                     R"(3<2 ChoiceStateExited {"stateExitedEventDetails":{"name":"C",)" + out,
                     R"(4<3 WaitStateEntered {"stateEnteredEventDetails":{"name":"W",)" + in,
                     R"(5<4 WaitStateExited {"stateExitedEventDetails":{"name":"W",)" + out,
                     R"(6<5 SucceedStateEntered {"stateEnteredEventDetails":{"name":"S",)" + in,
                     R"(7<6 SucceedStateExited {"stateExitedEventDetails":{"name":"S",)" + out,
                     R"(8<7 ExecutionSucceeded {"executionSucceededEventDetails":{)" + out,
                 });
  CHECK(r.history[4].timestamp - r.history[3].timestamp == 3'000'000'000LL);
}

TEST_CASE(
    "History: Parallel branches start from ParallelStateStarted, the exit follows the last "
    "branch") {
  Engine e(virtual_time_options());
  auto r = run_recorded(e, R"({"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Pass","Result":"b","End":true}}}],"End":true}}})",
                        R"({"x":1})");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  REQUIRE(r.history.size() == 9);
  CHECK(lines(r)[1] ==
        R"(2<1 ParallelStateEntered {"stateEnteredEventDetails":{"name":"P","input":"{\"x\":1}",)"
        R"("inputDetails":{"truncated":false}}})");
  CHECK(lines(r)[2] == "3<2 ParallelStateStarted {}");
  const HistoryEvent* a_in = find_event(r, "PassStateEntered", "A");
  const HistoryEvent* b_in = find_event(r, "PassStateEntered", "B");
  const HistoryEvent* a_out = find_event(r, "PassStateExited", "A");
  const HistoryEvent* b_out = find_event(r, "PassStateExited", "B");
  REQUIRE((a_in && b_in && a_out && b_out));
  CHECK(a_in->previous_event_id == 3);
  CHECK(b_in->previous_event_id == 3);
  CHECK(a_out->previous_event_id == a_in->id);
  CHECK(b_out->previous_event_id == b_in->id);
  CHECK(
      b_out->details ==
      R"({"stateExitedEventDetails":{"name":"B","output":"\"b\"","outputDetails":{"truncated":false}}})");
  const HistoryEvent& exited = r.history[7];
  CHECK(exited.type == "ParallelStateExited");
  CHECK(exited.previous_event_id == std::max(a_out->id, b_out->id));
  CHECK(
      exited.details ==
      R"({"stateExitedEventDetails":{"name":"P","output":"[{\"x\":1},\"b\"]","outputDetails":{"truncated":false}}})");
  CHECK(r.history[8].previous_event_id == exited.id);
}

TEST_CASE("History: Map iterations, their details and chain") {
  Engine e(virtual_time_options());
  auto r = run_recorded(e, R"({"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,
      "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}})",
                        "[7,8]");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  auto entered = [](const char* v) {
    return std::string(R"({"stateEnteredEventDetails":{"name":"P","input":")") + v +
           R"(","inputDetails":{"truncated":false}}})";
  };
  auto exited = [](const char* n, const char* v) {
    return std::string(R"({"stateExitedEventDetails":{"name":")") + n + R"(","output":")" + v +
           R"(","outputDetails":{"truncated":false}}})";
  };
  check_lines(
      r,
      {
          R"(1<0 ExecutionStarted {"executionStartedEventDetails":{"input":"[7,8]",)"
          R"("inputDetails":{"truncated":false},"roleArn":"arn:aws:iam::123456789012:role/StepwiseExecutionRole"}})",
          R"(2<1 MapStateEntered {"stateEnteredEventDetails":{"name":"M","input":"[7,8]",)"
          R"("inputDetails":{"truncated":false}}})",
          R"(3<2 MapStateStarted {"mapStateStartedEventDetails":{"length":2}})",
          R"(4<3 MapIterationStarted {"mapIterationStartedEventDetails":{"name":"M","index":0}})",
          "5<4 PassStateEntered " + entered("7"),
          "6<5 PassStateExited " + exited("P", "7"),
          R"(7<6 MapIterationSucceeded {"mapIterationSucceededEventDetails":{"name":"M","index":0}})",
          R"(8<7 MapIterationStarted {"mapIterationStartedEventDetails":{"name":"M","index":1}})",
          "9<8 PassStateEntered " + entered("8"),
          "10<9 PassStateExited " + exited("P", "8"),
          R"(11<10 MapIterationSucceeded {"mapIterationSucceededEventDetails":{"name":"M","index":1}})",
          "12<11 MapStateSucceeded {}",
          "13<12 MapStateExited " + exited("M", "[7,8]"),
          R"(14<13 ExecutionSucceeded {"executionSucceededEventDetails":{"output":"[7,8]",)"
          R"("outputDetails":{"truncated":false}}})",
      });
}

TEST_CASE("History: a failed Map iteration") {
  Engine e(virtual_time_options());
  auto r = run_recorded(e, R"({"StartAt":"M","States":{"M":{"Type":"Map",
      "ItemProcessor":{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"C"}}},"End":true}}})",
                        "[1]");
  REQUIRE(r.status == ExecutionStatus::Failed);
  check_lines(
      r,
      {
          R"(1<0 ExecutionStarted {"executionStartedEventDetails":{"input":"[1]",)"
          R"("inputDetails":{"truncated":false},"roleArn":"arn:aws:iam::123456789012:role/StepwiseExecutionRole"}})",
          R"(2<1 MapStateEntered {"stateEnteredEventDetails":{"name":"M","input":"[1]",)"
          R"("inputDetails":{"truncated":false}}})",
          R"(3<2 MapStateStarted {"mapStateStartedEventDetails":{"length":1}})",
          R"(4<3 MapIterationStarted {"mapIterationStartedEventDetails":{"name":"M","index":0}})",
          R"(5<4 FailStateEntered {"stateEnteredEventDetails":{"name":"F","input":"1",)"
          R"("inputDetails":{"truncated":false}}})",
          R"(6<5 MapIterationFailed {"mapIterationFailedEventDetails":{"name":"M","index":0}})",
          "7<6 MapStateFailed {}",
          R"(8<7 ExecutionFailed {"executionFailedEventDetails":{"error":"E","cause":"C"}})",
      });
}

TEST_CASE("History: a task timeout and an execution timeout") {
  Engine e(virtual_time_options());
  e.functions().add_async("Never",
                          [](const json::value&, const InvocationContext&, TaskCompletion) {});
  auto r = run_recorded(e, R"({"StartAt":"T","States":{
      "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Never","TimeoutSeconds":2,
           "Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":null,"Next":"W"}],"End":true},
      "W":{"Type":"Wait","Seconds":100,"End":true}},"TimeoutSeconds":10})",
                        R"({"x":1})");
  REQUIRE(r.status == ExecutionStatus::TimedOut);
  auto got = lines(r);
  REQUIRE(got.size() == 8);
  CHECK(
      got[4] ==
      R"(5<4 LambdaFunctionTimedOut {"lambdaFunctionTimedOutEventDetails":{"error":"States.Timeout",)"
      R"("cause":""}})");
  CHECK(got[5].rfind(R"(6<5 TaskStateExited {"stateExitedEventDetails":{"name":"T")", 0) == 0);
  CHECK(got[6].rfind(R"(7<6 WaitStateEntered {"stateEnteredEventDetails":{"name":"W")", 0) == 0);
  CHECK(got[7] ==
        R"(8<7 ExecutionTimedOut {"executionTimedOutEventDetails":{"error":"States.Timeout"}})");
  CHECK(r.history[7].timestamp - r.history[0].timestamp == 10'000'000'000LL);
}

TEST_CASE("History: a Distributed Map names its Map Run") {
  Engine e(virtual_time_options());
  const char* def = R"({"StartAt":"M","States":{"M":{"Type":"Map","Label":"Lbl",
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
                       "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}})";
  auto r = run_recorded(e, def, "[1,2]");
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  std::vector<std::string> types;
  for (const auto& ev : r.history) types.push_back(ev.type);
  CHECK(types == std::vector<std::string>{"ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted",
                                          "MapRunSucceeded", "MapStateSucceeded", "MapStateExited",
                                          "ExecutionSucceeded"});
  const json::object details = r.history[3].details_object();
  const auto& started = details.at("mapRunStartedEventDetails").as_object();
  const std::string arn(started.at("mapRunArn").as_string());
  const std::string prefix = "arn:aws:states:us-east-1:123456789012:mapRun:SM/Lbl:";
  CHECK(arn.rfind(prefix, 0) == 0);
  CHECK(arn.size() == prefix.size() + 36);  // a UUID
  CHECK(r.history[4].details == "{}");
  CHECK(r.history[4].previous_event_id == 4);
  // The same execution gets the same Map Run ARN (it draws no random numbers).
  auto again = run_recorded(e, def, "[1,2]");
  CHECK(again.history[3].details_object().at("mapRunStartedEventDetails").at("mapRunArn").as_string() == arn);
}

TEST_CASE("History: a retried task schedules again after its failure") {
  Engine e(virtual_time_options());
  MockResponse boom;
  boom.is_throw = true;
  boom.error = "Boom";
  boom.cause = "bad";
  MockTable t;
  t["T"] = {boom, MockResponse{false, J(R"({"MessageId":"m"})"), "", ""}};
  RunOptions o;
  o.invoker = std::make_shared<MockInvoker>(t, nullptr);
  auto r = run_recorded(e, R"({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage",
      "Parameters":{"QueueUrl":"q","MessageBody":"hi"},
      "Retry":[{"ErrorEquals":["Boom"],"IntervalSeconds":2}],"End":true}}})",
                        R"({"x":1})", o);
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  std::vector<std::string> chain;
  for (const auto& ev : r.history)
    chain.push_back(std::to_string(ev.id) + "<" + std::to_string(ev.previous_event_id) + " " + ev.type);
  CHECK(chain == std::vector<std::string>{"1<0 ExecutionStarted", "2<1 TaskStateEntered", "3<2 TaskScheduled",
                                          "4<3 TaskStarted", "5<4 TaskFailed", "6<5 TaskScheduled",
                                          "7<6 TaskStarted", "8<7 TaskSucceeded", "9<8 TaskStateExited",
                                          "10<9 ExecutionSucceeded"});
  CHECK(r.history[5].timestamp - r.history[4].timestamp == 2'000'000'000LL);
  CHECK(r.history[7].details ==
        R"({"taskSucceededEventDetails":{"resourceType":"sqs","resource":"sendMessage",)"
        R"("output":"{\"MessageId\":\"m\"}","outputDetails":{"truncated":false}}})");
}

TEST_CASE("event codec: an event survives the store's record form, bad details are refused") {
  stepwise::HistoryEvent e;
  e.id = 7;
  e.previous_event_id = 5;
  e.timestamp = 1735689600123000000LL;
  e.type = "PassStateExited";
  e.details = R"({"stateExitedEventDetails":{"name":"P","output":"{\"a\":1.5}"}})";
  auto rec = stepwise::to_event_record(e);
  CHECK(rec.details == R"({"stateExitedEventDetails":{"name":"P","output":"{\"a\":1.5}"}})");
  auto back = stepwise::from_event_record(rec);
  REQUIRE(back);
  CHECK(back->id == 7);
  CHECK(back->previous_event_id == 5);
  CHECK(back->timestamp == e.timestamp);
  CHECK(back->type == e.type);
  CHECK(back->details == e.details);
  rec.details = "[1]";
  auto bad = stepwise::from_event_record(rec);
  REQUIRE_FALSE(bad);
  CHECK(bad.failure().error == "Stepwise.CorruptEvent");
}
