// stepwise_store_bench: measures the durable store on its own (no engine).
//
//   1. writes: transitions of 2 events each, committed in batches with
//      commit_transitions to a fresh SQLite file (crash-safe settings: WAL,
//      synchronous=FULL), for 1, 100 and 1000 executions interleaved;
//   2. latency: one commit_transition at a time;
//   3. reads at scale: a database of 1,000,000 executions (built with large
//      transactions, or reused with --db), then describe_execution,
//      list_executions and get_history pages, first and deep.
//
//   stepwise_store_bench [--only write|latency|read] [--dir DIR] [--db PATH]
//                        [--transitions N] [--executions N]
//                        [--write EXECUTIONS:BATCH[:small|large[:full|normal|memory]]]...
//
// --write replaces the default rows of the writes table (repeatable).
//
// Figures and how to read them: docs/performance.md, section "Store".
#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/history_chunk.h"
#include "storage/store.h"

using namespace stepwise::storage;  // NOLINT: a program of its own
namespace fs = std::filesystem;
using WallClock = std::chrono::steady_clock;

namespace {

constexpr UnixNanos kT0 = 1735689600LL * 1000000000LL;  // 2025-01-01T00:00:00Z
constexpr UnixNanos kMillisecond = 1000000LL;
constexpr const char* kRegionPrefix = "arn:aws:states:us-east-1:123456789012:";

double ms_since(WallClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(WallClock::now() - t0).count();
}

// CPU time this thread used (user and system), in ms: what a call costs when
// the cores are shared with other work.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "stepwise_store_bench: " << what << "\n";
  std::exit(1);
}

template <class T>
T must(StatusOr<T> r, const std::string& what) {
  if (!r.ok()) fail(what + ": " + r.status().to_string());
  return std::move(r).value();
}

// A fresh directory, removed with its contents at scope exit.
class TempDir {
 public:
  explicit TempDir(const fs::path& parent) {
    std::string pattern = (parent / "stepwise-store-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) fail("cannot create a directory under " + parent.string());
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(index, samples.size() - 1)];
}

std::string with_commas(double value) {
  std::string digits = std::to_string(static_cast<long long>(value + 0.5));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

std::string fixed(double value, int decimals = 2) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// ---- What the engine would write ---------------------------------------------

std::string machine_arn(int index) {
  return std::string(kRegionPrefix) + "stateMachine:Bench" + std::to_string(index);
}

std::string execution_arn(int machine, const std::string& name) {
  return std::string(kRegionPrefix) + "execution:Bench" + std::to_string(machine) + ":" + name;
}

NewStateMachine bench_machine(int index) {
  NewStateMachine m;
  m.arn = machine_arn(index);
  m.name = "Bench" + std::to_string(index);
  m.role_arn = "arn:aws:iam::123456789012:role/Bench";
  m.definition = R"({"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}})";
  m.creation_date = kT0;
  return m;
}

// What a Pass state's two events carry: a small payload like pass_chain's
// ({"n":42}: details of about 110 bytes) or an order of a few items (about
// 280 bytes).
enum class EventSize { kSmall, kLarge };

std::string payload(long long n, EventSize size) {
  if (size == EventSize::kSmall) return R"({\"n\":)" + std::to_string(n) + "}";
  return R"({\"index\":)" + std::to_string(n) + R"(,\"order\":{\"id\":\"ord-)" + std::to_string(1000000 + n) +
         R"(\",\"items\":[{\"sku\":\"A-1\",\"qty\":2},{\"sku\":\"B-7\",\"qty\":1}],\"total\":42.5}})";
}

EventRecord entered_event(std::int64_t id, long long step, UnixNanos at, EventSize size = EventSize::kLarge) {
  return {id, id - 1, at, "PassStateEntered",
          R"({"stateEnteredEventDetails":{"name":"Step)" + std::to_string(step) + R"(","input":")" +
              payload(step, size) + R"(","inputDetails":{"truncated":false}}})"};
}

EventRecord exited_event(std::int64_t id, long long step, UnixNanos at, EventSize size = EventSize::kLarge) {
  return {id, id - 1, at, "PassStateExited",
          R"({"stateExitedEventDetails":{"name":"Step)" + std::to_string(step) + R"(","output":")" +
              payload(step + 1, size) + R"(","outputDetails":{"truncated":false}}})"};
}

// A resumable state of about 300 bytes.
std::string resumable_state(long long step) {
  return R"({"v":1,"frames":[{"id":0,"state":"Step)" + std::to_string(step) + R"(","input":)" + R"({"index":)" +
         std::to_string(step) +
         R"(,"order":{"id":"ord-1","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":42.5}},)" +
         R"("attempt":0,"entered":1735689600000000000,"retries":[],"children":[]}],"next_event_id":)" +
         std::to_string(2 * step + 2) + "}";
}

NewExecution started_execution(int machine, const std::string& name, UnixNanos start) {
  NewExecution e;
  e.arn = execution_arn(machine, name);
  e.name = name;
  e.state_machine_arn = machine_arn(machine);
  e.state_machine_version = 1;
  e.input = R"({"index":0})";
  e.start_date = start;
  e.state = resumable_state(0);
  e.events = {{1, 0, start, "ExecutionStarted",
               R"({"executionStartedEventDetails":{"input":"{\"index\":0}","inputDetails":{"truncated":false},)"
               R"("roleArn":"arn:aws:iam::123456789012:role/Bench"}})"}};
  return e;
}

// ---- 1. Writes ----------------------------------------------------------------

struct Cursor {
  std::string arn;
  std::int64_t version = 1;
  std::int64_t last_event_id = 1;
  long long step = 0;
};

// The next transition of an execution: one Pass state, entered and exited.
Transition pass_transition(Cursor& c, UnixNanos at, EventSize size = EventSize::kLarge) {
  Transition t;
  t.execution_arn = c.arn;
  t.expected_version = c.version;
  t.events = {entered_event(c.last_event_id + 1, c.step, at, size),
              exited_event(c.last_event_id + 2, c.step, at, size)};
  t.state = resumable_state(c.step + 1);
  c.version += 1;
  c.last_event_id += 2;
  c.step += 1;
  return t;
}

std::unique_ptr<Store> open_store(const std::string& path, SyncMode sync) {
  SqliteOptions options;
  options.sync = sync;
  return must(open_sqlite(path, options), "open " + path);
}

struct WriteResult {
  double store_ms = 0;  // inside commit_transitions only
  double cpu_ms = 0;    // of which on the CPU
  std::vector<double> batch_ms;
  long long transitions = 0;
};

struct WriteConfig {
  bool memory = false;
  SyncMode sync = SyncMode::kFull;
  int executions = 1;
  int batch = 1000;
  EventSize size = EventSize::kLarge;
};

// Commits `total` transitions over the executions, round robin, a batch per
// commit_transitions.
WriteResult write_batches(Store& store, const WriteConfig& c, long long total) {
  must(store.create_state_machine(bench_machine(0)), "create state machine");
  std::vector<Cursor> cursors;
  for (int i = 0; i < c.executions; ++i) {
    NewExecution e = started_execution(0, "w" + std::to_string(i), kT0 + i);
    must(store.create_execution(e), "create execution");
    cursors.push_back({e.arn});
  }
  WriteResult result;
  UnixNanos now = kT0 + kMillisecond;
  std::size_t next = 0;
  while (result.transitions < total) {
    std::vector<Transition> batch;
    batch.reserve(c.batch);
    for (int i = 0; i < c.batch; ++i) {
      batch.push_back(pass_transition(cursors[next], now += 1000, c.size));
      next = (next + 1) % cursors.size();
    }
    const auto t0 = WallClock::now();
    const double cpu0 = thread_cpu_ms();
    std::vector<std::int64_t> versions = must(store.commit_transitions(batch), "commit_transitions");
    result.cpu_ms += thread_cpu_ms() - cpu0;
    const double ms = ms_since(t0);
    if (versions.size() != batch.size() || versions.back() != batch.back().expected_version + 1) {
      fail("commit_transitions returned unexpected versions");
    }
    result.store_ms += ms;
    result.batch_ms.push_back(ms);
    result.transitions += c.batch;
  }
  // Spot check: the last execution is at the version and event id its transitions reached.
  const Cursor& last = cursors.back();
  ExecutionRecord r = must(store.describe_execution(last.arn), "describe");
  if (r.version != last.version || r.last_event_id != last.last_event_id) fail("a committed transition is missing");
  return result;
}

const std::vector<WriteConfig>& default_write_configs() {
  static const std::vector<WriteConfig> configs = {
      {false, SyncMode::kFull, 1, 1000, EventSize::kSmall},     {false, SyncMode::kFull, 100, 1000, EventSize::kSmall},
      {false, SyncMode::kFull, 1, 1000, EventSize::kLarge},     {false, SyncMode::kFull, 100, 1000, EventSize::kLarge},
      {false, SyncMode::kFull, 1, 10000, EventSize::kSmall},    {false, SyncMode::kFull, 100, 10000, EventSize::kSmall},
      {false, SyncMode::kFull, 100, 100, EventSize::kSmall},    {false, SyncMode::kFull, 1000, 1000, EventSize::kSmall},
      {false, SyncMode::kNormal, 100, 1000, EventSize::kSmall}, {true, SyncMode::kFull, 100, 1000, EventSize::kSmall},
  };
  return configs;
}

// "EXECUTIONS:BATCH[:small|large[:full|normal|memory]]"
std::optional<WriteConfig> parse_write_config(const std::string& text) {
  WriteConfig c;
  std::vector<std::string> parts;
  std::size_t from = 0;
  while (true) {
    const std::size_t colon = text.find(':', from);
    parts.push_back(text.substr(from, colon - from));
    if (colon == std::string::npos) break;
    from = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 4) return std::nullopt;
  c.executions = std::atoi(parts[0].c_str());
  c.batch = std::atoi(parts[1].c_str());
  if (c.executions <= 0 || c.batch <= 0) return std::nullopt;
  if (parts.size() > 2) {
    if (parts[2] != "small" && parts[2] != "large") return std::nullopt;
    c.size = parts[2] == "small" ? EventSize::kSmall : EventSize::kLarge;
  }
  if (parts.size() > 3) {
    if (parts[3] == "memory") {
      c.memory = true;
    } else if (parts[3] == "normal" || parts[3] == "full") {
      c.sync = parts[3] == "normal" ? SyncMode::kNormal : SyncMode::kFull;
    } else {
      return std::nullopt;
    }
  }
  return c;
}

void bench_writes(const fs::path& dir, long long total, const std::vector<WriteConfig>& configs) {
  std::cout << "## Writes: commit_transitions, 2 events + 1 state (~300 B) per transition\n\n"
            << "A fresh database per row; " << with_commas(static_cast<double>(total))
            << " transitions per row (a quarter of that for batches of 100). Times are inside "
               "commit_transitions; 'CPU us' is the CPU time per transition, which bounds the rate when "
               "the cores are not shared.\n\n"
            << "| backend | sync | executions | transitions/batch | event details | transitions/s | events/s | "
               "CPU us/transition | ms/batch median | ms/batch p90 |\n"
            << "|---|---|---:|---:|---|---:|---:|---:|---:|---:|\n";
  for (const WriteConfig& c : configs) {
    TempDir temp(dir);
    std::unique_ptr<Store> store =
        c.memory ? must(open_memory(), "open memory") : open_store(temp.file("stepwise.db"), c.sync);
    const long long rows = c.batch <= 100 ? total / 4 : total;  // small batches wait on fsync: keep them short
    WriteResult r = write_batches(*store, c, rows);
    const double seconds = r.store_ms / 1000.0;
    const auto transitions = static_cast<double>(r.transitions);
    std::cout << "| " << (c.memory ? "memory" : "sqlite") << " | "
              << (c.memory                    ? "-"
                  : c.sync == SyncMode::kFull ? "FULL"
                                              : "NORMAL")
              << " | " << c.executions << " | " << with_commas(c.batch) << " | "
              << (c.size == EventSize::kSmall ? "~110 B" : "~280 B") << " | " << with_commas(transitions / seconds)
              << " | " << with_commas(2.0 * transitions / seconds) << " | " << fixed(1000.0 * r.cpu_ms / transitions)
              << " | " << fixed(percentile(r.batch_ms, 0.5)) << " | " << fixed(percentile(r.batch_ms, 0.9)) << " |\n"
              << std::flush;
  }
  std::cout << "\n";
}

// ---- 2. Latency of one transition -------------------------------------------------

void bench_latency(const fs::path& dir) {
  std::cout << "## Latency: one commit_transition (2 events + state), 1 execution\n\n"
            << "| sync | commits | median ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n";
  for (SyncMode sync : {SyncMode::kFull, SyncMode::kNormal}) {
    TempDir temp(dir);
    std::unique_ptr<Store> store = open_store(temp.file("stepwise.db"), sync);
    must(store->create_state_machine(bench_machine(0)), "create state machine");
    NewExecution e = started_execution(0, "latency", kT0);
    must(store->create_execution(e), "create execution");
    Cursor cursor{e.arn};
    constexpr int kCommits = 300;
    std::vector<double> samples;
    for (int i = 0; i < kCommits; ++i) {
      Transition t = pass_transition(cursor, kT0 + i);
      const auto t0 = WallClock::now();
      must(store->commit_transition(t), "commit_transition");
      samples.push_back(ms_since(t0));
    }
    std::cout << "| " << (sync == SyncMode::kFull ? "FULL" : "NORMAL") << " | " << kCommits << " | "
              << fixed(percentile(samples, 0.5), 3) << " | " << fixed(percentile(samples, 0.9), 3) << " | "
              << fixed(percentile(samples, 0.99), 3) << " | " << fixed(percentile(samples, 1.0), 3) << " |\n";
  }
  std::cout << "\n";
}

// ---- 3. Reads at scale --------------------------------------------------------------

// The shape of the read database. Execution i (0-based, seq i + 1) starts at
// kT0 + i ms, runs machine machine_of(i) and has status status_of(i).
constexpr int kMachines = 5;
constexpr int kLongHistories = 3;
constexpr int kLongHistoryStates = 50000;  // 100,001 events, plus the end
constexpr int kShortHistoryEvery = 3;      // every third execution: 6 events
constexpr int kShortHistoryStates = 2;

// A well-mixed hash (splitmix64), so that machine and status vary independently.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int machine_of(long long i) {
  // 50%, 25%, 15%, 9%, 1%: filters of every selectivity.
  const std::uint64_t m = mix(static_cast<std::uint64_t>(i)) % 100;
  return m < 50 ? 0 : m < 75 ? 1 : m < 90 ? 2 : m < 99 ? 3 : 4;
}

// The executions with long histories, spread through the table; RUNNING.
long long long_history_index(int k, long long count) {
  return count / 2 + k * 7919LL;
}

bool has_long_history(long long i, long long count) {
  for (int k = 0; k < kLongHistories; ++k) {
    if (i == long_history_index(k, count)) return true;
  }
  return false;
}

ExecutionStatus status_of(long long i, long long count) {
  // The newest are still running, and so are the long histories.
  if (i >= count - 1000 || has_long_history(i, count)) return ExecutionStatus::kRunning;
  // 60% SUCCEEDED, 15% FAILED, 5% each TIMED_OUT, ABORTED and RUNNING.
  switch (mix(static_cast<std::uint64_t>(i) ^ 0x5bd1e995ULL) % 20) {
    case 0:
    case 1:
    case 2:
      return ExecutionStatus::kFailed;
    case 3:
      return ExecutionStatus::kTimedOut;
    case 4:
      return ExecutionStatus::kAborted;
    case 5:
      return ExecutionStatus::kRunning;
    default:
      return ExecutionStatus::kSucceeded;
  }
}

// Zero-padded, so that names (and ARNs) grow in creation order: the ARN index
// is appended to, as with real, time-ordered names.
std::string bulk_name(long long i) {
  std::string digits = std::to_string(i);
  return "x" + std::string(digits.size() < 8 ? 8 - digits.size() : 0, '0') + digits;
}

// Writes `count` executions and their histories with large transactions,
// straight into the tables (the rows create_execution and commit_transition
// would write; docs/history-format.md), so that building takes seconds.
// Tied to the schema: it checks the version it was written for.
// The state machines and the long histories go through the Store.
void build_read_database(const std::string& path, long long count) {
  {
    std::unique_ptr<Store> store = open_store(path, SyncMode::kNormal);
    for (int m = 0; m < kMachines; ++m) must(store->create_state_machine(bench_machine(m)), "create state machine");
  }
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  if (db.execAndGet("PRAGMA user_version").getInt() != 2) fail("the bulk builder writes schema version 2 only");
  // A fixture, not a store in use: no journal while it is built (an
  // interrupted build leaves a file the next run refuses), WAL again after.
  db.exec("PRAGMA journal_mode = OFF");
  db.exec("PRAGMA synchronous = OFF");
  db.exec("PRAGMA cache_size = -262144");
  SQLite::Statement insert_execution(
      db,
      "INSERT INTO executions (seq, arn, name, state_machine_arn, state_machine_version, status, input, output, "
      "error, cause, start_date, stop_date, state, version, last_event_id) "
      "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  // A history chunk per execution (storage/history_chunk.h), as one commit writes it.
  SQLite::Statement insert_history(
      db, "INSERT INTO history (execution_seq, first_id, last_id, events) VALUES (?, ?, ?, ?)");
  internal::ChunkWriter chunk;
  auto add_history = [&](long long seq, const std::vector<EventRecord>& events) {
    chunk.begin();
    for (const EventRecord& e : events) chunk.add(e);
    insert_history.bind(1, static_cast<std::int64_t>(seq));
    insert_history.bind(2, events.front().id);
    insert_history.bind(3, events.back().id);
    insert_history.bindNoCopy(4, chunk.finish().data());  // NUL-terminated
    insert_history.exec();
    insert_history.reset();
  };
  const std::string input = R"({"index":0})";
  const std::string output = R"({"index":1,"ok":true})";
  const std::string running_state = resumable_state(1);
  constexpr long long kRowsPerTransaction = 100000;
  for (long long first = 0; first < count; first += kRowsPerTransaction) {
    SQLite::Transaction transaction(db);
    for (long long i = first; i < std::min(count, first + kRowsPerTransaction); ++i) {
      const long long seq = i + 1;
      const int machine = machine_of(i);
      const ExecutionStatus status = status_of(i, count);
      const UnixNanos start = kT0 + i * kMillisecond;
      const UnixNanos stop = start + 50 * kMillisecond;
      const bool short_history = i % kShortHistoryEvery == 0;
      NewExecution e = started_execution(machine, bulk_name(i), start);
      std::vector<EventRecord> events = e.events;
      if (short_history) {
        for (int s = 0; s < kShortHistoryStates; ++s) {
          const auto id = static_cast<std::int64_t>(events.size()) + 1;
          events.push_back(entered_event(id, s, start + id, EventSize::kSmall));
          events.push_back(exited_event(id + 1, s, start + id + 1, EventSize::kSmall));
        }
      }
      const bool ended = status != ExecutionStatus::kRunning;
      if (ended) {
        const auto id = static_cast<std::int64_t>(events.size()) + 1;
        events.push_back({id, id - 1, stop,
                          "Execution" + std::string(status == ExecutionStatus::kSucceeded  ? "Succeeded"
                                                    : status == ExecutionStatus::kFailed   ? "Failed"
                                                    : status == ExecutionStatus::kTimedOut ? "TimedOut"
                                                                                           : "Aborted"),
                          "{}"});
      }
      insert_execution.bind(1, static_cast<std::int64_t>(seq));
      insert_execution.bind(2, e.arn);
      insert_execution.bind(3, e.name);
      insert_execution.bind(4, e.state_machine_arn);
      insert_execution.bind(5, std::string(to_string(status)));
      insert_execution.bindNoCopy(6, input);
      if (status == ExecutionStatus::kSucceeded) {
        insert_execution.bindNoCopy(7, output);
      } else {
        insert_execution.bind(7);
      }
      if (ended && status != ExecutionStatus::kSucceeded) {
        insert_execution.bind(8, "States.Bench");
        insert_execution.bind(9, "a generated failure");
      } else {
        insert_execution.bind(8);
        insert_execution.bind(9);
      }
      insert_execution.bind(10, start);
      if (ended) {
        insert_execution.bind(11, stop);
      } else {
        insert_execution.bind(11);
      }
      if (ended) {
        insert_execution.bind(12, "{}");
      } else {
        insert_execution.bindNoCopy(12, running_state);
      }
      // Version 1, +1 per transition: the states, and the end.
      insert_execution.bind(13, std::int64_t{1} + (short_history ? kShortHistoryStates : 0) + (ended ? 1 : 0));
      insert_execution.bind(14, events.back().id);
      insert_execution.exec();
      insert_execution.reset();
      add_history(seq, events);
    }
    transaction.commit();
  }
  db.exec("PRAGMA journal_mode = WAL");
}

// The long histories go through the Store, in large batches.
void add_long_histories(const std::string& path, long long count) {
  std::unique_ptr<Store> store = open_store(path, SyncMode::kNormal);
  for (int k = 0; k < kLongHistories; ++k) {
    const long long i = long_history_index(k, count);
    const std::string arn = execution_arn(machine_of(i), bulk_name(i));
    ExecutionRecord r = must(store->describe_execution(arn), "describe " + arn);
    Cursor cursor{arn, r.version, r.last_event_id};
    if (r.status != ExecutionStatus::kRunning) fail(arn + " should be RUNNING");
    for (int done = 0; done < kLongHistoryStates;) {
      std::vector<Transition> batch;
      for (int b = 0; b < 10000 && done < kLongHistoryStates; ++b, ++done) {
        batch.push_back(pass_transition(cursor, r.start_date + done));
      }
      must(store->commit_transitions(batch), "commit long history");
    }
  }
}

bool holds_bench_data(Store& store, long long count) {
  if (!store.describe_state_machine(machine_arn(kMachines - 1)).ok()) return false;
  const long long last = count - 1;
  if (!store.describe_execution(execution_arn(machine_of(last), bulk_name(last))).ok()) return false;
  StatusOr<ExecutionRecord> longest =
      store.describe_execution(execution_arn(machine_of(long_history_index(kLongHistories - 1, count)),
                                             bulk_name(long_history_index(kLongHistories - 1, count))));
  return longest.ok() && longest->last_event_id > 2 * kLongHistoryStates;
}

struct Timing {
  double first_ms = 0;  // the first call, on a freshly opened store
  double median_ms = 0;
  double p90_ms = 0;
  double max_ms = 0;
  std::size_t items = 0;
};

constexpr int kRepeats = 30;

// Runs `call` once on a fresh store, then kRepeats more times.
Timing time_call(const std::function<std::size_t()>& call) {
  Timing t;
  auto t0 = WallClock::now();
  t.items = call();
  t.first_ms = ms_since(t0);
  std::vector<double> samples;
  for (int i = 0; i < kRepeats; ++i) {
    t0 = WallClock::now();
    call();
    samples.push_back(ms_since(t0));
  }
  t.median_ms = percentile(samples, 0.5);
  t.p90_ms = percentile(samples, 0.9);
  t.max_ms = std::max(t.first_ms, percentile(samples, 1.0));
  return t;
}

// The token of page `pages` + 1 of a listing, or empty if it has fewer pages.
std::string token_after(const std::function<std::string(const std::string&)>& next_page, int pages) {
  std::string token;
  for (int p = 0; p < pages; ++p) {
    token = next_page(token);
    if (token.empty()) return token;
  }
  return token;
}

void bench_reads(const fs::path& dir, const std::string& db_option, long long count) {
  std::optional<TempDir> temp;
  std::string path = db_option;
  if (path.empty()) {
    temp.emplace(dir);
    path = temp->file("stepwise.db");
  }
  std::cout << "## Reads with " << with_commas(static_cast<double>(count)) << " executions\n\n";
  bool reuse = false;
  if (fs::exists(path)) {
    std::unique_ptr<Store> store = open_store(path, SyncMode::kFull);
    if (!holds_bench_data(*store, count)) fail(path + " exists but does not hold this benchmark's data");
    reuse = true;
    std::cout << "Reusing " << path << ".\n\n";
  } else {
    auto t0 = WallClock::now();
    build_read_database(path, count);
    const double bulk_s = ms_since(t0) / 1000.0;
    t0 = WallClock::now();
    add_long_histories(path, count);
    const double long_s = ms_since(t0) / 1000.0;
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    const long long events = db.execAndGet("SELECT sum(last_id - first_id + 1) FROM history").getInt64();
    std::cout << "Built " << path << ": " << with_commas(static_cast<double>(count)) << " executions and "
              << with_commas(static_cast<double>(events)) << " events, "
              << fixed(static_cast<double>(fs::file_size(path)) / (1 << 20), 0) << " MiB; bulk rows "
              << fixed(bulk_s, 1) << " s (100,000 executions per transaction), " << kLongHistories
              << " long histories through commit_transitions " << fixed(long_s, 1) << " s.\n\n";
  }
  (void)reuse;

  std::unique_ptr<Store> store = open_store(path, SyncMode::kFull);
  std::cout << "Each call: the first on a freshly opened store, then the median, 90th percentile and worst of "
            << kRepeats << " more. (On a shared machine the worst includes being preempted.)\n\n"
            << "| call | items | first ms | median ms | p90 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n";
  double worst_typical = 0;  // the worst first call or p90
  auto row = [&](const std::string& name, const std::function<std::size_t()>& call) {
    Timing t = time_call(call);
    worst_typical = std::max({worst_typical, t.first_ms, t.p90_ms});
    std::cout << "| " << name << " | " << t.items << " | " << fixed(t.first_ms, 3) << " | " << fixed(t.median_ms, 3)
              << " | " << fixed(t.p90_ms, 3) << " | " << fixed(t.max_ms, 3) << " |\n"
              << std::flush;
  };

  const long long middle = count / 3;
  const std::string some_arn = execution_arn(machine_of(middle), bulk_name(middle));
  const long long long_index = long_history_index(0, count);
  const std::string long_arn = execution_arn(machine_of(long_index), bulk_name(long_index));
  row("describe_execution", [&] {
    must(store->describe_execution(some_arn), "describe");
    return std::size_t{1};
  });
  row("describe_execution (long history)", [&] {
    must(store->describe_execution(long_arn), "describe");
    return std::size_t{1};
  });

  struct Listing {
    std::string name;
    ExecutionFilter filter;
  };
  const std::vector<Listing> listings = {
      {"no filter", {}},
      {"machine (50%)", {machine_arn(0), "", std::nullopt}},
      {"machine (1%)", {machine_arn(4), "", std::nullopt}},
      {"status SUCCEEDED", {"", "", ExecutionStatus::kSucceeded}},
      {"status ABORTED", {"", "", ExecutionStatus::kAborted}},
      {"machine (9%) + FAILED", {machine_arn(3), "", ExecutionStatus::kFailed}},
      {"machine (1%) + ABORTED", {machine_arn(4), "", ExecutionStatus::kAborted}},
      {"machine (50%) + RUNNING", {machine_arn(0), "", ExecutionStatus::kRunning}},
  };
  constexpr int kDeepPages = 5;
  for (const Listing& l : listings) {
    for (int size : {100, 1000}) {
      PageRequest first;
      first.max_results = size;
      row("list_executions " + l.name + ", page 1 of " + std::to_string(size),
          [&] { return must(store->list_executions(l.filter, first), "list").items.size(); });
      PageRequest deep;
      deep.max_results = size;
      deep.next_token = token_after(
          [&](const std::string& token) {
            PageRequest p;
            p.max_results = size;
            p.next_token = token;
            return must(store->list_executions(l.filter, p), "list").next_token;
          },
          kDeepPages);
      if (deep.next_token.empty()) continue;  // a listing too short to go that deep
      row("list_executions " + l.name + ", page " + std::to_string(kDeepPages + 1) + " of " + std::to_string(size),
          [&] { return must(store->list_executions(l.filter, deep), "list").items.size(); });
    }
  }

  const long long short_index = 3 * (count / 6);  // a multiple of 3: a short history
  const std::string short_arn = execution_arn(machine_of(short_index), bulk_name(short_index));
  row("get_history short (5-6 events)",
      [&] { return must(store->get_history(short_arn, {}), "history").items.size(); });
  for (bool reverse : {false, true}) {
    for (int size : {100, 1000}) {
      const std::string direction = reverse ? "reverse" : "forward";
      HistoryRequest first;
      first.reverse_order = reverse;
      first.page.max_results = size;
      row("get_history long " + direction + ", page 1 of " + std::to_string(size),
          [&] { return must(store->get_history(long_arn, first), "history").items.size(); });
      HistoryRequest deep = first;
      deep.page.next_token = token_after(
          [&](const std::string& token) {
            HistoryRequest r = first;
            r.page.next_token = token;
            return must(store->get_history(long_arn, r), "history").next_token;
          },
          kDeepPages);
      row("get_history long " + direction + ", page " + std::to_string(kDeepPages + 1) + " of " + std::to_string(size),
          [&] { return must(store->get_history(long_arn, deep), "history").items.size(); });
    }
  }
  std::cout << "\nSlowest first call or p90: " << fixed(worst_typical, 3) << " ms (target: under 10 ms).\n\n";
}

struct Options {
  std::string only;
  fs::path dir = fs::temp_directory_path();
  std::string db;
  long long transitions = 200000;
  long long executions = 1000000;
  std::vector<WriteConfig> writes = default_write_configs();
  bool custom_writes = false;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--only") {
      o.only = value();
      if (o.only != "write" && o.only != "latency" && o.only != "read") fail("--only takes write, latency or read");
    } else if (arg == "--dir") {
      o.dir = value();
    } else if (arg == "--db") {
      o.db = value();
    } else if (arg == "--write") {
      const std::string text = value();
      std::optional<WriteConfig> c = parse_write_config(text);
      if (!c) fail("--write takes EXECUTIONS:BATCH[:small|large[:full|normal|memory]], not '" + text + "'");
      if (!o.custom_writes) o.writes.clear();
      o.custom_writes = true;
      o.writes.push_back(*c);
    } else if (arg == "--transitions") {
      o.transitions = std::atoll(value().c_str());
    } else if (arg == "--executions") {
      o.executions = std::atoll(value().c_str());
    } else {
      fail("unknown option '" + arg +
           "'; usage: stepwise_store_bench [--only write|latency|read] [--dir DIR] [--db PATH] "
           "[--transitions N] [--write E:B[:small|large[:full|normal|memory]]]... [--executions N]");
    }
  }
  if (o.transitions <= 0 || o.executions < 100000) fail("--transitions > 0 and --executions >= 100000, please");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (o.only.empty() || o.only == "write") bench_writes(o.dir, o.transitions, o.writes);
  if (o.only.empty() || o.only == "latency") bench_latency(o.dir);
  if (o.only.empty() || o.only == "read") bench_reads(o.dir, o.db, o.executions);
  return 0;
}
