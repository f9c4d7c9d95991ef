// stepwise run DEFINITION: run one execution in memory and print its result.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/functions_cli.h"
#include "cli/output.h"
#include "cli/store_cli.h"
#include "engine/engine.h"
#include "engine/mock.h"
#include "engine/service.h"
#include "engine/worker.h"
#include "runtime/http_invoker.h"
#include "states/timestamp.h"

namespace stepwise::cli {
namespace {

struct RunArgs {
  std::string definition;
  std::string input;
  std::string input_file;
  std::string mock_config;
  std::string test_case;
  std::string state_machine_name;
  std::string execution_name;
  bool json_output = false;
  bool trace = false;
  bool virtual_time = false;
  std::size_t payload_limit = 256 * 1024;
  std::string data_dir;
  StoreArgs store;
  bool no_store = false;
  FunctionsArgs functions;
};

// Records the definition as state machine `name` (created, or updated with a
// new version when it differs) and starts an execution of it. Returns the
// execution ARN, or nullopt after printing the service's error.
std::optional<std::string> record_and_start(Service& service, const std::string& name, const std::string& definition,
                                            const RunArgs& a, const json::value& input) {
  const std::string arn = state_machine_arn(service.options(), name);
  auto described = service.describe_state_machine({{"stateMachineArn", arn}});
  if (!described.ok()) {
    auto created = service.create_state_machine({{"name", name}, {"definition", definition}});
    if (!created.ok()) {
      print_service_error("CreateStateMachine", created.error());
      return std::nullopt;
    }
  } else if (described.response().at("definition").as_string() != definition) {
    auto updated = service.update_state_machine({{"stateMachineArn", arn}, {"definition", definition}});
    if (!updated.ok()) {
      print_service_error("UpdateStateMachine", updated.error());
      return std::nullopt;
    }
  }
  json::object request{{"stateMachineArn", arn}, {"input", to_json(input)}};
  if (!a.execution_name.empty()) request["name"] = a.execution_name;
  auto started = service.start_execution(request);
  if (!started.ok()) {
    print_service_error("StartExecution", started.error());
    return std::nullopt;
  }
  return std::string(started.response().at("executionArn").as_string());
}

// One line per event: "+12.345ms  #5 TaskStateEntered Resize {input}".
void print_trace(const HistoryEvent& e, Nanos start) {
  std::string line = "[trace] +" + std::to_string((e.timestamp - start) / 1000000) + "ms #" + std::to_string(e.id) +
                     " " + e.type;
  for (const auto& [key, det] : e.details_object()) {
    (void)key;
    if (!det.is_object()) continue;
    const auto& o = det.get_object();
    if (const auto* n = o.if_contains("name"); n && n->is_string()) line += " " + std::string(n->get_string());
    for (const char* field : {"input", "output", "parameters", "error", "cause"}) {
      if (const auto* v = o.if_contains(field); v && v->is_string()) {
        line += std::string(" ") + field + "=" + std::string(v->get_string());
      }
    }
    if (const auto* idx = o.if_contains("index")) line += " index=" + to_json(*idx);
  }
  std::cerr << line << "\n";
}

int run_command(const RunArgs& a) {
  bool syntax = false;
  auto def = load_definition(a.definition, &syntax);
  if (!def) return kExitUsage;

  json::value input = json::object();
  if (!a.input.empty()) {
    JsonParseError perr;
    auto v = parse_json(a.input, &perr);
    if (!v) {
      std::cerr << "stepwise: --input is not valid JSON: " << perr.describe() << "\n";
      return kExitUsage;
    }
    input = std::move(*v);
  } else if (!a.input_file.empty()) {
    auto v = load_json_file(a.input_file, "input file");
    if (!v) return kExitUsage;
    input = std::move(*v);
  }

  EngineOptions eopts;
  eopts.payload_limit = a.payload_limit;
  eopts.data_dir = data_dir_path(a.data_dir);
  if (a.virtual_time) {
    eopts.clock = std::make_shared<ManualClock>(SystemClock().now());
    eopts.virtual_time = true;
  }
  Engine engine(eopts);
  std::optional<FunctionsFile> functions;
  if (!load_functions(a.functions, std::filesystem::path(a.definition).parent_path().string(), &functions))
    return kExitUsage;
  std::unique_ptr<Service> service;
  if (!a.no_store) {
    service = open_service(a.store, /*create=*/true);
    if (!service) return kExitUsage;
  }
  // Invocation reports go to the database (for `stepwise functions stats`).
  std::shared_ptr<InvocationRecorder> recorder;
  // HTTP Tasks (http:invoke) go over the network; other resources reach the
  // in-process functions, or the declared ones below.
  auto http_invoker = std::make_shared<HttpInvoker>(HttpInvokerOptions{}, engine.invoker());
  engine.set_invoker(http_invoker);
  std::shared_ptr<FunctionInvoker> function_invoker;
  if (functions) {
    if (service) recorder = std::make_shared<InvocationRecorder>(service->store());
    // Declared functions run in worker pools; other Lambda resources reach
    // the engine's in-process functions as before.
    function_invoker =
        std::make_shared<FunctionInvoker>(*functions, runtime_options(a.functions, recorder, a.trace), engine.invoker());
    engine.set_invoker(function_invoker);
  }
  RunOptions opts;
  opts.state_machine_name = a.state_machine_name.empty() ? definition_base_name(a.definition) : a.state_machine_name;
  opts.execution_name = a.execution_name;
  if (!a.mock_config.empty()) {
    auto cfg = load_json_file(a.mock_config, "mock config");
    if (!cfg) return kExitUsage;
    Diagnostics errs;
    auto table = load_mock_config(*cfg, opts.state_machine_name, a.test_case, errs);
    if (!table) {
      for (const auto& d : errs) std::cerr << a.mock_config << ": " << d.pointer << ": " << d.message << "\n";
      return kExitUsage;
    }
    opts.invoker = std::make_shared<MockInvoker>(std::move(*table), engine.invoker());
  }
  if (a.trace) {
    auto start = std::make_shared<Nanos>(0);
    opts.on_event = [start](const HistoryEvent& e) {
      if (*start == 0) *start = e.timestamp;
      print_trace(e, *start);
    };
  }
  ExecutionResult r;
  if (a.no_store) {
    r = engine.run(def, std::move(input), std::move(opts));
  } else {
    std::string err;
    auto text = read_file(a.definition, &err);
    if (!text) return kExitUsage;  // load_definition read it a moment ago
    auto arn = record_and_start(*service, opts.state_machine_name, *text, a, input);
    if (!arn) return kExitFailed;
    WorkerOptions wo;
    wo.claim = false;
    wo.on_event = opts.on_event;
    if (opts.invoker) wo.invoker_for = [inv = opts.invoker](const std::string&) { return inv; };
    Worker worker(engine, service->store(), wo);
    bool done = false;
    if (auto s = worker.adopt(*arn, [&](const ExecutionResult& res) {
          r = res;
          done = true;
        });
        !s.ok()) {
      std::cerr << "stepwise: cannot run " << *arn << ": " << s.to_string() << "\n";
      return kExitFailed;
    }
    // Store errors pause the worker (logged); it carries on when it can.
    while (!done) (void)worker.run_once(200 * kNanosPerMilli);
    (void)worker.shutdown();
  }
  if (function_invoker) function_invoker->shutdown();
  http_invoker->shutdown();
  if (recorder) (void)recorder->flush();
  std::cerr << "execution: " << r.execution_arn << "\n";
  if (a.json_output) {
    json::object o;
    o["status"] = status_name(r.status);
    if (r.status == ExecutionStatus::Succeeded) {
      o["output"] = r.output;
    } else {
      if (r.has_error) o["error"] = r.error;
      if (r.has_cause) o["cause"] = r.cause;
    }
    std::cout << to_json(o) << "\n";
  } else if (r.status == ExecutionStatus::Succeeded) {
    std::cout << (isatty(STDOUT_FILENO) ? to_pretty_json(r.output) : to_json(r.output)) << "\n";
  } else {
    std::cerr << "Execution " << status_name(r.status) << "\n";
    if (r.has_error) std::cerr << "Error: " << r.error << "\n";
    if (r.has_cause) std::cerr << "Cause: " << r.cause << "\n";
  }
  return r.status == ExecutionStatus::Succeeded ? kExitOk : kExitFailed;
}

}  // namespace

Command add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run",
                                 "Run a state machine once and print its output. The state machine (named after the "
                                 "file) and the execution are recorded in the database unless --no-store.");
  cmd->add_option("definition", a->definition, "Definition file (ASL JSON)")->required();
  auto* in = cmd->add_option("--input", a->input, "Execution input as JSON text (default {})");
  auto* inf = cmd->add_option("--input-file", a->input_file, "Read the execution input from a JSON file");
  in->excludes(inf);
  auto* mock = cmd->add_option("--mock-config", a->mock_config,
                               "AWS Step Functions Local MockConfigFile with mocked task responses");
  auto* tc = cmd->add_option("--test-case", a->test_case, "Test case of the mock config to use");
  mock->needs(tc);
  tc->needs(mock);
  cmd->add_option("--state-machine-name", a->state_machine_name,
                  "State machine name (default: the file's base name without .asl.json/.json)");
  cmd->add_option("--name", a->execution_name, "Execution name (default: a random UUID)");
  cmd->add_flag("--json", a->json_output,
                "Print one line: {\"status\":\"SUCCEEDED\",\"output\":...} or {\"status\":\"FAILED\",\"error\":...,\"cause\":...}");
  cmd->add_flag("--trace", a->trace,
                "Print every history event (state, input, output or error) and every function invocation's REPORT "
                "line to stderr");
  cmd->add_option("--payload-limit", a->payload_limit,
                  "Largest state input/output or task result in bytes (default 262144, AWS's 256 KiB); "
                  "larger ones fail with States.DataLimitExceeded")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--data-dir", a->data_dir, kDataDirHelp);
  add_functions_options(cmd, a->functions);
  add_store_options(cmd, a->store, /*with_output=*/false);
  cmd->add_flag("--no-store", a->no_store, "Run in memory only: record nothing")->excludes(cmd->get_option("--db"));
  cmd->add_flag("--virtual-time", a->virtual_time,
                "Run on a virtual clock: Wait states, retry backoff and timeouts take no real time");
  cmd->footer(
      "Exit status: 0 SUCCEEDED; 1 FAILED, TIMED_OUT or ABORTED (error and cause on stderr);\n"
      "2 usage error, unreadable file, invalid JSON or invalid definition.");
  return [a]() { return run_command(*a); };
}

}  // namespace stepwise::cli
