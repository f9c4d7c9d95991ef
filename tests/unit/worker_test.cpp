// The durable runtime: a Worker runs executions recorded in a store and
// records every transition back; a crash (the worker and its engine dropped
// without a clean stop) or a failed write loses nothing; another party's
// stop wins. Time is virtual (ManualClock); stores are in memory or SQLite.
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <mutex>
#include <thread>
#include <chrono>

#include "engine/event_codec.h"
#include "engine/snapshot.h"
#include "engine/worker.h"
#include "cli_process.h"
#include "engine_test_util.h"
#include "stored_execution.h"
#include "storage/fault_injection.h"

using namespace stepwise;
using stepwise::testing::CountingRandom;
using stepwise::testing::parse_or_fail;
using stepwise::testing::must;
using stepwise::testing::must_ok;
using stepwise::testing::record_started;
using stepwise::testing::stored_history;

namespace {

// S0 -> S1 -> ... -> S(n-1): n Pass states.
std::string pass_chain(int n) {
  std::string chain = R"({"StartAt":"S0","States":{)";
  for (int i = 0; i < n; ++i) {
    chain += "\"S" + std::to_string(i) + "\":{\"Type\":\"Pass\",";
    chain += i + 1 < n ? "\"Next\":\"S" + std::to_string(i + 1) + "\"}," : std::string("\"End\":true}");
  }
  return chain + "}}";
}

// Tasks with a retry, a Wait, a Parallel and a Map: a bit of everything.
constexpr const char* kMixed = R"({"StartAt":"Flaky","States":{
  "Flaky":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Work",
           "Retry":[{"ErrorEquals":["Boom"],"IntervalSeconds":5,"MaxAttempts":2}],"Next":"Nap"},
  "Nap":{"Type":"Wait","Seconds":3600,"Next":"Fan"},
  "Fan":{"Type":"Parallel","Next":"Each","Branches":[
    {"StartAt":"B1","States":{"B1":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Work","End":true}}},
    {"StartAt":"B2","States":{"B2":{"Type":"Pass","Result":"two","End":true}}}]},
  "Each":{"Type":"Map","ItemsPath":"$$.Execution.Input.items","MaxConcurrency":2,
          "ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"Item","States":{
            "Item":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Work","End":true}}},
          "Next":"Done"},
  "Done":{"Type":"Succeed"}}})";

// Records invocations; "Flaky" fails its first attempt with Boom.
struct Calls {
  std::vector<std::string> keys;  // idempotency keys, in order
  std::map<std::string, int> count;
};

void register_work(Engine& engine, Calls& calls) {
  engine.functions().add("Work", [&calls](const json::value& ev, const InvocationContext& ctx) -> json::value {
    calls.keys.push_back(ctx.idempotency_key);
    ++calls.count[ctx.idempotency_key];
    if (ctx.state_name == "Flaky" && ctx.attempt == 0) throw TaskError("Boom", "first try");
    return json::object{{"state", ctx.state_name}, {"attempt", ctx.attempt}, {"in", ev}};
  });
}

EngineOptions options_at(std::shared_ptr<ManualClock> clock) { return stepwise::testing::virtual_time_options(std::move(clock)); }



// Records the machine (once) and a new execution, as start-execution does.
std::string start(storage::Store& store, Engine& engine, const std::string& definition, const std::string& name,
                  const std::string& input, const std::string& machine = "Mixed") {
  return record_started(store, engine, machine, definition, name, input);
}

std::vector<storage::EventRecord> history(storage::Store& store, const std::string& arn) {
  return stored_history(store, arn);
}

std::vector<std::string> types(const std::vector<storage::EventRecord>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

// Ids 1..n without a gap or a repeat, each previousEventId an earlier event.
void check_ids(const std::vector<storage::EventRecord>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].id == static_cast<std::int64_t>(i + 1));
    CHECK(events[i].previous_id < events[i].id);
  }
}

// Drives a worker until it runs nothing (or `rounds` run out).
void drain(Worker& w, int rounds = 10000) {
  for (int i = 0; i < rounds; ++i) {
    (void)w.run_once(0);
    if (w.active() == 0 && !w.paused() && i > 0) return;
  }
}

}  // namespace

TEST_CASE("worker: runs a recorded execution to its end and records all of it") {
  // Recorded in both backends (SQLite reads back what the worker encoded).
  testing::ScratchDir dir("stepwise-worker");
  for (const bool sqlite : {false, true}) {
    INFO((sqlite ? "sqlite" : "memory"));
    auto clock = std::make_shared<ManualClock>();
    Engine engine(options_at(clock));
    Calls calls;
    register_work(engine, calls);
    std::shared_ptr<storage::Store> store =
        sqlite ? must(storage::open_sqlite(dir.path + "/w.db")) : must(storage::open_memory());
    const std::string arn = start(*store, engine, kMixed, "one", R"({"items":[1,2,3]})");
    CHECK(types(history(*store, arn)) == std::vector<std::string>{"ExecutionStarted"});

    WorkerOptions wo;
    wo.owner = "w1";
    Worker worker(engine, store, wo);
    drain(worker);
    auto rec = must(store->describe_execution(arn));
    REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
    CHECK(rec.lease_owner.empty());
    CHECK(must(store->list_timers(arn)).empty());
    const auto events = history(*store, arn);
    check_ids(events);
    CHECK(events.back().type == "ExecutionSucceeded");
    CHECK(rec.last_event_id == events.back().id);

    // The same as the engine alone writes.
    Engine alone(options_at(std::make_shared<ManualClock>()));
    Calls calls2;
    register_work(alone, calls2);
    RunOptions ro;
    ro.record_history = true;
    ro.state_machine_name = "Mixed";
    ro.execution_name = "one";
    auto direct = alone.run(parse_or_fail(kMixed), *parse_json(R"({"items":[1,2,3]})"), ro);
    std::vector<std::string> direct_types;
    for (const auto& e : direct.history) direct_types.push_back(e.type);
    CHECK(types(events) == direct_types);
    // Event for event, the same details text and the same previous ids.
    REQUIRE(events.size() == direct.history.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      INFO("event " << events[i].id << " " << events[i].type);
      CHECK(events[i].id == direct.history[i].id);
      CHECK(events[i].previous_id == direct.history[i].previous_event_id);
      CHECK(events[i].details == direct.history[i].details);
    }
    CHECK(*rec.output == to_json(direct.output));
    CHECK(calls.keys == calls2.keys);
    CHECK(worker.stats().ended == 1);
    CHECK(worker.stats().events == static_cast<std::int64_t>(events.size()) - 1);
  }
}

TEST_CASE("worker: a Wait parks with a stored wake-up timer; restarted, it fires at its due time") {
  auto clock = std::make_shared<ManualClock>();
  std::shared_ptr<storage::Store> store = must(storage::open_memory());
  const char* def = R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"P"},
                        "P":{"Type":"Pass","Parameters":{"at.$":"$$.State.EnteredTime"},"End":true}}})";
  std::string arn;
  const Nanos t0 = clock->now();
  {
    EngineOptions eo;
    eo.clock = clock;  // real-time mode: the Wait does not jump
    Engine engine(eo);
    arn = start(*store, engine, def, "nap", "{}");
    Worker worker(engine, store, WorkerOptions{.owner = "host-a:1:x"});
    for (int i = 0; i < 5; ++i) (void)worker.run_once(kNanosPerMilli);
    CHECK(worker.stats().hibernated == 1);  // an hour ahead: parked out of memory
    auto timers = must(store->list_timers(arn));
    REQUIRE(timers.size() == 1);
    CHECK(timers[0].key == "wake");
    CHECK(timers[0].due == t0 + 3600 * kNanosPerSecond);
    // The worker dies here without a clean stop.
  }
  CHECK(must(store->describe_execution(arn)).status == storage::ExecutionStatus::kRunning);
  // Two hours later (past the due time and the lease) a new worker takes over.
  clock->advance(7200 * kNanosPerSecond);
  EngineOptions eo;
  eo.clock = clock;
  Engine engine(eo);
  Worker worker(engine, store, WorkerOptions{.owner = "host-b:2:y"});
  drain(worker);
  auto rec = must(store->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
  // The Wait fired at once (it fell due during the downtime).
  CHECK(rec.output->find("\"at\":\"") != std::string::npos);
  const auto events = history(*store, arn);
  check_ids(events);
  CHECK(types(events) == std::vector<std::string>{"ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                                                  "PassStateEntered", "PassStateExited", "ExecutionSucceeded"});
}

// Forwards writes until `budget` of them have gone through, then refuses
// every write: the process "died" at that point; nothing later is stored.
class DiesAfter final : public storage::StoreWrapper {
 public:
  DiesAfter(std::shared_ptr<storage::Store> target, int budget) : StoreWrapper(std::move(target)), budget_(budget) {}
  storage::StatusOr<std::int64_t> commit_transition(const storage::Transition& t) override {
    if (budget_-- <= 0) return storage::Status(storage::Code::kIoError, "dead");
    return target_->commit_transition(t);
  }
  storage::StatusOr<std::vector<std::int64_t>> commit_transitions(
      const std::vector<storage::Transition>& batch) override {
    if (budget_-- <= 0) return storage::Status(storage::Code::kIoError, "dead");
    return target_->commit_transitions(batch);
  }

 private:
  int budget_;
};

TEST_CASE("worker: killed between any two commits, restarted each time: nothing lost, nothing repeated") {
  std::shared_ptr<storage::Store> store = must(storage::open_memory());
  auto clock = std::make_shared<ManualClock>();
  std::vector<std::string> arns;
  {
    Engine engine(options_at(clock));
    for (int i = 0; i < 4; ++i)
      arns.push_back(start(*store, engine, kMixed, "e" + std::to_string(i), R"({"items":[1,2,3,4,5]})"));
  }
  Calls calls;  // across every incarnation
  std::mt19937 rng(7);
  int incarnations = 0;
  bool all_done = false;
  for (; incarnations < 500 && !all_done; ++incarnations) {
    Engine engine(options_at(clock));
    register_work(engine, calls);
    WorkerOptions wo;
    wo.owner = "w" + std::to_string(incarnations);
    wo.max_batch_events = 1 + rng() % 4;  // small batches: a kill lands between commits
    wo.max_batch_growth = 1;
    auto dying = std::make_shared<DiesAfter>(store, static_cast<int>(1 + rng() % 6));
    Worker worker(engine, dying, wo);
    for (int round = 0; round < 20 && !worker.paused(); ++round) (void)worker.run_once(0);
    // Killed: no shutdown. The next worker claims once the lease expires.
    clock->advance(wo.lease_duration + kNanosPerSecond);
    all_done = true;
    for (const auto& arn : arns)
      all_done = all_done && must(store->describe_execution(arn)).status != storage::ExecutionStatus::kRunning;
  }
  REQUIRE(all_done);
  CHECK(incarnations > 10);
  for (const auto& arn : arns) {
    auto rec = must(store->describe_execution(arn));
    CHECK(rec.status == storage::ExecutionStatus::kSucceeded);
    const auto events = history(*store, arn);
    check_ids(events);
    // Every task succeeded exactly once in the history, Flaky after one failure.
    int succeeded = 0, failed = 0;
    for (const auto& e : events) {
      succeeded += e.type == "LambdaFunctionSucceeded";
      failed += e.type == "LambdaFunctionFailed";
    }
    CHECK(succeeded == 7);  // Flaky, B1, five items
    CHECK(failed == 1);
  }
  // At-least-once: every task key was invoked; a key is invoked again only
  // when a kill came before its result was recorded.
  CHECK(calls.count.size() == 4 * 8);  // Flaky twice (attempts 0 and 1), B1, five items
}

TEST_CASE("worker: a failed write, for every write in turn, is recovered by reopening") {
  // The reference run.
  std::string reference_output;
  std::vector<std::string> reference_types;
  std::int64_t total_writes = 0;
  {
    auto base = std::shared_ptr<storage::Store>(must(storage::open_memory()));
    auto counting = std::make_shared<storage::FailNthWrite>(base, INT64_MAX);
    auto clock = std::make_shared<ManualClock>();
    Engine engine(options_at(clock));
    Calls calls;
    register_work(engine, calls);
    const std::string arn = start(*base, engine, kMixed, "ref", R"({"items":[1,2]})");
    WorkerOptions wo;
    wo.max_batch_events = 2;
    wo.max_batch_growth = 1;  // the same writes in every run, whatever the timing
    Worker worker(engine, counting, wo);
    drain(worker);
    auto rec = must(base->describe_execution(arn));
    REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
    reference_output = *rec.output;
    reference_types = types(history(*base, arn));
    total_writes = counting->writes();
  }
  REQUIRE(total_writes > 5);
  for (auto mode : {storage::FailNthWrite::Mode::kBeforeWrite, storage::FailNthWrite::Mode::kAfterWrite}) {
    for (std::int64_t n = 1; n <= total_writes; ++n) {
      CAPTURE(n);
      CAPTURE(static_cast<int>(mode));
      auto base = std::shared_ptr<storage::Store>(must(storage::open_memory()));
      auto faulty = std::make_shared<storage::FailNthWrite>(base, n, mode, storage::Code::kDiskFull);
      auto clock = std::make_shared<ManualClock>();
      std::string arn;
      {
        Engine engine(options_at(clock));
        Calls calls;
        register_work(engine, calls);
        arn = start(*base, engine, kMixed, "ref", R"({"items":[1,2]})");
        WorkerOptions wo;
        wo.max_batch_events = 2;
        wo.max_batch_growth = 1;
        Worker worker(engine, faulty, wo);
        for (int i = 0; i < 10000 && !faulty->fired() && worker.active() + (i == 0) > 0; ++i) (void)worker.run_once(0);
        CHECK(faulty->fired());
        // The engine "reopens": this one is dropped as a crashed process would be.
      }
      clock->advance(60 * kNanosPerSecond);
      Engine engine(options_at(clock));
      Calls calls;
      register_work(engine, calls);
      Worker worker(engine, base, WorkerOptions{});
      drain(worker);
      auto rec = must(base->describe_execution(arn));
      REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
      CHECK(*rec.output == reference_output);
      const auto events = history(*base, arn);
      check_ids(events);
      CHECK(types(events) == reference_types);
    }
  }
}

TEST_CASE("worker: a store error pauses the worker, which claims its executions again and finishes") {
  auto base = std::shared_ptr<storage::Store>(must(storage::open_memory()));
  auto faulty = std::make_shared<storage::FailNthWrite>(base, 4, storage::FailNthWrite::Mode::kBeforeWrite,
                                                        storage::Code::kDiskFull);
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  Calls calls;
  register_work(engine, calls);
  const std::string arn = start(*base, engine, kMixed, "p", R"({"items":[1]})");
  WorkerOptions wo;
  wo.max_batch_events = 2;
  Worker worker(engine, faulty, wo);
  bool saw_error = false;
  for (int i = 0; i < 100000; ++i) {
    auto s = worker.run_once(kNanosPerMilli);
    if (!s.ok()) {
      saw_error = true;
      CHECK(s.code() == storage::Code::kDiskFull);
      CHECK(worker.paused());
      CHECK(worker.active() == 0);
    }
    if (must(base->describe_execution(arn)).status != storage::ExecutionStatus::kRunning) break;
  }
  CHECK(saw_error);
  CHECK(must(base->describe_execution(arn)).status == storage::ExecutionStatus::kSucceeded);
  CHECK(worker.stats().store_errors == 1);
  check_ids(history(*base, arn));
}

TEST_CASE("worker: adopt reports the end once committed; another party's stop wins") {
  auto clock = std::make_shared<ManualClock>();
  std::shared_ptr<storage::Store> store = must(storage::open_memory());
  EngineOptions eo;
  eo.clock = clock;
  Engine engine(eo);
  const char* def = R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}})";
  const std::string arn = start(*store, engine, def, "stopme", "{}");
  WorkerOptions wo;
  wo.claim = false;
  Worker worker(engine, store, wo);
  int reports = 0;
  ExecutionResult seen;
  must_ok(worker.adopt(arn, [&](const ExecutionResult& r) {
    ++reports;
    seen = r;
  }));
  (void)worker.run_once(kNanosPerMilli);
  CHECK(reports == 0);
  // Another process stops it: it commits the end over the worker's head.
  auto rec = must(store->describe_execution(arn));
  storage::Transition stop;
  stop.execution_arn = arn;
  stop.expected_version = rec.version;
  stop.events.push_back(storage::EventRecord{rec.last_event_id + 1, rec.last_event_id, clock->now(),
                                             "ExecutionAborted", R"({"executionAbortedEventDetails":{}})"});
  stop.outcome = storage::ExecutionOutcome{storage::ExecutionStatus::kAborted, std::nullopt, std::string("Stopped"),
                                           std::nullopt, clock->now()};
  must(store->commit_transition(stop));
  clock->advance(61 * kNanosPerSecond);  // the Wait fires; its commit meets the stop
  for (int i = 0; i < 20 && reports == 0; ++i) (void)worker.run_once(kNanosPerMilli);
  CHECK(reports == 1);
  CHECK(seen.status == ExecutionStatus::Aborted);
  CHECK(seen.error == "Stopped");
  CHECK(worker.active() == 0);
  CHECK(worker.stats().dropped == 1);
  auto events = history(*store, arn);
  CHECK(events.back().type == "ExecutionAborted");
  check_ids(events);
}

TEST_CASE("worker: transitions are committed in groups; a clean shutdown releases the leases") {
  auto clock = std::make_shared<ManualClock>();
  std::shared_ptr<storage::Store> store = must(storage::open_memory());
  Engine engine(options_at(clock));
  const std::string chain = pass_chain(500);
  const std::string a = start(*store, engine, chain, "a", "{}");
  const std::string b = start(*store, engine, chain, "b", "{}");
  WorkerOptions wo;
  wo.owner = "grouping";
  wo.max_batch_events = 100;
  Worker worker(engine, store, wo);
  drain(worker);
  CHECK(must(store->describe_execution(a)).status == storage::ExecutionStatus::kSucceeded);
  CHECK(must(store->describe_execution(b)).status == storage::ExecutionStatus::kSucceeded);
  CHECK(worker.stats().events == 2 * 1001);
  // One commit per execution per group, far fewer than the 1000+ transitions;
  // a group holds 100 events, or up to 400 (and a transition's) when it grew
  // while the one before it was committing.
  CHECK(worker.stats().commits < 60);
  CHECK(worker.stats().commits >= 2002 / 402 + 1);

  // Shutdown: a parked execution stays RUNNING, its lease free for the next worker.
  const std::string c = start(*store, engine, R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":9,"End":true}}})",
                              "c", "{}", "Parked");
  Engine engine2(EngineOptions{.clock = clock});
  Worker parked(engine2, store, WorkerOptions{.owner = "parker"});
  (void)parked.run_once(kNanosPerMilli);
  CHECK(must(store->describe_execution(c)).lease_owner == "parker");
  must_ok(parked.shutdown());
  auto rec = must(store->describe_execution(c));
  CHECK(rec.status == storage::ExecutionStatus::kRunning);
  CHECK(rec.lease_owner.empty());
  CHECK(engine2.active() == 0);
}

namespace {
// Holds its first commit for a moment (a slow disk) and records how many
// events each commit carried.
class SlowFirstCommit final : public storage::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  storage::StatusOr<std::vector<std::int64_t>> commit_transitions(
      const std::vector<storage::Transition>& batch) override {
    std::size_t events = 0;
    for (const auto& t : batch) events += t.events.size() + t.encoded_events.size();
    {
      std::lock_guard lock(mu_);
      sizes_.push_back(events);
      if (sizes_.size() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return StoreWrapper::commit_transitions(batch);
  }
  std::vector<std::size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  std::mutex mu_;
  std::vector<std::size_t> sizes_;
};
}  // namespace

TEST_CASE("worker: while a batch commits, the next one grows (up to max_batch_growth) instead of the engine waiting") {
  auto clock = std::make_shared<ManualClock>();
  std::shared_ptr<storage::Store> base = must(storage::open_memory());
  Engine engine(options_at(clock));
  const std::string chain = pass_chain(500);
  const std::string arn = start(*base, engine, chain, "a", "{}");
  auto slow = std::make_shared<SlowFirstCommit>(base);
  WorkerOptions wo;
  wo.max_batch_events = 100;
  wo.max_batch_delay = 3600 * kNanosPerSecond;  // only the count cuts batches here
  Worker worker(engine, slow, wo);
  drain(worker);
  CHECK(must(base->describe_execution(arn)).status == storage::ExecutionStatus::kSucceeded);
  const std::vector<std::size_t> sizes = slow->sizes();
  REQUIRE(sizes.size() >= 2);
  CHECK(sizes[0] <= 101);  // a transition writes up to two events past the threshold
  // While the first commit was held, the engine ran on: the next batch grew
  // to the limit, max_batch_growth (4) times the threshold, and only then waited.
  CHECK(sizes[1] >= 400);
  CHECK(sizes[1] <= 401);
  for (std::size_t n : sizes) CHECK(n <= 401);
  check_ids(history(*base, arn));
}

TEST_CASE("worker: executions in long Waits are parked out of memory and any worker wakes them on time") {
  auto clock = std::make_shared<ManualClock>();
  std::shared_ptr<storage::Store> store = must(storage::open_memory());
  EngineOptions eo;
  eo.clock = clock;
  Engine engine(eo);
  const char* def = R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"P"},
                        "P":{"Type":"Pass","End":true}}})";
  std::vector<std::string> arns;
  for (int i = 0; i < 50; ++i) arns.push_back(start(*store, engine, def, "p" + std::to_string(i), "{}", "Parked"));
  const Nanos due = clock->now() + 3600 * kNanosPerSecond;
  Worker worker(engine, store, WorkerOptions{.owner = "sleepy"});
  for (int i = 0; i < 5; ++i) (void)worker.run_once(kNanosPerMilli);
  CHECK(worker.active() == 0);
  CHECK(engine.active() == 0);
  CHECK(worker.stats().hibernated == 50);
  // Parked: no lease (nothing to renew), claimable a second before the Wait ends.
  auto parked = must(store->describe_execution(arns[0]));
  CHECK(parked.status == storage::ExecutionStatus::kRunning);
  CHECK(parked.lease_owner.empty());
  CHECK(parked.lease_expiry == due - kNanosPerSecond);
  clock->advance(1800 * kNanosPerSecond);
  (void)worker.run_once(kNanosPerMilli);
  CHECK(worker.active() == 0);
  CHECK(worker.stats().claimed == 50);
  // Another worker (the first one gone) takes them when they are due.
  Engine engine2(eo);
  Worker other(engine2, store, WorkerOptions{.owner = "other"});
  clock->advance(1799 * kNanosPerSecond);
  (void)other.run_once(kNanosPerMilli);
  CHECK(other.stats().claimed == 50);
  clock->advance(kNanosPerSecond);
  for (int i = 0; i < 20 && other.active() > 0; ++i) (void)other.run_once(kNanosPerMilli);
  CHECK(other.active() == 0);
  for (const auto& arn : arns) {
    CHECK(must(store->describe_execution(arn)).status == storage::ExecutionStatus::kSucceeded);
    auto events = history(*store, arn);
    check_ids(events);
    // WaitStateExited at the Wait's original due time.
    for (const auto& e : events) {
      if (e.type == "WaitStateExited") CHECK(e.timestamp == due);
    }
  }
}
