// stepwise worker: runs the executions recorded in a database until stopped.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/functions_cli.h"
#include "cli/store_cli.h"
#include "engine/mock.h"
#include "engine/worker.h"
#include "runtime/http_invoker.h"

namespace stepwise::cli {
namespace {

std::atomic<bool> g_stop{false};  // set by SIGINT/SIGTERM: the only state a signal handler may touch

extern "C" void on_stop_signal(int) { g_stop.store(true); }

struct WorkerArgs {
  StoreArgs store;
  std::string mock_config;
  std::string test_case;
  double lease_seconds = 30;
  std::string owner;
  bool until_idle = false;
  bool virtual_time = false;
  std::string data_dir;
  FunctionsArgs functions;
};

int worker_command(const WorkerArgs& a) {
  auto service = open_service(a.store, /*create=*/true);
  if (!service) return kExitUsage;
  std::shared_ptr<storage::Store> store = service->store();

  EngineOptions eopts;
  eopts.data_dir = data_dir_path(a.data_dir);
  if (a.virtual_time) {
    eopts.clock = std::make_shared<ManualClock>(SystemClock().now());
    eopts.virtual_time = true;
  }
  Engine engine(eopts);
  std::optional<FunctionsFile> functions;
  if (!load_functions(a.functions, ".", &functions)) return kExitUsage;
  // HTTP Tasks (http:invoke) go over the network; other resources reach the
  // in-process functions, or the declared ones below.
  auto http_invoker = std::make_shared<HttpInvoker>(HttpInvokerOptions{}, engine.invoker());
  engine.set_invoker(http_invoker);
  std::shared_ptr<FunctionInvoker> function_invoker;
  std::shared_ptr<InvocationRecorder> recorder;
  if (functions) {
    recorder = std::make_shared<InvocationRecorder>(store);
    function_invoker =
        std::make_shared<FunctionInvoker>(*functions, runtime_options(a.functions, recorder), engine.invoker());
    engine.set_invoker(function_invoker);
  }
  WorkerOptions wo;
  wo.owner = a.owner;
  wo.lease_duration = seconds_to_nanos(a.lease_seconds);
  wo.renew_every = wo.lease_duration / 3;
  if (!a.mock_config.empty()) {
    auto cfg = load_json_file(a.mock_config, "mock config");
    if (!cfg) return kExitUsage;
    // Checked once up front, so a bad file is a usage error, not a log line per execution.
    auto fallback = engine.invoker();
    wo.invoker_for = [cfg = std::move(*cfg), tc = a.test_case, fallback](const std::string& machine)
        -> std::shared_ptr<Invoker> {
      Diagnostics errs;
      auto table = load_mock_config(cfg, machine, tc, errs);
      if (!table) return nullptr;  // this machine has no such test case: real invokers
      return std::make_shared<MockInvoker>(std::move(*table), fallback);
    };
  }
  Worker worker(engine, store, wo);

  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  spdlog::info("worker {} on {}", worker.owner(), database_path(a.store));
  while (!g_stop.load()) {
    (void)worker.run_once(200 * kNanosPerMilli);  // store errors are logged and waited out
    if (a.until_idle && worker.active() == 0 && !worker.paused()) {
      // Look once more: something may have become claimable meanwhile.
      (void)worker.run_once(0);
      if (worker.active() == 0) break;
    }
  }
  storage::Status s = worker.shutdown();
  if (function_invoker) function_invoker->shutdown();
  http_invoker->shutdown();
  if (recorder) (void)recorder->flush();
  const auto& st = worker.stats();
  spdlog::info("worker stopped: {} execution(s) ended, {} transition(s) in {} commit(s){}", st.ended, st.transitions,
               st.commits, s.ok() ? "" : "; last store error: " + s.to_string());
  return s.ok() ? kExitOk : kExitFailed;
}

}  // namespace

Command add_worker(CLI::App& app) {
  auto a = std::make_shared<WorkerArgs>();
  auto* cmd = app.add_subcommand("worker",
                                 "Run the executions recorded in the database (started, resumed after a crash, "
                                 "redriven) until SIGINT or SIGTERM.");
  add_store_options(cmd, a->store, /*with_output=*/false);
  auto* mock = cmd->add_option("--mock-config", a->mock_config,
                               "AWS Step Functions Local MockConfigFile: tasks of state machines that have the "
                               "test case answer with its mocked responses");
  auto* tc = cmd->add_option("--test-case", a->test_case, "Test case of the mock config to use");
  mock->needs(tc);
  tc->needs(mock);
  add_functions_options(cmd, a->functions);
  cmd->add_option("--data-dir", a->data_dir, kDataDirHelp);
  cmd->add_option("--lease-seconds", a->lease_seconds,
                  "How long an execution stays this worker's without a renewal (default 30); another worker "
                  "takes over the executions of one that died once their leases expire (at once on the same host)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--owner", a->owner, "This worker's name in the leases (default HOST:PID:RANDOM)");
  cmd->add_flag("--until-idle", a->until_idle, "Exit once no execution is left to run (scripts and tests)");
  cmd->add_flag("--virtual-time", a->virtual_time,
                "Run on a virtual clock that starts at the real time and jumps to each next timer: Waits and "
                "retry backoff take no real time (tests, demos)");
  cmd->footer("Exit status: 0 stopped cleanly; 1 the last store write failed; 2 usage error or unusable database.");
  return [a]() { return worker_command(*a); };
}

}  // namespace stepwise::cli
