// Engine controls a durable runtime relies on: prepare (record first, run
// later), stop (StopExecution), abandon, and poll (a caller-owned loop).
#include <algorithm>
#include <cstdint>
#include <unordered_set>
#include <string>
#include <vector>

#include "engine/engine_impl.h"
#include "engine_test_util.h"

using namespace stepwise;
using stepwise::testing::parse_or_fail;
using stepwise::testing::virtual_time_options;

namespace {

json::value J(const char* text) {
  return *parse_json(text);
}

std::vector<std::string> types(const std::vector<HistoryEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

const char* kWaitThenPass = R"({"StartAt":"W","States":{
  "W":{"Type":"Wait","Seconds":3600,"Next":"P"},
  "P":{"Type":"Pass","Result":{"done":true},"End":true}}})";

}  // namespace

TEST_CASE("prepare: builds the start without running, and resume runs it") {
  auto def = parse_or_fail(kWaitThenPass);
  Engine engine(virtual_time_options());
  RunOptions opts;
  opts.state_machine_name = "M";
  opts.execution_name = "e1";
  PreparedExecution p = engine.prepare(def, J(R"({"a":1})"), opts);
  CHECK(engine.active() == 0);
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].type == "ExecutionStarted");
  CHECK(p.events[0].id == 1);
  CHECK(p.snapshot.state.arn == "arn:aws:states:us-east-1:123456789012:execution:M:e1");
  CHECK(p.snapshot.state.next_event_id == 2);
  CHECK(p.snapshot.queue.ready.size() == 1);
  // Nothing of it runs until resumed; the engine has no leftover work.
  engine.run_pending();

  RunOptions ropts;
  ropts.record_history = true;
  ExecutionResult result;
  auto arn = engine.resume(def, p.snapshot, ropts, [&](ExecutionResult r) { result = std::move(r); });
  REQUIRE(arn);
  engine.run_pending();
  CHECK(result.status == ExecutionStatus::Succeeded);
  CHECK(to_json(result.output) == R"({"done":true})");
  CHECK(types(result.history) == std::vector<std::string>{"WaitStateEntered", "WaitStateExited", "PassStateEntered",
                                                          "PassStateExited", "ExecutionSucceeded"});
  CHECK(result.history.front().id == 2);
}

TEST_CASE("stop: a Wait in progress is aborted, then the execution") {
  auto def = parse_or_fail(kWaitThenPass);
  Engine engine(virtual_time_options());
  RunOptions opts;
  opts.record_history = true;
  int checkpoints_after_stop = 0;
  bool stopped = false;
  opts.on_transition = [&](const Checkpoint& c) {
    if (stopped) {
      ++checkpoints_after_stop;
      CHECK(c.state.status == ExecutionStatus::Aborted);
    }
  };
  ExecutionResult result;
  bool done = false;
  auto arn = engine.start(def, J("{}"), opts, [&](ExecutionResult r) {
    result = std::move(r);
    done = true;
  });
  engine.poll(0);  // enters the Wait; an hour to go
  CHECK_FALSE(done);
  stopped = true;
  CHECK(engine.stop(arn, std::string("Operator"), std::string("stopped by hand")));
  CHECK_FALSE(engine.stop(arn, std::nullopt, std::nullopt));  // already ended
  engine.run_pending();
  REQUIRE(done);
  CHECK(result.status == ExecutionStatus::Aborted);
  CHECK(result.error == "Operator");
  CHECK(result.cause == "stopped by hand");
  CHECK(checkpoints_after_stop == 1);
  CHECK(types(result.history) ==
        std::vector<std::string>{"ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionAborted"});
  const auto details = result.history.back().to_json();
  CHECK(to_json(details.at("executionAbortedEventDetails")) == R"({"error":"Operator","cause":"stopped by hand"})");
}

TEST_CASE("stop: tasks in a Parallel branch and a Map are aborted inside out") {
  auto def = parse_or_fail(R"({"StartAt":"Par","States":{"Par":{"Type":"Parallel","End":true,"Branches":[
    {"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Hang","End":true}}}]}}})");
  Engine engine(virtual_time_options());
  std::vector<TaskCompletion> parked;
  engine.functions().add_async("Hang", [&](const json::value&, const InvocationContext&, TaskCompletion done) {
    parked.push_back(std::move(done));
  });
  RunOptions opts;
  opts.record_history = true;
  ExecutionResult result;
  auto arn = engine.start(def, J("{}"), opts, [&](ExecutionResult r) { result = std::move(r); });
  engine.poll(0);
  REQUIRE(parked.size() == 1);
  REQUIRE(engine.stop(arn, std::nullopt, std::nullopt));
  engine.run_pending();
  CHECK(result.status == ExecutionStatus::Aborted);
  CHECK_FALSE(result.has_error);
  auto t = types(result.history);
  REQUIRE(t.size() >= 3);
  CHECK(std::vector<std::string>(t.end() - 3, t.end()) ==
        std::vector<std::string>{"TaskStateAborted", "ParallelStateAborted", "ExecutionAborted"});
  // The late answer changes nothing.
  parked[0](TaskOutcome::success(J("1")));
  engine.run_pending();
  CHECK(result.status == ExecutionStatus::Aborted);
}

TEST_CASE("MapIterationAborted: each iteration still running when its Map fails or the execution stops") {
  // An item 0 fails at once; any other waits an hour.
  auto def = parse_or_fail(R"({"StartAt":"M","States":{"M":{"Type":"Map","End":true,
    "ItemProcessor":{"StartAt":"Route","States":{
      "Route":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":0,"Next":"Boom"}],"Default":"W"},
      "Boom":{"Type":"Fail","Error":"E"},
      "W":{"Type":"Wait","Seconds":3600,"End":true}}}}}})");
  Engine engine(virtual_time_options());
  RunOptions opts;
  opts.record_history = true;
  auto aborted_indices = [](const ExecutionResult& r) {
    std::vector<std::int64_t> out;
    for (const auto& e : r.history)
      if (e.type == "MapIterationAborted") {
        const auto d = e.to_json().at("mapIterationAbortedEventDetails");
        CHECK(d.at("name") == json::value("M"));
        out.push_back(d.at("index").as_int64());
      }
    return out;
  };

  SUBCASE("a sibling's failure aborts the others, each after its state's aborted event") {
    // Iteration 0 is in its Wait, iteration 1 fails, iteration 2 has started but not entered a state yet.
    ExecutionResult result;
    engine.start(def, J("[1, 0, 2]"), opts, [&](ExecutionResult r) { result = std::move(r); });
    engine.run_pending();
    CHECK(result.status == ExecutionStatus::Failed);
    CHECK(aborted_indices(result) == std::vector<std::int64_t>{0, 2});
    auto t = types(result.history);
    const auto failed = std::find(t.begin(), t.end(), "MapIterationFailed");
    REQUIRE(failed != t.end());
    CHECK(std::vector<std::string>(failed, t.end()) ==
          std::vector<std::string>{"MapIterationFailed", "WaitStateAborted", "MapIterationAborted",
                                   "MapIterationAborted", "MapStateFailed", "ExecutionFailed"});
  }
  SUBCASE("StopExecution aborts every running iteration, then the Map") {
    ExecutionResult result;
    auto arn = engine.start(def, J("[1, 2]"), opts, [&](ExecutionResult r) { result = std::move(r); });
    engine.poll(0);
    REQUIRE(engine.stop(arn, std::nullopt, std::nullopt));
    engine.run_pending();
    CHECK(result.status == ExecutionStatus::Aborted);
    CHECK(aborted_indices(result) == std::vector<std::int64_t>{0, 1});
    auto t = types(result.history);
    REQUIRE(t.size() >= 6);
    CHECK(std::vector<std::string>(t.end() - 6, t.end()) ==
          std::vector<std::string>{"WaitStateAborted", "MapIterationAborted", "WaitStateAborted", "MapIterationAborted",
                                   "MapStateAborted", "ExecutionAborted"});
  }
}

TEST_CASE("abandon: the execution is dropped silently, even from its own checkpoint") {
  auto def = parse_or_fail(R"({"StartAt":"A","States":{
    "A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"C"},"C":{"Type":"Pass","End":true}}})");
  Engine engine(virtual_time_options());
  RunOptions opts;
  opts.record_history = true;
  int checkpoints = 0;
  std::string arn;
  opts.on_transition = [&](const Checkpoint&) {
    if (++checkpoints == 2) CHECK(engine.abandon(arn));
  };
  bool done = false;
  opts.execution_name = "x";
  arn = "arn:aws:states:us-east-1:123456789012:execution:StateMachine:x";
  engine.start(def, J("{}"), opts, [&](ExecutionResult) { done = true; });
  engine.run_pending();
  CHECK_FALSE(done);
  CHECK(checkpoints == 2);
  CHECK(engine.active() == 0);
  CHECK_FALSE(engine.abandon(arn));
}

TEST_CASE("poll: returns when nothing is due before the deadline, and time moves the Wait") {
  auto def = parse_or_fail(R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"End":true}}})");
  auto clock = std::make_shared<ManualClock>(1'000'000'000'000);
  EngineOptions eo;
  eo.clock = clock;  // real waiting is bounded by poll's deadline; this clock does not move by itself
  Engine engine(eo);
  bool done = false;
  engine.start(def, J("{}"), {}, [&](ExecutionResult r) {
    CHECK(r.status == ExecutionStatus::Succeeded);
    done = true;
  });
  engine.poll(5 * kNanosPerMilli);
  CHECK_FALSE(done);
  CHECK(engine.active() == 1);
  clock->advance(10 * kNanosPerSecond);
  engine.poll(5 * kNanosPerMilli);
  CHECK(done);
  CHECK(engine.active() == 0);
}

TEST_CASE("engine: the default random source of separate engines does not repeat (execution names stay unique)") {
  // The service builds an engine per StartExecution, so each execution name
  // is the first draw of a fresh source. Seeded with 32 bits, 200,000 sources
  // would repeat a first draw about 4.7 times on average.
  std::unordered_set<std::uint64_t> first_draws;
#ifdef __SANITIZE_ADDRESS__
  // Under the sanitizers a source costs about four times as much (16 s for
  // 200,000): the optimized build makes the statistical check at full size;
  // here a quarter of it still checks the construction and the draws for
  // memory errors, and would still see a repeat about once in four runs.
  constexpr int kSources = 50000;
#else
  constexpr int kSources = 200000;
#endif
  for (int i = 0; i < kSources; ++i) {
    DefaultRandom r;
    first_draws.insert(r.next_u64());
  }
  CHECK(first_draws.size() == kSources);
}
