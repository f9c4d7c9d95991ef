// stepwise_crash_test: issue #3's crash test 1. A real worker process
// (stepwise_crash_worker) runs ~40 mixed executions (Tasks with retries,
// Catch, Waits, Parallel, inline Map) from a SQLite database and is killed
// with SIGKILL at random moments, again and again, then a last worker runs
// everything to its end. Checked for every execution, against a reference
// run of the same definitions and inputs in a plain in-memory engine:
//  - the final status, output, error and cause;
//  - the history: ids 1..N, and the same events (type and details) in the
//    same order as the reference;
//  - between two incarnations nothing stored disappears or changes: each
//    history only grows, an ended execution stays as it ended;
//  - from the invocation log: every task invocation of the reference
//    happened, no other, none twice in one incarnation, and none by an
//    incarnation started after the task's completion was committed.
//
//   stepwise_crash_test --worker PATH [--seed N] [--kills N] [--keep]
// Exit code 0 when every check passed, 1 otherwise, 2 for bad arguments.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crash_functions.h"
#include "engine/engine.h"
#include "engine/event_codec.h"
#include "engine/snapshot.h"
#include "storage/store.h"

extern char** environ;

using namespace stepwise;

namespace {

// ---- The workload ------------------------------------------------------------

constexpr const char* kWork = "arn:aws:lambda:us-east-1:123456789012:function:Work";
constexpr const char* kAccount = "123456789012";

// A bit of everything, laid out so that the order of events does not depend
// on timing: a branch or iteration waiting on a timer never runs beside one
// running a task (the order of those would depend on how long a restart
// takes, and AWS does not promise it either).
constexpr const char* kMixed = R"json({
 "Comment": "crash test: tasks with retries and catch, waits, parallel, inline map",
 "StartAt": "Prepare",
 "States": {
  "Prepare": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Work",
              "Parameters": {"n.$": "$.n", "ms": 3}, "ResultSelector": {"v.$": "$.in.n"},
              "ResultPath": "$.prepared", "Next": "Flaky"},
  "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "Flaky", "Payload": {"n.$": "$.n", "ms": 2}},
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0}],
            "ResultSelector": {"attempt.$": "$.Payload.attempt"}, "ResultPath": "$.flaky", "Next": "Nap"},
  "Nap": {"Type": "Wait", "SecondsPath": "$.nap", "Next": "Fan"},
  "Fan": {"Type": "Parallel", "ResultPath": "$.fan", "Next": "Pulse", "Branches": [
    {"StartAt": "B1a", "States": {
      "B1a": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Work",
              "Parameters": {"n.$": "$.n", "ms": 4}, "ResultSelector": {"s.$": "$.state"}, "Next": "B1b"},
      "B1b": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "Work", "Payload": {"prev.$": "$.s", "ms": 1}},
              "OutputPath": "$.Payload.in", "End": true}}},
    {"StartAt": "B2a", "States": {
      "B2a": {"Type": "Pass", "Parameters": {"m.$": "States.MathAdd($.n, 100)"}, "Next": "B2b"},
      "B2b": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Work",
              "Parameters": {"m.$": "$.m", "ms": 2}, "ResultSelector": {"m.$": "$.in.m"}, "End": true}}},
    {"StartAt": "B3", "States": {"B3": {"Type": "Pass", "Result": "three", "End": true}}}]},
  "Pulse": {"Type": "Parallel", "ResultPath": null, "Next": "Each", "Branches": [
    {"StartAt": "Tick", "States": {"Tick": {"Type": "Wait", "Seconds": 1, "Next": "Tock"},
                                   "Tock": {"Type": "Pass", "End": true}}},
    {"StartAt": "Idle", "States": {"Idle": {"Type": "Pass", "End": true}}}]},
  "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
    "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "n.$": "$.n"},
    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Kind", "States": {
      "Kind": {"Type": "Choice", "Choices": [
          {"Variable": "$.item.kind", "StringEquals": "flaky", "Next": "ItemFlaky"},
          {"Variable": "$.item.kind", "StringEquals": "fatal", "Next": "ItemFatal"}],
        "Default": "ItemWork"},
      "ItemWork": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Work",
                   "Parameters": {"v.$": "$.item.v", "i.$": "$.index", "ms": 2},
                   "ResultSelector": {"v.$": "$.in.v", "i.$": "$.in.i"}, "End": true},
      "ItemFlaky": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky",
                    "Parameters": {"v.$": "$.item.v", "ms": 1},
                    "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                    "ResultSelector": {"v.$": "$.in.v", "attempt.$": "$.attempt"}, "End": true},
      "ItemFatal": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Fatal",
                    "Parameters": {"v.$": "$.item.v"},
                    "Catch": [{"ErrorEquals": ["Nope"], "ResultPath": "$.caught", "Next": "Recovered"}],
                    "End": true},
      "Recovered": {"Type": "Pass", "Parameters": {"recovered.$": "$.item.v", "error.$": "$.caught.Error"},
                    "End": true}}},
    "ResultPath": "$.each", "Next": "Wide"},
  "Wide": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Touch", "States": {
      "Touch": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Work",
                "Parameters": {"v.$": "$.v", "ms": 1}, "ResultSelector": {"v.$": "$.in.v"}, "End": true}}},
    "ResultPath": "$.wide", "Next": "Decide"},
  "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Explode"}],
             "Default": "Done"},
  "Explode": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Fatal",
              "Parameters": {"n.$": "$.n"}, "End": true},
  "Done": {"Type": "Succeed"}}})json";

// Eight task steps in a row (many small transitions to kill between), one
// of them flaky with a retry.
std::string chain_definition() {
  constexpr int kSteps = 8;
  std::string d = R"({"StartAt":"S0","States":{)";
  for (int i = 0; i < kSteps; ++i) {
    const std::string name = "S" + std::to_string(i);
    const std::string next = i + 1 < kSteps ? R"("Next":"S)" + std::to_string(i + 1) + "\"" : R"("End":true)";
    if (i == 4) {
      d += "\"" + name + R"(":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky",)" +
           R"j("Parameters":{"acc.$":"$.acc","ms":1},"ResultSelector":{"acc.$":"States.MathAdd($.in.acc, 1)"},)j" +
           R"("Retry":[{"ErrorEquals":["Boom"],"IntervalSeconds":1,"MaxAttempts":2}],)" + next + "},";
    } else if (i % 2 == 0) {
      d += "\"" + name + R"(":{"Type":"Task","Resource":")" + kWork + R"(",)" +
           R"j("Parameters":{"acc.$":"$.acc","ms":1},"ResultSelector":{"acc.$":"States.MathAdd($.in.acc, 1)"},)j" +
           next + "},";
    } else {
      d += "\"" + name + R"(":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",)" +
           R"("Parameters":{"FunctionName":"Work","Payload":{"acc.$":"$.acc","ms":1}},)" +
           R"j("ResultSelector":{"acc.$":"States.MathAdd($.Payload.in.acc, 1)"},)j" + next + "},";
    }
  }
  d.back() = '}';
  return d + "}";
}

struct Machine {
  std::string name;
  std::string definition;
  std::shared_ptr<const states::Definition> parsed;
  std::string arn() const { return std::string("arn:aws:states:us-east-1:") + kAccount + ":stateMachine:" + name; }
};

struct ExecutionSpec {
  const Machine* machine = nullptr;
  std::string name;
  std::string input;
};

// Mixed executions vary in their nap (0-2 s), their items (1-4, of three
// kinds) and whether they end FAILED; chains in their starting number.
std::vector<ExecutionSpec> workload(const Machine& mixed, const Machine& chain, int count) {
  std::vector<ExecutionSpec> out;
  for (int i = 0; i < count; ++i) {
    char name[32];
    if (i % 4 == 3) {
      std::snprintf(name, sizeof name, "chain-%02d", i);
      out.push_back({&chain, name, "{\"acc\":" + std::to_string(i * 10) + "}"});
      continue;
    }
    std::snprintf(name, sizeof name, "mixed-%02d", i);
    static constexpr const char* kKinds[] = {"flaky", "plain", "fatal"};
    std::string items;
    for (int j = 0; j < 1 + i % 4; ++j) {
      if (j) items += ",";
      items += "{\"v\":" + std::to_string(i * 100 + j) + ",\"kind\":\"" + kKinds[(i + j) % 3] + "\"}";
    }
    out.push_back({&mixed, name,
                   "{\"n\":" + std::to_string(i) + ",\"nap\":" + std::to_string(i % 3) + ",\"items\":[" + items +
                       "],\"fail\":" + (i % 5 == 4 ? "true" : "false") + "}"});
  }
  return out;
}

// ---- Checks ------------------------------------------------------------------

// Counts failed checks and prints the first ones.
class Checker {
 public:
  void fail(const std::string& what) {
    if (failures_ < 40) std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures_;
  }
  void expect(bool ok, const std::string& what) {
    if (!ok) fail(what);
  }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

template <class T>
T must(storage::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "FATAL: %s: %s\n", what, v.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(v.value());
}

std::vector<storage::EventRecord> history(storage::Store& store, const std::string& arn) {
  std::vector<storage::EventRecord> all;
  storage::HistoryRequest req;
  req.page.max_results = storage::kMaxPageSize;
  for (;;) {
    auto page = must(store.get_history(arn, req), "get_history");
    all.insert(all.end(), page.items.begin(), page.items.end());
    if (page.next_token.empty()) return all;
    req.page.next_token = page.next_token;
  }
}

bool same_event(const storage::EventRecord& a, const storage::EventRecord& b) {
  return a.id == b.id && a.previous_id == b.previous_id && a.timestamp == b.timestamp && a.type == b.type &&
         a.details == b.details;
}

// The invocation a task completion event (…Succeeded/…Failed) completes: the
// functions put their idempotency key in their result or their cause.
// nullopt: not a task completion; "": one that names no key.
std::optional<std::string> completion_key(const storage::EventRecord& e) {
  const bool succeeded = e.type == "LambdaFunctionSucceeded" || e.type == "TaskSucceeded";
  const bool failed = e.type == "LambdaFunctionFailed" || e.type == "TaskFailed";
  if (!succeeded && !failed) return std::nullopt;
  auto details = parse_json(e.details);
  if (!details || !details->is_object() || details->get_object().size() != 1) return std::string();
  const json::value& inner = details->get_object().begin()->value();
  if (!inner.is_object()) return std::string();
  const auto* field = inner.get_object().if_contains(succeeded ? "output" : "cause");
  if (!field || !field->is_string()) return std::string();
  if (failed) return std::string(field->get_string());
  auto output = parse_json(std::string(field->get_string()));
  if (!output || !output->is_object()) return std::string();
  const json::object* result = &output->get_object();
  if (const auto* payload = result->if_contains("Payload"); payload && payload->is_object()) {
    result = &payload->get_object();  // lambda:invoke wraps the function's result
  }
  const auto* key = result->if_contains("key");
  return key && key->is_string() ? std::string(key->get_string()) : std::string();
}

// What the reference run of one execution gives.
struct Expected {
  storage::ExecutionStatus status = storage::ExecutionStatus::kRunning;
  std::optional<std::string> output, error, cause;
  std::vector<storage::EventRecord> events;
  std::set<std::string> invoked;  // idempotency keys
};

// Runs every execution in a plain in-memory engine with virtual time, no
// store, no crash. Keyed by execution ARN.
std::map<std::string, Expected> reference_run(const std::vector<ExecutionSpec>& specs) {
  std::map<std::string, Expected> out;
  EngineOptions eo;
  eo.clock = std::make_shared<ManualClock>();
  eo.virtual_time = true;
  Engine engine(eo);
  crashtest::register_functions(
      engine.functions(),
      [&out](const InvocationContext& ctx) { out[ctx.execution_id].invoked.insert(ctx.idempotency_key); },
      /*sleep=*/false);
  for (const auto& spec : specs) {
    RunOptions ro;
    ro.state_machine_name = spec.machine->name;
    ro.execution_name = spec.name;
    ro.record_history = true;
    ExecutionResult r = engine.run(spec.machine->parsed, *parse_json(spec.input), ro);
    Expected& e = out[r.execution_arn];
    e.status = to_store_status(r.status);
    if (r.status == ExecutionStatus::Succeeded) e.output = to_json(r.output);
    if (r.has_error) e.error = r.error;
    if (r.has_cause) e.cause = r.cause;
    for (const auto& ev : r.history) e.events.push_back(to_event_record(ev));
  }
  return out;
}

// Records an execution as start-execution does: the machine's version 1,
// ExecutionStarted, the initial snapshot.
std::string start_execution(storage::Store& store, Engine& engine, const ExecutionSpec& spec) {
  RunOptions ro;
  ro.state_machine_name = spec.machine->name;
  ro.execution_name = spec.name;
  auto prepared = engine.prepare(spec.machine->parsed, *parse_json(spec.input), ro);
  storage::NewExecution e;
  e.arn = prepared.snapshot.state.arn;
  e.name = spec.name;
  e.state_machine_arn = spec.machine->arn();
  e.state_machine_version = 1;
  e.input = spec.input;
  e.start_date = prepared.snapshot.state.start_time;
  e.state = to_json(snapshot_to_json(prepared.snapshot));
  for (const auto& ev : prepared.events) e.events.push_back(to_event_record(ev));
  return must(store.create_execution(e), "create_execution").execution.arn;
}

// What the database showed so far, read each time no worker runs.
class Observer {
 public:
  // Reads every history after `incarnation` died and checks nothing that was
  // there before changed or disappeared.
  void observe(storage::Store& store, const std::vector<std::string>& arns, int incarnation, Checker& check) {
    for (const auto& arn : arns) {
      Seen& seen = seen_[arn];
      auto record = must(store.describe_execution(arn), "describe_execution");
      auto events = history(store, arn);
      const std::string where = arn + " after incarnation " + std::to_string(incarnation);
      check.expect(events.size() >= seen.events.size(), where + ": history shrank from " +
                                                            std::to_string(seen.events.size()) + " to " +
                                                            std::to_string(events.size()) + " events");
      for (std::size_t i = 0; i < std::min(events.size(), seen.events.size()); ++i) {
        if (!same_event(events[i], seen.events[i])) {
          check.fail(where + ": event " + std::to_string(seen.events[i].id) + " changed");
          break;
        }
      }
      check.expect(record.last_event_id == (events.empty() ? 0 : events.back().id),
                   where + ": last_event_id disagrees with the history");
      if (seen.ended) {
        check.expect(record.status == seen.status && record.output == seen.output,
                     where + ": an ended execution changed");
      }
      if (events.size() > seen.events.size()) ++progress_[incarnation];
      for (std::size_t i = seen.events.size(); i < events.size(); ++i) {
        auto key = completion_key(events[i]);
        if (!key) continue;
        check.expect(!key->empty(), where + ": event " + std::to_string(events[i].id) + " names no invocation");
        if (!completed_after_.count(*key)) completed_after_[*key] = incarnation;
      }
      seen.events = std::move(events);
      seen.status = record.status;
      seen.output = record.output;
      seen.ended = storage::is_terminal(record.status);
    }
  }

  // The incarnation after which the completion of `key` was first seen
  // stored: every later incarnation started after it was committed.
  std::optional<int> completed_after(const std::string& key) const {
    auto it = completed_after_.find(key);
    return it == completed_after_.end() ? std::nullopt : std::optional<int>(it->second);
  }
  // Incarnations that stored at least one event.
  std::size_t productive_incarnations() const { return progress_.size(); }

 private:
  struct Seen {
    std::vector<storage::EventRecord> events;
    storage::ExecutionStatus status = storage::ExecutionStatus::kRunning;
    std::optional<std::string> output;
    bool ended = false;
  };
  std::map<std::string, Seen> seen_;
  std::map<std::string, int> completed_after_;
  std::map<int, int> progress_;
};

// How early an event may look: a due time and an event's timestamp are two
// readings of the clock.
constexpr Nanos kTimerSlack = 2 * kNanosPerMilli;

void check_execution(storage::Store& store, const std::string& arn, const Expected& want, Checker& check) {
  auto record = must(store.describe_execution(arn), "describe_execution");
  check.expect(record.status == want.status, arn + ": status " + std::string(storage::to_string(record.status)) +
                                                 ", expected " + std::string(storage::to_string(want.status)));
  check.expect(record.output == want.output,
               arn + ": output " + record.output.value_or("(none)") + ", expected " + want.output.value_or("(none)"));
  check.expect(record.error == want.error && record.cause == want.cause, arn + ": error/cause differ");
  check.expect(record.lease_owner.empty(), arn + ": an ended execution keeps a lease");
  const auto events = history(store, arn);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].id != static_cast<std::int64_t>(i + 1) || events[i].previous_id >= events[i].id ||
        events[i].previous_id < 0) {
      check.fail(arn + ": event ids not contiguous at position " + std::to_string(i + 1));
      break;
    }
  }
  check.expect(must(store.list_timers(arn), "list_timers").empty(), arn + ": an ended execution keeps timers");
  check.expect(events.size() == want.events.size(),
               arn + ": " + std::to_string(events.size()) + " events, expected " + std::to_string(want.events.size()));
  for (std::size_t i = 0; i < std::min(events.size(), want.events.size()); ++i) {
    const auto& got = events[i];
    const auto& exp = want.events[i];
    if (got.type != exp.type || got.previous_id != exp.previous_id || got.details != exp.details) {
      check.fail(arn + ": event " + std::to_string(got.id) + " is " + got.type + " " + got.details + ", expected " +
                 exp.type + " " + exp.details);
      break;
    }
    // In the reference, time moves only when a timer (Wait, retry backoff)
    // fires, straight to its due time; so no event may come earlier after
    // the start than it does there, whatever the restarts: a timer resumed
    // with its original due time never fires early.
    const Nanos got_at = got.timestamp - events.front().timestamp;
    const Nanos want_at = exp.timestamp - want.events.front().timestamp;
    if (got_at + kTimerSlack < want_at) {
      check.fail(arn + ": event " + std::to_string(got.id) + " (" + got.type + ") came " +
                 std::to_string((want_at - got_at) / kNanosPerMilli) + " ms early: a timer fired before its due time");
      break;
    }
  }
}

// ---- The invocation log ------------------------------------------------------

struct Invocation {
  std::string key;
  std::string state;
  int attempt = 0;
  int incarnation = 0;
};

std::vector<Invocation> read_invocations(const std::string& path, Checker& check) {
  std::vector<Invocation> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Invocation inv;
    std::string extra;
    if (!(fields >> inv.key >> inv.state >> inv.attempt >> inv.incarnation) || (fields >> extra)) {
      check.fail("malformed invocation log line: '" + line + "'");
      continue;
    }
    out.push_back(std::move(inv));
  }
  return out;
}

// The execution ARN of an idempotency key "ARN/STATE/ENTERED_EVENT/ATTEMPT".
std::string key_execution(const std::string& key) {
  std::string arn = key;
  for (int i = 0; i < 3 && arn.find('/') != std::string::npos; ++i) arn.erase(arn.rfind('/'));
  return arn;
}

void check_invocations(const std::vector<Invocation>& log, const std::map<std::string, Expected>& expected,
                       const Observer& observer, Checker& check) {
  std::map<std::string, std::set<int>> by_key;  // key -> incarnations that invoked it
  for (const auto& inv : log) {
    if (!by_key[inv.key].insert(inv.incarnation).second)
      check.fail(inv.key + " invoked twice by incarnation " + std::to_string(inv.incarnation));
    auto e = expected.find(key_execution(inv.key));
    if (e == expected.end() || !e->second.invoked.count(inv.key)) {
      check.fail(inv.key + " was invoked but the reference run never invokes it");
      continue;
    }
    auto completed = observer.completed_after(inv.key);
    if (completed && inv.incarnation > *completed) {
      check.fail(inv.key + " invoked again by incarnation " + std::to_string(inv.incarnation) +
                 ", though its completion was stored when incarnation " + std::to_string(*completed) + " died");
    }
  }
  for (const auto& [arn, e] : expected) {
    for (const auto& key : e.invoked) check.expect(by_key.count(key) != 0, key + " was never invoked");
  }
}

// ---- Processes ---------------------------------------------------------------

struct Config {
  std::string worker;
  std::uint64_t seed = std::random_device{}();
  int kills = 30;
  int executions = 40;
  bool keep = false;
};

std::optional<Config> parse_args(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--worker" && has_value) {
      c.worker = argv[++i];
    } else if (a == "--seed" && has_value) {
      c.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--kills" && has_value) {
      c.kills = std::atoi(argv[++i]);
    } else if (a == "--keep") {
      c.keep = true;
    } else {
      return std::nullopt;
    }
  }
  if (c.worker.empty() || c.kills < 1) return std::nullopt;
  return c;
}

// Starts the worker with its stdout and stderr in `output`.
pid_t spawn_worker(const std::string& binary, const std::vector<std::string>& args, const std::string& output) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::fprintf(stderr, "FATAL: cannot start %s: %s\n", binary.c_str(), std::strerror(rc));
    std::exit(1);
  }
  return pid;
}

// Waits for `pid` at most `limit`; nullopt if it is still running then.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// How many executions a worker said its first round claimed, if it lived
// long enough to say it.
std::optional<int> claimed_at_start(const std::string& worker_output) {
  std::ifstream in(worker_output);
  std::string line;
  while (std::getline(in, line)) {
    const auto at = line.find(": claimed ");
    if (line.rfind("incarnation ", 0) == 0 && at != std::string::npos) return std::atoi(line.c_str() + at + 10);
  }
  return std::nullopt;
}

// RUNNING executions: all of them, and those a worker starting now must claim
// at once (all but those parked in the store until a later time; a dead
// worker's leases count: they are freed at once).
struct Running {
  std::size_t all = 0;
  std::size_t claimable = 0;
};
Running count_running(storage::Store& store, const std::vector<std::string>& arns) {
  Running n;
  const std::int64_t now = SystemClock().now();
  for (const auto& arn : arns) {
    const auto r = must(store.describe_execution(arn), "describe_execution");
    if (r.status != storage::ExecutionStatus::kRunning) continue;
    ++n.all;
    if (!r.lease_owner.empty() || r.lease_expiry <= now) ++n.claimable;
  }
  return n;
}

std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

Machine make_machine(std::string name, std::string definition) {
  auto parsed = states::parse_definition_text(definition);
  if (!parsed.definition || !parsed.diagnostics.empty()) {
    std::fprintf(stderr, "FATAL: the %s definition is invalid: %s\n", name.c_str(),
                 parsed.diagnostics.empty() ? "?" : parsed.diagnostics.front().message.c_str());
    std::exit(1);
  }
  return Machine{std::move(name), std::move(definition), parsed.definition};
}

}  // namespace

int main(int argc, char** argv) {
  auto config = parse_args(argc, argv);
  if (!config) {
    std::fprintf(stderr, "usage: stepwise_crash_test --worker PATH [--seed N] [--kills N] [--keep]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // in order with stderr in CTest's log
  const auto t0 = std::chrono::steady_clock::now();
  std::mt19937_64 rng(config->seed);
  std::printf("seed %llu\n", static_cast<unsigned long long>(config->seed));

  std::string dir_template = (std::filesystem::temp_directory_path() / "stepwise-crash-XXXXXX").string();
  if (!mkdtemp(dir_template.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = dir_template;
  const std::string db_path = (dir / "crash.db").string();
  const std::string log_path = (dir / "invocations.log").string();

  const Machine mixed = make_machine("Mixed", kMixed);
  const Machine chain = make_machine("Chain", chain_definition());
  const std::vector<ExecutionSpec> specs = workload(mixed, chain, config->executions);
  const std::map<std::string, Expected> expected = reference_run(specs);

  std::shared_ptr<storage::Store> store = must(storage::open_sqlite(db_path), "open_sqlite");
  for (const Machine* m : {&mixed, &chain}) {
    storage::NewStateMachine nm;
    nm.arn = m->arn();
    nm.name = m->name;
    nm.role_arn = std::string("arn:aws:iam::") + kAccount + ":role/R";
    nm.definition = m->definition;
    must(store->create_state_machine(nm), "create_state_machine");
  }

  Checker check;
  Observer observer;
  Engine starter;  // prepares executions as start-execution does
  std::vector<std::string> arns;
  std::size_t next_spec = 0;
  // Executions arrive in four batches during the first half of the kills,
  // so kills land in every phase of them (an execution lives 2-7 s).
  const int batches = 4;
  const int batch_every = std::max(1, config->kills / (2 * (batches - 1)));
  std::uniform_int_distribution<int> run_ms(50, 400);
  // Each incarnation commits in groups of a random size, and unloads
  // executions parked on timers (hibernation) after a random delay, or never.
  const std::size_t batch_sizes[] = {1, 2, 4, 16, 8192};
  const int hibernate_after_ms[] = {0, 100, 300, 60000};
  int incarnation = 0;
  int claims_checked = 0;  // incarnations that lived to report their first claim
  for (; incarnation < config->kills; ++incarnation) {
    if (incarnation % batch_every == 0 && next_spec < specs.size()) {
      const std::size_t end = std::min(specs.size(), next_spec + (specs.size() + batches - 1) / batches);
      for (; next_spec < end; ++next_spec) arns.push_back(start_execution(*store, starter, specs[next_spec]));
    }
    const std::string output = (dir / ("worker-" + std::to_string(incarnation) + ".log")).string();
    const Running running = count_running(*store, arns);
    const pid_t pid =
        spawn_worker(config->worker,
                     {db_path, log_path, "--incarnation", std::to_string(incarnation), "--max-batch-events",
                      std::to_string(batch_sizes[rng() % std::size(batch_sizes)]), "--hibernate-after-ms",
                      std::to_string(hibernate_after_ms[rng() % std::size(hibernate_after_ms)])},
                     output);
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(rng)));
    ::kill(pid, SIGKILL);
    auto status = wait_for(pid, std::chrono::seconds(10));
    if (!status || !WIFSIGNALED(*status) || WTERMSIG(*status) != SIGKILL) {
      check.fail("incarnation " + std::to_string(incarnation) + " ended on its own:\n" + tail_of(output));
    }
    // The leases of the killed incarnation were taken over at once, not
    // after they expired. (Parked executions come back at their time: one
    // may have come due since the count.)
    if (auto claimed = claimed_at_start(output)) {
      check.expect(static_cast<std::size_t>(*claimed) >= running.claimable &&
                       static_cast<std::size_t>(*claimed) <= running.all,
                   "incarnation " + std::to_string(incarnation) + " claimed " + std::to_string(*claimed) +
                       " RUNNING executions at its start; " + std::to_string(running.claimable) + " to " +
                       std::to_string(running.all) + " expected");
      ++claims_checked;
    }
    observer.observe(*store, arns, incarnation, check);
    // Now and then a longer downtime, so timers fall due with no worker
    // running and fire at once on restart.
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  for (; next_spec < specs.size(); ++next_spec) arns.push_back(start_execution(*store, starter, specs[next_spec]));

  // The last incarnation runs everything to its end.
  const std::string output = (dir / ("worker-" + std::to_string(incarnation) + ".log")).string();
  const Running running = count_running(*store, arns);
  const pid_t pid = spawn_worker(
      config->worker,
      {db_path, log_path, "--incarnation", std::to_string(incarnation), "--hibernate-after-ms", "300", "--until-done"},
      output);
  auto status = wait_for(pid, std::chrono::seconds(120));
  if (!status) {
    ::kill(pid, SIGKILL);
    (void)waitpid(pid, nullptr, 0);
    check.fail("the last worker did not finish within 120 s:\n" + tail_of(output));
  } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    check.fail("the last worker failed:\n" + tail_of(output));
  }
  const auto claimed = claimed_at_start(output);
  check.expect(claimed && static_cast<std::size_t>(*claimed) >= running.claimable &&
                   static_cast<std::size_t>(*claimed) <= running.all,
               "the last worker did not claim the " + std::to_string(running.claimable) +
                   " claimable RUNNING executions at its start");
  observer.observe(*store, arns, incarnation, check);

  for (const auto& arn : arns) {
    auto want = expected.find(arn);
    if (want == expected.end()) {
      check.fail(arn + " has no reference run");
      continue;
    }
    check_execution(*store, arn, want->second, check);
  }
  const auto invocations = read_invocations(log_path, check);
  check_invocations(invocations, expected, observer, check);

  std::size_t expected_invocations = 0;
  for (const auto& [arn, e] : expected) expected_invocations += e.invoked.size();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "%d kills (%zu incarnations stored progress, %d finished claiming), %zu executions, %zu invocations (%zu "
      "distinct, %zu again after "
      "a kill), %.1f s\n",
      config->kills, observer.productive_incarnations(), claims_checked, arns.size(), invocations.size(),
      expected_invocations, invocations.size() - std::min(invocations.size(), expected_invocations), seconds);
  store.reset();
  if (check.failures() > 0) {
    std::fprintf(stderr, "%d check(s) failed; the database and logs are kept in %s (seed %llu)\n", check.failures(),
                 dir.c_str(), static_cast<unsigned long long>(config->seed));
    return 1;
  }
  if (!config->keep) std::filesystem::remove_all(dir);
  return 0;
}
