// Distributed Map runs: under a Worker, a DISTRIBUTED Map's items run as
// child executions recorded in the store, each with its own history; the
// map run is a store entity (DescribeMapRun, ListMapRuns) whose counts the
// store keeps; tolerance, MaxConcurrency, a restart mid-run and StopExecution
// behave as AWS's do. Time is virtual (ManualClock).
#include <SQLiteCpp/SQLiteCpp.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <map>
#include <random>

#include "engine/event_codec.h"
#include "engine/service.h"
#include "engine/snapshot.h"
#include "engine/worker.h"
#include "engine_test_util.h"
#include "stored_execution.h"
#include "storage/sqlite_schema.h"

using namespace stepwise;
using stepwise::testing::CountingRandom;
using stepwise::testing::parse_or_fail;
using stepwise::testing::must;
using stepwise::testing::record_started;
using stepwise::testing::stored_history;

namespace {

constexpr const char* kMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:Fan";

// Each item: a task (counted per item), then a Choice that fails items marked "fail".
std::string fan_definition(const std::string& map_fields) {
  return R"({"StartAt":"Each","States":{
    "Each":{"Type":"Map","ItemsPath":"$.items",)" +
         map_fields + R"J(
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
        "StartAt":"Work","States":{
          "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Work","Next":"Check"},
          "Check":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.fail","IsPresent":true},
                     {"Variable":"$.fail","BooleanEquals":true}],"Next":"Boom"}],
                   "Default":"Ok"},
          "Boom":{"Type":"Fail","Error":"Item.Failed","Cause":"bad item"},
          "Ok":{"Type":"Pass","Parameters":{"doubled.$":"States.MathAdd($.n, $.n)"},"End":true}}},
      "End":true}}})J";
}

struct Calls {
  std::map<long long, int> per_item;  // by n
};

void register_work(Engine& engine, Calls& calls) {
  engine.functions().add("Work", [&calls](const json::value& ev, const InvocationContext&) -> json::value {
    ++calls.per_item[ev.at("n").to_number<long long>()];
    return ev;
  });
}

EngineOptions options_at(std::shared_ptr<ManualClock> clock) { return stepwise::testing::virtual_time_options(std::move(clock)); }


std::string items_input(int n, std::vector<int> failing = {}) {
  json::array items;
  for (int i = 1; i <= n; ++i) {
    json::object o{{"n", i}};
    if (std::find(failing.begin(), failing.end(), i) != failing.end()) o["fail"] = true;
    items.push_back(std::move(o));
  }
  return to_json(json::value(json::object{{"items", std::move(items)}}));
}

// Records the machine (once) and a new execution, as start-execution does.
std::string start(storage::Store& store, Engine& engine, const std::string& definition, const std::string& name,
                  const std::string& input) {
  return record_started(store, engine, "Fan", definition, name, input);
}

std::vector<std::string> history_types(storage::Store& store, const std::string& arn) {
  std::vector<std::string> out;
  for (const auto& e : stored_history(store, arn)) out.push_back(e.type);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void drain(Worker& w, int rounds = 10000) {
  for (int i = 0; i < rounds; ++i) {
    (void)w.run_once(0);
    if (w.active() == 0 && !w.paused() && i > 0) return;
  }
}

std::vector<storage::ExecutionSummary> children(storage::Store& store, const std::string& map_run_arn) {
  storage::ExecutionFilter f;
  f.map_run_arn = map_run_arn;
  return must(store.list_executions(f, storage::PageRequest{1000, ""})).items;
}

// The same definition and input run in memory (no store): the old in-process path.
ExecutionResult run_in_memory(const std::string& definition, const std::string& input) {
  Engine engine(options_at(std::make_shared<ManualClock>()));
  Calls calls;
  register_work(engine, calls);
  RunOptions ro;
  ro.state_machine_name = "Fan";
  return engine.run(parse_or_fail(definition), *parse_json(input), ro);
}

struct Scratch {
  std::filesystem::path dir;
  Scratch() {
    dir = std::filesystem::temp_directory_path() /
          ("stepwise-maprun-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::shared_ptr<storage::Store> open_store(bool sqlite, const Scratch& scratch) {
  if (sqlite) return must(storage::open_sqlite((scratch.dir / "map.db").string()));
  return must(storage::open_memory());
}

// A database as Stepwise wrote it at schema `version`, with state machine
// 'arn:m' (version 1) recorded.
SQLite::Database old_database(const std::string& path, int version) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL");
  for (int i = 0; i < version; ++i) db.exec(storage::internal::kMigrations[i].sql);
  db.exec("UPDATE meta SET value = '" + std::to_string(version) + "' WHERE key = 'schema_version'");
  db.exec("PRAGMA application_id = " + std::to_string(storage::kApplicationId));
  db.exec("PRAGMA user_version = " + std::to_string(version));
  db.exec(R"(INSERT INTO state_machines VALUES ('arn:m', 'M', 'STANDARD', 'arn:role', 1, 1, 0);
             INSERT INTO state_machine_versions VALUES ('arn:m', 1, '{}', 1);)");
  return db;
}

// What the tests of map runs over files share: a SQLite store in a scratch
// directory, a manual clock, and engine options whose data directory (where
// ItemReader reads and ResultWriter writes) is scratch/data.
struct FileRun {
  Scratch scratch;
  std::shared_ptr<storage::Store> store = open_store(true, scratch);
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  EngineOptions eo = data_dir_options(clock, scratch);

  static EngineOptions data_dir_options(std::shared_ptr<ManualClock> clock, const Scratch& scratch) {
    EngineOptions o = options_at(std::move(clock));
    o.data_dir = (scratch.dir / "data").string();
    return o;
  }
};

// A RUNNING execution of 'arn:m' as an old schema holds it, started at
// 4 + seq; with `map_run_arn`, the first child (of 'arn:m/Each') of that map
// run (schema 7 on).
void insert_running(SQLite::Database& db, int seq, const std::string& arn, const std::string& name,
                    const std::string& map_run_arn = "") {
  const bool child = !map_run_arn.empty();
  SQLite::Statement x(db, std::string("INSERT INTO executions (seq, arn, name, state_machine_arn, "
                                      "state_machine_version, status, input, start_date, state, version, "
                                      "last_event_id") +
                              (child ? ", map_run_arn, item_index" : "") + ") VALUES (?, ?, ?, ?, 1, 'RUNNING', " +
                              "'{}', ?, 'st', 1, 0" + (child ? ", ?, 0" : "") + ")");
  x.bind(1, seq);
  x.bind(2, arn);
  x.bind(3, name);
  x.bind(4, child ? "arn:m/Each" : "arn:m");
  x.bind(5, 4 + seq);
  if (child) x.bind(6, map_run_arn);
  x.exec();
}

}  // namespace

TEST_CASE("map run: a DISTRIBUTED Map's items run as child executions with their own history") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Scratch scratch;
    auto store = open_store(sqlite, scratch);
    auto clock = std::make_shared<ManualClock>();
    Engine engine(options_at(clock));
    Calls calls;
    register_work(engine, calls);
    const std::string def = fan_definition(R"("Label":"Fan","MaxConcurrency":2,)");
    const std::string input = items_input(5);
    const std::string arn = start(*store, engine, def, "one", input);
    Worker worker(engine, store, WorkerOptions{.owner = "w1"});
    drain(worker);

    auto parent = must(store->describe_execution(arn));
    REQUIRE(parent.status == storage::ExecutionStatus::kSucceeded);
    // The same result as the in-process run.
    auto direct = run_in_memory(def, input);
    CHECK(*parent.output == to_json(direct.output));
    CHECK(*parent.output == R"([{"doubled":2},{"doubled":4},{"doubled":6},{"doubled":8},{"doubled":10}])");
    const auto types = history_types(*store, arn);
    CHECK(has(types, "MapRunStarted"));
    CHECK(has(types, "MapRunSucceeded"));
    CHECK(!has(types, "TaskStateEntered"));  // the items' states are in the children's histories

    auto runs = must(store->list_map_runs(arn, {}));
    REQUIRE(runs.items.size() == 1);
    const auto& run = runs.items[0];
    CHECK(run.arn.rfind("arn:aws:states:us-east-1:123456789012:mapRun:Fan/Fan:", 0) == 0);
    CHECK(run.status == storage::MapRunStatus::kSucceeded);
    CHECK(run.total == 5);
    CHECK(run.launched == 5);
    CHECK(run.succeeded == 5);
    CHECK(run.running == 0);
    CHECK(run.failed == 0);
    CHECK(run.stop_date.has_value());
    CHECK(run.max_concurrency == 2);
    CHECK(run.state_machine_arn == std::string(kMachineArn) + "/Fan");

    auto kids = children(*store, run.arn);
    REQUIRE(kids.size() == 5);
    for (const auto& k : kids) {
      CHECK(k.arn.rfind("arn:aws:states:us-east-1:123456789012:execution:Fan/Fan:", 0) == 0);
      CHECK(k.status == storage::ExecutionStatus::kSucceeded);
      auto rec = must(store->describe_execution(k.arn));
      CHECK(rec.map_run_arn == run.arn);
      CHECK(rec.item_index >= 0);
      const auto kt = history_types(*store, k.arn);
      REQUIRE(kt.size() >= 3);
      CHECK(kt.front() == "ExecutionStarted");
      CHECK(has(kt, "LambdaFunctionSucceeded"));
      CHECK(kt.back() == "ExecutionSucceeded");
    }
    for (int i = 1; i <= 5; ++i) CHECK(calls.per_item[i] == 1);
  }
}

TEST_CASE("map run: DescribeMapRun, ListMapRuns, ListExecutions by mapRunArn and DescribeExecution's mapRunArn") {
  auto store = must(storage::open_memory());
  std::shared_ptr<storage::Store> shared = std::move(store);
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  Calls calls;
  register_work(engine, calls);
  const std::string def = fan_definition(R"("ToleratedFailureCount":1,)");
  const std::string arn = start(*shared, engine, def, "svc", items_input(3, {2}));
  Worker worker(engine, shared, WorkerOptions{.owner = "w1"});
  drain(worker);
  REQUIRE(must(shared->describe_execution(arn)).status == storage::ExecutionStatus::kSucceeded);

  ServiceOptions so;
  so.clock = clock;
  Service service(shared, so);
  auto listed = service.list_map_runs({{"executionArn", arn}});
  REQUIRE(listed.ok());
  const auto& runs = listed.response().at("mapRuns").as_array();
  REQUIRE(runs.size() == 1);
  const std::string run_arn(runs[0].at("mapRunArn").as_string());
  CHECK(runs[0].at("executionArn").as_string() == arn);
  CHECK(runs[0].at("stateMachineArn").as_string() == std::string(kMachineArn) + "/Each");
  CHECK(runs[0].as_object().contains("startDate"));
  CHECK(runs[0].as_object().contains("stopDate"));

  auto described = service.describe_map_run({{"mapRunArn", run_arn}});
  REQUIRE(described.ok());
  const auto& d = described.response();
  CHECK(d.at("status").as_string() == "SUCCEEDED");
  CHECK(d.at("executionArn").as_string() == arn);
  CHECK(d.at("maxConcurrency").to_number<int>() == 0);
  CHECK(d.at("toleratedFailureCount").to_number<int>() == 1);
  const auto& ec = d.at("executionCounts").as_object();
  CHECK(ec.at("total").to_number<int>() == 3);
  CHECK(ec.at("succeeded").to_number<int>() == 2);
  CHECK(ec.at("failed").to_number<int>() == 1);
  CHECK(ec.at("running").to_number<int>() == 0);
  CHECK(ec.at("pending").to_number<int>() == 0);
  for (const char* k : {"timedOut", "aborted", "resultsWritten", "failuresNotRedrivable", "pendingRedrive"})
    CHECK(ec.contains(k));
  CHECK(d.at("itemCounts").as_object().at("total").to_number<int>() == 3);

  auto kids = service.list_executions({{"mapRunArn", run_arn}});
  REQUIRE(kids.ok());
  const auto& ks = kids.response().at("executions").as_array();
  REQUIRE(ks.size() == 3);
  auto failed = service.list_executions({{"mapRunArn", run_arn}, {"statusFilter", "FAILED"}});
  REQUIRE(failed.ok());
  REQUIRE(failed.response().at("executions").as_array().size() == 1);
  const std::string failed_arn(failed.response().at("executions").as_array()[0].at("executionArn").as_string());
  auto child = service.describe_execution({{"executionArn", failed_arn}});
  REQUIRE(child.ok());
  CHECK(child.response().at("mapRunArn").as_string() == run_arn);
  CHECK(child.response().at("status").as_string() == "FAILED");
  CHECK(child.response().at("error").as_string() == "Item.Failed");
  auto history = service.get_execution_history({{"executionArn", failed_arn}});
  REQUIRE(history.ok());
  CHECK(history.response().at("events").as_array().back().at("type").as_string() == "ExecutionFailed");

  auto missing = service.describe_map_run({{"mapRunArn", run_arn + "x"}});
  REQUIRE(!missing.ok());
  CHECK(missing.error().code == "ResourceNotFound");
  auto missing_list = service.list_executions({{"mapRunArn", run_arn + "x"}});
  REQUIRE(!missing_list.ok());
  CHECK(missing_list.error().code == "ResourceNotFound");
}

TEST_CASE("map run: tolerated failures give the errors in the result; over the threshold the Map fails") {
  for (bool sqlite : {false, true}) {
    CAPTURE(sqlite);
    Scratch scratch;
    auto store = open_store(sqlite, scratch);
    auto clock = std::make_shared<ManualClock>();
    Engine engine(options_at(clock));
    Calls calls;
    register_work(engine, calls);
    const std::string def = fan_definition(R"("ToleratedFailureCount":1,)");
    // Within: one failure of four.
    const std::string in1 = items_input(4, {3});
    const std::string ok_arn = start(*store, engine, def, "within", in1);
    // Over: two failures.
    const std::string in2 = items_input(4, {1, 3});
    const std::string over_arn = start(*store, engine, def, "over", in2);
    Worker worker(engine, store, WorkerOptions{.owner = "w1"});
    drain(worker);

    auto ok = must(store->describe_execution(ok_arn));
    REQUIRE(ok.status == storage::ExecutionStatus::kSucceeded);
    CHECK(*ok.output == to_json(run_in_memory(def, in1).output));
    CHECK(ok.output->find(R"({"Error":"Item.Failed","Cause":"bad item"})") != std::string::npos);
    auto ok_run = must(store->list_map_runs(ok_arn, {})).items.at(0);
    CHECK(ok_run.status == storage::MapRunStatus::kSucceeded);
    CHECK(ok_run.failed == 1);
    CHECK(ok_run.succeeded == 3);

    auto over = must(store->describe_execution(over_arn));
    REQUIRE(over.status == storage::ExecutionStatus::kFailed);
    auto direct = run_in_memory(def, in2);
    CHECK(*over.error == "States.ExceedToleratedFailureThreshold");
    CHECK(*over.error == direct.error);
    CHECK(*over.cause == direct.cause);
    auto over_run = must(store->list_map_runs(over_arn, {})).items.at(0);
    CHECK(over_run.status == storage::MapRunStatus::kFailed);
    CHECK(over_run.failed == 2);
    const auto types = history_types(*store, over_arn);
    CHECK(has(types, "MapRunFailed"));
    CHECK(has(types, "MapStateFailed"));
  }
}

TEST_CASE("map run: without a tolerance the first failure fails the Map with the child's error") {
  auto store = std::shared_ptr<storage::Store>(must(storage::open_memory()));
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  Calls calls;
  register_work(engine, calls);
  const std::string def = fan_definition("");
  const std::string input = items_input(3, {2});
  const std::string arn = start(*store, engine, def, "strict", input);
  Worker worker(engine, store, WorkerOptions{.owner = "w1"});
  drain(worker);
  auto rec = must(store->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kFailed);
  auto direct = run_in_memory(def, input);
  CHECK(*rec.error == "Item.Failed");
  CHECK(*rec.error == direct.error);
  CHECK(*rec.cause == direct.cause);
}

TEST_CASE("map run: MaxConcurrency bounds the children running at once") {
  auto store = std::shared_ptr<storage::Store>(must(storage::open_memory()));
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  Calls calls;
  register_work(engine, calls);
  // Each item waits a minute: children overlap unless held back.
  const std::string def = R"({"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items",
      "MaxConcurrency":3,"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"Nap","States":{
        "Nap":{"Type":"Wait","Seconds":60,"End":true}}},"End":true}}})";
  const std::string arn = start(*store, engine, def, "bounded", items_input(10));
  Worker worker(engine, store, WorkerOptions{.owner = "w1"});
  std::int64_t peak = 0;
  std::string run_arn;
  for (int i = 0; i < 10000; ++i) {
    (void)worker.run_once(0);
    if (run_arn.empty()) {
      auto runs = must(store->list_map_runs(arn, {}));
      if (!runs.items.empty()) run_arn = runs.items[0].arn;
    }
    if (!run_arn.empty()) {
      auto run = must(store->describe_map_run(run_arn));
      peak = std::max(peak, run.running);
      CHECK(run.running <= 3);
    }
    if (worker.active() == 0 && i > 0) break;
  }
  CHECK(peak == 3);
  CHECK(must(store->describe_execution(arn)).status == storage::ExecutionStatus::kSucceeded);
  CHECK(must(store->describe_map_run(run_arn)).succeeded == 10);
}

TEST_CASE("map run: a worker killed mid-run is replaced; finished children are not run again") {
  Scratch scratch;
  auto store = open_store(true, scratch);
  auto clock = std::make_shared<ManualClock>();
  const std::string def = fan_definition(R"("MaxConcurrency":1,)");
  const std::string input = items_input(6);
  std::string arn, run_arn;
  Calls calls;  // across both workers
  {
    Engine engine(options_at(clock));
    register_work(engine, calls);
    arn = start(*store, engine, def, "killed", input);
    Worker worker(engine, store, WorkerOptions{.owner = "host-a:1:a"});
    for (int i = 0; i < 10000; ++i) {
      (void)worker.run_once(0);
      auto runs = must(store->list_map_runs(arn, {}));
      if (!runs.items.empty() && runs.items[0].succeeded >= 3) {
        run_arn = runs.items[0].arn;
        break;
      }
    }
    REQUIRE(!run_arn.empty());
    // Killed here: no shutdown, leases left to expire.
  }
  auto mid = must(store->describe_map_run(run_arn));
  CHECK(mid.status == storage::MapRunStatus::kRunning);
  CHECK(mid.succeeded >= 3);
  CHECK(mid.succeeded < 6);
  clock->advance(60 * kNanosPerSecond);
  Engine engine(options_at(clock));
  register_work(engine, calls);
  Worker worker(engine, store, WorkerOptions{.owner = "host-b:2:b"});
  drain(worker);
  auto rec = must(store->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
  CHECK(*rec.output == to_json(run_in_memory(def, input).output));
  // One map run, six children, each item's work done once (a child in flight
  // at the kill would be the only one to run twice; with MaxConcurrency 1 and
  // the kill right after a child ended, none was).
  CHECK(must(store->list_map_runs(arn, {})).items.size() == 1);
  CHECK(children(*store, run_arn).size() == 6);
  for (int i = 1; i <= 6; ++i) {
    CAPTURE(i);
    CHECK(calls.per_item[i] >= 1);
    if (i <= mid.succeeded) CHECK(calls.per_item[i] == 1);
  }
  const auto run = must(store->describe_map_run(run_arn));
  CHECK(run.succeeded == 6);
  CHECK(run.launched == 6);
}

TEST_CASE("map run: StopExecution of the parent aborts the map run and its running children") {
  auto store = std::shared_ptr<storage::Store>(must(storage::open_memory()));
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  const std::string def = R"({"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items",
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"Nap","States":{
        "Nap":{"Type":"Wait","Seconds":3600,"End":true}}},"End":true}}})";
  const std::string arn = start(*store, engine, def, "stopped", items_input(4));
  EngineOptions real = options_at(clock);
  real.virtual_time = false;  // the Waits stay pending
  Engine live(real);
  Worker worker(live, store, WorkerOptions{.owner = "w1", .hibernate_after = 0});
  std::string run_arn;
  for (int i = 0; i < 200 && run_arn.empty(); ++i) {
    (void)worker.run_once(0);
    auto runs = must(store->list_map_runs(arn, {}));
    if (!runs.items.empty() && runs.items[0].running == 4) run_arn = runs.items[0].arn;
  }
  REQUIRE(!run_arn.empty());
  ServiceOptions so;
  so.clock = clock;
  Service service(store, so);
  auto stopped = service.stop_execution({{"executionArn", arn}});
  REQUIRE(stopped.ok());
  for (int i = 0; i < 20; ++i) (void)worker.run_once(0);
  CHECK(must(store->describe_execution(arn)).status == storage::ExecutionStatus::kAborted);
  auto run = must(store->describe_map_run(run_arn));
  CHECK(run.status == storage::MapRunStatus::kAborted);
  CHECK(run.aborted == 4);
  CHECK(run.running == 0);
  for (const auto& k : children(*store, run_arn)) {
    CHECK(k.status == storage::ExecutionStatus::kAborted);
    CHECK(history_types(*store, k.arn).back() == "ExecutionAborted");
  }
}

TEST_CASE("map run: a schema 5 database is migrated to 6, its executions kept") {
  Scratch scratch;
  const std::string path = (scratch.dir / "v5.db").string();
  const std::string arn = "arn:aws:states:us-east-1:123456789012:execution:M:old";
  {
    SQLite::Database db = old_database(path, 5);
    insert_running(db, 7, arn, "old");
  }
  {
    auto store = must(storage::open_sqlite(path));
    auto rec = must(store->describe_execution(arn));
    CHECK(rec.map_run_arn.empty());
    CHECK(rec.item_index == -1);
    storage::MapRunRecord run;
    run.arn = "arn:aws:states:us-east-1:123456789012:mapRun:M/Each:1";
    run.execution_arn = arn;
    run.state_name = "Each";
    run.state_machine_arn = "arn:m/Each";
    run.definition = "{}";
    run.total = 1;
    auto created = must(store->create_map_run(run));
    CHECK(created.status == storage::MapRunStatus::kRunning);
    storage::NewExecution child;
    child.arn = "arn:aws:states:us-east-1:123456789012:execution:M/Each:c1";
    child.name = "c1";
    child.state_machine_arn = "arn:m/Each";
    child.state_machine_version = 1;
    child.state = "st";
    child.map_run_arn = run.arn;
    child.item_index = 0;
    must(store->create_execution(child));
    auto after = must(store->describe_map_run(run.arn));
    CHECK(after.launched == 1);
    CHECK(after.running == 1);
    storage::Transition t;
    t.execution_arn = child.arn;
    t.expected_version = 1;
    storage::ExecutionOutcome o;
    o.status = storage::ExecutionStatus::kSucceeded;
    o.output = "1";
    o.stop_date = 9;
    t.outcome = o;
    must(store->commit_transition(t));
    after = must(store->describe_map_run(run.arn));
    CHECK(after.running == 0);
    CHECK(after.succeeded == 1);
    auto kids = must(store->list_map_run_children(run.arn, 0, 10));
    REQUIRE(kids.size() == 1);
    CHECK(*kids[0].output == "1");
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == storage::kSchemaVersion);
  CHECK(storage::kSchemaVersion >= 6);  // migrated on to the newest
  CHECK(db.execAndGet("SELECT count(*) FROM map_runs").getInt() == 1);
}

TEST_CASE("map run: RedriveExecution of the parent reruns only the children that did not succeed") {
  auto store = std::shared_ptr<storage::Store>(must(storage::open_memory()));
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  // Items marked "flaky" fail their first call, then succeed.
  std::map<long long, int> calls;
  engine.functions().add("Flaky", [&calls](const json::value& ev, const InvocationContext&) -> json::value {
    const long long n = ev.at("n").to_number<long long>();
    if (++calls[n] == 1 && ev.as_object().contains("flaky")) throw TaskError("Item.Flaky", "first call");
    return json::object{{"n", n}};
  });
  const std::string def = R"({"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items",
      "MaxConcurrency":1,"ToleratedFailureCount":0,
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"Work","States":{
        "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky","End":true}}},
      "End":true}}})";
  const std::string input = R"({"items":[{"n":1},{"n":2,"flaky":true},{"n":3},{"n":4}]})";
  const std::string arn = start(*store, engine, def, "redriven", input);
  {
    Worker worker(engine, store, WorkerOptions{.owner = "w1"});
    drain(worker);
  }
  auto failed = must(store->describe_execution(arn));
  REQUIRE(failed.status == storage::ExecutionStatus::kFailed);
  CHECK(*failed.error == "States.ExceedToleratedFailureThreshold");
  auto run = must(store->list_map_runs(arn, {})).items.at(0);
  CHECK(run.status == storage::MapRunStatus::kFailed);
  CHECK(run.failed == 1);
  CHECK(run.succeeded == 1);
  CHECK(run.launched == 2);  // MaxConcurrency 1: the failure stopped the run before items 3 and 4

  ServiceOptions so;
  so.clock = clock;
  Service service(store, so);
  auto redriven = service.redrive_execution({{"executionArn", arn}});
  REQUIRE(redriven.ok());
  Worker worker(engine, store, WorkerOptions{.owner = "w2"});
  drain(worker);
  auto rec = must(store->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
  CHECK(*rec.output == R"([{"n":1},{"n":2},{"n":3},{"n":4}])");
  const auto types = history_types(*store, arn);
  CHECK(has(types, "MapRunRedriven"));
  CHECK(must(store->list_map_runs(arn, {})).items.size() == 1);  // the same map run, redriven
  auto after = must(store->describe_map_run(run.arn));
  CHECK(after.status == storage::MapRunStatus::kSucceeded);
  CHECK(after.redrive_count == 1);
  CHECK(after.succeeded == 4);
  CHECK(after.failed == 0);
  CHECK(calls[1] == 1);  // succeeded the first time: not run again
  CHECK(calls[2] == 2);  // failed, then redriven
  CHECK(calls[3] == 1);
  CHECK(calls[4] == 1);
  // The failed child was redriven (its own redriveCount), not replaced.
  auto kids = children(*store, run.arn);
  CHECK(kids.size() == 4);
  int redriven_children = 0;
  for (const auto& k : kids) redriven_children += k.redrive_count == 1;
  CHECK(redriven_children == 1);
}

TEST_CASE("map run: a child input over the payload limit fails that child; the Map fails with it") {
  auto store = std::shared_ptr<storage::Store>(must(storage::open_memory()));
  auto clock = std::make_shared<ManualClock>();
  EngineOptions eo = options_at(clock);
  eo.payload_limit = 64;
  Engine engine(eo);
  // ItemSelector makes the second item's input (ninety-odd bytes) larger than the limit.
  const std::string def = R"J({"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items",
      "ItemSelector":{"v.$":"$$.Map.Item.Value","pad.$":"States.ArrayRange(1, $$.Map.Item.Value, 1)"},
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"P","States":{
        "P":{"Type":"Pass","End":true}}},"End":true}}})J";
  const std::string arn = start(*store, engine, def, "big", R"({"items":[1,30]})");
  Worker worker(engine, store, WorkerOptions{.owner = "w1"});
  drain(worker);
  auto rec = must(store->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kFailed);
  CHECK(*rec.error == "States.DataLimitExceeded");
  auto runs = must(store->list_map_runs(arn, {})).items;
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].failed == 1);
  CHECK(runs[0].status == storage::MapRunStatus::kFailed);
  for (const auto& k : children(*store, runs[0].arn)) {
    const auto kt = history_types(*store, k.arn);
    CHECK(kt.front() == "ExecutionStarted");
    CHECK(kt.back() == (k.status == storage::ExecutionStatus::kSucceeded ? "ExecutionSucceeded" : "ExecutionFailed"));
  }
}

TEST_CASE("map run: under a worker, ResultWriter writes the records of the children that really ran") {
  FileRun run_setup;
  auto& [scratch, store, clock, eo] = run_setup;
  Engine engine(eo);
  Calls calls;
  register_work(engine, calls);
  // One failing item is tolerated; the results go to files under out/runs/.
  const std::string def = fan_definition(
      R"("ToleratedFailureCount":1,"ResultWriter":{"Resource":"arn:aws:states:::s3:putObject",
         "Parameters":{"Bucket":"out","Prefix.$":"$.prefix"}},)");
  std::string input = items_input(4, {3});
  input.insert(input.size() - 1, R"(,"prefix":"runs")");
  const std::string arn = start(*store, engine, def, "written", input);
  Worker worker(engine, store, WorkerOptions{.owner = "w1"});
  drain(worker);

  auto parent = must(store->describe_execution(arn));
  REQUIRE(parent.status == storage::ExecutionStatus::kSucceeded);
  auto out = parse_json(*parent.output);
  REQUIRE(out);
  auto runs = must(store->list_map_runs(arn, {}));
  REQUIRE(runs.items.size() == 1);
  const std::string run_arn = runs.items[0].arn;
  CHECK(out->at("MapRunArn") == json::value(run_arn));
  const std::string manifest_key = std::string(out->at("ResultWriterDetails").at("Key").as_string());
  CHECK(out->at("ResultWriterDetails").at("Bucket") == "out");
  CHECK(manifest_key.rfind("runs/", 0) == 0);

  // The SUCCEEDED file names the children that really ran, as the store has them.
  auto kids = children(*store, run_arn);
  REQUIRE(kids.size() == 4);
  std::set<std::string> kid_arns;
  for (const auto& k : kids) kid_arns.insert(k.arn);
  const auto dir = (std::filesystem::path(eo.data_dir) / "out" / manifest_key).parent_path();
  std::size_t succeeded = 0, failed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    if (file == "manifest.json") continue;
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto records = parse_json(text);
    REQUIRE(records);
    REQUIRE(records->is_array());
    for (const auto& r : records->as_array()) {
      CHECK(kid_arns.count(std::string(r.at("ExecutionArn").as_string())) == 1);
      if (file.rfind("SUCCEEDED_", 0) == 0) {
        ++succeeded;
        CHECK(r.at("Status") == "SUCCEEDED");
      } else if (file.rfind("FAILED_", 0) == 0) {
        ++failed;
        CHECK(r.at("Status") == "FAILED");
        CHECK(r.at("Error") == "Item.Failed");
      }
    }
  }
  CHECK(succeeded == 3);
  CHECK(failed == 1);
}

namespace {

// A Map reading `key` of bucket "in" (JSONL), batches of 4 items, each batch
// a child whose Sum task adds up its items' n.
std::string streamed_definition(const std::string& map_fields) {
  return R"({"StartAt":"Each","States":{"Each":{"Type":"Map",)" + map_fields + R"J(
      "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL"},
                    "Parameters":{"Bucket":"in","Key.$":"$.key"}},
      "ItemBatcher":{"MaxItemsPerBatch":4,"BatchInput":{"from.$":"$.key"}},
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
        "StartAt":"Sum","States":{
          "Sum":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Sum","End":true}}},
      "End":true}}})J";
}

void write_items(const std::filesystem::path& file, int n) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file);
  for (int i = 0; i < n; ++i) out << "{\"n\":" << i << "}\n";
}

void register_sum(Engine& engine, std::map<long long, int>& calls) {
  engine.functions().add("Sum", [&calls](const json::value& ev, const InvocationContext&) -> json::value {
    long long sum = 0;
    for (const auto& item : ev.at("Items").as_array()) sum += item.at("n").to_number<long long>();
    ++calls[ev.at("Items").as_array().front().at("n").to_number<long long>()];  // by the batch's first item
    return json::value(sum);
  });
}

// Runs the first worker until the parent `arn`'s map run has three children
// succeeded; returns the map run's ARN. The caller then drops the worker as
// a killed process: no shutdown, its leases left to expire.
std::string run_until_three_succeeded(Worker& worker, storage::Store& store, const std::string& arn) {
  std::string run_arn;
  for (int i = 0; i < 10000 && run_arn.empty(); ++i) {
    (void)worker.run_once(0);
    auto runs = must(store.list_map_runs(arn, {}));
    if (!runs.items.empty() && runs.items[0].succeeded >= 3) run_arn = runs.items[0].arn;
  }
  return run_arn;
}

// Another worker process, started once the killed one's leases expired,
// runs everything to the end.
void take_over(const std::shared_ptr<storage::Store>& store, ManualClock& clock, const EngineOptions& eo,
               std::map<long long, int>& calls, const std::string& owner) {
  clock.advance(60 * kNanosPerSecond);
  Engine engine(eo);
  register_sum(engine, calls);
  Worker worker(engine, store, WorkerOptions{.owner = owner});
  drain(worker);
}

}  // namespace

TEST_CASE("map run: the worker reads the items from the file as it launches children; a restart skips those launched") {
  FileRun run_setup;
  auto& [scratch, store, clock, eo] = run_setup;
  write_items(scratch.dir / "data" / "in" / "items.jsonl", 30);  // 8 batches: 7 of 4, then 2
  const std::string def = streamed_definition(R"("MaxConcurrency":2,)");
  std::map<long long, int> calls;  // across both workers
  std::string arn, run_arn;
  {
    Engine engine(eo);
    register_sum(engine, calls);
    arn = record_started(*store, engine, "Fan", def, "streamed", R"({"key":"items.jsonl"})");
    Worker worker(engine, store, WorkerOptions{.owner = "host-a:1:a"});
    run_arn = run_until_three_succeeded(worker, *store, arn);
    REQUIRE(!run_arn.empty());
    // The parent's request names the file, not the items: its stored state
    // stays small however many items there are.
    const auto parent = must(store->describe_execution(arn));
    CHECK(parent.state.find("\"inputs\"") == std::string::npos);
    CHECK(parent.state.find("items.jsonl") != std::string::npos);
    CHECK(parent.state.find("\"n\":17") == std::string::npos);
    // Killed here: no shutdown, leases left to expire.
  }
  const auto mid = must(store->describe_map_run(run_arn));
  CHECK(mid.total == 8);
  CHECK(mid.launched < 8);
  take_over(store, *clock, eo, calls, "host-b:2:b");

  auto rec = must(store->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
  // Each batch's sum, in batch order: 0+1+2+3, 4+..+7, ..., 24+..+27, 28+29.
  CHECK(*rec.output == "[6,22,38,54,70,86,102,57]");
  auto history = stored_history(*store, arn);
  for (const auto& e : history) {
    if (e.type == "MapStateStarted") CHECK(e.details.find("\"length\":8") != std::string::npos);
  }
  // Every child's input is its batch, BatchInput included; none launched twice.
  const auto kids = children(*store, run_arn);
  REQUIRE(kids.size() == 8);
  for (const auto& k : kids) {
    const auto child = must(store->describe_execution(k.arn));
    const auto input = parse_json(child.input);
    REQUIRE(input);
    const long long first = input->at("Items").as_array().front().at("n").to_number<long long>();
    CHECK(first == child.item_index * 4);
    CHECK(input->at("BatchInput").at("from") == "items.jsonl");
  }
  for (int b = 0; b < 8; ++b) {
    CAPTURE(b);
    CHECK(calls[b * 4] >= 1);
    if (b < mid.succeeded) CHECK(calls[b * 4] == 1);
  }
  const auto run = must(store->describe_map_run(run_arn));
  CHECK(run.succeeded == 8);
  CHECK(run.launched == 8);

  // DescribeMapRun counts the items (30) apart from the child executions
  // (8 batches); ListExecutions by map run gives each child's itemCount.
  ServiceOptions so;
  so.clock = clock;
  Service service(store, so);
  auto described = service.describe_map_run({{"mapRunArn", run_arn}});
  REQUIRE(described.ok());
  const auto& items = described.response().at("itemCounts").as_object();
  const auto& executions = described.response().at("executionCounts").as_object();
  CHECK(items.at("total").to_number<int>() == 30);
  CHECK(items.at("succeeded").to_number<int>() == 30);
  CHECK(items.at("pending").to_number<int>() == 0);
  CHECK(items.at("resultsWritten").to_number<int>() == 30);
  CHECK(executions.at("total").to_number<int>() == 8);
  CHECK(executions.at("succeeded").to_number<int>() == 8);
  auto listed = service.list_executions({{"mapRunArn", run_arn}, {"maxResults", 100}});
  REQUIRE(listed.ok());
  std::map<std::string, int> item_count_by_arn;
  for (const auto& e : listed.response().at("executions").as_array())
    item_count_by_arn[std::string(e.at("executionArn").as_string())] = e.at("itemCount").to_number<int>();
  REQUIRE(item_count_by_arn.size() == 8);
  for (const auto& k : kids) {
    const auto child = must(store->describe_execution(k.arn));
    CHECK(item_count_by_arn[k.arn] == (child.item_index == 7 ? 2 : 4));
  }
}

TEST_CASE("map run: an item file cut short while the map run reads it fails the Map with States.ItemReaderFailed") {
  FileRun run_setup;
  auto& [scratch, store, clock, eo] = run_setup;
  const auto file = scratch.dir / "data" / "in" / "items.jsonl";
  write_items(file, 30);
  std::map<long long, int> calls;
  std::string arn, run_arn;
  {
    Engine engine(eo);
    register_sum(engine, calls);
    arn = record_started(*store, engine, "Fan", streamed_definition(R"("MaxConcurrency":1,)"), "cut",
                         R"({"key":"items.jsonl"})");
    Worker worker(engine, store, WorkerOptions{.owner = "w1"});
    run_arn = run_until_three_succeeded(worker, *store, arn);
    REQUIRE(!run_arn.empty());
    // Killed here; the file is cut to two batches of the eight counted, and
    // the next worker reads it again from where the map run stands.
  }
  write_items(file, 6);
  take_over(store, *clock, eo, calls, "w2");
  auto rec = must(store->describe_execution(arn));
  REQUIRE(rec.status == storage::ExecutionStatus::kFailed);
  CHECK(rec.error == std::optional<std::string>("States.ItemReaderFailed"));
  CHECK(must(store->describe_map_run(run_arn)).status == storage::MapRunStatus::kFailed);
}

TEST_CASE("map run: under a worker, WriterConfig without a Resource shapes the result from the children's records") {
  Scratch scratch;
  auto store = open_store(true, scratch);
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  Calls calls;
  register_work(engine, calls);
  const std::string def = fan_definition(
      R"("ToleratedFailureCount":1,"ResultWriter":{"WriterConfig":{"Transformation":"NONE","OutputType":"JSON"}},)");
  const std::string arn = start(*store, engine, def, "shaped", items_input(3, {2}));
  Worker worker(engine, store, WorkerOptions{.owner = "w1"});
  drain(worker);
  auto parent = must(store->describe_execution(arn));
  REQUIRE(parent.status == storage::ExecutionStatus::kSucceeded);
  auto out = parse_json(*parent.output);
  REQUIRE(out);
  REQUIRE(out->is_array());
  REQUIRE(out->as_array().size() == 3);
  const auto kids = children(*store, must(store->list_map_runs(arn, {})).items[0].arn);
  std::set<std::string> kid_arns;
  for (const auto& k : kids) kid_arns.insert(k.arn);
  const auto& records = out->as_array();
  for (const auto& r : records) CHECK(kid_arns.count(std::string(r.at("ExecutionArn").as_string())) == 1);
  CHECK(records[0].at("Status") == "SUCCEEDED");
  CHECK(records[0].at("Output") == "{\"doubled\":2}");
  CHECK(records[1].at("Status") == "FAILED");
  CHECK(records[1].at("Error") == "Item.Failed");
  CHECK(records[2].at("Status") == "SUCCEEDED");
}

TEST_CASE("map run: an ItemSelector shapes the items the map run reads, with the parent's input, context and variables") {
  Scratch scratch;
  const auto data = scratch.dir / "data";
  write_items(data / "in" / "items.jsonl", 10);
  // JSONPath and JSONata: the same children's inputs as the in-process run,
  // which evaluates the ItemSelector in the parent itself.
  const std::string jsonpath = R"({"StartAt":"Init","States":{
    "Init":{"Type":"Pass","Assign":{"tag":"t1"},"Next":"Each"},
    "Each":{"Type":"Map","MaxConcurrency":3,
      "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL"},
                    "Parameters":{"Bucket":"in","Key.$":"$.key"}},
      "ItemSelector":{"i.$":"$$.Map.Item.Index","n.$":"$$.Map.Item.Value.n","key.$":"$.key","tag.$":"$tag",
                      "machine.$":"$$.StateMachine.Name"},
      "ItemBatcher":{"MaxItemsPerBatch":3},
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
        "StartAt":"Echo","States":{"Echo":{"Type":"Pass","End":true}}},
      "End":true}}})";
  const std::string jsonata = R"({"QueryLanguage":"JSONata","StartAt":"Init","States":{
    "Init":{"Type":"Pass","Assign":{"tag":"t2"},"Next":"Each"},
    "Each":{"Type":"Map",
      "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL"},
                    "Arguments":{"Bucket":"in","Key":"{% $states.input.key %}"}},
      "ItemSelector":"{% {'i': $states.context.Map.Item.Index, 'n': $states.context.Map.Item.Value.n * 10, 'tag': $tag} %}",
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
        "StartAt":"Echo","States":{"Echo":{"Type":"Pass","End":true}}},
      "End":true}}})";
  for (const std::string& def : {jsonpath, jsonata}) {
    CAPTURE(def.substr(0, 40));
    std::shared_ptr<storage::Store> store = must(storage::open_memory());
    auto clock = std::make_shared<ManualClock>();
    EngineOptions eo = options_at(clock);
    eo.data_dir = data.string();
    Engine engine(eo);
    const std::string arn = record_started(*store, engine, "Fan", def, "selected", R"({"key":"items.jsonl"})");
    Worker worker(engine, store, WorkerOptions{.owner = "w1"});
    drain(worker);
    auto rec = must(store->describe_execution(arn));
    REQUIRE(rec.status == storage::ExecutionStatus::kSucceeded);
    // The in-process run reads the same file and shapes the items in the parent.
    Engine memory_engine(eo);
    RunOptions ro;
    ro.state_machine_name = "Fan";
    const auto expected = memory_engine.run(parse_or_fail(def), *parse_json(R"({"key":"items.jsonl"})"), ro);
    REQUIRE(expected.status == ExecutionStatus::Succeeded);
    CHECK(*rec.output == to_json(expected.output));
    CHECK(rec.output->find("\"tag\":\"t") != std::string::npos);
    CHECK(rec.output->find(def == jsonpath ? R"({"i":9,"n":9,"key":"items.jsonl","tag":"t1","machine":"Fan"})"
                                           : R"({"i":9,"n":90,"tag":"t2"})") != std::string::npos);
    // The request carries the selector's scope, not the items.
    const auto runs = must(store->list_map_runs(arn, {}));
    REQUIRE(runs.items.size() == 1);
    CHECK(children(*store, runs.items[0].arn).size() == (def == jsonpath ? 4u : 10u));
    // Items are counted apart from batches only with an ItemBatcher.
    const auto run = must(store->describe_map_run(runs.items[0].arn));
    CHECK(run.item_total == (def == jsonpath ? std::optional<std::int64_t>(10) : std::nullopt));
    if (def == jsonpath) {
      REQUIRE(run.items);
      CHECK(run.items->succeeded == 10);
      CHECK(run.items->launched == 10);
      CHECK(run.succeeded == 4);
    } else {
      CHECK(!run.items);
    }
  }
}

TEST_CASE("map run: children are listed by their map run only; a schema 7 database's indexes are migrated to 8") {
  Scratch scratch;
  const std::string path = (scratch.dir / "v7.db").string();
  const std::string parent = "arn:aws:states:us-east-1:123456789012:execution:M:p";
  const std::string child = "arn:aws:states:us-east-1:123456789012:execution:M/Each:c1";
  const std::string run_arn = "arn:aws:states:us-east-1:123456789012:mapRun:M/Each:1";
  {
    // A version 7 database: a parent and a map run child, both RUNNING.
    SQLite::Database db = old_database(path, 7);
    insert_running(db, 1, parent, "p");
    insert_running(db, 2, child, "c1", run_arn);
  }
  auto arns = [](const storage::Page<storage::ExecutionSummary>& page) {
    std::vector<std::string> out;
    for (const auto& e : page.items) out.push_back(e.arn);
    return out;
  };
  const std::vector<std::string> just_parent{parent}, just_child{child};
  auto sqlite = must(storage::open_sqlite(path));
  // The memory store lists the same way.
  auto memory = must(storage::open_memory());
  {
    storage::NewStateMachine m;
    m.arn = "arn:m";
    m.name = "M";
    m.role_arn = "arn:role";
    m.definition = "{}";
    must(memory->create_state_machine(m));
    for (const auto& [arn, run] : {std::pair{parent, std::string()}, std::pair{child, run_arn}}) {
      storage::NewExecution e;
      e.arn = arn;
      e.name = arn.substr(arn.rfind(':') + 1);
      e.state_machine_arn = run.empty() ? "arn:m" : "arn:m/Each";
      e.state_machine_version = 1;
      e.state = "st";
      e.map_run_arn = run;
      e.item_index = run.empty() ? -1 : 0;
      if (!run.empty()) {  // the parent first, then its map run
      storage::MapRunRecord r;
      r.arn = run_arn;
      r.execution_arn = parent;
      r.state_name = "Each";
      r.state_machine_arn = "arn:m/Each";
      r.definition = "{}";
      r.total = 1;
      must(memory->create_map_run(r));
      }
      must(memory->create_execution(e));
    }
  }
  for (storage::Store* store : {static_cast<storage::Store*>(sqlite.get()), static_cast<storage::Store*>(memory.get())}) {
    storage::ExecutionFilter all;
    CHECK(arns(must(store->list_executions(all, {}))) == just_parent);
    storage::ExecutionFilter running;
    running.status = storage::ExecutionStatus::kRunning;
    CHECK(arns(must(store->list_executions(running, {}))) == just_parent);
    storage::ExecutionFilter by_machine;
    by_machine.state_machine_arn = "arn:m/Each";
    CHECK(must(store->list_executions(by_machine, {})).items.empty());
    storage::ExecutionFilter by_run;
    by_run.map_run_arn = run_arn;
    CHECK(arns(must(store->list_executions(by_run, {}))) == just_child);
    by_run.status = storage::ExecutionStatus::kRunning;
    CHECK(arns(must(store->list_executions(by_run, {}))) == just_child);
  }
  sqlite.reset();
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == storage::kSchemaVersion);
  CHECK(storage::kSchemaVersion >= 8);
  // The list-executions indexes hold the parent only.
  CHECK(db.execAndGet("SELECT count(*) FROM executions INDEXED BY executions_by_start WHERE map_run_arn IS NULL "
                      "AND start_date > 0")
            .getInt() == 1);
  CHECK(std::string(db.execAndGet("SELECT sql FROM sqlite_master WHERE name = 'executions_by_status'").getString())
            .find("WHERE map_run_arn IS NULL") != std::string::npos);
}

TEST_CASE("map run: UpdateMapRun changes a running map run's MaxConcurrency and tolerance; bad values are refused") {
  auto store = std::shared_ptr<storage::Store>(must(storage::open_memory()));
  auto clock = std::make_shared<ManualClock>();
  Engine engine(options_at(clock));
  // Each item waits a minute, then fails when marked so.
  const std::string def = R"({"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items",
      "MaxConcurrency":1,"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"Nap","States":{
        "Nap":{"Type":"Wait","Seconds":60,"Next":"Check"},
        "Check":{"Type":"Choice","Choices":[{"Variable":"$.fail","IsPresent":true,"Next":"Boom"}],"Default":"Ok"},
        "Boom":{"Type":"Fail","Error":"Item.Failed"},
        "Ok":{"Type":"Succeed"}}},"End":true}}})";
  const std::string arn = start(*store, engine, def, "updated", items_input(8, {8}));
  Worker worker(engine, store, WorkerOptions{.owner = "w1"});
  ServiceOptions so;
  so.clock = clock;
  Service service(store, so);
  std::string run_arn;
  for (int i = 0; i < 100 && run_arn.empty(); ++i) {
    (void)worker.run_once(0);
    auto runs = must(store->list_map_runs(arn, {}));
    if (!runs.items.empty()) run_arn = runs.items[0].arn;
  }
  REQUIRE(!run_arn.empty());
  for (int i = 0; i < 5; ++i) (void)worker.run_once(0);
  CHECK(must(store->describe_map_run(run_arn)).running == 1);

  auto error_of = [&](json::object request) {
    request["mapRunArn"] = run_arn;
    auto r = service.update_map_run(request);
    return r.ok() ? std::string() : r.error().code + ": " + r.error().message;
  };
  CHECK(error_of({{"maxConcurrency", -1}}).rfind("ValidationException: 1 validation error detected: Value '-1' at "
                                                 "'maxConcurrency'",
                                                 0) == 0);
  CHECK(error_of({{"toleratedFailurePercentage", 100.5}}).find("less than or equal to 100") != std::string::npos);
  CHECK(error_of({{"toleratedFailureCount", -2}}).find("'toleratedFailureCount'") != std::string::npos);
  auto unknown = service.update_map_run({{"mapRunArn", run_arn + "x"}, {"maxConcurrency", 2}});
  REQUIRE(!unknown.ok());
  CHECK(unknown.error().code == "ResourceNotFound");

  // Four at once from the next round, and the last item's failure tolerated.
  REQUIRE(error_of({{"maxConcurrency", 4}, {"toleratedFailureCount", 1}}).empty());
  const auto updated = must(store->describe_map_run(run_arn));
  CHECK(updated.max_concurrency == 4);
  CHECK(updated.tolerated_failure_count == std::optional<std::int64_t>(1));
  // (Virtual time: the worker's rounds move the clock to the next Wait's end.)
  std::int64_t peak = 0;
  for (int i = 0; i < 1000; ++i) {
    (void)worker.run_once(0);
    peak = std::max(peak, must(store->describe_map_run(run_arn)).running);
    if (worker.active() == 0) break;
  }
  CHECK(peak == 4);
  auto rec = must(store->describe_execution(arn));
  CHECK(rec.status == storage::ExecutionStatus::kSucceeded);  // without the update: FAILED (Item.Failed)
  auto described = service.describe_map_run({{"mapRunArn", run_arn}});
  REQUIRE(described.ok());
  CHECK(described.response().at("maxConcurrency").to_number<int>() == 4);
  CHECK(described.response().at("toleratedFailureCount").to_number<int>() == 1);
  // A map run that has ended is not updated.
  CHECK(error_of({{"maxConcurrency", 2}}).rfind("ValidationException", 0) == 0);
}
