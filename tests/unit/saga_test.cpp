// Sagas (docs/sagas.md): Compensate blocks, the roll-back after an uncaught
// error, the Compensate state, failing compensations, validation, and resume
// in the middle of a roll-back.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "engine/snapshot.h"
#include "engine_test_util.h"

using namespace stepwise;
using stepwise::testing::parse_or_fail;
using stepwise::testing::virtual_time_options;

namespace {

json::value J(const char* text) {
  return *parse_json(text);
}

constexpr const char* kArn = "arn:aws:lambda:us-east-1:123456789012:function:";

// A log of calls: "do:<name>" for a step, "undo:<name>" for a compensation.
struct Log {
  std::vector<std::string> calls;
  std::vector<json::value> undo_events;
  std::map<std::string, int> fail_undo;  // compensation name -> attempts that fail first (-1: always)
};

// Functions: Do (returns {"done": name}), Undo (records), Fail (always fails).
void register_functions(Engine& e, Log& log) {
  auto& fns = e.functions();
  fns.add("Do", [&log](const json::value& ev, const InvocationContext&) -> json::value {
    const std::string name(ev.at("name").get_string());
    log.calls.push_back("do:" + name);
    return json::object{{"done", name}, {"ref", "ref-" + name}};
  });
  fns.add("Undo", [&log](const json::value& ev, const InvocationContext& ctx) -> json::value {
    std::string name =
        ev.is_object() && ev.get_object().contains("name") ? std::string(ev.at("name").get_string()) : std::string("?");
    log.calls.push_back("undo:" + name);
    log.undo_events.push_back(ev);
    auto it = log.fail_undo.find(name);
    if (it != log.fail_undo.end() && (it->second < 0 || ctx.attempt < it->second))
      throw TaskError("UndoFailed", "cannot release " + name);
    return json::object{{"released", name}};
  });
  fns.add("Fail", [&log](const json::value& ev, const InvocationContext&) -> json::value {
    log.calls.push_back("fail:" + std::string(ev.at("name").get_string()));
    throw TaskError("PaymentDeclined", "card refused");
  });
}

// A Task step named `name` calling Do, compensated by Undo with
// {"name": <name>, "ref": <the result's ref>}.
std::string step(const std::string& name, const std::string& next, const std::string& extra = "") {
  return "\"" + name + "\":{\"Type\":\"Task\",\"Resource\":\"" + kArn + "Do\",\"Parameters\":{\"name\":\"" + name +
         "\"},\"ResultPath\":\"$." + name + "\",\"Compensate\":{\"Resource\":\"" + kArn +
         "Undo\",\"Parameters\":{\"name.$\":\"$.Input.name\"," + "\"ref.$\":\"$.Result.ref\"}" + extra + "}," +
         (next.empty() ? "\"End\":true" : "\"Next\":\"" + next + "\"") + "}";
}

std::string fail_step(const std::string& name, const std::string& rest = "") {
  return "\"" + name + "\":{\"Type\":\"Task\",\"Resource\":\"" + kArn + "Fail\",\"Parameters\":{\"name\":\"" + name +
         "\"}" + rest + ",\"End\":true}";
}

RunOptions recorded() {
  RunOptions o;
  o.record_history = true;
  o.execution_name = "saga";
  return o;
}

std::vector<std::string> types_of(const ExecutionResult& r, const std::string& prefix = "Compensation") {
  std::vector<std::string> out;
  for (const auto& e : r.history)
    if (e.type.rfind(prefix, 0) == 0) out.push_back(e.type);
  return out;
}

const HistoryEvent* find_event(const ExecutionResult& r, const std::string& type) {
  for (const auto& e : r.history)
    if (e.type == type) return &e;
  return nullptr;
}

const std::string kTrip = "{\"StartAt\":\"Flight\",\"States\":{" + step("Flight", "Hotel") + "," +
                          step("Hotel", "Car") + "," + step("Car", "Pay") + "," + fail_step("Pay") + "}}";

}  // namespace

TEST_CASE("saga: an uncaught failure compensates the completed steps in reverse order, then fails as before") {
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  auto r = e.run(parse_or_fail(kTrip), J("{}"), recorded());
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "PaymentDeclined");
  CHECK(r.cause == "card refused");
  CHECK(log.calls == std::vector<std::string>{"do:Flight", "do:Hotel", "do:Car", "fail:Pay", "undo:Car", "undo:Hotel",
                                              "undo:Flight"});
  // Parameters read the step's effective input and its result.
  REQUIRE(log.undo_events.size() == 3);
  CHECK(to_json(log.undo_events[0]) == R"({"name":"Car","ref":"ref-Car"})");
  CHECK(types_of(r) == std::vector<std::string>{"CompensationStarted", "CompensationStepStarted",
                                                "CompensationStepSucceeded", "CompensationStepStarted",
                                                "CompensationStepSucceeded", "CompensationStepStarted",
                                                "CompensationStepSucceeded", "CompensationSucceeded"});
  // The roll-back comes before ExecutionFailed, which keeps the original error.
  REQUIRE(!r.history.empty());
  CHECK(r.history.back().type == "ExecutionFailed");
  auto failed = r.history.back().details_object().at("executionFailedEventDetails").as_object();
  CHECK(failed.at("error") == json::value("PaymentDeclined"));
  auto started =
      find_event(r, "CompensationStarted")->details_object().at("compensationStartedEventDetails").as_object();
  CHECK(started.at("trigger") == json::value("EXECUTION_FAILED"));
  CHECK(started.at("error") == json::value("PaymentDeclined"));
  CHECK(started.at("steps") == json::value(3));
}

TEST_CASE("saga: a definition without Compensate blocks fails exactly as plain ASL") {
  const std::string plain = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"" +
                            std::string(kArn) + "Do\",\"Parameters\":{\"name\":\"A\"},\"Next\":\"Pay\"}," +
                            fail_step("Pay") + "}}";
  auto def = parse_or_fail(plain);
  CHECK_FALSE(def->has_compensation);
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  std::vector<json::value> snaps;
  RunOptions o = recorded();
  o.on_transition = [&](const Checkpoint& c) { snaps.push_back(c.to_json()); };
  auto r = e.run(def, J("{}"), o);
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(types_of(r).empty());
  CHECK(log.calls == std::vector<std::string>{"do:A", "fail:Pay"});
  // Nothing about sagas in the snapshot either.
  for (const auto& s : snaps) {
    CHECK(json::serialize(s).find("\"saga\":") == std::string::npos);
    CHECK(json::serialize(s).find("\"serial\":") == std::string::npos);
  }
}

TEST_CASE("saga: only completed steps are compensated; a caught error compensates nothing") {
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  const std::string caught = "{\"StartAt\":\"Flight\",\"States\":{" + step("Flight", "Pay") + "," +
                             fail_step("Pay", ",\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Ok\"}]") +
                             ",\"Ok\":{\"Type\":\"Succeed\"}}}";
  auto r = e.run(parse_or_fail(caught), J("{}"), recorded());
  CHECK(r.status == ExecutionStatus::Succeeded);
  CHECK(types_of(r).empty());
  CHECK(log.calls == std::vector<std::string>{"do:Flight", "fail:Pay"});
}

TEST_CASE("saga: steps inside Parallel branches and Map iterations are compensated, newest first") {
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  const std::string def = "{\"StartAt\":\"First\",\"States\":{" + step("First", "Par") +
                          ",\"Par\":{\"Type\":\"Parallel\",\"ResultPath\":null,\"Next\":\"Items\",\"Branches\":["
                          "{\"StartAt\":\"B1\",\"States\":{" +
                          step("B1", "") + "}},{\"StartAt\":\"B2\",\"States\":{" + step("B2", "") +
                          "}}],\"Compensate\":{\"Resource\":\"" + kArn +
                          "Undo\",\"Parameters\":{\"name\":\"Par\",\"branches.$\":\"States.ArrayLength($.Result)\"}}},"
                          "\"Items\":{\"Type\":\"Map\",\"ItemsPath\":\"$.items\",\"MaxConcurrency\":1,"
                          "\"ResultPath\":null,\"Next\":\"Pay\",\"ItemProcessor\":{\"StartAt\":\"It\",\"States\":{"
                          "\"It\":{\"Type\":\"Task\",\"Resource\":\"" +
                          kArn + "Do\",\"End\":true,\"Compensate\":{\"Resource\":\"" + kArn + "Undo\"}}}}}," +
                          fail_step("Pay") + "}}";
  auto r = e.run(parse_or_fail(def), J(R"({"items":[{"name":"I0"},{"name":"I1"}]})"), recorded());
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "PaymentDeclined");
  // Completion order: First, B1, B2, Par, I0, I1 (Map with MaxConcurrency 1).
  std::vector<std::string> undo;
  for (const auto& c : log.calls)
    if (c.rfind("undo:", 0) == 0) undo.push_back(c);
  CHECK(undo == std::vector<std::string>{"undo:?", "undo:?", "undo:Par", "undo:B2", "undo:B1", "undo:First"});
  // Without Parameters a compensation receives {"Input":..,"Result":..}.
  REQUIRE(log.undo_events.size() == 6);
  CHECK(to_json(log.undo_events[0]) == R"({"Input":{"name":"I1"},"Result":{"done":"I1","ref":"ref-I1"}})");
  CHECK(to_json(log.undo_events[2]) == R"({"name":"Par","branches":2})");
}

TEST_CASE("saga: a Compensate state rolls back explicitly and the workflow goes on") {
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  const std::string def =
      "{\"StartAt\":\"Flight\",\"States\":{" + step("Flight", "Hotel") + "," + step("Hotel", "Pay") + "," +
      fail_step("Pay", ",\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":\"$.error\",\"Next\":\"Undo\"}]") +
      ",\"Undo\":{\"Type\":\"Compensate\",\"ResultPath\":\"$.rollback\",\"Next\":\"Again\"},"
      "\"Again\":{\"Type\":\"Compensate\",\"Next\":\"Done\"},"
      "\"Done\":{\"Type\":\"Pass\",\"End\":true}}}";
  auto r = e.run(parse_or_fail(def), J("{}"), recorded());
  CHECK(r.status == ExecutionStatus::Succeeded);
  CHECK(log.calls == std::vector<std::string>{"do:Flight", "do:Hotel", "fail:Pay", "undo:Hotel", "undo:Flight"});
  CHECK(to_json(r.output.at("rollback")) == R"({"Compensated":["Hotel","Flight"],"Failed":[]})");
  CHECK(r.output.at("error").at("Error") == json::value("PaymentDeclined"));
  // The second Compensate state finds nothing left: no events, input passes through.
  CHECK(types_of(r) == std::vector<std::string>{"CompensationStarted", "CompensationStepStarted",
                                                "CompensationStepSucceeded", "CompensationStepStarted",
                                                "CompensationStepSucceeded", "CompensationSucceeded"});
  CHECK(types_of(r, "CompensateState") == std::vector<std::string>{"CompensateStateEntered", "CompensateStateExited",
                                                                   "CompensateStateEntered", "CompensateStateExited"});
  auto started =
      find_event(r, "CompensationStarted")->details_object().at("compensationStartedEventDetails").as_object();
  CHECK(started.at("trigger") == json::value("COMPENSATE_STATE"));
  CHECK(started.at("name") == json::value("Undo"));
}

TEST_CASE("saga: a Compensate state in a Map iteration rolls back only that iteration") {
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  const std::string def =
      "{\"StartAt\":\"Items\",\"States\":{\"Items\":{\"Type\":\"Map\",\"MaxConcurrency\":1,\"End\":true,"
      "\"ItemProcessor\":{\"StartAt\":\"Reserve\",\"States\":{"
      "\"Reserve\":{\"Type\":\"Task\",\"Resource\":\"" +
      std::string(kArn) + "Do\",\"ResultPath\":null,\"Next\":\"Check\",\"Compensate\":{\"Resource\":\"" + kArn +
      "Undo\",\"Parameters\":{\"name.$\":\"$.Input.name\"}}},"
      "\"Check\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.bad\",\"IsPresent\":true,\"Next\":\"Undo\"}],"
      "\"Default\":\"Ok\"},"
      "\"Undo\":{\"Type\":\"Compensate\",\"End\":true},\"Ok\":{\"Type\":\"Pass\",\"End\":true}}}}}}";
  auto r = e.run(parse_or_fail(def), J(R"([{"name":"A"},{"name":"B","bad":true},{"name":"C"}])"), recorded());
  CHECK(r.status == ExecutionStatus::Succeeded);
  CHECK(log.calls == std::vector<std::string>{"do:A", "do:B", "undo:B", "do:C"});
}

TEST_CASE("saga: a compensation that fails after its retries is reported apart; the others still run") {
  Engine e(virtual_time_options());
  Log log;
  log.fail_undo["Hotel"] = -1;  // always fails
  log.fail_undo["Car"] = 1;     // fails once, then succeeds on retry
  register_functions(e, log);
  const std::string retry = ",\"Retry\":[{\"ErrorEquals\":[\"UndoFailed\"],\"IntervalSeconds\":1,\"MaxAttempts\":2}]";
  const std::string def = "{\"StartAt\":\"Flight\",\"States\":{" + step("Flight", "Hotel") + "," +
                          step("Hotel", "Car", retry) + "," + step("Car", "Pay", retry) + "," + fail_step("Pay") + "}}";
  auto r = e.run(parse_or_fail(def), J("{}"), recorded());
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "PaymentDeclined");  // never hidden by the compensation's failure
  CHECK(r.cause == "card refused");
  CHECK(log.calls == std::vector<std::string>{"do:Flight", "do:Hotel", "do:Car", "fail:Pay", "undo:Car", "undo:Car",
                                              "undo:Hotel", "undo:Hotel", "undo:Hotel", "undo:Flight"});
  auto types = types_of(r);
  CHECK(std::count(types.begin(), types.end(), "CompensationStepRetrying") == 3);
  CHECK(std::count(types.begin(), types.end(), "CompensationStepFailed") == 1);
  CHECK(types.back() == "CompensationFailed");
  auto stepf =
      find_event(r, "CompensationStepFailed")->details_object().at("compensationStepFailedEventDetails").as_object();
  CHECK(stepf.at("name") == json::value("Hotel"));
  CHECK(stepf.at("error") == json::value("UndoFailed"));
  auto failed = find_event(r, "CompensationFailed")->details_object().at("compensationFailedEventDetails").as_object();
  CHECK(failed.at("error") == json::value("Stepwise.CompensationFailed"));
  CHECK(failed.at("cause") == json::value("1 of 3 compensations failed: Hotel"));
  CHECK(r.history.back().type == "ExecutionFailed");
}

TEST_CASE("saga: a compensation's TimeoutSeconds fails it with States.Timeout") {
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  e.functions().add_async("Hang", [](const json::value&, const InvocationContext&, TaskCompletion) {});
  const std::string def = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"" +
                          std::string(kArn) + "Do\",\"Parameters\":{\"name\":\"A\"},\"Next\":\"Pay\"," +
                          "\"Compensate\":{\"Resource\":\"" + kArn + "Hang\",\"TimeoutSeconds\":5}}," +
                          fail_step("Pay") + "}}";
  auto r = e.run(parse_or_fail(def), J("{}"), recorded());
  CHECK(r.status == ExecutionStatus::Failed);
  CHECK(r.error == "PaymentDeclined");
  auto stepf = find_event(r, "CompensationStepFailed");
  REQUIRE(stepf);
  CHECK(stepf->details_object().at("compensationStepFailedEventDetails").at("error") == json::value("States.Timeout"));
}

TEST_CASE("saga: Compensate blocks and states are validated, with JSON pointers") {
  auto diags = [](const std::string& text) {
    auto r = states::parse_definition_text(text);
    std::vector<std::string> out;
    for (const auto& d : r.diagnostics) out.push_back(d.pointer + ": " + d.message);
    return out;
  };
  auto has = [](const std::vector<std::string>& all, const std::string& want) {
    bool found = std::find(all.begin(), all.end(), want) != all.end();
    if (!found)
      for (const auto& d : all) MESSAGE(d);
    return found;
  };
  const std::string head = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"" +
                           std::string(kArn) + "Do\",\"End\":true,\"Compensate\":";
  CHECK(has(diags(head + "{}}}}"), "/States/A/Compensate: These fields are required: [Resource]"));
  CHECK(has(diags(head + "[]}}}"),
            "/States/A/Compensate: The value of the field 'Compensate' must be an object, not array"));
  CHECK(has(diags(head + "{\"Resource\":\"" + kArn + "Undo\",\"Next\":\"B\"}}}}"),
            "/States/A/Compensate/Next: The field 'Next' is not supported in a Compensate block"));
  CHECK(
      has(diags(head + "{\"Resource\":\"" + kArn + "Undo\",\"TimeoutSeconds\":0}}}}"),
          "/States/A/Compensate/TimeoutSeconds: The value of the field 'TimeoutSeconds' must be a positive integer no "
          "greater than 99999999"));
  CHECK(has(diags(head + "{\"Resource\":\"" + kArn + "Undo\",\"Parameters\":{\"x.$\":\"not a path\"}}}}}"),
            "/States/A/Compensate/Parameters: The value for the field 'x.$' must be a valid JSONPath or a valid "
            "intrinsic function call"));
  CHECK(has(diags(head + "{\"Resource\":\"arn:aws:states:::sqs:sendMessage.waitForTaskToken\"}}}}"),
            "/States/A/Compensate/Resource: A compensation must be a request-response call: '.sync' and "
            "'.waitForTaskToken' are not supported in a Compensate block"));
  auto retry = diags(head + "{\"Resource\":\"" + kArn + "Undo\",\"Retry\":[{\"ErrorEquals\":[]}]}}}}");
  CHECK(!retry.empty());
  CHECK(retry.front().rfind("/States/A/Compensate/Retry/0", 0) == 0);
  // Not on other state types.
  CHECK(has(diags("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true,\"Compensate\":{}}}}"),
            "/States/P/Compensate: The field 'Compensate' is not supported in a Pass state"));
  // The Compensate state takes ResultPath, Next, End only.
  CHECK(has(diags("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Compensate\",\"End\":true,\"InputPath\":\"$\"}}}"),
            "/States/C/InputPath: The field 'InputPath' is not supported in a Compensate state"));
  CHECK(has(diags("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Compensate\"}}}"),
            "/States/C: Either 'Next' or 'End': true is required in a Compensate state"));
  CHECK(diags("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Compensate\",\"ResultPath\":\"$.r\",\"End\":true}}}")
            .empty());
}

// Resume: every snapshot of a run whose roll-back has three compensations, one
// retried, resumed in a fresh engine, ends as the uninterrupted run did, and
// the compensations that had completed at the snapshot do not run again.
TEST_CASE("saga: resume in the middle of a roll-back runs no compensation twice") {
  const std::string retry = ",\"Retry\":[{\"ErrorEquals\":[\"UndoFailed\"],\"IntervalSeconds\":3,\"MaxAttempts\":1}]";
  auto def = parse_or_fail("{\"StartAt\":\"Flight\",\"States\":{" + step("Flight", "Hotel") + "," +
                           step("Hotel", "Car", retry) + "," + step("Car", "Pay") + "," + fail_step("Pay") + "}}");
  auto fresh = [] {
    EngineOptions o = virtual_time_options();
    return o;
  };
  // The uninterrupted run, with a snapshot (and the log so far) at each transition.
  Engine e(fresh());
  Log log;
  log.fail_undo["Hotel"] = 1;
  register_functions(e, log);
  struct Snap {
    json::value json;
    std::size_t calls;
    Nanos time;
  };
  std::vector<Snap> snaps;
  auto clock = std::dynamic_pointer_cast<ManualClock>(e.options().clock);
  RunOptions o = recorded();
  o.on_transition = [&](const Checkpoint& c) { snaps.push_back(Snap{c.to_json(), log.calls.size(), clock->now()}); };
  auto orig = e.run(def, J("{}"), o);
  REQUIRE(orig.status == ExecutionStatus::Failed);
  const std::vector<std::string> want{"do:Flight", "do:Hotel",   "do:Car",     "fail:Pay",
                                      "undo:Car",  "undo:Hotel", "undo:Hotel", "undo:Flight"};
  REQUIRE(log.calls == want);

  std::size_t mid_rollback = 0;
  for (std::size_t i = 0; i < snaps.size(); ++i) {
    INFO("snapshot " << i << ": " << json::serialize(snaps[i].json));
    auto parsed = snapshot_from_json(snaps[i].json);
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.failure().cause));
    CHECK(json::serialize(snapshot_to_json(*parsed)) == json::serialize(snaps[i].json));
    const bool rolling_back = parsed->state.saga.active.has_value();
    if (rolling_back) ++mid_rollback;

    EngineOptions opts = fresh();
    std::dynamic_pointer_cast<ManualClock>(opts.clock)->set(snaps[i].time);
    Engine e2(opts);
    Log log2;
    log2.fail_undo["Hotel"] = 1;
    register_functions(e2, log2);
    // A resumed Hotel compensation already failed its first attempt before
    // the snapshot if the snapshot shows a retry: it then succeeds at once.
    if (rolling_back && parsed->state.saga.active->retry_count > 0) log2.fail_undo["Hotel"] = 0;
    std::optional<ExecutionResult> got;
    auto arn = e2.resume(def, snaps[i].json, recorded(), [&](ExecutionResult r) { got = std::move(r); });
    REQUIRE(arn.ok());
    e2.run_pending();
    REQUIRE(got);
    CHECK(got->status == ExecutionStatus::Failed);
    CHECK(got->error == "PaymentDeclined");
    CHECK(got->cause == "card refused");
    CHECK(got->events == orig.events);
    // What ran after the snapshot: the rest of the original's calls, plus the
    // compensation in flight at the snapshot invoked again (at-least-once).
    std::vector<std::string> expected(want.begin() + static_cast<std::ptrdiff_t>(snaps[i].calls), want.end());
    for (const auto& f : parsed->state.frames) {  // a step in flight is invoked again
      if (!f.in_use || f.phase != FramePhase::Task || f.token == 0) continue;
      const std::string name = def->machine(f.machine).states[f.state].name;
      expected.insert(expected.begin(), (name == "Pay" ? "fail:" : "do:") + name);
    }
    if (rolling_back && parsed->state.saga.active->phase == RollBack::Phase::Task) {
      const auto& rec = parsed->state.saga.records[parsed->state.saga.active->order[parsed->state.saga.active->next]];
      const std::string name = def->machine(rec.machine).states[rec.state].name;
      expected.insert(expected.begin(), "undo:" + name);
    }
    CHECK(log2.calls == expected);
    // No compensation that had completed at the snapshot ran again.
    for (const auto& r : parsed->state.saga.records) {
      if (r.status != CompensationRecord::Status::Succeeded) continue;
      const std::string name = "undo:" + def->machine(r.machine).states[r.state].name;
      CHECK(std::find(log2.calls.begin(), log2.calls.end(), name) == log2.calls.end());
    }
  }
  CHECK(mid_rollback >= 3);
}

TEST_CASE("saga: Compensate states in two Parallel branches roll back one at a time, each its own branch") {
  Engine e(virtual_time_options());
  Log log;
  register_functions(e, log);
  auto branch = [](const std::string& name) {
    return "{\"StartAt\":\"" + name + "\",\"States\":{" + step(name, "Undo" + name) + ",\"Undo" + name +
           "\":{\"Type\":\"Compensate\",\"ResultPath\":\"$.report\",\"End\":true}}}";
  };
  const std::string def = "{\"StartAt\":\"Par\",\"States\":{\"Par\":{\"Type\":\"Parallel\",\"End\":true,"
                          "\"Branches\":[" +
                          branch("Left") + "," + branch("Right") + "]}}}";
  auto r = e.run(parse_or_fail(def), J("{}"), recorded());
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(to_json(r.output.at(0).at("report")) == R"({"Compensated":["Left"],"Failed":[]})");
  CHECK(to_json(r.output.at(1).at("report")) == R"({"Compensated":["Right"],"Failed":[]})");
  CHECK(log.calls == std::vector<std::string>{"do:Left", "do:Right", "undo:Left", "undo:Right"});
  // Two roll-backs, the second after the first has ended.
  auto types = types_of(r);
  CHECK(types == std::vector<std::string>{"CompensationStarted", "CompensationStepStarted",
                                          "CompensationStepSucceeded", "CompensationSucceeded",
                                          "CompensationStarted", "CompensationStepStarted",
                                          "CompensationStepSucceeded", "CompensationSucceeded"});
}
