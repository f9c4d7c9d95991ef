// stepwise_bench: runs the benchmark workloads of bench/workflows through the
// engine in memory, checks each output against its expected file, and prints
// states per second and peak memory per workload. Each workload runs in its
// own forked process, so its peak RSS and whole-process time are its own.
//
// Each workload runs twice: in memory, then recorded in SQLite by a Worker
// (--no-store skips the second). --executions N: each recorded run starts N
// executions of the workload one after another in the one worker and
// database, a stream of commits long enough for WAL checkpoints to run
// during it; its states/s counts all of their states.
//
//   stepwise_bench [--workflows DIR] [--only NAME] [--runs N] [--executions N] [--stepwise PATH] [--no-store]
//   stepwise_bench --parked N    # a worker holding N executions parked in Waits: time and memory
//   stepwise_bench --invocations [N]  # task invocation overhead by invoker, cold starts (invocation_bench.cpp)
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <filesystem>

#include "engine/engine.h"
#include "engine/event_codec.h"
#include "engine/snapshot.h"
#include "engine/service.h"
#include "engine/worker.h"
#include "storage/store.h"

using namespace stepwise;
namespace stepwise::bench {
int invocation_benchmarks(int n, const std::string& workflows);
}
using WallClock = std::chrono::steady_clock;

namespace {

std::string read_text(const std::string& p) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  std::string text(static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0)), '\0');
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// CPU time of the whole process, all threads.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ms_since(WallClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(WallClock::now() - t0).count();
}

struct Measured {
  bool ok = false;
  long long states = 0;
  double parse_ms = 0, run_ms = 0;
  long long commits = 0;
  // CPU time during the run of the thread that runs the engine, and of the
  // process's other threads (recorded runs: the worker's committer thread).
  double engine_cpu_ms = 0, committer_cpu_ms = 0;
  // Recorded runs: real time the engine's thread waited for commits.
  double commit_wait_ms = 0;
};

// Where a persisted run keeps its database: a fresh directory per run.
std::string fresh_db_path() {
  static int n = 0;
  std::string dir = "/tmp/stepwise_bench_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir + "/bench.db";
}

// The same workload recorded in SQLite (WAL, synchronous=FULL: every commit
// on disk): the definition and execution recorded through the Service, run by
// a Worker that commits every transition (grouped).
// `executions`: how many executions of it run one after another in the one
// worker and database (--executions): a longer stream of commits, during
// which the WAL is checkpointed; m.states counts them all.
bool run_persisted(const std::string& text, const std::string& input, Measured& m, ExecutionResult& r,
                   int executions) {
  const std::string path = fresh_db_path();
  auto opened = storage::open_sqlite(path);
  if (!opened.ok()) {
    std::cerr << "cannot open " << path << ": " << opened.status().to_string() << "\n";
    return false;
  }
  std::shared_ptr<storage::Store> store = std::move(opened).value();
  Service service(store);
  auto created = service.create_state_machine({{"name", "Bench"}, {"definition", text}});
  if (!created.ok()) return false;
  auto t1 = WallClock::now();
  const double cpu0 = thread_cpu_ms();
  const double all0 = process_cpu_ms();
  Engine engine;
  engine.functions().add("Echo", [](const json::value& event, const InvocationContext&) { return event; });
  WorkerOptions wo;
  wo.claim = false;
  Worker worker(engine, store, wo);
  long long states = 0;
  // Starts one execution and runs it to its committed end.
  auto run_one = [&]() {
    auto started =
        service.start_execution({{"stateMachineArn", created.response().at("stateMachineArn")}, {"input", input}});
    if (!started.ok()) return false;
    bool done = false;
    if (!worker.adopt(std::string(started.response().at("executionArn").as_string()), [&](const ExecutionResult& res) {
          r = res;
          done = true;
        }).ok())
      return false;
    while (!done) (void)worker.run_once(200 * kNanosPerMilli);
    states += r.states_entered;
    return true;
  };
  for (int k = 0; k < executions; ++k) {
    if (!run_one()) return false;
    if (r.status != ExecutionStatus::Succeeded) break;
  }
  m.states = states;
  m.run_ms = ms_since(t1);
  m.engine_cpu_ms = thread_cpu_ms() - cpu0;
  m.committer_cpu_ms = process_cpu_ms() - all0 - m.engine_cpu_ms;
  m.commits = worker.stats().commits;
  m.commit_wait_ms = static_cast<double>(worker.stats().commit_wait_ns) / 1e6;
  (void)worker.shutdown();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  return true;
}

// The child: parse, run, check. Returns what it measured.
Measured run_workload(const std::string& dir, const json::object& w, bool persisted, int executions) {
  Measured m;
  auto t0 = WallClock::now();
  std::string text = read_text(dir + "/" + std::string(w.at("asl").get_string()));
  auto parsed = states::parse_definition_text(text);
  m.parse_ms = ms_since(t0);
  if (!parsed.definition) {
    std::cerr << "definition rejected: " << parsed.diagnostics[0].pointer << ": " << parsed.diagnostics[0].message
              << "\n";
    return m;
  }
  auto input = parse_json(read_text(dir + "/" + std::string(w.at("input").get_string())));
  auto expected = parse_json(read_text(dir + "/" + std::string(w.at("expected").get_string())));
  ExecutionResult r;
  if (persisted) {
    if (!run_persisted(text, to_json(*input), m, r, executions)) return m;
  } else {
    Engine engine;
    engine.functions().add("Echo", [](const json::value& event, const InvocationContext&) { return event; });
    auto t1 = WallClock::now();
    const double cpu0 = thread_cpu_ms();
    r = engine.run(parsed.definition, std::move(*input));
    m.run_ms = ms_since(t1);
    m.engine_cpu_ms = thread_cpu_ms() - cpu0;
    m.states = r.states_entered;
  }
  m.ok = r.status == ExecutionStatus::Succeeded && r.output == *expected;
  if (!m.ok) {
    std::cerr << "unexpected result: " << status_name(r.status) << " " << r.error << " " << r.cause << "\n";
  }
  return m;
}

struct Row {
  std::string name;
  Measured m;
  double wall_ms = 0;
  long peak_kb = 0;
};

// Forks, runs one workload in the child, returns its figures and peak RSS.
Row measure(const std::string& dir, const std::string& name, const json::object& w, bool persisted, int executions) {
  Row row{name, {}, 0, 0};
  int fds[2];
  if (pipe(fds) != 0) return row;
  auto t0 = WallClock::now();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Measured m = run_workload(dir, w, persisted, executions);
    char buf[256];
    int n = std::snprintf(buf, sizeof buf, "%d %lld %.6f %.6f %lld %.6f %.6f %.6f", m.ok ? 1 : 0, m.states, m.parse_ms,
                          m.run_ms, m.commits, m.engine_cpu_ms, m.committer_cpu_ms, m.commit_wait_ms);
    if (write(fds[1], buf, static_cast<std::size_t>(n)) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  char buf[256] = {0};
  ssize_t got = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  row.wall_ms = ms_since(t0);
  row.peak_kb = ru.ru_maxrss;
  if (got > 0) {
    int ok = 0;
    std::sscanf(buf, "%d %lld %lf %lf %lld %lf %lf %lf", &ok, &row.m.states, &row.m.parse_ms, &row.m.run_ms,
                &row.m.commits, &row.m.engine_cpu_ms, &row.m.committer_cpu_ms, &row.m.commit_wait_ms);
    row.m.ok = ok == 1;
  }
  return row;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Time of `stepwise run` on a one-state workflow, whole process: in memory
// (--no-store), or recorded into a database (`db` not empty; each run adds
// one execution to it, the first one also creates it and the state machine).
double cli_one_state_ms(const std::string& stepwise, int runs, const std::string& db) {
  const std::string def = "/tmp/stepwise_bench_one_state.asl.json";
  std::ofstream(def) << R"({"StartAt":"Hello","States":{"Hello":{"Type":"Pass","Result":"world","End":true}}})";
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    auto t0 = WallClock::now();
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      if (db.empty()) {
        execl(stepwise.c_str(), stepwise.c_str(), "run", def.c_str(), "--no-store", static_cast<char*>(nullptr));
      } else {
        execl(stepwise.c_str(), stepwise.c_str(), "run", def.c_str(), "--db", db.c_str(), static_cast<char*>(nullptr));
      }
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    times.push_back(ms_since(t0));
  }
  return median(times);
}

// A worker holding `n` executions parked in a one-hour Wait: records them
// (setup, synchronous=NORMAL for speed), then a worker (synchronous=FULL)
// claims them, runs each into its Wait and hibernates it. Prints the time and
// the worker process's peak resident memory.
int parked(long n) {
  const std::string path = fresh_db_path();
  pid_t setup = fork();
  if (setup == 0) {
    storage::SqliteOptions o;
    o.sync = storage::SyncMode::kNormal;
    std::shared_ptr<storage::Store> store = std::move(storage::open_sqlite(path, o)).value();
    Service service(store);
    auto m = service.create_state_machine(
        {{"name", "Parked"},
         {"definition", R"({"StartAt":"Nap","States":{"Nap":{"Type":"Wait","Seconds":3600,"End":true}}})"}});
    if (!m.ok()) _exit(1);
    for (long i = 0; i < n; ++i) {
      if (!service.start_execution({{"stateMachineArn", m.response().at("stateMachineArn")}}).ok()) _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(setup, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  auto t0 = WallClock::now();
  pid_t pid = fork();
  if (pid == 0) {
    std::shared_ptr<storage::Store> store = std::move(storage::open_sqlite(path)).value();
    Engine engine;
    Worker worker(engine, store);
    while (worker.stats().hibernated < n) (void)worker.run_once(50 * kNanosPerMilli);
    std::printf("parked: %ld executions claimed, run into their Wait and parked (%lld commits, %zu in memory)\n", n,
                static_cast<long long>(worker.stats().commits), worker.active());
    std::fflush(stdout);
    _exit(0);
  }
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  std::printf("parked: worker took %.1f s, peak resident %.1f MiB\n", ms_since(t0) / 1000.0,
              static_cast<double>(ru.ru_maxrss) / 1024.0);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

// A Distributed Map over `n` items read from a JSONL file by its ItemReader
// (in batches of `batch` items when `batch` > 0): each item (or batch) a child
// execution of a 3-state processor, recorded in SQLite (WAL,
// synchronous=FULL), run by one worker; the results written to files by a
// ResultWriter. Prints items/s, the worker process's peak resident memory and
// the database bytes per item.
int map_run(long n, long concurrency, long batch) {
  const std::string path = fresh_db_path();
  const std::filesystem::path data_dir = std::filesystem::path(path).parent_path() / "data";
  {
    std::filesystem::create_directories(data_dir / "in");
    std::ofstream out(data_dir / "in" / "items.jsonl");
    for (long i = 0; i < n; ++i) out << "{\"id\":" << i << ",\"v\":" << (i % 97) << "}\n";
  }
  auto t0 = WallClock::now();
  pid_t pid = fork();
  if (pid == 0) {
    std::shared_ptr<storage::Store> store = std::move(storage::open_sqlite(path)).value();
    // Batched, a child adds up its batch's values; else it shapes its item.
    const std::string processor =
        batch > 0 ? R"J("A":{"Type":"Pass","Parameters":{"n.$":"States.ArrayLength($.Items)","first.$":"$.Items[0].id"},"Next":"B"},
        "B":{"Type":"Pass","ResultPath":"$.seen","Result":true,"Next":"C"},
        "C":{"Type":"Pass","OutputPath":"$.n","End":true})J"
                  : R"J("A":{"Type":"Pass","Parameters":{"id.$":"$.id","w.$":"States.MathAdd($.v, 1)"},"Next":"B"},
        "B":{"Type":"Pass","ResultPath":"$.seen","Result":true,"Next":"C"},
        "C":{"Type":"Pass","OutputPath":"$.w","End":true})J";
    const std::string batcher =
        batch > 0 ? R"("ItemBatcher":{"MaxItemsPerBatch":)" + std::to_string(batch) + "}," : std::string();
    const std::string def = R"({"StartAt":"Each","States":{"Each":{"Type":"Map",
      "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL"},
                    "Parameters":{"Bucket":"in","Key":"items.jsonl"}},)" + batcher + R"J(
      "ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"out","Prefix":"runs"}},
      "MaxConcurrency":)J" + std::to_string(concurrency) + R"J(,
      "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"A","States":{
        )J" + processor + R"J(}},"End":true}}})J";
    storage::NewStateMachine m;
    m.arn = "arn:aws:states:us-east-1:123456789012:stateMachine:MapRunBench";
    m.name = "MapRunBench";
    m.role_arn = "arn:aws:iam::123456789012:role/R";
    m.definition = def;
    if (!store->create_state_machine(m).ok()) _exit(1);
    EngineOptions eo;
    eo.data_dir = data_dir.string();
    Engine engine(eo);
    RunOptions ro;
    ro.state_machine_name = "MapRunBench";
    ro.execution_name = "bench";
    auto parsed = states::parse_definition_text(def);
    if (!parsed.definition) _exit(1);
    auto prepared = engine.prepare(parsed.definition, json::object(), ro);
    storage::NewExecution e;
    e.arn = prepared.snapshot.state.arn;
    e.name = "bench";
    e.state_machine_arn = m.arn;
    e.state_machine_version = 1;
    e.input = "{}";
    e.start_date = prepared.snapshot.state.start_time;
    e.state = to_json(snapshot_to_json(prepared.snapshot));
    for (const auto& ev : prepared.events) e.events.push_back(to_event_record(ev));
    if (!store->create_execution(e).ok()) _exit(1);
    const std::string arn = e.arn;
    e = {};
    prepared = {};
    auto t_run = WallClock::now();
    Worker worker(engine, store);
    for (;;) {
      (void)worker.run_once(10 * kNanosPerMilli);
      auto rec = store->describe_execution(arn);
      if (rec.ok() && rec->status != storage::ExecutionStatus::kRunning) {
        const double s = ms_since(t_run) / 1000.0;
        std::printf("map-run: %ld items, batches of %ld, MaxConcurrency %ld: parent %s in %.1f s, %.0f items/s "
                    "(%lld commits)\n",
                    n, batch, concurrency, std::string(storage::to_string(rec->status)).c_str(), s,
                    static_cast<double>(n) / s, static_cast<long long>(worker.stats().commits));
        if (rec->status != storage::ExecutionStatus::kSucceeded)
          std::printf("map-run: %s: %s\n", rec->error.value_or("").c_str(), rec->cause.value_or("").c_str());
        break;
      }
    }
    (void)worker.shutdown();
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  std::uintmax_t bytes = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path + suffix, ec);
    if (!ec) bytes += size;
  }
  std::printf("map-run: whole process %.1f s, peak resident %.1f MiB, database %.1f MiB (%.0f bytes per item)\n",
              ms_since(t0) / 1000.0, static_cast<double>(ru.ru_maxrss) / 1024.0,
              static_cast<double>(bytes) / (1024.0 * 1024.0), static_cast<double>(bytes) / static_cast<double>(n));
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = STEPWISE_SOURCE_DIR "/bench/workflows";
  std::string only;
  std::string stepwise = STEPWISE_CLI_PATH;
  int runs = 5;
  int executions = 1;
  bool no_store = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--workflows" && i + 1 < argc) dir = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--executions" && i + 1 < argc) executions = std::max(1, std::atoi(argv[++i]));
    else if (a == "--stepwise" && i + 1 < argc) stepwise = argv[++i];
    else if (a == "--no-store") no_store = true;
    else if (a == "--parked" && i + 1 < argc) return parked(std::atol(argv[++i]));
    else if (a == "--map-run" && i + 1 < argc) {
      const long n = std::atol(argv[++i]);
      long concurrency = 1000, batch = 0;
      while (i + 2 < argc && (std::string(argv[i + 1]) == "--max-concurrency" || std::string(argv[i + 1]) == "--batch")) {
        if (std::string(argv[i + 1]) == "--batch") {
          batch = std::atol(argv[i += 2]);
        } else {
          concurrency = std::atol(argv[i += 2]);
        }
      }
      return map_run(n, concurrency, batch);
    }
    else if (a == "--invocations") {
      int n = 2000;
      if (i + 1 < argc && std::isdigit(static_cast<unsigned char>(argv[i + 1][0]))) n = std::max(1, std::atoi(argv[++i]));
      return bench::invocation_benchmarks(n, dir);
    }
    else {
      std::cerr << "usage: stepwise_bench [--workflows DIR] [--only NAME] [--runs N] [--executions N] [--stepwise PATH] [--no-store] [--parked N] [--map-run N [--max-concurrency C] [--batch B]] [--invocations [N]]\n";
      return 2;
    }
  }
  auto manifest = parse_json(read_text(dir + "/manifest.json"));
  if (!manifest) {
    std::cerr << "cannot read " << dir << "/manifest.json\n";
    return 2;
  }
  bool all_ok = true;
  for (bool persisted : {false, true}) {
    if (persisted && no_store) break;
    std::printf(persisted ? "\nrecorded in SQLite (WAL, synchronous=FULL), every transition committed:\n"
                          : "in memory:\n");
    std::printf("%-22s %9s %8s %9s %12s %12s %9s %8s %6s %11s %11s\n", "workload", "states", "parse ms", "run ms",
                "states/s run", "states/s all", "peak MiB", "commits", "output", "engine CPU", "others CPU");
    for (const auto& [name, wv] : manifest->at("workloads").get_object()) {
      if (!only.empty() && name != only) continue;
      const auto& w = wv.get_object();
      std::vector<Row> rows;
      const int n = persisted ? executions : 1;
      for (int i = 0; i < runs; ++i) rows.push_back(measure(dir, std::string(name), w, persisted, n));
      // The median run by its run time (what "states/s run" measures).
      std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.m.run_ms < b.m.run_ms; });
      const Row& r = rows[rows.size() / 2];
      long peak = 0;
      for (const auto& x : rows) peak = std::max(peak, x.peak_kb);
      bool ok = std::all_of(rows.begin(), rows.end(), [](const Row& x) { return x.m.ok; });
      long long expected_states = n * w.at("transitions").to_number<long long>();
      if (r.m.states != expected_states) ok = false;
      all_ok = all_ok && ok;
      std::printf("%-22s %9lld %8.2f %9.1f %12.0f %12.0f %9.1f %8lld %6s %8.1f ms %8.1f ms\n",
                  std::string(name).c_str(), r.m.states, r.m.parse_ms, r.m.run_ms, r.m.states / (r.m.run_ms / 1000.0),
                  r.m.states / (r.wall_ms / 1000.0), static_cast<double>(peak) / 1024.0, r.m.commits,
                  ok ? "ok" : "WRONG", r.m.engine_cpu_ms, r.m.committer_cpu_ms);
      if (runs > 1) {
        // Every run's figures, fastest first: on a shared machine the
        // CPU times vary less than the wall times.
        for (const auto& x : rows) {
          std::printf("  run: %9.1f ms %12.0f states/s, engine thread CPU %8.1f ms, other threads CPU %8.1f ms", x.m.run_ms,
                      x.m.states / (x.m.run_ms / 1000.0), x.m.engine_cpu_ms, x.m.committer_cpu_ms);
          if (persisted) std::printf(", waited for commits %7.1f ms", x.m.commit_wait_ms);
          std::printf("\n");
        }
      }
    }
  }
  if (only.empty() || only == "parse") {
    std::string text = read_text(dir + "/pass_chain.asl.json");
    std::vector<double> times;
    for (int i = 0; i < 20; ++i) {
      auto t0 = WallClock::now();
      auto r = states::parse_definition_text(text);
      times.push_back(ms_since(t0));
      if (!r.definition) all_ok = false;
    }
    std::printf("\nparse+validate pass_chain.asl.json (%zu KiB): median %.2f ms, best %.2f ms (20 runs)\n",
                text.size() / 1024, median(times), *std::min_element(times.begin(), times.end()));
  }
  if (only.empty() || only == "cli") {
    const std::string db = fresh_db_path();
    for (bool recorded : {false, true}) {
      if (recorded && no_store) break;
      double ms = cli_one_state_ms(stepwise, 20, recorded ? db : std::string());
      const char* how = recorded ? "recorded: started, run and SUCCEEDED in SQLite" : "--no-store";
      if (ms < 0) {
        std::printf("stepwise run (one Pass state, %s), whole process: FAILED to run %s\n", how, stepwise.c_str());
        all_ok = false;
      } else {
        std::printf("stepwise run (one Pass state, %s), whole process: median %.2f ms (20 runs)\n", how, ms);
      }
    }
    std::filesystem::remove_all(std::filesystem::path(db).parent_path());
  }
  return all_ok ? 0 : 1;
}
