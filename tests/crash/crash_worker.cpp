// stepwise_crash_worker: the process the crash test kills.
//
//   stepwise_crash_worker DB_PATH INVOCATION_LOG [--incarnation N]
//                         [--max-batch-events N] [--hibernate-after-ms N] [--until-done]
//
// Runs a Worker on the SQLite store at DB_PATH (which must exist; full sync)
// with the crash test's functions (crash_functions.h), in real time, until
// SIGTERM or SIGINT, or with --until-done until no execution is RUNNING.
// Each invocation appends "<idempotency_key> <state> <attempt> <incarnation>"
// to INVOCATION_LOG and fsyncs it before the function answers, so the line
// is on disk before any commit can record the task's completion, and
// survives a SIGKILL.
// Exit codes: 0 stopped cleanly, 1 a store or log error, 2 bad arguments.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "crash_functions.h"
#include "engine/worker.h"
#include "storage/store.h"

using namespace stepwise;

namespace {

struct Args {
  std::string db;
  std::string log;
  long incarnation = 0;
  long max_batch_events = 0;     // 0: the worker's default
  long hibernate_after_ms = -1;  // -1: the worker's default; 0: never
  bool until_done = false;
};

bool parse_args(int argc, char** argv, Args& out) {
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--until-done") {
      out.until_done = true;
    } else if ((a == "--incarnation" || a == "--max-batch-events" || a == "--hibernate-after-ms") && i + 1 < argc) {
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 0) return false;
      (a == "--incarnation"        ? out.incarnation
       : a == "--max-batch-events" ? out.max_batch_events
                                   : out.hibernate_after_ms) = v;
    } else if (positional == 0) {
      out.db = a;
      ++positional;
    } else if (positional == 1) {
      out.log = a;
      ++positional;
    } else {
      return false;
    }
  }
  return positional == 2;
}

// Appends whole lines with O_APPEND and fsyncs each one.
class InvocationLog {
 public:
  explicit InvocationLog(const std::string& path) : fd_(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644)) {}
  ~InvocationLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  InvocationLog(const InvocationLog&) = delete;
  InvocationLog& operator=(const InvocationLog&) = delete;

  bool ok() const { return fd_ >= 0; }

  // A line that cannot be written makes the record worthless: stop at once.
  void append(const std::string& line) {
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(fd_) != 0) {
      std::fprintf(stderr, "stepwise_crash_worker: cannot write the invocation log: %s\n", std::strerror(errno));
      std::_Exit(1);
    }
  }

 private:
  int fd_;
};

bool any_running(storage::Store& store) {
  storage::ExecutionFilter filter;
  filter.status = storage::ExecutionStatus::kRunning;
  auto page = store.list_executions(filter, storage::PageRequest{1, ""});
  return !page.ok() || !page->items.empty();  // an error: keep going, the worker waits it out
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: stepwise_crash_worker DB_PATH INVOCATION_LOG [--incarnation N] [--max-batch-events N] "
                 "[--hibernate-after-ms N] [--until-done]\n");
    return 2;
  }

  // SIGTERM/SIGINT are taken by a thread with sigwait: blocked here, before
  // any thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::atomic<bool> stop{false};
  std::thread([&stop, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    stop = true;
  }).detach();

  storage::SqliteOptions so;
  so.sync = storage::SyncMode::kFull;
  so.create_if_missing = false;
  auto opened = storage::open_sqlite(args.db, so);
  if (!opened.ok()) {
    std::fprintf(stderr, "stepwise_crash_worker: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  std::shared_ptr<storage::Store> store = std::move(opened.value());

  InvocationLog log(args.log);
  if (!log.ok()) {
    std::fprintf(stderr, "stepwise_crash_worker: cannot open %s: %s\n", args.log.c_str(), std::strerror(errno));
    return 1;
  }
  Engine engine;  // the system clock, real time
  const std::string suffix = " " + std::to_string(args.incarnation) + "\n";
  crashtest::register_functions(
      engine.functions(),
      [&log, &suffix](const InvocationContext& ctx) {
        log.append(ctx.idempotency_key + " " + ctx.state_name + " " + std::to_string(ctx.attempt) + suffix);
      },
      /*sleep=*/true);

  WorkerOptions wo;
  if (args.max_batch_events > 0) wo.max_batch_events = static_cast<std::size_t>(args.max_batch_events);
  if (args.hibernate_after_ms >= 0) wo.hibernate_after = args.hibernate_after_ms * kNanosPerMilli;
  Worker worker(engine, store, wo);
  // The first round claims (and resumes) every RUNNING execution: the dead
  // incarnation's leases are freed at once (its process is gone). The test
  // checks the count; the time says how much of a short life is left.
  const auto started = std::chrono::steady_clock::now();
  (void)worker.run_once(0);
  std::fprintf(stderr, "incarnation %ld: claimed %lld execution(s) in %.1f ms\n", args.incarnation,
               static_cast<long long>(worker.stats().claimed),
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  if (!args.until_done) {
    storage::Status s = worker.run(stop);
    return s.ok() ? 0 : 1;
  }
  // Until nothing is RUNNING: the store says so (another worker may have
  // left executions), checked between rounds.
  while (!stop.load()) {
    (void)worker.run_once(50 * kNanosPerMilli);
    if (worker.active() == 0 && !worker.paused() && !any_running(*store)) break;
  }
  storage::Status s = worker.shutdown();
  return s.ok() ? 0 : 1;
}
