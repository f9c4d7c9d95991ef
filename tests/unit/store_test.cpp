// One behaviour suite for every Store backend (in-memory and SQLite), then
// what only a file can show: reopening, refusing foreign files, a full disk.
#include "storage/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/fault_injection.h"
#include <chrono>
#include "storage/history_chunk.h"
#include "storage/sqlite_schema.h"

using namespace stepwise::storage;  // NOLINT: test file

namespace {

namespace fs = std::filesystem;

constexpr const char* kMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:Hello";
constexpr const char* kOtherMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:Other";
constexpr UnixNanos kT0 = 1735689600LL * 1000000000LL;  // 2025-01-01T00:00:00Z
constexpr UnixNanos kSecond = 1000000000LL;

// A fresh directory under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "stepwise-store-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path file(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

template <class T>
T must(StatusOr<T> r) {
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  return std::move(r).value();
}

void must_ok(const Status& s) {
  INFO(s.to_string());
  REQUIRE(s.ok());
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

struct MemoryBackend {
  std::shared_ptr<Store> store = must(open_memory());
};

struct SqliteBackend {
  TempDir dir;
  std::shared_ptr<Store> store = must(open_sqlite(dir.file("stepwise.db").string()));
};

NewStateMachine hello_machine(const char* arn = kMachineArn, const char* name = "Hello") {
  NewStateMachine m;
  m.arn = arn;
  m.name = name;
  m.type = MachineType::kStandard;
  m.role_arn = "arn:aws:iam::123456789012:role/Role";
  m.definition = R"({"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}})";
  m.creation_date = kT0;
  return m;
}

std::string execution_arn(const std::string& name, const char* machine = "Hello") {
  return std::string("arn:aws:states:us-east-1:123456789012:execution:") + machine + ":" + name;
}

EventRecord event(std::int64_t id, const std::string& type = "PassStateEntered") {
  return {id, id - 1, kT0 + id, type, R"({"stateEnteredEventDetails":{"name":"A","input":"{}"}})"};
}

NewExecution new_execution(const std::string& name, UnixNanos start = kT0,
                           const char* machine_arn = kMachineArn, const char* machine = "Hello") {
  NewExecution e;
  e.arn = execution_arn(name, machine);
  e.name = name;
  e.state_machine_arn = machine_arn;
  e.state_machine_version = 1;
  e.input = R"({"x":1})";
  e.start_date = start;
  e.state = R"({"frames":[]})";
  e.events = {{1, 0, start, "ExecutionStarted", R"({"executionStartedEventDetails":{}})"}};
  return e;
}

// A store holding the Hello machine and one RUNNING execution "run".
template <class B>
struct WithExecution {
  B backend;
  Store& store = *backend.store;
  std::string arn = execution_arn("run");
  WithExecution() {
    must(store.create_state_machine(hello_machine()));
    must(store.create_execution(new_execution("run")));
  }
};

Transition step(const std::string& arn, std::int64_t expected_version) {
  Transition t;
  t.execution_arn = arn;
  t.expected_version = expected_version;
  return t;
}

std::vector<std::int64_t> ids_of(const std::vector<EventRecord>& events) {
  std::vector<std::int64_t> ids;
  for (const EventRecord& e : events) ids.push_back(e.id);
  return ids;
}

std::vector<EventRecord> all_history(Store& store, const std::string& arn) {
  HistoryRequest request;
  request.page.max_results = kMaxPageSize;
  return must(store.get_history(arn, request)).items;
}

}  // namespace

TYPE_TO_STRING(MemoryBackend);
TYPE_TO_STRING(SqliteBackend);

// ---- Status -----------------------------------------------------------------

TEST_CASE("store status: code names and to_string") {
  CHECK(Status().ok());
  CHECK(Status().to_string() == "OK");
  Status s(Code::kDiskFull, "no space");
  CHECK_FALSE(s.ok());
  CHECK(s.to_string() == "DiskFull: no space");
  CHECK(code_name(Code::kNewerSchema) == "NewerSchema");
  CHECK(code_name(Code::kNotOurs) == "NotOurs");
  StatusOr<int> failed = Status(Code::kNotFound, "x");
  CHECK(failed.code() == Code::kNotFound);
  CHECK(to_string(ExecutionStatus::kTimedOut) == "TIMED_OUT");
  CHECK(parse_execution_status("ABORTED") == ExecutionStatus::kAborted);
  CHECK_FALSE(parse_execution_status("aborted").has_value());
  CHECK(parse_machine_type("EXPRESS") == MachineType::kExpress);
}

// ---- State machines -----------------------------------------------------------

TEST_CASE_TEMPLATE("store: create, describe, update and version state machines", B, MemoryBackend,
                   SqliteBackend) {
  B backend;
  Store& store = *backend.store;
  StateMachineRecord created = must(store.create_state_machine(hello_machine()));
  CHECK(created.version == 1);
  CHECK(created.name == "Hello");

  StateMachineRecord described = must(store.describe_state_machine(kMachineArn));
  CHECK(described.arn == kMachineArn);
  CHECK(described.type == MachineType::kStandard);
  CHECK(described.role_arn == "arn:aws:iam::123456789012:role/Role");
  CHECK(described.creation_date == kT0);
  CHECK(described.definition == hello_machine().definition);
  CHECK(described.version == 1);

  SUBCASE("a taken name or ARN is AlreadyExists") {
    CHECK(store.create_state_machine(hello_machine()).code() == Code::kAlreadyExists);
    CHECK(store.create_state_machine(hello_machine(kOtherMachineArn, "Hello")).code() ==
          Code::kAlreadyExists);
    CHECK(store.create_state_machine(hello_machine(kMachineArn, "Renamed")).code() ==
          Code::kAlreadyExists);
  }
  SUBCASE("every definition update is kept as a version") {
    StateMachineUpdate u;
    u.definition = R"({"StartAt":"B","States":{"B":{"Type":"Succeed"}}})";
    u.update_date = kT0 + kSecond;
    StateMachineRecord v2 = must(store.update_state_machine(kMachineArn, u));
    CHECK(v2.version == 2);
    CHECK(v2.definition == *u.definition);
    CHECK(v2.version_date == kT0 + kSecond);
    CHECK(v2.creation_date == kT0);

    StateMachineUpdate role_only;
    role_only.role_arn = "arn:aws:iam::123456789012:role/Other";
    StateMachineRecord same = must(store.update_state_machine(kMachineArn, role_only));
    CHECK(same.version == 2);
    CHECK(same.role_arn == "arn:aws:iam::123456789012:role/Other");

    std::vector<StateMachineVersion> versions =
        must(store.list_state_machine_versions(kMachineArn));
    REQUIRE(versions.size() == 2);
    CHECK(versions[0].version == 1);
    CHECK(versions[0].definition == hello_machine().definition);
    CHECK(versions[0].creation_date == kT0);
    CHECK(versions[1].version == 2);
    CHECK(versions[1].definition == *u.definition);
    CHECK(must(store.get_state_machine_version(kMachineArn, 1)).definition ==
          hello_machine().definition);
    CHECK(store.get_state_machine_version(kMachineArn, 3).code() == Code::kNotFound);
  }
  SUBCASE("unknown machines are NotFound") {
    CHECK(store.describe_state_machine(kOtherMachineArn).code() == Code::kNotFound);
    CHECK(store.update_state_machine(kOtherMachineArn, {}).code() == Code::kNotFound);
    CHECK(store.delete_state_machine(kOtherMachineArn).code() == Code::kNotFound);
    CHECK(store.list_state_machine_versions(kOtherMachineArn).code() == Code::kNotFound);
  }
}

TEST_CASE_TEMPLATE("store: list state machines by name, in pages", B, MemoryBackend,
                   SqliteBackend) {
  B backend;
  Store& store = *backend.store;
  std::vector<std::string> names;
  for (int i = 24; i >= 0; --i) {
    std::string name = "M" + std::to_string(100 + i);
    std::string arn = "arn:aws:states:us-east-1:123456789012:stateMachine:" + name;
    must(store.create_state_machine(hello_machine(arn.c_str(), name.c_str())));
    names.insert(names.begin(), name);
  }
  std::vector<std::string> seen;
  PageRequest page;
  page.max_results = 10;
  int pages = 0;
  do {
    Page<StateMachineRecord> p = must(store.list_state_machines(page));
    CHECK(p.items.size() <= 10);
    for (const auto& m : p.items) seen.push_back(m.name);
    page.next_token = p.next_token;
    ++pages;
  } while (!page.next_token.empty());
  CHECK(pages == 3);
  CHECK(seen == names);

  PageRequest exact;
  exact.max_results = 25;
  CHECK(must(store.list_state_machines(exact)).next_token.empty());

  // A token the store did not hand out is refused, not read as a name.
  for (const char* bogus : {"m05", "bogus", "n", "n6", "n6g", "nAB"}) {
    CAPTURE(bogus);
    PageRequest bad;
    bad.next_token = bogus;
    CHECK(store.list_state_machines(bad).code() == Code::kInvalidArgument);
  }
}

TEST_CASE_TEMPLATE("store: a deleted machine leaves describe and list, keeps its versions", B,
                   MemoryBackend, SqliteBackend) {
  B backend;
  Store& store = *backend.store;
  must(store.create_state_machine(hello_machine()));
  must(store.create_execution(new_execution("before-delete")));
  must_ok(store.delete_state_machine(kMachineArn));

  CHECK(store.describe_state_machine(kMachineArn).code() == Code::kNotFound);
  CHECK(store.delete_state_machine(kMachineArn).code() == Code::kNotFound);
  CHECK(must(store.list_state_machines({})).items.empty());
  // Its executions stay resumable: their version is still there.
  CHECK(must(store.describe_execution(execution_arn("before-delete"))).status ==
        ExecutionStatus::kRunning);
  CHECK(must(store.get_state_machine_version(kMachineArn, 1)).definition ==
        hello_machine().definition);
  CHECK(store.create_execution(new_execution("after-delete")).code() == Code::kNotFound);

  // Created again, the machine continues its version numbers.
  NewStateMachine again = hello_machine();
  again.definition = R"({"StartAt":"C","States":{"C":{"Type":"Succeed"}}})";
  StateMachineRecord revived = must(store.create_state_machine(again));
  CHECK(revived.version == 2);
  CHECK(must(store.describe_state_machine(kMachineArn)).definition == again.definition);
  CHECK(must(store.get_state_machine_version(kMachineArn, 1)).definition ==
        hello_machine().definition);
}

// ---- Executions -----------------------------------------------------------------

TEST_CASE_TEMPLATE("store: create and describe an execution", B, MemoryBackend, SqliteBackend) {
  B backend;
  Store& store = *backend.store;
  CHECK(store.create_execution(new_execution("run")).code() == Code::kNotFound);
  must(store.create_state_machine(hello_machine()));
  NewExecution wrong_version = new_execution("run");
  wrong_version.state_machine_version = 7;
  CHECK(store.create_execution(wrong_version).code() == Code::kNotFound);

  NewExecution e = new_execution("run");
  e.timers = {{"", "execution-timeout", kT0 + 60 * kSecond}};
  CreatedExecution created = must(store.create_execution(e));
  CHECK(created.created);
  CHECK(created.execution.version == 1);

  ExecutionRecord r = must(store.describe_execution(e.arn));
  CHECK(r.arn == e.arn);
  CHECK(r.name == "run");
  CHECK(r.state_machine_arn == kMachineArn);
  CHECK(r.state_machine_version == 1);
  CHECK(r.status == ExecutionStatus::kRunning);
  CHECK(r.input == R"({"x":1})");
  CHECK_FALSE(r.output.has_value());
  CHECK_FALSE(r.error.has_value());
  CHECK_FALSE(r.stop_date.has_value());
  CHECK(r.start_date == kT0);
  CHECK(r.state == R"({"frames":[]})");
  CHECK(r.version == 1);
  CHECK(r.last_event_id == 1);
  CHECK(r.redrive_count == 0);
  CHECK(r.lease_owner.empty());

  std::vector<EventRecord> history = all_history(store, e.arn);
  REQUIRE(history.size() == 1);
  CHECK(history[0].type == "ExecutionStarted");
  CHECK(history[0].details == R"({"executionStartedEventDetails":{}})");
  std::vector<TimerRecord> timers = must(store.list_timers(e.arn));
  REQUIRE(timers.size() == 1);
  CHECK(timers[0].key == "execution-timeout");
  CHECK(timers[0].execution_arn == e.arn);

  CHECK(store.describe_execution(execution_arn("nope")).code() == Code::kNotFound);
}

TEST_CASE_TEMPLATE("store: starting a running execution again with the same input is idempotent", B,
                   MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  NewExecution again = new_execution("run");
  again.input = "{ \"x\" : 1 }";  // the same JSON, spaced differently
  again.start_date = kT0 + kSecond;
  CreatedExecution repeated = must(store.create_execution(again));
  CHECK_FALSE(repeated.created);
  CHECK(repeated.execution.start_date == kT0);  // the original one
  CHECK(repeated.execution.version == 1);
  CHECK(all_history(store, w.arn).size() == 1);

  NewExecution different = new_execution("run");
  different.input = R"({"x":2})";
  CHECK(store.create_execution(different).code() == Code::kAlreadyExists);

  // Once it has ended, even the same input is AlreadyExists.
  Transition end = step(w.arn, 1);
  end.outcome = ExecutionOutcome{ExecutionStatus::kSucceeded, "{}", {}, {}, kT0 + kSecond};
  must(store.commit_transition(end));
  CHECK(store.create_execution(new_execution("run")).code() == Code::kAlreadyExists);
  CHECK(must(store.list_executions({}, {})).items.size() == 1);
}

TEST_CASE_TEMPLATE("store: list executions newest first, filtered, in stable pages", B,
                   MemoryBackend, SqliteBackend) {
  B backend;
  Store& store = *backend.store;
  must(store.create_state_machine(hello_machine()));
  must(store.create_state_machine(hello_machine(kOtherMachineArn, "Other")));
  // 30 executions: even ones on Hello, odd ones on Other; every third one
  // succeeded; executions 10..14 share one start date.
  for (int i = 0; i < 30; ++i) {
    UnixNanos start = (i >= 10 && i <= 14) ? kT0 + 10 * kSecond : kT0 + i * kSecond;
    NewExecution e = i % 2 == 0
                         ? new_execution("e" + std::to_string(i), start)
                         : new_execution("e" + std::to_string(i), start, kOtherMachineArn, "Other");
    must(store.create_execution(e));
    if (i % 3 == 0) {
      Transition end = step(e.arn, 1);
      end.outcome = ExecutionOutcome{ExecutionStatus::kSucceeded, "{}", {}, {}, start};
      must(store.commit_transition(end));
    }
  }
  auto collect = [&](const ExecutionFilter& filter, int page_size) {
    std::vector<std::string> names;
    PageRequest page;
    page.max_results = page_size;
    do {
      Page<ExecutionSummary> p = must(store.list_executions(filter, page));
      CHECK(static_cast<int>(p.items.size()) <= (page_size > 0 ? page_size : kDefaultPageSize));
      for (const auto& s : p.items) names.push_back(s.name);
      page.next_token = p.next_token;
    } while (!page.next_token.empty());
    return names;
  };
  std::vector<std::string> expected;
  for (int i = 29; i >= 0; --i) expected.push_back("e" + std::to_string(i));
  CHECK(collect({}, 7) == expected);
  CHECK(collect({}, 30) == expected);
  CHECK(collect({}, 0) == expected);

  std::vector<std::string> hello, succeeded, other_running;
  for (const std::string& name : expected) {
    int i = std::stoi(name.substr(1));
    if (i % 2 == 0) hello.push_back(name);
    if (i % 3 == 0) succeeded.push_back(name);
    if (i % 2 == 1 && i % 3 != 0) other_running.push_back(name);
  }
  CHECK(collect({kMachineArn, "", std::nullopt}, 4) == hello);
  CHECK(collect({"", "", ExecutionStatus::kSucceeded}, 4) == succeeded);
  CHECK(collect({kOtherMachineArn, "", ExecutionStatus::kRunning}, 3) == other_running);
  CHECK(collect({"", "", ExecutionStatus::kAborted}, 3).empty());

  SUBCASE("summaries carry the fields ListExecutions shows") {
    PageRequest one;
    one.max_results = 1;
    Page<ExecutionSummary> p = must(store.list_executions({"", "", ExecutionStatus::kSucceeded}, one));
    REQUIRE(p.items.size() == 1);
    CHECK(p.items[0].name == "e27");
    CHECK(p.items[0].arn == execution_arn("e27", "Other"));
    CHECK(p.items[0].state_machine_arn == kOtherMachineArn);
    CHECK(p.items[0].status == ExecutionStatus::kSucceeded);
    CHECK(p.items[0].start_date == kT0 + 27 * kSecond);
    CHECK(p.items[0].stop_date == kT0 + 27 * kSecond);
    CHECK_FALSE(p.next_token.empty());
  }
  SUBCASE("executions started after the first page do not shift the next pages") {
    PageRequest page;
    page.max_results = 10;
    Page<ExecutionSummary> first = must(store.list_executions({}, page));
    must(store.create_execution(new_execution("late", kT0 + 100 * kSecond)));
    std::vector<std::string> names;
    for (const auto& s : first.items) names.push_back(s.name);
    page.next_token = first.next_token;
    while (!page.next_token.empty()) {
      Page<ExecutionSummary> p = must(store.list_executions({}, page));
      for (const auto& s : p.items) names.push_back(s.name);
      page.next_token = p.next_token;
    }
    CHECK(names == expected);
  }
  SUBCASE("a token that is not one is InvalidArgument") {
    PageRequest bad;
    bad.next_token = "garbage";
    CHECK(store.list_executions({}, bad).code() == Code::kInvalidArgument);
  }
}

// ---- Transitions ----------------------------------------------------------------

TEST_CASE_TEMPLATE("store: commit a transition: state, events, timers and tokens move together", B,
                   MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  Transition t = step(w.arn, 1);
  t.state = R"({"frames":[{"state":"A"}]})";
  t.events = {event(2), event(3, "WaitStateEntered")};
  t.timers_to_set = {{"", "wait:A", kT0 + 5 * kSecond}, {"", "heartbeat", kT0 + 9 * kSecond}};
  t.tokens_to_add = {{"tok-1", "", "frame-0", TokenStatus::kOpen}};
  CHECK(must(store.commit_transition(t)) == 2);

  ExecutionRecord r = must(store.describe_execution(w.arn));
  CHECK(r.version == 2);
  CHECK(r.state == *t.state);
  CHECK(r.last_event_id == 3);
  CHECK(r.status == ExecutionStatus::kRunning);
  std::vector<EventRecord> history = all_history(store, w.arn);
  CHECK(ids_of(history) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(history[2].type == "WaitStateEntered");
  CHECK(history[2].previous_id == 2);
  CHECK(history[2].timestamp == kT0 + 3);
  CHECK(history[2].details == event(3).details);
  TaskTokenRecord token = must(store.get_task_token("tok-1"));
  CHECK(token.execution_arn == w.arn);
  CHECK(token.frame_key == "frame-0");
  CHECK(token.status == TokenStatus::kOpen);

  // A state left out keeps the stored one; clear then set moves a timer.
  Transition t2 = step(w.arn, 2);
  t2.timers_to_clear = {"heartbeat", "never-set"};
  t2.timers_to_set = {{"", "wait:A", kT0 + 7 * kSecond}};
  t2.tokens_to_close = {"tok-1"};
  CHECK(must(store.commit_transition(t2)) == 3);
  CHECK(must(store.describe_execution(w.arn)).state == *t.state);
  std::vector<TimerRecord> timers = must(store.list_timers(w.arn));
  REQUIRE(timers.size() == 1);
  CHECK(timers[0].key == "wait:A");
  CHECK(timers[0].due == kT0 + 7 * kSecond);
  CHECK(must(store.get_task_token("tok-1")).status == TokenStatus::kClosed);
  CHECK(store.get_task_token("tok-2").code() == Code::kNotFound);
}

TEST_CASE_TEMPLATE("store: a stale writer is rejected with Conflict and changes nothing", B,
                   MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  Transition first = step(w.arn, 1);
  first.events = {event(2)};
  must(store.commit_transition(first));

  Transition stale = step(w.arn, 1);  // read before `first` committed
  stale.state = "stale";
  stale.events = {event(3)};
  stale.timers_to_set = {{"", "t", kT0}};
  CHECK(store.commit_transition(stale).code() == Code::kConflict);
  ExecutionRecord r = must(store.describe_execution(w.arn));
  CHECK(r.version == 2);
  CHECK(r.state == R"({"frames":[]})");
  CHECK(ids_of(all_history(store, w.arn)) == std::vector<std::int64_t>{1, 2});
  CHECK(must(store.list_timers(w.arn)).empty());

  CHECK(store.commit_transition(step(execution_arn("nope"), 1)).code() == Code::kNotFound);
}

TEST_CASE_TEMPLATE("store: malformed transitions are InvalidArgument", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  Transition repeated_id = step(w.arn, 1);
  repeated_id.events = {event(1)};  // ExecutionStarted already has id 1
  CHECK(store.commit_transition(repeated_id).code() == Code::kInvalidArgument);
  Transition out_of_order = step(w.arn, 1);
  out_of_order.events = {event(3), event(2)};
  CHECK(store.commit_transition(out_of_order).code() == Code::kInvalidArgument);
  Transition running_outcome = step(w.arn, 1);
  running_outcome.outcome = ExecutionOutcome{ExecutionStatus::kRunning, {}, {}, {}, kT0};
  CHECK(store.commit_transition(running_outcome).code() == Code::kInvalidArgument);
  CHECK(must(store.describe_execution(w.arn)).version == 1);
}

TEST_CASE_TEMPLATE("store: a failed commit leaves nothing half-written", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  must(store.create_execution(new_execution("other")));
  Transition owner = step(execution_arn("other"), 1);
  owner.tokens_to_add = {{"taken", "", "f", TokenStatus::kOpen}};
  must(store.commit_transition(owner));

  // Events, timers and a first token would be written before the taken token
  // is found: all of it must disappear.
  Transition t = step(w.arn, 1);
  t.state = "new state";
  t.events = {event(2), event(3)};
  t.timers_to_set = {{"", "wait", kT0 + kSecond}};
  t.tokens_to_add = {{"fresh", "", "f", TokenStatus::kOpen},
                     {"taken", "", "f", TokenStatus::kOpen}};
  CHECK(store.commit_transition(t).code() == Code::kAlreadyExists);

  SUBCASE("or a token to close that belongs to another execution") {
    t.tokens_to_add = {{"fresh", "", "f", TokenStatus::kOpen}};
    t.tokens_to_close = {"taken"};
    CHECK(store.commit_transition(t).code() == Code::kInvalidArgument);
  }
  SUBCASE("or a token to close that does not exist") {
    t.tokens_to_add = {{"fresh", "", "f", TokenStatus::kOpen}};
    t.tokens_to_close = {"unknown"};
    CHECK(store.commit_transition(t).code() == Code::kNotFound);
  }
  ExecutionRecord r = must(store.describe_execution(w.arn));
  CHECK(r.version == 1);
  CHECK(r.state == R"({"frames":[]})");
  CHECK(r.last_event_id == 1);
  CHECK(ids_of(all_history(store, w.arn)) == std::vector<std::int64_t>{1});
  CHECK(must(store.list_timers(w.arn)).empty());
  CHECK(store.get_task_token("fresh").code() == Code::kNotFound);
  CHECK(must(store.get_task_token("taken")).status == TokenStatus::kOpen);
  // The same transition, corrected, still applies at version 1.
  t.tokens_to_add = {{"fresh", "", "f", TokenStatus::kOpen}};
  t.tokens_to_close.clear();
  CHECK(must(store.commit_transition(t)) == 2);
}

TEST_CASE_TEMPLATE("store: an outcome ends the execution, clears its timers, tokens and lease", B,
                   MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  Transition wait = step(w.arn, 1);
  wait.timers_to_set = {{"", "wait", kT0 + kSecond}};
  wait.tokens_to_add = {{"cb", "", "f", TokenStatus::kOpen}};
  must(store.commit_transition(wait));
  must_ok(store.acquire_lease(w.arn, "worker-1", kT0, kT0 + 30 * kSecond));

  Transition fail = step(w.arn, 2);
  fail.lease_owner = "worker-1";
  fail.events = {event(2, "ExecutionFailed")};
  fail.outcome = ExecutionOutcome{ExecutionStatus::kFailed, std::nullopt, "States.TaskFailed",
                                  "boom", kT0 + 2 * kSecond};
  CHECK(must(store.commit_transition(fail)) == 3);
  ExecutionRecord r = must(store.describe_execution(w.arn));
  CHECK(r.status == ExecutionStatus::kFailed);
  CHECK(r.error == "States.TaskFailed");
  CHECK(r.cause == "boom");
  CHECK_FALSE(r.output.has_value());
  CHECK(r.stop_date == kT0 + 2 * kSecond);
  CHECK(r.lease_owner.empty());
  CHECK(must(store.list_timers(w.arn)).empty());
  CHECK(must(store.due_timers(kT0 + 100 * kSecond, 10)).empty());
  CHECK(must(store.get_task_token("cb")).status == TokenStatus::kClosed);

  // An ended execution takes no more transitions.
  Transition late = step(w.arn, 3);
  late.events = {event(3)};
  CHECK(store.commit_transition(late).code() == Code::kConflict);
  CHECK(store.acquire_lease(w.arn, "worker-2", kT0, kT0 + kSecond).code() == Code::kConflict);
}

TEST_CASE_TEMPLATE("store: redrive a failed execution", B, MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  Transition redrive_running = step(w.arn, 1);
  redrive_running.redrive_date = kT0;
  CHECK(store.commit_transition(redrive_running).code() == Code::kConflict);

  Transition fail = step(w.arn, 1);
  fail.outcome = ExecutionOutcome{ExecutionStatus::kFailed, {}, "E", "C", kT0 + kSecond};
  must(store.commit_transition(fail));

  Transition redrive = step(w.arn, 2);
  redrive.redrive_date = kT0 + 5 * kSecond;
  redrive.state = "resumed";
  redrive.events = {event(2, "ExecutionRedriven")};
  CHECK(must(store.commit_transition(redrive)) == 3);
  ExecutionRecord r = must(store.describe_execution(w.arn));
  CHECK(r.status == ExecutionStatus::kRunning);
  CHECK(r.redrive_count == 1);
  CHECK(r.redrive_date == kT0 + 5 * kSecond);
  CHECK_FALSE(r.error.has_value());
  CHECK_FALSE(r.cause.has_value());
  CHECK_FALSE(r.stop_date.has_value());
  CHECK(r.state == "resumed");
  CHECK(must(store.list_executions({"", "", ExecutionStatus::kRunning}, {})).items.size() == 1);

  Transition succeed = step(w.arn, 3);
  succeed.outcome = ExecutionOutcome{ExecutionStatus::kSucceeded, R"({"ok":true})", {}, {}, kT0};
  must(store.commit_transition(succeed));
  CHECK(must(store.describe_execution(w.arn)).output == R"({"ok":true})");
  Transition redrive_succeeded = step(w.arn, 4);
  redrive_succeeded.redrive_date = kT0;
  CHECK(store.commit_transition(redrive_succeeded).code() == Code::kConflict);
  Transition both = step(w.arn, 4);
  both.redrive_date = kT0;
  both.outcome = ExecutionOutcome{ExecutionStatus::kAborted, {}, {}, {}, kT0};
  CHECK(store.commit_transition(both).code() == Code::kInvalidArgument);
}

// ---- Batches of transitions ----------------------------------------------------

TEST_CASE_TEMPLATE("store: commit_transitions commits a batch over several executions, in order", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  must(store.create_execution(new_execution("second")));
  const std::string second = execution_arn("second");

  std::vector<Transition> batch;
  Transition a1 = step(w.arn, 1);  // each transition of `run` expects the version the previous one made
  a1.state = "run-1";
  a1.events = {event(2), event(3)};
  a1.tokens_to_add = {{"tok-a", "", "frame-a", TokenStatus::kOpen}};
  a1.timers_to_set = {{"", "wait", kT0 + 5 * kSecond}};
  batch.push_back(a1);
  Transition b1 = step(second, 1);
  b1.state = "second-1";
  b1.events = {event(2)};
  batch.push_back(b1);
  Transition a2 = step(w.arn, 2);  // no state: keeps "run-1"
  a2.events = {event(4), event(5)};
  a2.tokens_to_close = {"tok-a"};  // added earlier in the same batch
  a2.timers_to_clear = {"wait"};
  a2.timers_to_set = {{"", "retry", kT0 + 7 * kSecond}};
  batch.push_back(a2);
  Transition a3 = step(w.arn, 3);
  a3.events = {event(6)};
  batch.push_back(a3);
  Transition b2 = step(second, 2);
  b2.state = "second-2";
  batch.push_back(b2);

  CHECK(must(store.commit_transitions(batch)) == std::vector<std::int64_t>{2, 2, 3, 4, 3});
  ExecutionRecord run = must(store.describe_execution(w.arn));
  CHECK(run.version == 4);
  CHECK(run.state == "run-1");
  CHECK(run.last_event_id == 6);
  CHECK(run.status == ExecutionStatus::kRunning);
  CHECK(ids_of(all_history(store, w.arn)) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  std::vector<TimerRecord> timers = must(store.list_timers(w.arn));
  REQUIRE(timers.size() == 1);
  CHECK(timers[0].key == "retry");
  TaskTokenRecord token = must(store.get_task_token("tok-a"));
  CHECK(token.status == TokenStatus::kClosed);
  CHECK(token.execution_arn == w.arn);
  ExecutionRecord other = must(store.describe_execution(second));
  CHECK(other.version == 3);
  CHECK(other.state == "second-2");
  CHECK(other.last_event_id == 2);
  CHECK(ids_of(all_history(store, second)) == std::vector<std::int64_t>{1, 2});

  // The next batch goes on from there; an empty batch stores nothing.
  CHECK(must(store.commit_transitions({})).empty());
  CHECK(must(store.describe_execution(w.arn)).version == 4);
  Transition a4 = step(w.arn, 4);
  a4.events = {event(7)};
  CHECK(must(store.commit_transitions({a4})) == std::vector<std::int64_t>{5});
  // And a single commit sees what the batches left.
  CHECK(store.commit_transition(step(w.arn, 4)).code() == Code::kConflict);
  CHECK(must(store.commit_transition(step(w.arn, 5))) == 6);
}

TEST_CASE_TEMPLATE("store: a failing transition stores nothing of its batch and is named", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  must(store.create_execution(new_execution("second")));
  const std::string second = execution_arn("second");
  Transition owner = step(second, 1);
  owner.tokens_to_add = {{"taken", "", "f", TokenStatus::kOpen}};
  must(store.commit_transition(owner));

  // Two good transitions, then the one under test at index 2, then a good one.
  std::vector<Transition> batch;
  Transition a1 = step(w.arn, 1);
  a1.state = "changed";
  a1.events = {event(2), event(3)};
  a1.timers_to_set = {{"", "wait", kT0 + kSecond}};
  a1.tokens_to_add = {{"fresh", "", "f", TokenStatus::kOpen}};
  batch.push_back(a1);
  Transition b1 = step(second, 2);
  b1.state = "changed";
  b1.events = {event(2)};
  batch.push_back(b1);
  Transition bad = step(w.arn, 2);
  bad.events = {event(4)};
  Transition last = step(second, 3);
  last.events = {event(3)};

  std::string failing_arn = w.arn;
  Code expected = Code::kOk;
  SUBCASE("a stale version") {
    bad.expected_version = 1;  // the batch's first transition made version 2
    expected = Code::kConflict;
  }
  SUBCASE("an event id the batch already used") {
    bad.events = {event(3)};
    expected = Code::kInvalidArgument;
  }
  SUBCASE("a token an earlier transition of the batch added") {
    bad.tokens_to_add = {{"fresh", "", "f", TokenStatus::kOpen}};
    expected = Code::kAlreadyExists;
  }
  SUBCASE("a token taken before the batch") {
    bad.tokens_to_add = {{"taken", "", "f", TokenStatus::kOpen}};
    expected = Code::kAlreadyExists;
  }
  SUBCASE("closing another execution's token") {
    bad.tokens_to_close = {"taken"};
    expected = Code::kInvalidArgument;
  }
  SUBCASE("closing a token of another execution added in the batch") {
    bad = step(second, 3);
    bad.tokens_to_close = {"fresh"};
    last.expected_version = 4;
    failing_arn = second;
    expected = Code::kInvalidArgument;
  }
  SUBCASE("closing an unknown token") {
    bad.tokens_to_close = {"unknown"};
    expected = Code::kNotFound;
  }
  SUBCASE("an unknown execution") {
    bad = step(execution_arn("nope"), 1);
    failing_arn = execution_arn("nope");
    expected = Code::kNotFound;
  }
  SUBCASE("a malformed transition") {
    bad.outcome = ExecutionOutcome{ExecutionStatus::kRunning, {}, {}, {}, kT0};
    expected = Code::kInvalidArgument;
  }
  SUBCASE("a lease the transition's owner does not hold") {
    bad.lease_owner = "worker-1";
    expected = Code::kConflict;
  }
  batch.push_back(bad);
  batch.push_back(last);

  Status failed = store.commit_transitions(batch).status();
  INFO(failed.to_string());
  CHECK(failed.code() == expected);
  CHECK(failed.message().rfind("transition 2 (" + failing_arn + "): ", 0) == 0);

  ExecutionRecord run = must(store.describe_execution(w.arn));
  CHECK(run.version == 1);
  CHECK(run.state == R"({"frames":[]})");
  CHECK(run.last_event_id == 1);
  CHECK(ids_of(all_history(store, w.arn)) == std::vector<std::int64_t>{1});
  CHECK(must(store.list_timers(w.arn)).empty());
  CHECK(store.get_task_token("fresh").code() == Code::kNotFound);
  ExecutionRecord other = must(store.describe_execution(second));
  CHECK(other.version == 2);
  CHECK(other.state == R"({"frames":[]})");
  CHECK(ids_of(all_history(store, second)) == std::vector<std::int64_t>{1});
  CHECK(must(store.get_task_token("taken")).status == TokenStatus::kOpen);

  // Without the failing transition, the same batch goes through.
  batch.erase(batch.begin() + 2);
  last.expected_version = 3;
  batch.back() = last;
  CHECK(must(store.commit_transitions(batch)) == std::vector<std::int64_t>{2, 3, 4});
}

TEST_CASE_TEMPLATE("store: in a batch, an outcome and a redrive hold for the transitions after them", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  Transition wait = step(w.arn, 1);
  wait.timers_to_set = {{"", "before", kT0 + kSecond}};
  wait.tokens_to_add = {{"old", "", "f", TokenStatus::kOpen}};
  must(store.commit_transition(wait));
  must_ok(store.acquire_lease(w.arn, "worker-1", kT0, kT0 + 30 * kSecond));

  Transition fail = step(w.arn, 2);
  fail.lease_owner = "worker-1";
  fail.events = {event(2, "ExecutionFailed")};
  fail.outcome = ExecutionOutcome{ExecutionStatus::kFailed, std::nullopt, "E", "C", kT0 + kSecond};
  Transition redrive = step(w.arn, 3);
  redrive.redrive_date = kT0 + 2 * kSecond;
  redrive.state = "redriven";
  redrive.events = {event(3, "ExecutionRedriven")};
  Transition resumed = step(w.arn, 4);
  resumed.events = {event(4)};
  resumed.timers_to_set = {{"", "after", kT0 + 3 * kSecond}};
  resumed.tokens_to_add = {{"new", "", "f", TokenStatus::kOpen}};

  SUBCASE("an ended execution takes no more transitions in the batch") {
    Transition late = step(w.arn, 3);
    late.events = {event(3)};
    Status s = store.commit_transitions({fail, late}).status();
    CHECK(s.code() == Code::kConflict);
    CHECK(s.message().rfind("transition 1 (", 0) == 0);
    CHECK(must(store.describe_execution(w.arn)).status == ExecutionStatus::kRunning);
  }
  SUBCASE("the outcome releases the lease for the transitions after it") {
    redrive.lease_owner = "worker-1";
    CHECK(store.commit_transitions({fail, redrive}).code() == Code::kConflict);
    ExecutionRecord r = must(store.describe_execution(w.arn));
    CHECK(r.lease_owner == "worker-1");
    CHECK(r.status == ExecutionStatus::kRunning);
  }
  SUBCASE("failed, redriven and running on") {
    CHECK(must(store.commit_transitions({fail, redrive, resumed})) == std::vector<std::int64_t>{3, 4, 5});
    ExecutionRecord r = must(store.describe_execution(w.arn));
    CHECK(r.status == ExecutionStatus::kRunning);
    CHECK(r.redrive_count == 1);
    CHECK(r.redrive_date == kT0 + 2 * kSecond);
    CHECK_FALSE(r.error.has_value());
    CHECK_FALSE(r.cause.has_value());
    CHECK_FALSE(r.stop_date.has_value());
    CHECK(r.lease_owner.empty());
    CHECK(r.lease_expiry == 0);
    CHECK(r.state == "redriven");
    CHECK(r.last_event_id == 4);
    // The outcome cleared what came before it; what came after stays.
    std::vector<TimerRecord> timers = must(store.list_timers(w.arn));
    REQUIRE(timers.size() == 1);
    CHECK(timers[0].key == "after");
    CHECK(must(store.get_task_token("old")).status == TokenStatus::kClosed);
    CHECK(must(store.get_task_token("new")).status == TokenStatus::kOpen);
    CHECK(must(store.list_executions({"", "", ExecutionStatus::kRunning}, {})).items.size() == 1);
    CHECK(must(store.list_executions({"", "", ExecutionStatus::kFailed}, {})).items.empty());
    CHECK(must(store.list_claimable_executions(kT0, 10)).size() == 1);
  }
  SUBCASE("failed, redriven, then succeeded") {
    Transition succeed = step(w.arn, 5);
    succeed.events = {event(5, "ExecutionSucceeded")};
    succeed.outcome = ExecutionOutcome{ExecutionStatus::kSucceeded, R"({"ok":true})", {}, {}, kT0 + 4 * kSecond};
    CHECK(must(store.commit_transitions({fail, redrive, resumed, succeed})) == std::vector<std::int64_t>{3, 4, 5, 6});
    ExecutionRecord r = must(store.describe_execution(w.arn));
    CHECK(r.status == ExecutionStatus::kSucceeded);
    CHECK(r.output == R"({"ok":true})");
    CHECK_FALSE(r.error.has_value());
    CHECK(r.stop_date == kT0 + 4 * kSecond);
    CHECK(r.redrive_count == 1);
    CHECK(r.lease_owner.empty());
    CHECK(must(store.list_timers(w.arn)).empty());
    CHECK(must(store.get_task_token("new")).status == TokenStatus::kClosed);
    CHECK(ids_of(all_history(store, w.arn)) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
    CHECK(must(store.list_executions({"", "", ExecutionStatus::kSucceeded}, {})).items.size() == 1);
    CHECK(must(store.list_claimable_executions(kT0 + 60 * kSecond, 10)).empty());
  }
}

// ---- History ------------------------------------------------------------------

TEST_CASE_TEMPLATE("store: history pages forward and in reverse", B, MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  Transition t = step(w.arn, 1);
  for (int id = 2; id <= 23; ++id) t.events.push_back(event(id));
  must(store.commit_transition(t));

  auto collect = [&](bool reverse, int page_size) {
    std::vector<std::int64_t> ids;
    HistoryRequest request;
    request.reverse_order = reverse;
    request.page.max_results = page_size;
    int pages = 0;
    do {
      Page<EventRecord> p = must(store.get_history(w.arn, request));
      CHECK(static_cast<int>(p.items.size()) <= (page_size > 0 ? page_size : kDefaultPageSize));
      for (const auto& e : p.items) ids.push_back(e.id);
      request.page.next_token = p.next_token;
      ++pages;
    } while (!request.page.next_token.empty());
    return std::make_pair(ids, pages);
  };
  std::vector<std::int64_t> forward;
  for (int id = 1; id <= 23; ++id) forward.push_back(id);
  std::vector<std::int64_t> backward(forward.rbegin(), forward.rend());
  CHECK(collect(false, 5) == std::make_pair(forward, 5));
  CHECK(collect(true, 5) == std::make_pair(backward, 5));
  CHECK(collect(false, 23) == std::make_pair(forward, 1));
  CHECK(collect(true, 0) == std::make_pair(backward, 1));

  CHECK(store.get_history(execution_arn("nope"), {}).code() == Code::kNotFound);
  HistoryRequest bad;
  bad.page.next_token = "x";
  CHECK(store.get_history(w.arn, bad).code() == Code::kInvalidArgument);
}

TEST_CASE_TEMPLATE("store: a long history pages alike forward and in reverse, whatever its commits", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  // One transition of 600 events, one of 40 events of 5 KiB (the SQLite
  // backend cuts chunks by count and by size), then single small commits.
  std::int64_t next_id = 2;
  std::int64_t version = 1;
  Transition many = step(w.arn, version++);
  for (int i = 0; i < 600; ++i) many.events.push_back(event(next_id++));
  Transition wide = step(w.arn, version++);
  for (int i = 0; i < 40; ++i) {
    wide.events.push_back({next_id, next_id - 1, kT0, "TaskSucceeded", std::string(5000, 'a' + i % 26)});
    ++next_id;
  }
  must(store.commit_transitions({many, wide}));
  for (int i = 0; i < 30; ++i) {
    Transition t = step(w.arn, version++);
    t.events = {event(next_id++)};
    must(store.commit_transition(t));
  }
  const std::int64_t last = next_id - 1;  // 671

  auto collect = [&](bool reverse, int page_size) {
    std::vector<std::int64_t> ids;
    HistoryRequest request;
    request.reverse_order = reverse;
    request.page.max_results = page_size;
    do {
      Page<EventRecord> p = must(store.get_history(w.arn, request));
      REQUIRE(static_cast<int>(p.items.size()) <= page_size);
      for (const auto& e : p.items) ids.push_back(e.id);
      request.page.next_token = p.next_token;
    } while (!request.page.next_token.empty());
    return ids;
  };
  std::vector<std::int64_t> forward;
  for (std::int64_t id = 1; id <= last; ++id) forward.push_back(id);
  const std::vector<std::int64_t> backward(forward.rbegin(), forward.rend());
  for (int size : {1, 7, 100, 256, 257, 1000}) {
    INFO("page size " << size);
    CHECK(collect(false, size) == forward);
    CHECK(collect(true, size) == backward);
  }
  // Pages start right after the token's event, inside a chunk or not.
  HistoryRequest from;
  from.page.max_results = 3;
  from.page.next_token = "255";
  CHECK(ids_of(must(store.get_history(w.arn, from)).items) == std::vector<std::int64_t>{256, 257, 258});
  from.reverse_order = true;
  CHECK(ids_of(must(store.get_history(w.arn, from)).items) == std::vector<std::int64_t>{254, 253, 252});
  from.page.next_token = "1";
  Page<EventRecord> before_first = must(store.get_history(w.arn, from));
  CHECK(before_first.items.empty());
  CHECK(before_first.next_token.empty());
  // The wide events come back whole.
  from.reverse_order = false;
  from.page.next_token = "601";
  from.page.max_results = 2;
  std::vector<EventRecord> wide_events = must(store.get_history(w.arn, from)).items;
  REQUIRE(wide_events.size() == 2);
  CHECK(wide_events[0].details == std::string(5000, 'a'));
  CHECK(wide_events[1].type == "TaskSucceeded");
  CHECK(wide_events[1].details == std::string(5000, 'b'));
}

TEST_CASE_TEMPLATE("store: event types and details come back byte for byte", B, MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  std::string control;
  for (int c = 0; c < 0x20; ++c) control += static_cast<char>(c);
  const std::vector<std::string> texts = {
      R"({"input":"{\"a\":\"b\\\\c\"}","inputDetails":{"truncated":false}})",
      "quote \" backslash \\ slash / \\u0041 is six characters",
      control + "\x7f",
      "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80",  // é, U+2028, an emoji
      "not UTF-8: \xff\xfe \xc3",
      "",
      " leading and trailing spaces ",
  };
  Transition t = step(w.arn, 1);
  std::int64_t id = 2;
  for (const std::string& text : texts) t.events.push_back({id, id - 1, kT0 + id, "Type \"" + text + "\"", text}), ++id;
  must(store.commit_transition(t));
  std::vector<EventRecord> history = all_history(store, w.arn);
  REQUIRE(history.size() == texts.size() + 1);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    CHECK(history[i + 1].details == texts[i]);
    CHECK(history[i + 1].type == "Type \"" + texts[i] + "\"");
    CHECK(history[i + 1].timestamp == kT0 + static_cast<std::int64_t>(i) + 2);
  }
}

TEST_CASE_TEMPLATE("store: encoded events come back byte for byte, after the records of their transition", B,
                   MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  // Details objects whose strings hold brackets, quotes, escapes and UTF-8,
  // some wide enough that the SQLite backend cuts chunks by size.
  const std::vector<std::string> details = {
      "{}",
      R"({"stateEnteredEventDetails":{"name":"A","input":"{\"a\":\"b\\\\c\"}","inputDetails":{"truncated":false}}})",
      R"({"x":"} ] { [ \" \\","y":[1,{"z":[[],{}]}],"n":null,"t":true,"f":-1.5e3})",
      "{\"caf\xc3\xa9\":\"\\u0000\\n\\t\xf0\x9f\x98\x80\"}",
      "{\"wide\":\"" + std::string(30000, 'w') + "\"}",
  };
  std::vector<EventRecord> expected;
  Transition t = step(w.arn, 1);
  t.events.push_back(event(2));
  expected.push_back(t.events.back());
  std::int64_t id = 3;
  for (int i = 0; i < 600; ++i, ++id) {
    const std::string& d = details[static_cast<std::size_t>(i) % details.size()];
    const std::string type = i % 2 ? "PassStateExited" : "PassStateEntered";
    t.encoded_events.begin(id, id - 1, kT0 + id, type) += d;
    t.encoded_events.end();
    expected.push_back({id, id - 1, kT0 + id, type, d});
  }
  must(store.commit_transition(t));
  // A later batch: encoded events only, one with an odd type.
  Transition next = step(w.arn, 2);
  next.encoded_events.begin(id, id - 1, kT0, "Odd \"type\"\n") += "{\"a\":1}";
  next.encoded_events.end();
  expected.push_back({id, id - 1, kT0, "Odd \"type\"\n", "{\"a\":1}"});
  must(store.commit_transitions({next}));

  CHECK(must(store.describe_execution(w.arn)).last_event_id == id);
  std::vector<EventRecord> history = all_history(store, w.arn);
  REQUIRE(history.size() == expected.size() + 1);  // and ExecutionStarted
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("event " << expected[i].id);
    CHECK(history[i + 1].id == expected[i].id);
    CHECK(history[i + 1].previous_id == expected[i].previous_id);
    CHECK(history[i + 1].timestamp == expected[i].timestamp);
    CHECK(history[i + 1].type == expected[i].type);
    CHECK(history[i + 1].details == expected[i].details);
  }
  // Pages cut inside chunks, both ways.
  HistoryRequest from;
  from.page.max_results = 3;
  from.page.next_token = "300";
  CHECK(ids_of(must(store.get_history(w.arn, from)).items) == std::vector<std::int64_t>{301, 302, 303});
  from.reverse_order = true;
  CHECK(ids_of(must(store.get_history(w.arn, from)).items) == std::vector<std::int64_t>{299, 298, 297});
}

TEST_CASE_TEMPLATE("store: encoded event ids must increase after the records and the stored history", B,
                   MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  auto encoded = [](Transition& t, std::int64_t id) {
    t.encoded_events.begin(id, id - 1, kT0, "PassStateEntered") += "{}";
    t.encoded_events.end();
  };
  Transition behind = step(w.arn, 1);
  behind.events.push_back(event(5));
  encoded(behind, 5);
  CHECK(store.commit_transition(behind).code() == Code::kInvalidArgument);
  Transition repeated = step(w.arn, 1);
  encoded(repeated, 3);
  encoded(repeated, 2);
  CHECK(store.commit_transition(repeated).code() == Code::kInvalidArgument);
  Transition stale = step(w.arn, 1);
  encoded(stale, 1);  // ExecutionStarted is event 1
  CHECK(store.commit_transition(stale).code() == Code::kInvalidArgument);
  CHECK(all_history(store, w.arn).size() == 1);
  CHECK(must(store.describe_execution(w.arn)).version == 1);
}

// ---- Timers -------------------------------------------------------------------

TEST_CASE_TEMPLATE("store: due timers, earliest first, across executions", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  must(store.create_execution(new_execution("second")));
  Transition a = step(w.arn, 1);
  a.timers_to_set = {{"", "late", kT0 + 30 * kSecond},
                     {"", "b", kT0 + 10 * kSecond},
                     {"", "a", kT0 + 10 * kSecond}};
  must(store.commit_transition(a));
  Transition b = step(execution_arn("second"), 1);
  b.timers_to_set = {{"", "early", kT0 + 5 * kSecond}, {"", "a", kT0 + 10 * kSecond}};
  must(store.commit_transition(b));

  std::vector<TimerRecord> due = must(store.due_timers(kT0 + 10 * kSecond, 100));
  REQUIRE(due.size() == 4);
  CHECK(due[0].key == "early");
  CHECK(due[0].execution_arn == execution_arn("second"));
  // Ties: the older execution first, then by key.
  CHECK(due[1].execution_arn == w.arn);
  CHECK(due[1].key == "a");
  CHECK(due[2].execution_arn == w.arn);
  CHECK(due[2].key == "b");
  CHECK(due[3].execution_arn == execution_arn("second"));
  CHECK(due[3].key == "a");
  CHECK(must(store.due_timers(kT0 + 10 * kSecond, 2)).size() == 2);
  CHECK(must(store.due_timers(kT0 + 4 * kSecond, 100)).empty());
  CHECK(must(store.due_timers(kT0 + 30 * kSecond, 100)).size() == 5);

  std::vector<TimerRecord> mine = must(store.list_timers(w.arn));
  REQUIRE(mine.size() == 3);
  CHECK(mine[0].key == "a");
  CHECK(mine[1].key == "b");
  CHECK(mine[2].key == "late");
  CHECK(must(store.list_timers(execution_arn("nope"))).empty());
}

// ---- Leases -------------------------------------------------------------------

TEST_CASE_TEMPLATE("store: a lease has one owner until it expires", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  must(store.create_execution(new_execution("second")));
  const std::string second = execution_arn("second");

  CHECK(must(store.list_claimable_executions(kT0, 10)).size() == 2);
  must_ok(store.acquire_lease(w.arn, "worker-1", kT0, kT0 + 10 * kSecond));
  CHECK(must(store.describe_execution(w.arn)).lease_owner == "worker-1");
  CHECK(must(store.describe_execution(w.arn)).lease_expiry == kT0 + 10 * kSecond);
  // Re-acquiring one's own lease extends it; another owner is refused.
  must_ok(store.acquire_lease(w.arn, "worker-1", kT0 + kSecond, kT0 + 11 * kSecond));
  CHECK(store.acquire_lease(w.arn, "worker-2", kT0 + 5 * kSecond, kT0 + 20 * kSecond).code() ==
        Code::kConflict);
  CHECK(store.acquire_lease(w.arn, "", kT0, kT0).code() == Code::kInvalidArgument);
  CHECK(store.acquire_lease(execution_arn("nope"), "w", kT0, kT0).code() == Code::kNotFound);

  std::vector<ExecutionSummary> claimable = must(store.list_claimable_executions(kT0, 10));
  REQUIRE(claimable.size() == 1);
  CHECK(claimable[0].arn == second);

  CHECK(store.renew_lease(w.arn, "worker-2", kT0 + 30 * kSecond).code() == Code::kConflict);
  must_ok(store.renew_lease(w.arn, "worker-1", kT0 + 12 * kSecond));

  // Expired: claimable again, and another worker takes it over.
  claimable = must(store.list_claimable_executions(kT0 + 12 * kSecond, 10));
  REQUIRE(claimable.size() == 2);
  CHECK(claimable[0].arn == second);  // free leases first
  CHECK(claimable[1].arn == w.arn);
  CHECK(must(store.list_claimable_executions(kT0 + 12 * kSecond, 1)).size() == 1);
  must_ok(store.acquire_lease(w.arn, "worker-2", kT0 + 12 * kSecond, kT0 + 40 * kSecond));

  // The old owner can neither renew, release nor commit under its lease.
  CHECK(store.renew_lease(w.arn, "worker-1", kT0 + 50 * kSecond).code() == Code::kConflict);
  CHECK(store.release_lease(w.arn, "worker-1").code() == Code::kConflict);
  Transition old_owner = step(w.arn, 1);
  old_owner.lease_owner = "worker-1";
  CHECK(store.commit_transition(old_owner).code() == Code::kConflict);
  Transition new_owner = step(w.arn, 1);
  new_owner.lease_owner = "worker-2";
  CHECK(must(store.commit_transition(new_owner)) == 2);

  must_ok(store.release_lease(w.arn, "worker-2"));
  ExecutionRecord r = must(store.describe_execution(w.arn));
  CHECK(r.lease_owner.empty());
  CHECK(r.lease_expiry == 0);
  CHECK(must(store.list_claimable_executions(kT0, 10)).size() == 2);
}

TEST_CASE_TEMPLATE("store: a worker renews, lists and releases all its leases at once", B, MemoryBackend,
                   SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  must(store.create_execution(new_execution("second")));
  must(store.create_execution(new_execution("third")));
  const std::string second = execution_arn("second");
  const std::string third = execution_arn("third");
  must_ok(store.acquire_lease(w.arn, "host:1", kT0, kT0 + kSecond));
  must_ok(store.acquire_lease(second, "host:1", kT0, kT0 + kSecond));
  must_ok(store.acquire_lease(third, "host:2", kT0, kT0 + kSecond));
  CHECK(must(store.list_lease_owners()) == std::vector<std::string>{"host:1", "host:2"});

  CHECK(must(store.renew_leases("host:1", kT0 + 9 * kSecond)) == 2);
  CHECK(must(store.describe_execution(w.arn)).lease_expiry == kT0 + 9 * kSecond);
  CHECK(must(store.describe_execution(second)).lease_expiry == kT0 + 9 * kSecond);
  CHECK(must(store.describe_execution(third)).lease_expiry == kT0 + kSecond);
  CHECK(must(store.renew_leases("nobody", kT0)) == 0);
  CHECK(store.renew_leases("", kT0).code() == Code::kInvalidArgument);

  // An ended execution's lease is gone with it.
  Transition end = step(w.arn, 1);
  end.outcome = ExecutionOutcome{ExecutionStatus::kSucceeded, "{}", std::nullopt, std::nullopt, kT0};
  must(store.commit_transition(end));
  CHECK(must(store.renew_leases("host:1", kT0 + 10 * kSecond)) == 1);

  CHECK(must(store.release_leases("host:1")) == 1);
  CHECK(must(store.describe_execution(second)).lease_owner.empty());
  CHECK(must(store.list_lease_owners()) == std::vector<std::string>{"host:2"});
  CHECK(must(store.list_claimable_executions(kT0, 10)).size() == 1);
  CHECK(store.release_leases("").code() == Code::kInvalidArgument);
}

TEST_CASE_TEMPLATE("store: claim_executions takes a batch of leases in one call", B, MemoryBackend, SqliteBackend) {
  WithExecution<B> w;
  Store& store = w.store;
  for (const char* n : {"b", "c", "d"}) must(store.create_execution(new_execution(n)));
  must_ok(store.acquire_lease(execution_arn("b"), "other", kT0, kT0 + 10 * kSecond));
  // Free ones first, in creation order; b is held by a live owner.
  auto first = must(store.claim_executions("me", kT0, kT0 + 5 * kSecond, 2));
  REQUIRE(first.size() == 2);
  CHECK(first[0].arn == w.arn);
  CHECK(first[1].arn == execution_arn("c"));
  CHECK(first[0].lease_owner == "me");
  CHECK(first[0].lease_expiry == kT0 + 5 * kSecond);
  CHECK(first[0].state == new_execution("run").state);  // whole records, state included
  CHECK(must(store.describe_execution(execution_arn("c"))).lease_owner == "me");
  auto rest = must(store.claim_executions("me", kT0, kT0 + 5 * kSecond, 10));
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].arn == execution_arn("d"));
  // Once b's lease expires it can be taken over; ours are not claimable again meanwhile.
  CHECK(must(store.claim_executions("me", kT0 + kSecond, kT0 + 6 * kSecond, 10)).empty());
  // At +10 s every lease has expired: ours first (earliest expiry), b last.
  auto taken = must(store.claim_executions("me", kT0 + 10 * kSecond, kT0 + 20 * kSecond, 10));
  REQUIRE(taken.size() == 4);
  CHECK(taken[3].arn == execution_arn("b"));
  // A commit under the claimed lease works; the former owner's does not.
  Transition t = step(execution_arn("b"), 1);
  t.lease_owner = "other";
  CHECK(store.commit_transition(t).code() == Code::kConflict);
  t.lease_owner = "me";
  CHECK(must(store.commit_transition(t)) == 2);
  CHECK(store.claim_executions("", kT0, kT0, 1).code() == Code::kInvalidArgument);
}

// ---- Fault injection ---------------------------------------------------------

TEST_CASE_TEMPLATE("store: FailNthWrite fails exactly the N-th write", B, MemoryBackend,
                   SqliteBackend) {
  B backend;
  SUBCASE("before the write: nothing is stored") {
    FailNthWrite store(backend.store, 2);
    must(store.create_state_machine(hello_machine()));
    CHECK(store.create_execution(new_execution("run")).code() == Code::kIoError);
    CHECK(store.fired());
    CHECK(store.describe_execution(execution_arn("run")).code() == Code::kNotFound);
    must(store.create_execution(new_execution("run")));  // the third write goes through
    CHECK(store.writes() == 3);
  }
  SUBCASE("after the write: stored, but reported as failed") {
    FailNthWrite store(backend.store, 3, FailNthWrite::Mode::kAfterWrite, Code::kDiskFull);
    must(store.create_state_machine(hello_machine()));
    must(store.create_execution(new_execution("run")));
    Transition t = step(execution_arn("run"), 1);
    t.events = {event(2)};
    CHECK(store.commit_transition(t).code() == Code::kDiskFull);
    CHECK(must(store.describe_execution(execution_arn("run"))).version == 2);
    // A retry of the same transition is now stale.
    CHECK(store.commit_transition(t).code() == Code::kConflict);
  }
  SUBCASE("a batch is one write, and a failed one stores none of it") {
    FailNthWrite store(backend.store, 3);
    must(store.create_state_machine(hello_machine()));
    must(store.create_execution(new_execution("run")));
    const std::string arn = execution_arn("run");
    std::vector<Transition> batch;
    for (std::int64_t v = 1; v <= 3; ++v) {
      Transition t = step(arn, v);
      t.events = {event(v + 1)};
      batch.push_back(t);
    }
    CHECK(store.commit_transitions(batch).code() == Code::kIoError);
    CHECK(store.writes() == 3);
    CHECK(must(store.describe_execution(arn)).version == 1);
    CHECK(ids_of(all_history(store, arn)) == std::vector<std::int64_t>{1});
    CHECK(must(store.commit_transitions(batch)) == std::vector<std::int64_t>{2, 3, 4});
    CHECK(store.writes() == 4);
  }
  SUBCASE("a batch stored, but reported as failed") {
    FailNthWrite store(backend.store, 3, FailNthWrite::Mode::kAfterWrite);
    must(store.create_state_machine(hello_machine()));
    must(store.create_execution(new_execution("run")));
    Transition t1 = step(execution_arn("run"), 1);
    Transition t2 = step(execution_arn("run"), 2);
    CHECK(store.commit_transitions({t1, t2}).code() == Code::kIoError);
    CHECK(must(store.describe_execution(execution_arn("run"))).version == 3);
  }
}

TEST_CASE("store: a StoreWrapper forwards all but the method it overrides") {
  struct NoHistory : StoreWrapper {
    using StoreWrapper::StoreWrapper;
    StatusOr<Page<EventRecord>> get_history(const std::string&, const HistoryRequest&) override {
      return Status(Code::kIoError, "injected");
    }
  };
  NoHistory store(must(open_memory()));
  must(store.create_state_machine(hello_machine()));
  must(store.create_execution(new_execution("run")));
  CHECK(must(store.describe_execution(execution_arn("run"))).version == 1);
  CHECK(store.get_history(execution_arn("run"), {}).code() == Code::kIoError);
  CHECK(must(store.commit_transitions({step(execution_arn("run"), 1)})) == std::vector<std::int64_t>{2});
}

// ---- SQLite only: the file ------------------------------------------------------

TEST_CASE("sqlite store: everything survives closing and reopening the file") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  const std::string arn = execution_arn("run");
  {
    std::shared_ptr<Store> store = must(open_sqlite(path));
    must(store->create_state_machine(hello_machine()));
    StateMachineUpdate u;
    u.definition = R"({"StartAt":"B","States":{"B":{"Type":"Succeed"}}})";
    u.update_date = kT0 + kSecond;
    must(store->update_state_machine(kMachineArn, u));
    must(store->create_execution(new_execution("run")));
    Transition t = step(arn, 1);
    t.state = R"({"frames":[{"at":"B"}]})";
    t.events = {event(2), event(3)};
    t.timers_to_set = {{"", "wait", kT0 + 60 * kSecond}};
    t.tokens_to_add = {{"tok", "", "frame-1", TokenStatus::kOpen}};
    must(store->commit_transition(t));
    must_ok(store->acquire_lease(arn, "worker-1", kT0, kT0 + 10 * kSecond));
  }
  SqliteOptions options;
  options.create_if_missing = false;
  std::shared_ptr<Store> store = must(open_sqlite(path, options));
  StateMachineRecord m = must(store->describe_state_machine(kMachineArn));
  CHECK(m.version == 2);
  CHECK(must(store->list_state_machine_versions(kMachineArn)).size() == 2);
  ExecutionRecord r = must(store->describe_execution(arn));
  CHECK(r.version == 2);
  CHECK(r.state == R"({"frames":[{"at":"B"}]})");
  CHECK(r.input == R"({"x":1})");
  CHECK(r.lease_owner == "worker-1");
  CHECK(r.lease_expiry == kT0 + 10 * kSecond);
  CHECK(ids_of(all_history(*store, arn)) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(must(store->list_timers(arn)).size() == 1);
  CHECK(must(store->get_task_token("tok")).frame_key == "frame-1");
  // And it goes on from there.
  Transition next = step(arn, 2);
  next.events = {event(4)};
  CHECK(must(store->commit_transition(next)) == 3);
}

TEST_CASE("sqlite store: the file is marked as ours and readable with plain SQL") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  {
    std::shared_ptr<Store> store = must(open_sqlite(path));
    must(store->create_state_machine(hello_machine()));
    must(store->create_execution(new_execution("run")));
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA application_id").getInt() == kApplicationId);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == kSchemaVersion);
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getString() ==
        std::to_string(kSchemaVersion));
  CHECK(db.execAndGet("SELECT value FROM meta WHERE key = 'magic'").getString() == "stepwise");
  CHECK(db.execAndGet("SELECT e.type FROM events e JOIN executions x ON x.seq = e.execution_seq "
                      "WHERE x.name = 'run' AND e.id = 1")
            .getString() == "ExecutionStarted");
}

TEST_CASE("sqlite store: refuses files that are not its own and never writes them") {
  TempDir dir;
  const fs::path path = dir.file("db");
  auto refused = [&](Code expected) {
    const std::string before = read_bytes(path);
    StatusOr<std::unique_ptr<Store>> opened = open_sqlite(path.string());
    INFO(opened.status().to_string());
    CHECK(opened.code() == expected);
    CHECK(opened.status().message().find(path.string()) != std::string::npos);
    CHECK(read_bytes(path) == before);
    // Reading a WAL-mode database makes SQLite create its -shm index and an
    // empty -wal beside it; nothing is ever written to the log.
    const fs::path wal = path.string() + "-wal";
    if (fs::exists(wal)) CHECK(fs::file_size(wal) == 0);
    return opened.status().message();
  };

  SUBCASE("a text file") {
    write_bytes(path, "name,age\nada,36\n");
    CHECK(refused(Code::kNotOurs).find("is not a SQLite database") != std::string::npos);
  }
  SUBCASE("a file shorter than a SQLite header") {
    write_bytes(path, "SQLite");
    refused(Code::kNotOurs);
  }
  SUBCASE("another program's SQLite database") {
    {
      SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada')");
    }
    CHECK(refused(Code::kNotOurs).find("another program") != std::string::npos);
  }
  SUBCASE("another program's SQLite database with its own application id") {
    {
      SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("PRAGMA application_id = 1234; CREATE TABLE t (x)");
    }
    refused(Code::kNotOurs);
  }
  SUBCASE("a newer schema") {
    { must(open_sqlite(path.string())); }
    {
      SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
      db.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    }
    CHECK(refused(Code::kNewerSchema).find("schema version 99") != std::string::npos);
  }
  SUBCASE("ours, but without its meta table") {
    { must(open_sqlite(path.string())); }
    {
      SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
      db.exec("DROP TABLE meta");
    }
    refused(Code::kCorrupt);
  }
  SUBCASE("a damaged file") {
    {
      std::shared_ptr<Store> store = must(open_sqlite(path.string()));
      must(store->create_state_machine(hello_machine()));
    }
    std::string bytes = read_bytes(path);
    REQUIRE(bytes.size() > 4096);
    // Keep the 100-byte header (magic, application id), scramble the rest of
    // page 1: the schema can no longer be read.
    for (std::size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(i * 7 + 3);
    write_bytes(path, bytes);
    refused(Code::kCorrupt);
  }
}

TEST_CASE("sqlite store: a missing file is created, or NotFound without create_if_missing") {
  TempDir dir;
  const fs::path path = dir.file("new.db");
  SqliteOptions no_create;
  no_create.create_if_missing = false;
  CHECK(open_sqlite(path.string(), no_create).code() == Code::kNotFound);
  CHECK_FALSE(fs::exists(path));
  SqliteOptions normal;
  normal.sync = SyncMode::kNormal;
  must(open_sqlite(path.string(), normal));
  CHECK(fs::exists(path));
  // An empty file is a new database too.
  write_bytes(dir.file("empty.db"), "");
  must(open_sqlite(dir.file("empty.db").string()));
}

TEST_CASE("sqlite store: a full disk is DiskFull, rolls back, and loses nothing") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  const std::string arn = execution_arn("run");
  std::int64_t pages = 0;
  {
    std::shared_ptr<Store> store = must(open_sqlite(path));
    must(store->create_state_machine(hello_machine()));
    must(store->create_execution(new_execution("run")));
    Transition t = step(arn, 1);
    t.events = {event(2)};
    must(store->commit_transition(t));
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    pages = db.execAndGet("PRAGMA page_count").getInt64();
  }
  SqliteOptions capped;
  capped.max_page_count = pages + 2;
  std::shared_ptr<Store> store = must(open_sqlite(path, capped));
  Transition big = step(arn, 2);
  // Far more than the two pages the cap leaves, whatever the page size.
  big.state = std::string(512 * 1024, 's');
  big.events = {event(3), {4, 3, kT0, "TaskSucceeded", std::string(512 * 1024, 'x')}};
  big.timers_to_set = {{"", "t", kT0}};
  Status full = store->commit_transition(big).status();
  CHECK(full.code() == Code::kDiskFull);

  ExecutionRecord r = must(store->describe_execution(arn));
  CHECK(r.version == 2);
  CHECK(r.last_event_id == 2);
  CHECK(ids_of(all_history(*store, arn)) == std::vector<std::int64_t>{1, 2});
  CHECK(must(store->list_timers(arn)).empty());
  // Small writes still fit.
  Transition small = step(arn, 2);
  small.events = {event(3)};
  CHECK(must(store->commit_transition(small)) == 3);
  store.reset();

  // Space is back: the big transition goes through.
  store = must(open_sqlite(path));
  big.expected_version = 3;
  big.events = {event(4), {5, 4, kT0, "TaskSucceeded", std::string(512 * 1024, 'x')}};
  CHECK(must(store->commit_transition(big)) == 4);
  CHECK(ids_of(all_history(*store, arn)) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("sqlite store: two connections to one file share leases and reject stale writers") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  std::shared_ptr<Store> one = must(open_sqlite(path));
  std::shared_ptr<Store> two = must(open_sqlite(path));
  must(one->create_state_machine(hello_machine()));
  must(two->create_execution(new_execution("run")));
  const std::string arn = execution_arn("run");

  must_ok(one->acquire_lease(arn, "worker-1", kT0, kT0 + 10 * kSecond));
  CHECK(two->acquire_lease(arn, "worker-2", kT0, kT0 + 10 * kSecond).code() == Code::kConflict);
  CHECK(must(one->commit_transition(step(arn, 1))) == 2);
  CHECK(two->commit_transition(step(arn, 1)).code() == Code::kConflict);

  // Concurrent writers from two threads: every commit lands exactly once.
  must(one->create_execution(new_execution("a")));
  must(one->create_execution(new_execution("b")));
  auto run = [](Store* store, std::string target) {
    for (std::int64_t v = 1; v <= 50; ++v) {
      Transition t = step(target, v);
      t.events = {event(v + 1)};
      REQUIRE(store->commit_transition(t).ok());
    }
  };
  std::thread ta(run, one.get(), execution_arn("a"));
  std::thread tb(run, two.get(), execution_arn("b"));
  ta.join();
  tb.join();
  CHECK(all_history(*one, execution_arn("a")).size() == 51);
  CHECK(all_history(*two, execution_arn("b")).size() == 51);
}

TEST_CASE("sqlite store: the events view shows the history one row per event, for plain SQL") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  const std::string arn = execution_arn("run");
  {
    std::shared_ptr<Store> store = must(open_sqlite(path));
    must(store->create_state_machine(hello_machine()));
    must(store->create_execution(new_execution("run")));
    Transition t = step(arn, 1);
    for (std::int64_t id = 2; id <= 300; ++id)
      t.events.push_back(event(id, id % 2 ? "PassStateExited" : "PassStateEntered"));
    t.events.push_back(
        {301, 300, kT0 + 301, "TaskFailed", R"({"taskFailedEventDetails":{"error":"E\"1","cause":"line\nbreak"}})"});
    must(store->commit_transition(t));
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM events").getInt() == 301);
  CHECK(db.execAndGet("SELECT count(*) FROM history").getInt() < 10);  // chunks, not rows per event
  SQLite::Statement q(db,
                      "SELECT ev.id, ev.previous_id, ev.timestamp, ev.type, ev.details FROM events ev "
                      "JOIN executions x ON x.seq = ev.execution_seq WHERE x.name = 'run' ORDER BY ev.id");
  std::int64_t expected = 1;
  while (q.executeStep()) {
    CHECK(q.getColumn(0).getInt64() == expected);
    CHECK(q.getColumn(1).getInt64() == expected - 1);
    ++expected;
  }
  CHECK(expected == 302);
  CHECK(db.execAndGet("SELECT json_extract(details, '$.taskFailedEventDetails.error') FROM events "
                      "WHERE type = 'TaskFailed'")
            .getString() == "E\"1");
  CHECK(db.execAndGet("SELECT details FROM events WHERE id = 301").getString() ==
        R"({"taskFailedEventDetails":{"error":"E\"1","cause":"line\nbreak"}})");
  CHECK(db.execAndGet("SELECT timestamp FROM events WHERE id = 150").getInt64() == kT0 + 150);
}

TEST_CASE("sqlite store: the events view shows encoded events' details as text too") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  const std::string arn = execution_arn("run");
  const std::string details = R"({"taskFailedEventDetails":{"error":"E\"1","cause":"line\nbreak"}})";
  {
    std::shared_ptr<Store> store = must(open_sqlite(path));
    must(store->create_state_machine(hello_machine()));
    must(store->create_execution(new_execution("run")));
    Transition t = step(arn, 1);
    t.encoded_events.begin(2, 1, kT0 + 2, "TaskFailed") += details;
    t.encoded_events.end();
    must(store->commit_transition(t));
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM events").getInt() == 2);
  CHECK(db.execAndGet("SELECT type FROM events WHERE id = 2").getString() == "TaskFailed");
  CHECK(db.execAndGet("SELECT details FROM events WHERE id = 2").getString() == details);
  CHECK(db.execAndGet("SELECT json_extract(details, '$.taskFailedEventDetails.error') FROM events WHERE id = 2")
            .getString() == "E\"1");
}

TEST_CASE("sqlite store: a version 1 database is migrated, its history kept") {
  TempDir dir;
  const std::string path = dir.file("v1.db").string();
  const std::string arn = execution_arn("old");
  {
    // What Stepwise with schema version 1 wrote.
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(stepwise::storage::internal::kMigrations[0].sql);
    db.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    db.exec("PRAGMA user_version = 1");
    db.exec(R"(INSERT INTO state_machines VALUES ('arn:m', 'M', 'STANDARD', 'arn:role', 1, 1, 0);
               INSERT INTO state_machine_versions VALUES ('arn:m', 1, '{}', 1);)");
    SQLite::Statement x(db,
                        "INSERT INTO executions (seq, arn, name, state_machine_arn, state_machine_version, status, "
                        "input, start_date, state, version, last_event_id) "
                        "VALUES (7, ?, 'old', 'arn:m', 1, 'RUNNING', '{}', 5, 'st', 3, 3)");
    x.bind(1, arn);
    x.exec();
    db.exec(R"(INSERT INTO events VALUES (7, 1, 0, 10, 'ExecutionStarted', '{"executionStartedEventDetails":{}}');
               INSERT INTO events VALUES (7, 2, 1, 11, 'PassStateEntered', '{"s":"a \"quoted\" \\ text"}');
               INSERT INTO events VALUES (7, 3, 2, 12, 'PassStateExited', '{}');)");
  }
  std::shared_ptr<Store> store = must(open_sqlite(path));
  std::vector<EventRecord> history = all_history(*store, arn);
  REQUIRE(ids_of(history) == std::vector<std::int64_t>{1, 2, 3});
  CHECK(history[1].type == "PassStateEntered");
  CHECK(history[1].previous_id == 1);
  CHECK(history[1].timestamp == 11);
  CHECK(history[1].details == R"({"s":"a \"quoted\" \\ text"})");
  CHECK(must(store->list_executions({"arn:m", "", ExecutionStatus::kRunning}, {})).items.size() == 1);
  Transition t = step(arn, 3);
  t.events = {event(4), event(5)};
  CHECK(must(store->commit_transition(t)) == 4);
  CHECK(ids_of(all_history(*store, arn)) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  store.reset();

  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == kSchemaVersion);
  CHECK(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getString() ==
        std::to_string(kSchemaVersion));
  CHECK(db.execAndGet("SELECT count(*) FROM events WHERE execution_seq = 7").getInt() == 5);
  CHECK(db.execAndGet("SELECT count(*) FROM sqlite_master WHERE name = 'events' AND type = 'view'").getInt() == 1);
}

TEST_CASE("sqlite store: what one connection remembers gives way to another connection's writes") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  std::shared_ptr<Store> one = must(open_sqlite(path));
  std::shared_ptr<Store> two = must(open_sqlite(path));
  must(one->create_state_machine(hello_machine()));
  must(one->create_execution(new_execution("run")));
  const std::string arn = execution_arn("run");

  Transition t = step(arn, 1);
  t.events = {event(2)};
  CHECK(must(one->commit_transitions({t})) == std::vector<std::int64_t>{2});
  // The other connection moves the execution on...
  t = step(arn, 2);
  t.events = {event(3)};
  CHECK(must(two->commit_transition(t)) == 3);
  // ... so the first one's view of it (version 2, event 2) is stale.
  t = step(arn, 2);
  t.events = {event(3)};
  CHECK(one->commit_transitions({t}).code() == Code::kConflict);
  t = step(arn, 3);
  t.events = {event(3)};
  CHECK(one->commit_transitions({t}).code() == Code::kInvalidArgument);  // event 3 is taken
  t.events = {event(4)};
  CHECK(must(one->commit_transitions({t})) == std::vector<std::int64_t>{4});

  // A lease taken through the other connection holds against the first.
  must_ok(two->acquire_lease(arn, "worker-2", kT0, kT0 + 60 * kSecond));
  t = step(arn, 4);
  t.lease_owner = "worker-1";
  CHECK(one->commit_transitions({t}).code() == Code::kConflict);
  t.lease_owner = "worker-2";
  CHECK(must(one->commit_transitions({t})) == std::vector<std::int64_t>{5});
  // And an ending committed through the other connection is seen too.
  t = step(arn, 5);
  t.outcome = ExecutionOutcome{ExecutionStatus::kAborted, {}, {}, {}, kT0};
  must(two->commit_transition(t));
  CHECK(one->commit_transitions({step(arn, 6)}).code() == Code::kConflict);
  CHECK(one->acquire_lease(arn, "worker-1", kT0 + 120 * kSecond, kT0).code() == Code::kConflict);
}

TEST_CASE("sqlite store: the WAL is copied into the database file while the store stays open") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  const std::string arn = execution_arn("run");
  SqliteOptions options;
  options.sync = SyncMode::kNormal;  // no fsync per commit: this test is about the checkpoints
  std::shared_ptr<Store> store = must(open_sqlite(path, options));
  must(store->create_state_machine(hello_machine()));
  must(store->create_execution(new_execution("run")));
  const auto db_size = [&] { return std::filesystem::file_size(path); };
  const auto before = db_size();
  // About 40 MB of history: past the WAL's checkpoint threshold (1,000 32 KiB pages).
  const std::string details = "{\"pad\":\"" + std::string(1000, 'p') + "\"}";
  std::int64_t id = 2;
  for (std::int64_t v = 1; v <= 130; ++v) {
    Transition t = step(arn, v);
    for (int i = 0; i < 300; ++i, ++id) {
      t.encoded_events.begin(id, id - 1, kT0 + id, "PassStateEntered") += details;
      t.encoded_events.end();
    }
    must(store->commit_transition(t));
  }
  // A background checkpoint copies the pages; no commit waited for it.
  for (int i = 0; i < 500 && db_size() < before + 20 * 1024 * 1024; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(db_size() >= before + 20 * 1024 * 1024);
  CHECK(must(store->describe_execution(arn)).last_event_id == id - 1);
}

TEST_CASE("sqlite store: history chunks stay within their text limit, so that two fill a page") {
  TempDir dir;
  const std::string path = dir.file("stepwise.db").string();
  const std::string arn = execution_arn("run");
  const std::string details =
      R"({"stateEnteredEventDetails":{"name":"P","input":"{\"acc\":{\"n\":1}}","inputDetails":{"truncated":false}}})";
  const std::string wide = "{\"wide\":\"" + std::string(40000, 'w') + "\"}";
  {
    std::shared_ptr<Store> store = must(open_sqlite(path));
    must(store->create_state_machine(hello_machine()));
    must(store->create_execution(new_execution("run")));
    Transition t = step(arn, 1);
    // 2,000 small events, one wider than a chunk in the middle of them.
    for (std::int64_t id = 2; id <= 2001; ++id) {
      t.encoded_events.begin(id, id - 1, kT0 + id, "PassStateEntered") += id == 1000 ? wide : details;
      t.encoded_events.end();
    }
    must(store->commit_transition(t));
    CHECK(must(store->describe_execution(arn)).last_event_id == 2001);
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  const std::int64_t limit = static_cast<std::int64_t>(stepwise::storage::internal::kChunkTextLimit);
  // Every chunk but the wide event's own stays within the limit, and is not much shorter.
  CHECK(db.execAndGet("SELECT count(*) FROM history WHERE length(events) > " + std::to_string(limit)).getInt() == 1);
  CHECK(db.execAndGet("SELECT count(*) FROM history WHERE first_id = 1000 AND last_id = 1000").getInt() == 1);
  CHECK(db.execAndGet("SELECT min(length(events)) FROM history WHERE first_id > 1 AND last_id < 999").getInt64() > limit - 200);
  // Two chunks and their cells' overhead (row header, keys: under 48 bytes) fit a 32 KiB leaf page.
  CHECK(2 * (limit + 48) <= 32 * 1024 - 8);
}

TEST_CASE("sqlite store: history chunks encode any text and decode what SQLite's JSON writes") {
  using stepwise::storage::internal::ChunkWriter;
  using stepwise::storage::internal::decode_chunk;
  // Random bytes, every value included, come back as they went in.
  std::uint64_t seed = 42;
  auto next_byte = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<char>(seed >> 56);
  };
  ChunkWriter writer;
  std::vector<EventRecord> written;
  writer.begin();
  for (int i = 0; i < 200; ++i) {
    EventRecord e{i + 1, i, kT0 - i, "", ""};
    for (int n = 0; n < i % 40; ++n) e.type += next_byte();
    for (int n = 0; n < i * 3; ++n) e.details += next_byte();
    writer.add(e);
    written.push_back(e);
  }
  const std::string text(writer.finish());
  CHECK(text.find('\0') == std::string::npos);
  std::vector<EventRecord> read;
  REQUIRE(decode_chunk(text, read));
  REQUIRE(read.size() == written.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    CHECK(read[i].id == written[i].id);
    CHECK(read[i].previous_id == written[i].previous_id);
    CHECK(read[i].timestamp == written[i].timestamp);
    CHECK(read[i].type == written[i].type);
    CHECK(read[i].details == written[i].details);
  }

  // What SQLite's json_array() writes (the migration from schema 1 does).
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE);
  const std::string odd = std::string("tab\there \"q\" back\\slash nul") + '\0' + "\x01 caf\xc3\xa9 \xf0\x9f\x98\x80";
  SQLite::Statement q(db, "SELECT json_array(json_array(1, 0, -5, 'T', ?1), json_array(2, 1, 9, ?1, '{}'))");
  q.bind(1, odd);  // as text, NUL included
  REQUIRE(q.executeStep());
  read.clear();
  REQUIRE(decode_chunk(q.getColumn(0).getString(), read));
  REQUIRE(read.size() == 2);
  CHECK(read[0].timestamp == -5);
  CHECK(read[0].details == odd);
  CHECK(read[1].type == odd);

  // Every JSON escape and spacing.
  read.clear();
  REQUIRE(decode_chunk(R"( [ [ 3 , 2 , 1 , "a\/b\b\f\n\r\t\u00e9\uD83D\uDE00\ud800x" , "" ] ] )", read));
  REQUIRE(read.size() == 1);
  CHECK(read[0].type == "a/b\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\xed\xa0\x80x");
  read.clear();
  CHECK(decode_chunk("[]", read));
  CHECK(read.empty());

  // Details written as the object itself (encoded events), taken as written.
  read.clear();
  const std::string object = R"({ "a" : "}\"{\\" , "b" : [1, {"c": "]"}], "d": {} })";
  REQUIRE(decode_chunk("[[1,0,2,\"T\"," + object + "],[2,1,3,\"U\",\"{}\"]]", read));
  REQUIRE(read.size() == 2);
  CHECK(read[0].details == object);
  CHECK(read[1].details == "{}");
  for (const char* bad : {"[[1,0,0,\"a\",{]]", "[[1,0,0,\"a\",{\"b\":\"}]]", "[[1,0,0,\"a\",{\"b\":[}]]"}) {
    INFO(bad);
    read.clear();
    CHECK_FALSE(decode_chunk(bad, read));
  }
  for (const char* bad : {"", "[", "[[1,0,0,\"a\",\"b\"]", "[[1,0,0,\"a\"]]", "[[1,0,0,\"a\",\"b\"]]x",
                          "[[1,0,0,\"a\",\"b\\q\"]]", "[[1,0,0,\"a\",\"b]]", "[[x,0,0,\"a\",\"b\"]]",
                          "[[1,0,0,\"a\",\"\\u12\"]]", "{}"}) {
    INFO(bad);
    read.clear();
    CHECK_FALSE(decode_chunk(bad, read));
    CHECK(read.empty());
  }
}

namespace {

InvocationRecord invocation(const std::string& fn, double ms, bool cold = false) {
  InvocationRecord r;
  r.function_name = fn;
  r.request_id = fn + "-" + std::to_string(ms);
  r.start_time = kT0;
  r.duration_ms = ms;
  r.billed_duration_ms = static_cast<std::int64_t>(ms + 0.999);
  r.memory_size_mb = 128;
  r.max_memory_used_mb = 20;
  if (cold) r.init_duration_ms = 80.5;
  r.cold = cold;
  return r;
}

}  // namespace

TEST_CASE_TEMPLATE("store: function invocation records, all or by function, in the order recorded", B, MemoryBackend,
                   SqliteBackend) {
  B b;
  auto empty = b.store->list_invocations("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto failed = invocation("Resize", 3.5);
  failed.error = "ValueError";
  failed.execution_arn = execution_arn("e1");
  failed.state_name = "Resize";
  auto throttled = invocation("Hash", 0);
  throttled.throttled = true;
  throttled.error = "Lambda.TooManyRequestsException";
  must_ok(b.store->record_invocations({invocation("Resize", 12.25, true), failed}));
  must_ok(b.store->record_invocations({throttled}));
  must_ok(b.store->record_invocations({}));

  auto all = b.store->list_invocations("");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].function_name == "Resize");
  CHECK((*all)[0].cold);
  REQUIRE((*all)[0].init_duration_ms);
  CHECK(*(*all)[0].init_duration_ms == doctest::Approx(80.5));
  CHECK((*all)[0].duration_ms == doctest::Approx(12.25));
  CHECK((*all)[0].billed_duration_ms == 13);
  CHECK((*all)[0].memory_size_mb == 128);
  CHECK((*all)[0].max_memory_used_mb == 20);
  CHECK((*all)[0].start_time == kT0);
  CHECK((*all)[1].error == "ValueError");
  CHECK((*all)[1].execution_arn == execution_arn("e1"));
  CHECK((*all)[1].state_name == "Resize");
  CHECK_FALSE((*all)[1].init_duration_ms);
  CHECK((*all)[2].throttled);

  auto resize = b.store->list_invocations("Resize");
  REQUIRE(resize.ok());
  CHECK(resize->size() == 2);
  auto none = b.store->list_invocations("Other");
  REQUIRE(none.ok());
  CHECK(none->empty());
}
