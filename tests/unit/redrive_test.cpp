// Redrive (engine/redrive.h): an execution that ended FAILED, TIMED_OUT or
// ABORTED continues from its final snapshot as AWS RedriveExecution does.
// Each test runs an execution with snapshots, redrives its last snapshot
// (through its JSON, as a store would keep it) and runs the result with
// Engine::resume, counting what the functions were asked to do again.
#include "engine/redrive.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "states/timestamp.h"

using namespace stepwise;
using stepwise::testing::parse_or_fail;
using stepwise::testing::virtual_time_options;

namespace {

json::value J(const std::string& text) {
  auto v = parse_json(text);
  REQUIRE(v);
  return *v;
}

// Parses a definition whose "LAMBDA:Name" resources name in-process functions.
std::shared_ptr<const states::Definition> parse_lambdas(std::string text) {
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:function:";
  for (auto at = text.find("LAMBDA:"); at != std::string::npos; at = text.find("LAMBDA:", at)) text.replace(at, 7, arn);
  return parse_or_fail(text);
}

// One run of an execution (the first, or one after a redrive).
struct Attempt {
  ExecutionResult result;
  ExecutionSnapshot last;                 // its final snapshot
  std::vector<HistoryEvent> plan_events;  // from prepare_redrive (redrives only)
};

RunOptions recorded(ExecutionSnapshot& last) {
  RunOptions o;
  o.state_machine_name = "Redrive";
  o.execution_name = "exec";
  o.record_history = true;
  o.on_transition = [&last](const Checkpoint& c) { last = c.snapshot(); };
  return o;
}

Attempt run_first(Engine& e, const std::shared_ptr<const states::Definition>& def, const std::string& input) {
  Attempt a;
  a.result = e.run(def, J(input), recorded(a.last));
  CHECK(a.last.state.status == a.result.status);
  return a;
}

// The snapshot as a store gives it back: through JSON text.
ExecutionSnapshot stored(const ExecutionSnapshot& s) {
  auto back = snapshot_from_json(J(json::serialize(snapshot_to_json(s))));
  REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.failure().cause));
  CHECK(*back == s);
  return std::move(*back);
}

Nanos now_of(Engine& e) {
  return e.options().clock->now();
}

// Redrives `ended` now and runs the execution to its end.
Attempt redrive(Engine& e, const std::shared_ptr<const states::Definition>& def, const ExecutionSnapshot& ended) {
  auto plan = prepare_redrive(*def, stored(ended), now_of(e));
  REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.failure().error + ": " + plan.failure().cause));
  CHECK(plan->snapshot.state.status == ExecutionStatus::Running);
  Attempt a;
  a.plan_events = plan->events;
  bool done = false;
  auto arn = e.resume(def, stored(plan->snapshot), recorded(a.last), [&](ExecutionResult r) {
    a.result = std::move(r);
    done = true;
  });
  REQUIRE_MESSAGE(arn.ok(), (arn.ok() ? "" : arn.failure().cause));
  CHECK(*arn == ended.state.arn);
  e.run_pending();
  REQUIRE(done);
  return a;
}

// Every event of the execution so far, in order.
std::vector<HistoryEvent> whole_history(const std::vector<const Attempt*>& attempts) {
  std::vector<HistoryEvent> all;
  for (const Attempt* a : attempts) {
    all.insert(all.end(), a->plan_events.begin(), a->plan_events.end());
    all.insert(all.end(), a->result.history.begin(), a->result.history.end());
  }
  return all;
}

// Ids run 1, 2, 3... without a gap; each event follows an earlier one.
void check_ids_continue(const std::vector<HistoryEvent>& all) {
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO("event " << i << " " << all[i].type);
    CHECK(all[i].id == static_cast<std::int64_t>(i) + 1);
    CHECK(all[i].previous_event_id >= 0);
    CHECK(all[i].previous_event_id < all[i].id);
  }
}

std::vector<std::string> types(const std::vector<HistoryEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

// The states entered, in order ("TaskStateEntered" etc. name them).
std::vector<std::string> entered(const std::vector<HistoryEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (e.type.size() > 12 && e.type.compare(e.type.size() - 12, 12, "StateEntered") == 0)
      out.push_back(std::string(e.details_object().at("stateEnteredEventDetails").at("name").as_string()));
  }
  return out;
}

std::string entered_input(const std::vector<HistoryEvent>& events, const std::string& state) {
  for (const auto& e : events) {
    const json::object details = e.details_object();
    if (const auto* d = details.if_contains("stateEnteredEventDetails"))
      if (d->at("name").as_string() == state) return std::string(d->at("input").as_string());
  }
  return "(not entered)";
}

// Map iteration indexes named by events of one type.
std::vector<std::int64_t> iterations(const std::vector<HistoryEvent>& events, const std::string& type) {
  std::vector<std::int64_t> out;
  std::string key = type;
  key[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(key[0])));
  key += "EventDetails";
  for (const auto& e : events)
    if (e.type == type) out.push_back(e.details_object().at(key).at("index").to_number<std::int64_t>());
  return out;
}

// Counts invocations by a key the function chooses.
struct Calls {
  std::map<std::string, int> n;
  std::vector<json::value> payloads;
  std::vector<int> attempts;
  int operator[](const std::string& k) const { return n.count(k) ? n.at(k) : 0; }
};

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : to_json(v);
}

}  // namespace

TEST_CASE("redrive: a Task that failed at the top level runs again with its input; done states do not") {
  auto def = parse_lambdas(R"({"StartAt":"Prep","States":{
      "Prep":{"Type":"Pass","Parameters":{"x.$":"$.x","n":1},"Next":"Work"},
      "Work":{"Type":"Task","Resource":"LAMBDA:FailFirst","ResultPath":"$.r","Next":"Done"},
      "Done":{"Type":"Pass","End":true}}})");
  Engine e(virtual_time_options());
  Calls calls;
  e.functions().add("FailFirst", [&](const json::value& ev, const InvocationContext&) -> json::value {
    calls.payloads.push_back(ev);
    if (++calls.n["work"] == 1) throw TaskError("Flaky", "first call");
    return J(R"({"ok":true})");
  });
  Attempt first = run_first(e, def, R"({"x":7})");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  CHECK(first.result.error == "Flaky");

  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(second.result.output) == R"({"x":7,"n":1,"r":{"ok":true}})");
  REQUIRE(calls.payloads.size() == 2);
  CHECK(to_json(calls.payloads[1]) == to_json(calls.payloads[0]));
  CHECK(to_json(calls.payloads[1]) == R"({"x":7,"n":1})");

  // ExecutionRedriven follows ExecutionFailed; the failed state is entered
  // again after it, with the input it had; Prep is not run again.
  REQUIRE(second.plan_events.size() == 1);
  const HistoryEvent& redriven = second.plan_events[0];
  CHECK(redriven.type == "ExecutionRedriven");
  CHECK(json::serialize(redriven.to_json().at("executionRedrivenEventDetails")) == R"({"redriveCount":1})");
  CHECK(redriven.previous_event_id == first.result.history.back().id);
  CHECK(first.result.history.back().type == "ExecutionFailed");
  CHECK(redriven.timestamp == now_of(e));
  CHECK(types(second.result.history) == std::vector<std::string>{"TaskStateEntered", "LambdaFunctionScheduled",
                                                                 "LambdaFunctionStarted", "LambdaFunctionSucceeded",
                                                                 "TaskStateExited", "PassStateEntered",
                                                                 "PassStateExited", "ExecutionSucceeded"});
  CHECK(second.result.history.front().previous_event_id == redriven.id);
  CHECK(entered_input(second.result.history, "Work") == R"({"x":7,"n":1})");
  check_ids_continue(whole_history({&first, &second}));
  CHECK(second.result.events == static_cast<std::int64_t>(whole_history({&first, &second}).size()));
}

TEST_CASE("redrive: the retry count of the state run again starts from 0") {
  auto def = parse_lambdas(R"({"StartAt":"T","States":{
      "T":{"Type":"Task","Resource":"LAMBDA:FailTwice",
           "Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":1,"MaxAttempts":1}],"End":true}}})");
  Engine e(virtual_time_options());
  Calls calls;
  e.functions().add("FailTwice", [&](const json::value&, const InvocationContext& ctx) -> json::value {
    calls.attempts.push_back(ctx.attempt);
    if (++calls.n["t"] <= 2) throw TaskError("Flaky", "call " + std::to_string(calls.n["t"]));
    return "third time lucky";
  });
  Attempt first = run_first(e, def, "{}");
  REQUIRE(first.result.status == ExecutionStatus::Failed);  // the retrier is exhausted
  Attempt second = redrive(e, def, first.last);
  CHECK(second.result.status == ExecutionStatus::Succeeded);
  CHECK(calls.attempts == std::vector<int>{0, 1, 0});
}

TEST_CASE("redrive: in a Parallel only the failed and aborted branches run again; the others keep their output") {
  auto def = parse_lambdas(R"({"StartAt":"P","States":{
      "P":{"Type":"Parallel","Next":"Done","Branches":[
        {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"LAMBDA:Count","Parameters":{"b":"a"},"End":true}}},
        {"StartAt":"BPrep","States":{"BPrep":{"Type":"Pass","Result":"b","Next":"B"},
                                     "B":{"Type":"Task","Resource":"LAMBDA:FailFirst","End":true}}},
        {"StartAt":"CWait","States":{"CWait":{"Type":"Wait","Seconds":10,"Next":"C"},
                                     "C":{"Type":"Task","Resource":"LAMBDA:Count","Parameters":{"b":"c"},"End":true}}}]},
      "Done":{"Type":"Pass","End":true}}})");
  Engine e(virtual_time_options());
  Calls calls;
  e.functions().add("Count", [&](const json::value& ev, const InvocationContext&) -> json::value {
    ++calls.n[str(ev.at("b"))];
    return ev;
  });
  e.functions().add("FailFirst", [&](const json::value& ev, const InvocationContext&) -> json::value {
    if (++calls.n["b"] == 1) throw TaskError("Flaky", "first call");
    return ev;
  });
  Attempt first = run_first(e, def, "{}");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  CHECK(calls["a"] == 1);
  CHECK(calls["c"] == 0);  // C was still waiting when B failed
  const auto first_types = types(first.result.history);
  CHECK(std::count(first_types.begin(), first_types.end(), "WaitStateAborted") == 1);

  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(second.result.output) == R"([{"b":"a"},"b",{"b":"c"}])");
  CHECK(calls["a"] == 1);  // the branch that had succeeded is not run again
  CHECK(calls["b"] == 2);
  CHECK(calls["c"] == 1);
  // The Parallel is entered again; branch B resumes at B (BPrep had run), C at its Wait.
  CHECK(entered(second.result.history) == std::vector<std::string>{"P", "B", "CWait", "C", "Done"});
  CHECK(entered_input(second.result.history, "B") == R"("b")");
  CHECK(second.result.history[1].type == "ParallelStateStarted");
  check_ids_continue(whole_history({&first, &second}));
}

TEST_CASE(
    "redrive: in a Map only failed, aborted and unstarted iterations run, under MaxConcurrency, results in order") {
  auto def = parse_lambdas(R"({"StartAt":"M","States":{
      "M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"ToleratedFailureCount":1,
           "ItemSelector":{"idx.$":"$$.Map.Item.Index"},
           "ItemProcessor":{"StartAt":"Work","States":{
              "Work":{"Type":"Task","Resource":"LAMBDA:Item","End":true}}},
           "End":true}}})");
  Engine e(virtual_time_options());
  Calls calls;
  e.functions().add("Item", [&](const json::value& ev, const InvocationContext&) -> json::value {
    const std::int64_t i = ev.at("idx").as_int64();
    const int n = ++calls.n[std::to_string(i)];
    if ((i == 1 || i == 3) && n == 1) throw TaskError("ItemFailed", "item " + std::to_string(i));
    return i * 10;
  });
  Attempt first = run_first(e, def, R"({"items":[0,1,2,3,4,5]})");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  CHECK(first.result.error == "States.ExceedToleratedFailureThreshold");
  const auto succeeded_before = iterations(first.result.history, "MapIterationSucceeded");
  CHECK(succeeded_before == std::vector<std::int64_t>{0, 2});
  CHECK(iterations(first.result.history, "MapIterationFailed") == std::vector<std::int64_t>{1, 3});
  std::map<std::string, int> calls_before = calls.n;
  CHECK(calls_before.count("5") == 0);  // never started

  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(second.result.output) == "[0,10,20,30,40,50]");
  // Run again: the tolerated failure (1), the failure (3), the aborted (4),
  // the unstarted (5); in index order.
  const auto rerun = iterations(second.result.history, "MapIterationStarted");
  CHECK(rerun == std::vector<std::int64_t>{1, 3, 4, 5});
  for (std::int64_t i = 0; i < 6; ++i) {
    const std::string k = std::to_string(i);
    const bool again = std::find(rerun.begin(), rerun.end(), i) != rerun.end();
    INFO("item " << i);
    CHECK(calls[k] == (calls_before.count(k) ? calls_before[k] : 0) + (again ? 1 : 0));
  }
  // MaxConcurrency holds while running again.
  int running = 0, most = 0;
  for (const auto& ev : second.result.history) {
    if (ev.type == "MapIterationStarted") most = std::max(most, ++running);
    if (ev.type == "MapIterationSucceeded" || ev.type == "MapIterationFailed") --running;
  }
  CHECK(most == 2);
  const auto& started = second.result.history[1];
  CHECK(started.type == "MapStateStarted");
  CHECK(json::serialize(started.to_json().at("mapStateStartedEventDetails")) == R"({"length":6})");
  check_ids_continue(whole_history({&first, &second}));
}

TEST_CASE("redrive: inside a Map iteration, a Parallel runs again only its failed branch") {
  auto def = parse_lambdas(R"({"StartAt":"M","States":{
      "M":{"Type":"Map","MaxConcurrency":1,"ItemSelector":{"idx.$":"$$.Map.Item.Index"},
           "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
              {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"LAMBDA:Branch","Parameters":{"idx.$":"$.idx","b":"A"},"End":true}}},
              {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"LAMBDA:Branch","Parameters":{"idx.$":"$.idx","b":"B"},"End":true}}}]}}},
           "End":true}}})");
  Engine e(virtual_time_options());
  Calls calls;
  e.functions().add("Branch", [&](const json::value& ev, const InvocationContext&) -> json::value {
    const std::string k = to_json(ev.at("idx")) + str(ev.at("b"));
    if (++calls.n[k] == 1 && k == "1B") throw TaskError("Flaky", "1B");
    return json::value(k);
  });
  Attempt first = run_first(e, def, "[null,null,null]");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  CHECK(calls.n == std::map<std::string, int>{{"0A", 1}, {"0B", 1}, {"1A", 1}, {"1B", 1}});

  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(second.result.output) == R"([["0A","0B"],["1A","1B"],["2A","2B"]])");
  CHECK(calls.n == std::map<std::string, int>{{"0A", 1}, {"0B", 1}, {"1A", 1}, {"1B", 2}, {"2A", 1}, {"2B", 1}});
  CHECK(iterations(second.result.history, "MapIterationStarted") == std::vector<std::int64_t>{1, 2});
  check_ids_continue(whole_history({&first, &second}));
}

TEST_CASE("redrive: a timed-out execution continues, its TimeoutSeconds counted from the redrive") {
  auto def = parse_lambdas(R"({"TimeoutSeconds":30,"StartAt":"A","States":{
      "A":{"Type":"Task","Resource":"LAMBDA:Count","Next":"W1"},
      "W1":{"Type":"Wait","Seconds":20,"Next":"W2"},
      "W2":{"Type":"Wait","Seconds":20,"Next":"Done"},
      "Done":{"Type":"Pass","End":true}}})");
  Engine e(virtual_time_options());
  auto clock = std::dynamic_pointer_cast<ManualClock>(e.options().clock);
  const Nanos t0 = clock->now();
  Calls calls;
  e.functions().add("Count", [&](const json::value& ev, const InvocationContext&) -> json::value {
    ++calls.n["a"];
    return ev;
  });
  Attempt first = run_first(e, def, R"({"k":1})");
  REQUIRE(first.result.status == ExecutionStatus::TimedOut);
  CHECK(first.result.history.back().type == "ExecutionTimedOut");
  CHECK(clock->now() == t0 + 30 * kNanosPerSecond);

  clock->set(t0 + 1000 * kNanosPerSecond);
  const Nanos redrive_time = clock->now();
  auto plan = prepare_redrive(*def, first.last, redrive_time);
  REQUIRE(plan.ok());
  CHECK(plan->snapshot.state.deadline == redrive_time + 30 * kNanosPerSecond);

  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(second.result.output) == R"({"k":1})");
  CHECK(calls["a"] == 1);
  // W2, where the time ran out, waits again in full.
  CHECK(entered(second.result.history) == std::vector<std::string>{"W2", "Done"});
  CHECK(clock->now() == redrive_time + 20 * kNanosPerSecond);
  check_ids_continue(whole_history({&first, &second}));
}

TEST_CASE("redrive: a stopped (ABORTED) execution continues from the state it was stopped in") {
  auto def = parse_lambdas(R"({"StartAt":"A","States":{
      "A":{"Type":"Task","Resource":"LAMBDA:Count","Next":"W"},
      "W":{"Type":"Wait","Seconds":3600,"Next":"Done"},
      "Done":{"Type":"Pass","Result":"done","End":true}}})");
  Engine e(virtual_time_options());
  Calls calls;
  bool park_first = false;  // the first call never answers (a task in flight)
  std::vector<TaskCompletion> parked;
  e.functions().add_async("Count", [&](const json::value& ev, const InvocationContext&, TaskCompletion done) {
    if (++calls.n["a"] == 1 && park_first)
      parked.push_back(std::move(done));
    else
      done(TaskOutcome::success(ev));
  });
  // Stops the execution once its top frame is at `state` in `phase`.
  auto stopped_at = [&](const char* state, FramePhase phase) {
    Attempt first;
    bool done = false;
    auto arn = e.start(def, J("{}"), recorded(first.last), [&](ExecutionResult r) {
      first.result = std::move(r);
      done = true;
    });
    const auto index = def->top().by_name.at(state);
    for (int i = 0; i < 100; ++i) {
      const Frame& top = first.last.state.frames.at(0);
      if (top.state == index && top.phase == phase) break;
      e.poll(0);
    }
    REQUIRE(first.last.state.frames.at(0).phase == phase);
    REQUIRE(e.stop(arn, std::string("Halt"), std::string("operator")));
    e.run_pending();
    REQUIRE(done);
    REQUIRE(first.result.status == ExecutionStatus::Aborted);
    REQUIRE(first.last.state.status == ExecutionStatus::Aborted);
    return first;
  };

  SUBCASE("in a Wait") {
    Attempt first = stopped_at("W", FramePhase::Timer);
    CHECK(types(first.result.history).back() == "ExecutionAborted");
    Attempt second = redrive(e, def, first.last);
    REQUIRE(second.result.status == ExecutionStatus::Succeeded);
    CHECK(to_json(second.result.output) == R"("done")");
    CHECK(calls["a"] == 1);
    CHECK(entered(second.result.history) == std::vector<std::string>{"W", "Done"});
    check_ids_continue(whole_history({&first, &second}));
  }
  SUBCASE("while its task was in flight: the task runs again") {
    park_first = true;
    Attempt first = stopped_at("A", FramePhase::Task);
    CHECK(calls["a"] == 1);
    Attempt second = redrive(e, def, first.last);
    REQUIRE(second.result.status == ExecutionStatus::Succeeded);
    CHECK(calls["a"] == 2);
    CHECK(entered(second.result.history) == std::vector<std::string>{"A", "W", "Done"});
    check_ids_continue(whole_history({&first, &second}));
  }
}

TEST_CASE("redrive: $$.Execution.RedriveCount counts redrives; RedriveTime appears once redriven") {
  auto def = parse_lambdas(R"({"StartAt":"Gate","States":{
      "Gate":{"Type":"Task","Resource":"LAMBDA:NeedsTwo",
              "Parameters":{"count.$":"$$.Execution.RedriveCount","ctx.$":"$$.Execution"},"ResultPath":null,
              "Next":"Out"},
      "Out":{"Type":"Pass","Parameters":{"count.$":"$$.Execution.RedriveCount","time.$":"$$.Execution.RedriveTime"},
             "End":true}}})");
  Engine e(virtual_time_options());
  auto clock = std::dynamic_pointer_cast<ManualClock>(e.options().clock);
  std::vector<std::int64_t> seen;
  std::vector<bool> has_time;
  e.functions().add("NeedsTwo", [&](const json::value& ev, const InvocationContext&) -> json::value {
    seen.push_back(ev.at("count").as_int64());
    has_time.push_back(ev.at("ctx").as_object().contains("RedriveTime"));
    if (seen.back() < 2) throw TaskError("NotYet", "redrive count " + std::to_string(seen.back()));
    return nullptr;
  });
  Attempt first = run_first(e, def, "{}");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  clock->advance(60 * kNanosPerSecond);
  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Failed);
  CHECK(json::serialize(second.plan_events[0].to_json().at("executionRedrivenEventDetails")) ==
        R"({"redriveCount":1})");
  clock->advance(60 * kNanosPerSecond);
  const Nanos last_redrive = clock->now();
  Attempt third = redrive(e, def, second.last);
  REQUIRE(third.result.status == ExecutionStatus::Succeeded);
  CHECK(json::serialize(third.plan_events[0].to_json().at("executionRedrivenEventDetails")) == R"({"redriveCount":2})");
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2});
  CHECK(has_time == std::vector<bool>{false, true, true});
  CHECK(to_json(third.result.output) == R"({"count":2,"time":")" + states::format_timestamp(last_redrive) + R"("})");
  CHECK(third.last.state.redrive_count == 2);
  CHECK(third.last.state.redrive_time == last_redrive);
  check_ids_continue(whole_history({&first, &second, &third}));
}

TEST_CASE("redrive: a state that fails after rewriting its input runs again with the input it was entered with") {
  SUBCASE("Pass: Parameters, then an OutputPath that selects nothing") {
    auto def = parse_or_fail(R"({"StartAt":"P","States":{
        "P":{"Type":"Pass","Parameters":{"a":1},"OutputPath":"$.missing","End":true}}})");
    Engine e(virtual_time_options());
    Attempt first = run_first(e, def, R"({"x":5})");
    REQUIRE(first.result.status == ExecutionStatus::Failed);
    CHECK(first.result.error == "States.Runtime");
    CHECK(to_json(first.last.state.frames.at(0).input) == R"({"x":5})");
    Attempt second = redrive(e, def, first.last);
    CHECK(second.result.status == ExecutionStatus::Failed);
    CHECK(second.result.error == "States.Runtime");
    CHECK(entered_input(second.result.history, "P") == R"({"x":5})");
  }
  SUBCASE("Task: ResultPath merges, then the output is over the size limit") {
    auto def = parse_lambdas(R"({"StartAt":"T","States":{
        "T":{"Type":"Task","Resource":"LAMBDA:Big","ResultPath":"$.big","End":true}}})");
    EngineOptions o = virtual_time_options();
    o.payload_limit = 64;
    Engine e(o);
    Calls calls;
    e.functions().add("Big", [&](const json::value&, const InvocationContext&) -> json::value {
      ++calls.n["big"];
      return json::value(std::string(40, 'x'));  // under the limit alone, over it merged into the input
    });
    Attempt first = run_first(e, def, R"({"in":"put-of-some-length"})");
    REQUIRE(first.result.status == ExecutionStatus::Failed);
    CHECK(first.result.error == "States.DataLimitExceeded");
    CHECK(to_json(first.last.state.frames.at(0).input) == R"({"in":"put-of-some-length"})");
    Attempt second = redrive(e, def, first.last);
    CHECK(second.result.error == "States.DataLimitExceeded");
    CHECK(calls["big"] == 2);
    CHECK(entered_input(second.result.history, "T") == R"({"in":"put-of-some-length"})");
  }
  // The raw input is kept by undoing the ResultPath where that is all that
  // changed (a member replaced or added, an array element replaced), by
  // moving it where the state replaces its input whole: every way must give
  // back the input exactly, member order included.
  SUBCASE("Pass: each kind of ResultPath, then the output is over the size limit") {
    struct Case {
      const char* result_path;
      const char* input;
    };
    for (const Case& c : {Case{"$.b", R"({"a":1,"b":"short","c":[1,2]})"},        // a member replaced
                          Case{"$.n.m.o", R"({"a":1,"n":{"x":true}})"},           // members added below one
                          Case{"$.arr[1]", R"({"arr":[1,{"k":"v"},3],"z":null})"},  // an array element replaced
                          Case{"$", R"({"whole":"input"})"}}) {                 // the input replaced
      const std::string result_path = c.result_path;
      CAPTURE(result_path);
      auto def = parse_or_fail(std::string(R"({"StartAt":"P","States":{"P":{"Type":"Pass",)") +
                               R"("Parameters":{"big":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},)" +
                               R"("ResultPath":")" + c.result_path + R"(","End":true}}})");
      EngineOptions o = virtual_time_options();
      o.payload_limit = 100;
      Engine e(o);
      Attempt first = run_first(e, def, c.input);
      CAPTURE(to_json(first.result.output));
      REQUIRE(first.result.status == ExecutionStatus::Failed);
      CHECK(first.result.error == "States.DataLimitExceeded");
      CHECK(to_json(first.last.state.frames.at(0).input) == c.input);
      Attempt second = redrive(e, def, first.last);
      CHECK(second.result.error == "States.DataLimitExceeded");
      CHECK(entered_input(second.result.history, "P") == c.input);
    }
  }
  SUBCASE("JSONata Pass: Output over the size limit") {
    auto def = parse_or_fail(R"({"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass",
        "Output":"{% $pad('', 100, 'y') %}","End":true}}})");
    EngineOptions o = virtual_time_options();
    o.payload_limit = 80;
    Engine e(o);
    Attempt first = run_first(e, def, R"({"k":[1,2,3]})");
    REQUIRE(first.result.status == ExecutionStatus::Failed);
    CHECK(first.result.error == "States.DataLimitExceeded");
    CHECK(to_json(first.last.state.frames.at(0).input) == R"({"k":[1,2,3]})");
    Attempt second = redrive(e, def, first.last);
    CHECK(second.result.error == "States.DataLimitExceeded");
    CHECK(entered_input(second.result.history, "P") == R"({"k":[1,2,3]})");
  }
  SUBCASE("Choice: InputPath, then no rule matches (in a Parallel branch)") {
    auto def = parse_or_fail(R"({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
        {"StartAt":"C","States":{"C":{"Type":"Choice","InputPath":"$.v",
            "Choices":[{"Variable":"$","NumericEquals":1,"Next":"Y"}]},"Y":{"Type":"Succeed"}}}]}}})");
    Engine e(virtual_time_options());
    Attempt first = run_first(e, def, R"({"v":2})");
    REQUIRE(first.result.status == ExecutionStatus::Failed);
    CHECK(first.result.error == "States.NoChoiceMatched");
    Attempt second = redrive(e, def, first.last);
    CHECK(second.result.error == "States.NoChoiceMatched");
    CHECK(entered(second.result.history) == std::vector<std::string>{"P", "C"});
    CHECK(entered_input(second.result.history, "C") == R"({"v":2})");
  }
}

TEST_CASE("redrive: a Parallel whose own output is over the limit runs again whole") {
  auto def = parse_lambdas(R"({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"LAMBDA:Count","Parameters":{"b":"a","pad":"0123456789012345678901234567890123456789"},"End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"LAMBDA:Count","Parameters":{"b":"b","pad":"0123456789012345678901234567890123456789"},"End":true}}}]}}})");
  EngineOptions o = virtual_time_options();
  o.payload_limit = 100;
  Engine e(o);
  Calls calls;
  e.functions().add("Count", [&](const json::value& ev, const InvocationContext&) -> json::value {
    ++calls.n[str(ev.at("b"))];
    return ev;
  });
  Attempt first = run_first(e, def, "{}");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  CHECK(first.result.error == "States.DataLimitExceeded");
  Attempt second = redrive(e, def, first.last);
  CHECK(second.result.error == "States.DataLimitExceeded");
  CHECK(calls["a"] == 2);
  CHECK(calls["b"] == 2);
  CHECK(entered(second.result.history) == std::vector<std::string>{"P", "A", "B"});
}

TEST_CASE("redrive refuses what cannot be redriven") {
  auto def = parse_or_fail(R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"Next":"F"},
      "F":{"Type":"Fail","Error":"E","Cause":"C"}}})");
  Engine e(virtual_time_options());
  std::vector<ExecutionSnapshot> snaps;
  RunOptions o;
  o.on_transition = [&](const Checkpoint& c) { snaps.push_back(c.snapshot()); };
  auto r = e.run(def, J("{}"), o);
  REQUIRE(r.status == ExecutionStatus::Failed);
  const Nanos now = now_of(e);
  auto refused = [&](const ExecutionSnapshot& s, Nanos at = 0) {
    auto plan = prepare_redrive(*def, s, at ? at : now);
    REQUIRE(!plan.ok());
    CHECK(plan.failure().error == "ExecutionNotRedrivable");
    return plan.failure().cause;
  };
  CHECK(refused(snaps.front()) == "Execution is RUNNING and cannot be redriven");
  ExecutionSnapshot s = snaps.back();
  s.state.status = ExecutionStatus::Succeeded;
  CHECK(refused(s) == "Execution is SUCCEEDED and cannot be redriven");
  s = snaps.back();
  s.state.arn = "arn:aws:states:us-east-1:123456789012:express:M:n:0b6b0a4b-ff2a-4c9f-9e3c-1f2b3c4d5e6f";
  CHECK(refused(s) == "Execution belongs to an EXPRESS state machine and cannot be redriven");
  s = snaps.back();
  s.state.next_event_id = kRedriveMaxEvents + 1;  // 24,999 events written
  CHECK(refused(s) == "Execution history event limit exceeded");
  s.state.next_event_id = kRedriveMaxEvents;
  CHECK(prepare_redrive(*def, s, now).ok());
  CHECK(refused(snaps.back(), snaps.back().state.start_time + 366LL * 24 * 3600 * kNanosPerSecond) ==
        "Execution has exceeded the max execution time");

  // A Fail state fails again (it is redrivable).
  auto again = redrive(e, def, snaps.back());
  CHECK(again.result.error == "E");
  CHECK(entered(again.result.history) == std::vector<std::string>{"F"});

  // Failed before any state ran: nothing to continue.
  EngineOptions small = virtual_time_options();
  small.payload_limit = 8;
  Engine tiny(small);
  ExecutionSnapshot last;
  auto big = tiny.run(def, J(R"({"too":"large for the limit"})"), recorded(last));
  REQUIRE(big.error == "States.DataLimitExceeded");
  auto plan = prepare_redrive(*def, last, now);
  REQUIRE(!plan.ok());
  CHECK(plan.failure().error == "ExecutionNotRedrivable");

  // A snapshot that does not fit the definition.
  auto other = parse_or_fail(R"({"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}})");
  auto mismatch = prepare_redrive(*other, snaps.back(), now);
  REQUIRE(!mismatch.ok());
  CHECK(mismatch.failure().error == "Stepwise.SnapshotMismatch");
}

TEST_CASE("redrive: the halted frames of a failed snapshot survive JSON and are checked") {
  auto def = parse_lambdas(R"({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":5,"End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Fail","Error":"E"}}}]}}})");
  Engine e(virtual_time_options());
  ExecutionSnapshot last;
  auto r = e.run(def, J("{}"), recorded(last));
  REQUIRE(r.status == ExecutionStatus::Failed);
  const Frame& top = last.state.frames.at(0);
  CHECK(top.halted.size() == 2);
  for (auto id : top.halted) CHECK(last.state.frames.at(id).phase == FramePhase::Done);
  json::value j = snapshot_to_json(last);
  CHECK(j.at("frames").at(0).as_object().contains("halted"));
  CHECK(stored(last) == last);

  // A halted frame its parent does not list is refused.
  json::value bad = j;
  bad.at("frames").at(0).as_object().erase("halted");
  auto parsed = snapshot_from_json(bad);
  REQUIRE(!parsed.ok());
  CHECK(parsed.failure().cause.find("is halted, but its parent does not list it") != std::string::npos);

  // Without on_transition nothing is kept (and nothing costs).
  Engine plain(virtual_time_options());
  RunOptions o;
  o.record_history = true;
  auto plain_result = plain.run(def, J("{}"), o);
  CHECK(types(plain_result.history) == types(r.history));
}

TEST_CASE("redrive: a redriven run resumes from any of its snapshots as it would have run") {
  // Iterations run a Parallel; branch B of items 1 and 3 fails until the
  // execution has been redriven (the outcome depends only on the payload, so
  // a fresh engine answers as the first did).
  auto def = parse_lambdas(R"({"StartAt":"M","States":{
      "M":{"Type":"Map","MaxConcurrency":2,"ToleratedFailureCount":1,"ItemSelector":{"idx.$":"$$.Map.Item.Index"},
           "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
              {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"LAMBDA:Work",
                  "Parameters":{"idx.$":"$.idx","b":"A","rc.$":"$$.Execution.RedriveCount"},"End":true}}},
              {"StartAt":"BW","States":{"BW":{"Type":"Wait","Seconds":2,"Next":"B"},
                  "B":{"Type":"Task","Resource":"LAMBDA:Work",
                  "Parameters":{"idx.$":"$.idx","b":"B","rc.$":"$$.Execution.RedriveCount"},"End":true}}}]}}},
           "Next":"Out"},
      "Out":{"Type":"Pass","Parameters":{"all.$":"$","rc.$":"$$.Execution.RedriveCount"},"End":true}}})");
  auto add_work = [](Engine& eng) {
    eng.functions().add("Work", [](const json::value& ev, const InvocationContext&) -> json::value {
      const std::int64_t i = ev.at("idx").to_number<std::int64_t>();
      const std::string b = str(ev.at("b"));
      if (b == "B" && (i == 1 || i == 3) && ev.at("rc").to_number<std::int64_t>() == 0)
        throw TaskError("Flaky", "item " + std::to_string(i));
      return json::value(std::to_string(i) + b);
    });
  };
  Engine e(virtual_time_options());
  add_work(e);
  auto clock = std::dynamic_pointer_cast<ManualClock>(e.options().clock);
  Attempt first = run_first(e, def, "[0,0,0,0,0]");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  auto plan = prepare_redrive(*def, first.last, clock->now());
  REQUIRE(plan.ok());

  struct Snap {
    json::value json;
    Nanos time;
  };
  std::vector<Snap> snaps;
  RunOptions o;
  o.record_history = true;
  o.on_transition = [&](const Checkpoint& c) { snaps.push_back(Snap{c.to_json(), clock->now()}); };
  ExecutionResult want;
  REQUIRE(e.resume(def, plan->snapshot, o, [&](ExecutionResult r) { want = std::move(r); }).ok());
  e.run_pending();
  REQUIRE(want.status == ExecutionStatus::Succeeded);
  CHECK(to_json(want.output) == R"({"all":[["0A","0B"],["1A","1B"],["2A","2B"],["3A","3B"],["4A","4B"]],"rc":1})");
  REQUIRE(snaps.size() > 10);

  bool saw_relaunch = false;
  for (std::size_t i = 0; i < snaps.size(); ++i) {
    INFO("snapshot " << i << ": " << json::serialize(snaps[i].json));
    auto parsed = snapshot_from_json(snaps[i].json);
    REQUIRE(parsed.ok());
    for (const auto& f : parsed->state.frames) saw_relaunch = saw_relaunch || !f.relaunch.empty();
    EngineOptions eo = virtual_time_options();
    eo.clock = std::make_shared<ManualClock>(snaps[i].time);
    Engine fresh(eo);
    add_work(fresh);
    RunOptions ro;
    ro.record_history = true;
    ExecutionResult got;
    REQUIRE(fresh.resume(def, snaps[i].json, ro, [&](ExecutionResult r) { got = std::move(r); }).ok());
    fresh.run_pending();
    CHECK(got.status == want.status);
    CHECK(to_json(got.output) == to_json(want.output));
    CHECK(got.events == want.events);
    std::vector<std::pair<std::int64_t, std::string>> want_events, got_events;
    for (const auto& ev : want.history)
      if (ev.id >= parsed->state.next_event_id) want_events.emplace_back(ev.id, ev.type);
    for (const auto& ev : got.history) got_events.emplace_back(ev.id, ev.type);
    CHECK(got_events == want_events);
  }
  CHECK(saw_relaunch);  // some snapshots show iterations waiting to run again
}

TEST_CASE("redrive: a Parallel retried before it failed runs again only what failed in its last attempt") {
  auto def = parse_lambdas(R"({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,
      "Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":1,"MaxAttempts":1}],"Branches":[
        {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"LAMBDA:Count","Parameters":{"b":"a"},"End":true}}},
        {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"LAMBDA:FailTwice","End":true}}}]}}})");
  Engine e(virtual_time_options());
  Calls calls;
  e.functions().add("Count", [&](const json::value& ev, const InvocationContext&) -> json::value {
    ++calls.n[str(ev.at("b"))];
    return ev;
  });
  e.functions().add("FailTwice", [&](const json::value&, const InvocationContext&) -> json::value {
    if (++calls.n["b"] <= 2) throw TaskError("Flaky", "call " + std::to_string(calls.n["b"]));
    return "b";
  });
  Attempt first = run_first(e, def, "{}");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  CHECK(calls["a"] == 2);  // the retry ran every branch again
  CHECK(calls["b"] == 2);
  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(second.result.output) == R"([{"b":"a"},"b"])");
  CHECK(calls["a"] == 2);
  CHECK(calls["b"] == 3);
  CHECK(entered(second.result.history) == std::vector<std::string>{"P", "B"});
}

TEST_CASE("redrive: a Map that succeeded with a tolerated failure is not run again; its halted iterations are gone") {
  auto def = parse_lambdas(R"({"StartAt":"M","States":{
      "M":{"Type":"Map","ItemsPath":"$.items","ToleratedFailureCount":1,"ItemSelector":{"idx.$":"$$.Map.Item.Index"},
           "ItemProcessor":{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":"LAMBDA:Item","End":true}}},
           "ResultPath":"$.items","Next":"Last"},
      "Last":{"Type":"Task","Resource":"LAMBDA:FailFirst","End":true}}})");
  Engine e(virtual_time_options());
  Calls calls;
  e.functions().add("Item", [&](const json::value& ev, const InvocationContext&) -> json::value {
    const std::int64_t i = ev.at("idx").to_number<std::int64_t>();
    ++calls.n[std::to_string(i)];
    if (i == 1) throw TaskError("ItemFailed", "always");
    return i;
  });
  e.functions().add("FailFirst", [&](const json::value& ev, const InvocationContext&) -> json::value {
    if (++calls.n["last"] == 1) throw TaskError("Flaky", "first call");
    return ev.at("items");
  });
  Attempt first = run_first(e, def, R"({"items":[0,0,0]})");
  REQUIRE(first.result.status == ExecutionStatus::Failed);
  CHECK(first.result.error == "Flaky");
  std::size_t in_use = 0;
  for (const auto& f : first.last.state.frames) in_use += f.in_use ? 1 : 0;
  CHECK(in_use == 1);  // only the top frame, at Last
  Attempt second = redrive(e, def, first.last);
  REQUIRE(second.result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(second.result.output) == R"([0,{"Error":"ItemFailed","Cause":"always"},2])");
  CHECK(calls.n == std::map<std::string, int>{{"0", 1}, {"1", 1}, {"2", 1}, {"last", 2}});
  CHECK(entered(second.result.history) == std::vector<std::string>{"Last"});
}
