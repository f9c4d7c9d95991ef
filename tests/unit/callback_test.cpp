// Callbacks (.waitForTaskToken) and activities, durable through the store and
// the worker: SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat recorded
// by the Service, the waiting execution parked (no lease, not in memory) and
// woken by them, deadlines enforced on the injected clock, and all of it
// across a restart on the same SQLite file. Every case runs against both
// stores. No real sleeps but the long poll's own short ones.
#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <limits>
#include <thread>

#include "engine/service.h"
#include "engine/worker.h"
#include "engine_test_util.h"
#include "service_test.h"
#include "storage/sqlite_schema.h"

using namespace stepwise;
using stepwise::testing::CountingRandom;
using stepwise::testing::ServiceTempDir;

namespace {

constexpr const char* kAccount = "123456789012";

// A callback whose result is shaped (ResultSelector, ResultPath) and whose
// failure "Bad" is caught. %HB% and %TO% are replaced by the deadlines.
std::string callback_definition(const std::string& deadlines = "") {
  return R"({"StartAt":"Ask","States":{
    "Ask":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
           "Parameters":{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q",
                         "MessageBody":{"token.$":"$$.Task.Token","order.$":"$.order"}},)" +
         deadlines + R"(
           "ResultSelector":{"approved.$":"$.approved"},"ResultPath":"$.answer",
           "Catch":[{"ErrorEquals":["Bad"],"ResultPath":"$.error","Next":"Rejected"}],
           "Next":"Done"},
    "Rejected":{"Type":"Pass","End":true},
    "Done":{"Type":"Succeed"}}})";
}

std::string activity_definition(const std::string& activity_arn, const std::string& deadlines = "") {
  return R"({"StartAt":"Work","States":{
    "Work":{"Type":"Task","Resource":")" +
         activity_arn + R"(",)" + deadlines + R"("ResultPath":"$.result","End":true}}})";
}

template <class T>
T must(storage::StatusOr<T> v) {
  if (!v.ok()) FAIL(v.status().to_string());
  return std::move(v.value());
}

// A store (in memory or an SQLite file), the Service over it, and one worker
// with its engine, all on one manual clock.
struct Env {
  explicit Env(bool sqlite) : sqlite(sqlite), path(dir.file("callbacks.db")) {
    open_store();
    start_worker("w1");
  }

  void open_store() {
    store = sqlite ? std::shared_ptr<storage::Store>(must(storage::open_sqlite(path)))
                   : std::shared_ptr<storage::Store>(must(storage::open_memory()));
    ServiceOptions so;
    so.clock = clock;
    so.random = std::make_shared<CountingRandom>();
    so.activity_poll_timeout = 0;
    service = std::make_unique<Service>(store, so);
  }

  void start_worker(const std::string& owner, Nanos hibernate_after = 60 * kNanosPerSecond) {
    EngineOptions eo;
    eo.clock = clock;
    eo.random = std::make_shared<CountingRandom>();
    engine = std::make_unique<Engine>(eo);
    WorkerOptions wo;
    wo.owner = owner;
    wo.claim_every = 0;
    wo.hibernate_after = hibernate_after;
    wo.commit_in_background = false;
    worker = std::make_unique<Worker>(*engine, store, wo);
  }

  // The process dies: no clean shutdown, leases stay.
  void crash() {
    worker.reset();
    engine.reset();
  }

  void rounds(int n = 4) {
    for (int i = 0; i < n; ++i) (void)worker->run_once(0);
  }

  json::object ok(std::string_view operation, const json::object& request) {
    auto r = service->call(operation, request);
    if (!r.ok()) FAIL(operation << ": " << r.error().code << ": " << r.error().message);
    return r.response();
  }
  std::string error_code(std::string_view operation, const json::object& request) {
    auto r = service->call(operation, request);
    return r.ok() ? "OK" : r.error().code;
  }

  std::string start(const std::string& definition, const std::string& input, const std::string& machine = "Flow") {
    const std::string machine_arn = "arn:aws:states:us-east-1:" + std::string(kAccount) + ":stateMachine:" + machine;
    if (!store->describe_state_machine(machine_arn).ok()) {
      ok("CreateStateMachine", {{"name", machine}, {"definition", definition}});
    }
    auto started = ok("StartExecution", {{"stateMachineArn", machine_arn}, {"input", input}});
    return std::string(started.at("executionArn").as_string());
  }

  storage::ExecutionRecord describe(const std::string& arn) { return must(store->describe_execution(arn)); }

  std::vector<storage::EventRecord> history(const std::string& arn) {
    storage::HistoryRequest req;
    req.page.max_results = 1000;
    return must(store->get_history(arn, req)).items;
  }

  std::vector<std::string> types(const std::string& arn) {
    std::vector<std::string> out;
    for (const auto& e : history(arn)) out.push_back(e.type);
    return out;
  }

  // The details of the last event of this type.
  json::object details(const std::string& arn, const std::string& type) {
    json::object found;
    for (const auto& e : history(arn)) {
      if (e.type == type) found = parse_json(e.details)->as_object();
    }
    return found;
  }

  // The callback's token, as its message (TaskScheduled parameters) carries it.
  std::string token(const std::string& arn) {
    auto d = details(arn, "TaskScheduled");
    REQUIRE(d.contains("taskScheduledEventDetails"));
    auto params = parse_json(d.at("taskScheduledEventDetails").at("parameters").as_string());
    REQUIRE(params);
    return std::string(params->at("MessageBody").at("token").as_string());
  }

  ServiceTempDir dir;
  bool sqlite;
  std::string path;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<storage::Store> store;
  std::unique_ptr<Service> service;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Worker> worker;
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

constexpr Nanos kForever = std::numeric_limits<Nanos>::max();

}  // namespace

TEST_CASE("callbacks: SendTaskSuccess wakes the parked execution; the result is shaped; the token then closes") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    const std::string arn = env.start(callback_definition(), R"({"order":7})");
    env.rounds();
    // Waiting durably: parked, no lease, nothing in memory, the token stored open.
    auto waiting = env.describe(arn);
    CHECK(waiting.status == storage::ExecutionStatus::kRunning);
    CHECK(waiting.lease_owner.empty());
    CHECK(waiting.lease_expiry == kForever);
    CHECK(env.worker->active() == 0);
    CHECK(env.engine->active() == 0);
    const std::string token = env.token(arn);
    auto stored = must(env.store->get_task_token(token));
    CHECK(stored.status == storage::TokenStatus::kOpen);
    CHECK(stored.execution_arn == arn);
    CHECK(env.types(arn) == std::vector<std::string>{"ExecutionStarted", "TaskStateEntered", "TaskScheduled",
                                                     "TaskStarted", "TaskSubmitted"});
    // Rounds while nobody answers change nothing.
    env.clock->advance(3600 * kNanosPerSecond);
    env.rounds();
    CHECK(env.describe(arn).status == storage::ExecutionStatus::kRunning);
    CHECK(env.history(arn).size() == 5);

    env.ok("SendTaskSuccess", {{"taskToken", token}, {"output", R"({"approved":true,"by":"ann"})"}});
    // Recorded with the token closed, and the execution claimable at once.
    stored = must(env.store->get_task_token(token));
    CHECK(stored.status == storage::TokenStatus::kClosed);
    REQUIRE(stored.result);
    CHECK(stored.result->success);
    CHECK(env.describe(arn).lease_expiry == env.clock->now());
    // Answered twice: the task is over.
    CHECK(env.error_code("SendTaskSuccess", {{"taskToken", token}, {"output", "{}"}}) == "TaskTimedOut");

    env.rounds();
    auto done = env.describe(arn);
    REQUIRE(done.status == storage::ExecutionStatus::kSucceeded);
    CHECK(*parse_json(*done.output) == *parse_json(R"({"order":7,"answer":{"approved":true}})"));
    auto succeeded = env.details(arn, "TaskSucceeded").at("taskSucceededEventDetails").as_object();
    CHECK(succeeded.at("resourceType") == "sqs");
    CHECK(succeeded.at("resource") == "sendMessage.waitForTaskToken");
    CHECK(*parse_json(succeeded.at("output").as_string()) == *parse_json(R"({"approved":true,"by":"ann"})"));
    CHECK(env.types(arn).back() == "ExecutionSucceeded");
    CHECK(env.error_code("SendTaskHeartbeat", {{"taskToken", token}}) == "TaskTimedOut");
  }
}

TEST_CASE("callbacks: SendTaskFailure fails the task; Catch takes its error and cause") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    const std::string arn = env.start(callback_definition(), R"({"order":8})");
    env.rounds();
    const std::string token = env.token(arn);
    env.ok("SendTaskFailure", {{"taskToken", token}, {"error", "Bad"}, {"cause", "out of stock"}});
    env.rounds();
    auto done = env.describe(arn);
    REQUIRE(done.status == storage::ExecutionStatus::kSucceeded);
    CHECK(*parse_json(*done.output) == *parse_json(R"({"order":8,"error":{"Error":"Bad","Cause":"out of stock"}})"));
    auto failed = env.details(arn, "TaskFailed").at("taskFailedEventDetails").as_object();
    CHECK(failed.at("error") == "Bad");
    CHECK(failed.at("cause") == "out of stock");
    CHECK(failed.at("resourceType") == "sqs");

    // An error no Catch matches fails the execution with it.
    const std::string arn2 = env.start(callback_definition(), R"({"order":9})");
    env.rounds();
    env.ok("SendTaskFailure", {{"taskToken", env.token(arn2)}, {"error", "Other"}});
    env.rounds();
    auto failed2 = env.describe(arn2);
    REQUIRE(failed2.status == storage::ExecutionStatus::kFailed);
    CHECK(failed2.error == std::optional<std::string>("Other"));
    CHECK(!failed2.cause);
  }
}

TEST_CASE("callbacks: unknown, malformed and finished tokens are refused as AWS refuses them") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    CHECK(env.error_code("SendTaskSuccess", {{"taskToken", "00000000-0000-4000-8000-000000000000"},
                                             {"output", "{}"}}) == "TaskDoesNotExist");
    CHECK(env.error_code("SendTaskFailure", {{"taskToken", "00000000-0000-4000-8000-000000000000"}}) ==
          "TaskDoesNotExist");
    CHECK(env.error_code("SendTaskHeartbeat", {{"taskToken", "00000000-0000-4000-8000-000000000000"}}) ==
          "TaskDoesNotExist");
    CHECK(env.error_code("SendTaskSuccess", {{"taskToken", "not a token"}, {"output", "{}"}}) == "InvalidToken");
    CHECK(env.error_code("SendTaskSuccess", {{"output", "{}"}}) == "ValidationException");

    const std::string arn = env.start(callback_definition(), R"({"order":1})");
    env.rounds();
    const std::string token = env.token(arn);
    CHECK(env.error_code("SendTaskSuccess", {{"taskToken", token}, {"output", "{not json"}}) == "InvalidOutput");
    // Still open after a refused call.
    CHECK(must(env.store->get_task_token(token)).status == storage::TokenStatus::kOpen);
    // Its execution stopped: the token is over.
    env.ok("StopExecution", {{"executionArn", arn}});
    CHECK(env.error_code("SendTaskSuccess", {{"taskToken", token}, {"output", "{}"}}) == "TaskTimedOut");
    CHECK(env.error_code("SendTaskHeartbeat", {{"taskToken", token}}) == "TaskTimedOut");
  }
}

TEST_CASE("callbacks: HeartbeatSeconds is enforced; heartbeats keep the task alive, durably") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    const Nanos t0 = env.clock->now();
    const std::string arn =
        env.start(callback_definition(R"("HeartbeatSeconds":10,"TimeoutSeconds":100,)"), R"({"order":2})");
    env.rounds();
    const std::string token = env.token(arn);
    // Parked until a second before the heartbeat deadline.
    CHECK(env.describe(arn).lease_expiry == t0 + 9 * kNanosPerSecond);
    auto scheduled = env.details(arn, "TaskScheduled").at("taskScheduledEventDetails").as_object();
    CHECK(scheduled.at("heartbeatInSeconds") == 10);
    CHECK(scheduled.at("timeoutInSeconds") == 100);

    env.clock->set(t0 + 5 * kNanosPerSecond);
    env.ok("SendTaskHeartbeat", {{"taskToken", token}});
    CHECK(must(env.store->get_task_token(token)).heartbeat_due == t0 + 15 * kNanosPerSecond);
    // A worker that comes back after the first deadline (but before the
    // moved one) honours the heartbeat recorded meanwhile.
    env.crash();
    env.start_worker("w2");
    env.clock->set(t0 + 12 * kNanosPerSecond);
    env.rounds();
    CHECK(env.describe(arn).status == storage::ExecutionStatus::kRunning);
    CHECK(!contains(env.types(arn), "TaskTimedOut"));

    env.clock->set(t0 + 16 * kNanosPerSecond);
    env.rounds();
    auto done = env.describe(arn);
    REQUIRE(done.status == storage::ExecutionStatus::kFailed);
    CHECK(done.error == std::optional<std::string>("States.HeartbeatTimeout"));
    auto timed_out = env.details(arn, "TaskTimedOut").at("taskTimedOutEventDetails").as_object();
    CHECK(timed_out.at("error") == "States.HeartbeatTimeout");
    CHECK(timed_out.at("resourceType") == "sqs");
    CHECK(env.error_code("SendTaskSuccess", {{"taskToken", token}, {"output", "{}"}}) == "TaskTimedOut");
  }
}

TEST_CASE("callbacks: TimeoutSeconds is enforced; a late answer is refused even before the worker sees it") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    const Nanos t0 = env.clock->now();
    const std::string arn = env.start(callback_definition(R"("TimeoutSeconds":30,)"), R"({"order":3})");
    env.rounds();
    const std::string token = env.token(arn);
    CHECK(env.describe(arn).lease_expiry == t0 + 29 * kNanosPerSecond);
    env.clock->set(t0 + 31 * kNanosPerSecond);
    // Past the deadline: refused by the store, whether or not a worker has run.
    CHECK(env.error_code("SendTaskSuccess", {{"taskToken", token}, {"output", "{}"}}) == "TaskTimedOut");
    env.rounds();
    auto done = env.describe(arn);
    REQUIRE(done.status == storage::ExecutionStatus::kFailed);
    CHECK(done.error == std::optional<std::string>("States.Timeout"));
    CHECK(contains(env.types(arn), "TaskTimedOut"));
    CHECK(must(env.store->get_task_token(token)).status == storage::TokenStatus::kClosed);
  }
}

TEST_CASE("callbacks: an answer given while no worker runs is taken up by the next one (SQLite restart)") {
  Env env(true);
  const std::string arn = env.start(callback_definition(R"("TimeoutSeconds":3600,)"), R"({"order":4})");
  env.rounds();
  const std::string token = env.token(arn);
  // Everything goes: worker, engine, service, the store's connection.
  env.crash();
  env.service.reset();
  env.store.reset();
  env.open_store();
  env.clock->advance(60 * kNanosPerSecond);
  env.ok("SendTaskSuccess", {{"taskToken", token}, {"output", R"({"approved":false})"}});
  env.start_worker("w2");
  env.rounds();
  auto done = env.describe(arn);
  REQUIRE(done.status == storage::ExecutionStatus::kSucceeded);
  CHECK(*parse_json(*done.output) == *parse_json(R"({"order":4,"answer":{"approved":false}})"));
  // One TaskScheduled: the message was not sent again.
  int scheduled = 0;
  for (const auto& t : env.types(arn)) scheduled += t == "TaskScheduled";
  CHECK(scheduled == 1);
}

TEST_CASE("callbacks: a worker holding the execution in memory reads the answer; a crashed one's is taken over") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    env.start_worker("holder", /*hibernate_after=*/0);  // never parks
    const std::string arn = env.start(callback_definition(), R"({"order":5})");
    env.rounds();
    CHECK(env.worker->active() == 1);
    CHECK(env.describe(arn).lease_owner == "holder");
    env.ok("SendTaskSuccess", {{"taskToken", env.token(arn)}, {"output", R"({"approved":true})"}});
    env.rounds();
    CHECK(env.describe(arn).status == storage::ExecutionStatus::kSucceeded);

    // Crashed while holding it: the next worker takes over once the lease expires.
    const std::string arn2 = env.start(callback_definition(), R"({"order":6})");
    env.rounds();
    const std::string token2 = env.token(arn2);
    env.crash();
    env.ok("SendTaskSuccess", {{"taskToken", token2}, {"output", R"({"approved":true})"}});
    env.start_worker("other");
    env.rounds();
    CHECK(env.describe(arn2).status == storage::ExecutionStatus::kRunning);  // "holder" still leases it
    env.clock->advance(31 * kNanosPerSecond);
    env.rounds();
    CHECK(env.describe(arn2).status == storage::ExecutionStatus::kSucceeded);
  }
}

TEST_CASE("callbacks: a park never sleeps past an answer recorded while the worker still held the execution") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    ServiceTempDir dir;
    std::shared_ptr<storage::Store> s =
        sqlite ? std::shared_ptr<storage::Store>(must(storage::open_sqlite(dir.file("p.db"))))
               : std::shared_ptr<storage::Store>(must(storage::open_memory()));
    storage::NewStateMachine m{
        "arn:aws:states:us-east-1:1:stateMachine:M", "M", storage::MachineType::kStandard, "r", "{}", 1};
    must(s->create_state_machine(m));
    storage::NewExecution e;
    e.arn = "arn:aws:states:us-east-1:1:execution:M:x";
    e.name = "x";
    e.state_machine_arn = m.arn;
    e.state_machine_version = 1;
    e.state = "{}";
    auto created = must(s->create_execution(e));
    REQUIRE(s->acquire_lease(e.arn, "w", 0, 100).ok());
    storage::Transition add;
    add.execution_arn = e.arn;
    add.expected_version = created.execution.version;
    add.lease_owner = "w";
    storage::TaskTokenRecord tok;
    tok.token = "t1";
    tok.frame_key = "0";
    add.tokens_to_add.push_back(tok);
    const auto v2 = must(s->commit_transition(add));
    storage::TaskTokenResult result;
    result.output = "{}";
    must(s->close_task_token("t1", result, 10));
    // The worker, unaware, parks it: the park is cut short.
    storage::Transition park;
    park.execution_arn = e.arn;
    park.expected_version = v2;
    park.lease_owner = "w";
    park.park_until = 1000;
    const auto v3 = must(s->commit_transition(park));
    CHECK(must(s->describe_execution(e.arn)).lease_expiry == 0);
    // Once it has taken the answer in (closed the token itself), a park holds.
    REQUIRE(s->acquire_lease(e.arn, "w", 0, 100).ok());
    storage::Transition taken;
    taken.execution_arn = e.arn;
    taken.expected_version = v3;
    taken.lease_owner = "w";
    taken.tokens_to_close.push_back("t1");
    taken.park_until = 1000;
    must(s->commit_transition(taken));
    CHECK(must(s->describe_execution(e.arn)).lease_expiry == 1000);
    CHECK(must(s->get_task_token("t1")).acknowledged);
  }
}

TEST_CASE("store: task tokens keep deadlines, heartbeats, results; activities are created, listed, deleted") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    ServiceTempDir dir;
    std::shared_ptr<storage::Store> s =
        sqlite ? std::shared_ptr<storage::Store>(must(storage::open_sqlite(dir.file("t.db"))))
               : std::shared_ptr<storage::Store>(must(storage::open_memory()));
    // Activities: idempotent creation, by-name order, paging, deletion.
    for (const char* name : {"b", "a", "c"}) {
      must(s->create_activity({std::string("arn:aws:states:us-east-1:1:activity:") + name, name, 5}));
    }
    auto again = must(s->create_activity({"arn:aws:states:us-east-1:1:activity:a", "a", 99}));
    CHECK(again.creation_date == 5);
    storage::PageRequest page;
    page.max_results = 2;
    auto first = must(s->list_activities(page));
    REQUIRE(first.items.size() == 2);
    CHECK(first.items[0].name == "a");
    CHECK(first.items[1].name == "b");
    REQUIRE(!first.next_token.empty());
    page.next_token = first.next_token;
    auto second = must(s->list_activities(page));
    REQUIRE(second.items.size() == 1);
    CHECK(second.items[0].name == "c");
    CHECK(second.next_token.empty());
    page.next_token = "garbage";
    CHECK(s->list_activities(page).code() == storage::Code::kInvalidArgument);
    CHECK(s->delete_activity("arn:aws:states:us-east-1:1:activity:b").ok());
    CHECK(s->delete_activity("arn:aws:states:us-east-1:1:activity:b").code() == storage::Code::kNotFound);
    CHECK(s->describe_activity("arn:aws:states:us-east-1:1:activity:b").code() == storage::Code::kNotFound);
    CHECK(must(s->describe_activity("arn:aws:states:us-east-1:1:activity:c")).name == "c");

    // Tokens of an activity: handed out oldest first, once.
    storage::NewStateMachine m{
        "arn:aws:states:us-east-1:1:stateMachine:M", "M", storage::MachineType::kStandard, "r", "{}", 1};
    must(s->create_state_machine(m));
    storage::NewExecution e;
    e.arn = "arn:aws:states:us-east-1:1:execution:M:x";
    e.name = "x";
    e.state_machine_arn = m.arn;
    e.state_machine_version = 1;
    e.state = "{}";
    auto created = must(s->create_execution(e));
    storage::Transition add;
    add.execution_arn = e.arn;
    add.expected_version = created.execution.version;
    add.park_until = 1'000'000;
    for (int i = 0; i < 3; ++i) {
      storage::TaskTokenRecord tok;
      tok.token = "k" + std::to_string(i);
      tok.frame_key = std::to_string(i);
      tok.activity_arn = "arn:aws:states:us-east-1:1:activity:a";
      tok.input = R"({"i":)" + std::to_string(i) + "}";
      tok.created = 30 - i;  // k2 is the oldest
      tok.heartbeat_seconds = i == 1 ? 5 : 0;
      tok.heartbeat_due = i == 1 ? 100 * kNanosPerSecond : 0;
      tok.timeout_at = i == 0 ? 50 : 0;
      add.tokens_to_add.push_back(tok);
    }
    must(s->commit_transition(add));
    CHECK(must(s->describe_execution(e.arn)).lease_expiry == 1'000'000);
    auto taken = must(s->take_activity_task("arn:aws:states:us-east-1:1:activity:a", "bob", 40));
    REQUIRE(taken);
    CHECK(taken->token == "k2");
    CHECK(taken->input == R"({"i":2})");
    CHECK(taken->worker_name == std::optional<std::string>("bob"));
    // Taking it woke the parked execution (its worker writes ActivityStarted).
    CHECK(must(s->describe_execution(e.arn)).lease_expiry == 40);
    // k0 timed out at 50: skipped at 60; k1 next.
    taken = must(s->take_activity_task("arn:aws:states:us-east-1:1:activity:a", "", 60));
    REQUIRE(taken);
    CHECK(taken->token == "k1");
    CHECK(!must(s->take_activity_task("arn:aws:states:us-east-1:1:activity:a", "", 60)));
    CHECK(!must(s->take_activity_task("arn:aws:states:us-east-1:1:activity:c", "", 60)));

    // Heartbeats move the heartbeat deadline; past it, everything is refused.
    auto beat = must(s->heartbeat_task_token("k1", 98 * kNanosPerSecond));
    CHECK(beat.last_heartbeat == 98 * kNanosPerSecond);
    CHECK(beat.heartbeat_due == 103 * kNanosPerSecond);
    CHECK(s->heartbeat_task_token("k1", 104 * kNanosPerSecond).code() == storage::Code::kConflict);
    storage::TaskTokenResult ok;
    ok.output = R"({"fine":1})";
    CHECK(s->close_task_token("k1", ok, 104 * kNanosPerSecond).code() == storage::Code::kConflict);
    CHECK(s->close_task_token("k0", ok, 60).code() == storage::Code::kConflict);  // past timeout_at
    CHECK(s->close_task_token("nope", ok, 60).code() == storage::Code::kNotFound);
    // A result is stored with the close, and only once.
    storage::TaskTokenResult bad;
    bad.success = false;
    bad.error = "E";
    bad.date = 61;
    auto closed = must(s->close_task_token("k2", bad, 61));
    CHECK(closed.status == storage::TokenStatus::kClosed);
    auto read = must(s->get_task_token("k2"));
    REQUIRE(read.result);
    CHECK(!read.result->success);
    CHECK(read.result->error == std::optional<std::string>("E"));
    CHECK(!read.result->cause);
    CHECK(read.result->date == 61);
    CHECK(read.frame_key == "2");
    CHECK(read.activity_arn == "arn:aws:states:us-east-1:1:activity:a");
    CHECK(s->close_task_token("k2", ok, 62).code() == storage::Code::kConflict);
  }
}

TEST_CASE("activities: scheduled, taken by a worker (ActivityStarted names it), answered; then nothing left") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    auto created = env.ok("CreateActivity", {{"name", "Resize"}});
    const std::string activity = std::string(created.at("activityArn").as_string());
    CHECK(activity == "arn:aws:states:us-east-1:123456789012:activity:Resize");
    CHECK(env.ok("CreateActivity", {{"name", "Resize"}}).at("activityArn") == json::value(activity));  // idempotent
    CHECK(env.ok("DescribeActivity", {{"activityArn", activity}}).at("name") == "Resize");
    CHECK(env.ok("ListActivities", {}).at("activities").as_array().size() == 1);
    // Nothing scheduled yet: an empty token.
    CHECK(env.ok("GetActivityTask", {{"activityArn", activity}}).at("taskToken") == "");

    const std::string arn =
        env.start(activity_definition(activity, R"("HeartbeatSeconds":600,)"), R"({"img":"a.png"})");
    env.rounds();
    CHECK(env.types(arn) == std::vector<std::string>{"ExecutionStarted", "TaskStateEntered", "ActivityScheduled"});
    CHECK(env.describe(arn).lease_owner.empty());  // parked
    auto sched = env.details(arn, "ActivityScheduled").at("activityScheduledEventDetails").as_object();
    CHECK(sched.at("resource") == json::value(activity));
    CHECK(sched.at("heartbeatInSeconds") == 600);

    auto task = env.ok("GetActivityTask", {{"activityArn", activity}, {"workerName", "resizer-1"}});
    const std::string token = std::string(task.at("taskToken").as_string());
    CHECK(token.size() == 36);
    CHECK(*parse_json(task.at("input").as_string()) == *parse_json(R"({"img":"a.png"})"));
    CHECK(env.ok("GetActivityTask", {{"activityArn", activity}}).at("taskToken") == "");  // taken once
    env.rounds();
    CHECK(env.types(arn).back() == "ActivityStarted");
    CHECK(env.details(arn, "ActivityStarted").at("activityStartedEventDetails").at("workerName") == "resizer-1");
    CHECK(env.describe(arn).lease_owner.empty());  // parked again

    env.ok("SendTaskHeartbeat", {{"taskToken", token}});
    env.ok("SendTaskSuccess", {{"taskToken", token}, {"output", R"({"w":10})"}});
    env.rounds();
    auto done = env.describe(arn);
    REQUIRE(done.status == storage::ExecutionStatus::kSucceeded);
    CHECK(*parse_json(*done.output) == *parse_json(R"({"img":"a.png","result":{"w":10}})"));
    CHECK(env.types(arn) == std::vector<std::string>{"ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                                                     "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                                                     "ExecutionSucceeded"});
    CHECK(env.ok("DeleteActivity", {{"activityArn", activity}}).empty());
    CHECK(env.error_code("DescribeActivity", {{"activityArn", activity}}) == "ActivityDoesNotExist");
    CHECK(env.error_code("GetActivityTask", {{"activityArn", activity}}) == "ActivityDoesNotExist");
    CHECK(env.error_code("GetActivityTask", {{"activityArn", "arn:aws:states:us-east-1:1:stateMachine:X"}}) ==
          "InvalidArn");
  }
}

TEST_CASE("activities: failure and timeout of a task nobody takes; a task on a deleted activity fails") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    const std::string activity =
        std::string(env.ok("CreateActivity", {{"name", "Slow"}}).at("activityArn").as_string());
    const std::string failing = env.start(activity_definition(activity), "{}", "Failing");
    env.rounds();
    env.clock->advance(kNanosPerSecond);
    const Nanos t0 = env.clock->now();
    const std::string lonely = env.start(activity_definition(activity, R"("TimeoutSeconds":20,)"), "{}", "Lonely");
    env.rounds();
    auto task = env.ok("GetActivityTask", {{"activityArn", activity}});  // the older one
    env.ok("SendTaskFailure", {{"taskToken", task.at("taskToken")}, {"error", "Resize.Failed"}, {"cause", "why"}});
    env.rounds();
    auto f = env.describe(failing);
    REQUIRE(f.status == storage::ExecutionStatus::kFailed);
    CHECK(f.error == std::optional<std::string>("Resize.Failed"));
    auto af = env.details(failing, "ActivityFailed").at("activityFailedEventDetails").as_object();
    CHECK(af.at("error") == "Resize.Failed");
    CHECK(af.at("cause") == "why");
    CHECK(contains(env.types(failing), "ActivityStarted"));

    env.clock->set(t0 + 21 * kNanosPerSecond);
    env.rounds();
    auto l = env.describe(lonely);
    REQUIRE(l.status == storage::ExecutionStatus::kFailed);
    CHECK(l.error == std::optional<std::string>("States.Timeout"));
    CHECK(!contains(env.types(lonely), "ActivityStarted"));
    CHECK(contains(env.types(lonely), "ActivityTimedOut"));
    CHECK(env.ok("GetActivityTask", {{"activityArn", activity}}).at("taskToken") == "");

    env.ok("DeleteActivity", {{"activityArn", activity}});
    const std::string orphan = env.start(activity_definition(activity), "{}", "Orphan");
    env.rounds();
    auto o = env.describe(orphan);
    REQUIRE(o.status == storage::ExecutionStatus::kFailed);
    CHECK(o.error == std::optional<std::string>("States.Runtime"));
    CHECK(o.cause == std::optional<std::string>("An error occurred while executing the state 'Work' (entered at the "
                                                "event id #2). The activity " +
                                                activity + " does not exist."));
    CHECK(env.types(orphan) == std::vector<std::string>{"ExecutionStarted", "TaskStateEntered", "ExecutionFailed"});
  }
}

TEST_CASE("activities: a long poll from another thread gets the task the worker schedules meanwhile") {
  Env env(true);
  const std::string activity = std::string(env.ok("CreateActivity", {{"name", "Poll"}}).at("activityArn").as_string());
  ServiceOptions so = env.service->options();
  so.activity_poll_timeout = 10 * kNanosPerSecond;
  so.activity_poll_interval = 5 * kNanosPerMilli;
  Service poller(env.store, so);
  std::atomic<bool> polled{false};
  std::string token, input;
  std::thread activity_worker([&] {
    auto r = poller.get_activity_task({{"activityArn", activity}, {"workerName", "remote"}});
    if (r.ok()) {
      token = std::string(r.response().at("taskToken").as_string());
      if (r.response().contains("input")) input = std::string(r.response().at("input").as_string());
    }
    polled = true;
  });
  const std::string arn = env.start(activity_definition(activity), R"({"n":1})");
  for (int i = 0; i < 2000 && !polled; ++i) {
    env.rounds(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  activity_worker.join();
  env.rounds();  // ActivityStarted
  REQUIRE(token.size() == 36);
  CHECK(input == R"({"n":1})");
  env.ok("SendTaskSuccess", {{"taskToken", token}, {"output", "7"}});
  env.rounds();
  CHECK(env.describe(arn).status == storage::ExecutionStatus::kSucceeded);
  CHECK(env.details(arn, "ActivityStarted").at("activityStartedEventDetails").at("workerName") == "remote");
}

TEST_CASE("callbacks: a lambda:invoke.waitForTaskToken function is called once its token is stored and may answer") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Env env(sqlite);
    Service* service = env.service.get();
    std::string seen;
    env.engine->functions().add("Approver", [&](const json::value& event, const InvocationContext&) -> json::value {
      seen = std::string(event.at("token").as_string());
      // Answers at once, from inside the call: the token must already be stored.
      auto r = service->send_task_success({{"taskToken", seen}, {"output", R"({"approved":true})"}});
      if (!r.ok()) throw TaskError("Unexpected", r.error().code);
      return json::object{{"ignored", true}};
    });
    const std::string def = R"({"StartAt":"Ask","States":{"Ask":{"Type":"Task",
      "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters":{"FunctionName":"Approver","Payload":{"token.$":"$$.Task.Token"}},"End":true}}})";
    const std::string arn = env.start(def, "{}", "Lambda");
    env.rounds(6);
    CHECK(!seen.empty());
    auto done = env.describe(arn);
    REQUIRE(done.status == storage::ExecutionStatus::kSucceeded);
    CHECK(*parse_json(*done.output) == *parse_json(R"({"approved":true})"));

    // A function that cannot be called fails the task.
    const std::string def2 = R"({"StartAt":"Ask","States":{"Ask":{"Type":"Task",
      "Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters":{"FunctionName":"Missing","Payload":{"token.$":"$$.Task.Token"}},"End":true}}})";
    const std::string arn2 = env.start(def2, "{}", "Missing");
    env.rounds(6);
    auto failed = env.describe(arn2);
    REQUIRE(failed.status == storage::ExecutionStatus::kFailed);
    CHECK(failed.error == std::optional<std::string>("Lambda.ResourceNotFoundException"));
  }
}

TEST_CASE("sqlite store: a version 4 database gains the callback and activity columns, its tokens kept") {
  ServiceTempDir dir;
  const std::string path = dir.file("v4.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA journal_mode = WAL");
    for (int i = 0; i < 4; ++i) db.exec(storage::internal::kMigrations[i].sql);
    db.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'");
    db.exec("PRAGMA application_id = " + std::to_string(storage::kApplicationId));
    db.exec("PRAGMA user_version = 4");
    db.exec(R"(INSERT INTO state_machines VALUES ('arn:m', 'M', 'STANDARD', 'arn:role', 1, 1, 0);
               INSERT INTO state_machine_versions VALUES ('arn:m', 1, '{}', 1);
               INSERT INTO executions (seq, arn, name, state_machine_arn, state_machine_version, status,
                 input, start_date, state, version, last_event_id)
                 VALUES (3, 'arn:x', 'x', 'arn:m', 1, 'RUNNING', '{}', 5, 'st', 1, 0);
               INSERT INTO task_tokens VALUES ('old-token', 3, '0', 'OPEN');)");
  }
  std::shared_ptr<storage::Store> store = must(storage::open_sqlite(path));
  auto token = must(store->get_task_token("old-token"));
  CHECK(token.execution_arn == "arn:x");
  CHECK(token.status == storage::TokenStatus::kOpen);
  CHECK(token.activity_arn.empty());
  CHECK(token.timeout_at == 0);
  CHECK(!token.result);
  CHECK(!token.worker_name);
  CHECK(!token.acknowledged);
  storage::TaskTokenResult result;
  result.output = "1";
  CHECK(must(store->close_task_token("old-token", result, 10)).status == storage::TokenStatus::kClosed);
  must(store->create_activity({"arn:aws:states:us-east-1:1:activity:a", "a", 1}));
  store.reset();
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == storage::kSchemaVersion);
  CHECK(storage::kSchemaVersion >= 5);  // and on to the newest
}
