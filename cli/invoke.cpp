// stepwise invoke NAME: runs one declared function once, like `aws lambda invoke`.
#include <condition_variable>
#include <iostream>
#include <mutex>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/functions_cli.h"
#include "cli/store_cli.h"

namespace stepwise::cli {
namespace {

struct InvokeArgs {
  std::string name;
  std::string payload = "{}";
  FunctionsArgs functions;
  StoreArgs store;
  bool no_store = false;
};

int invoke_command(const InvokeArgs& a) {
  JsonParseError perr;
  auto event = parse_json(a.payload, &perr);
  if (!event) {
    std::cerr << "stepwise: --payload is not valid JSON: " << perr.describe() << "\n";
    return kExitUsage;
  }
  std::optional<FunctionsFile> functions;
  if (!load_functions(a.functions, ".", &functions)) return kExitUsage;
  if (!functions) {
    std::cerr << "stepwise: no functions file (--functions FILE, or functions.json in the working directory)\n";
    return kExitUsage;
  }
  std::unique_ptr<Service> service;
  std::shared_ptr<InvocationRecorder> recorder;
  if (!a.no_store) {
    service = open_service(a.store, /*create=*/true);
    if (!service) return kExitUsage;
    recorder = std::make_shared<InvocationRecorder>(service->store());
  }
  FunctionInvoker invoker(*functions, runtime_options(a.functions, recorder));
  std::mutex mu;
  std::condition_variable cv;
  std::optional<TaskOutcome> outcome;
  const bool found = invoker.invoke_function(a.name, std::move(*event), [&](TaskOutcome o) {
    std::lock_guard lock(mu);
    outcome = std::move(o);
    cv.notify_all();
  });
  if (!found) {
    std::cerr << "stepwise: Function not found: " << a.name << " (not declared in " << functions->path << ")\n";
    return kExitUsage;
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outcome.has_value(); });
  }
  invoker.shutdown();
  if (recorder) (void)recorder->flush();
  if (outcome->report) std::cerr << report_line(*outcome->report) << "\n";
  if (outcome->ok) {
    std::cout << to_json(outcome->output) << "\n";
    return kExitOk;
  }
  // As aws lambda invoke does: the error document is the response payload.
  std::cout << outcome->failure.cause << "\n";
  std::cerr << "Error: " << outcome->failure.error << "\n";
  return kExitFailed;
}

}  // namespace

Command add_invoke(CLI::App& app) {
  auto a = std::make_shared<InvokeArgs>();
  auto* cmd = app.add_subcommand("invoke",
                                 "Run a function of the functions file once, like `aws lambda invoke`: "
                                 "the result on stdout, the REPORT line on stderr.");
  cmd->add_option("name", a->name, "Function name (as declared in the functions file)")->required();
  cmd->add_option("--payload", a->payload, "The event, as JSON text (default {})");
  add_functions_options(cmd, a->functions);
  add_store_options(cmd, a->store, /*with_output=*/false);
  cmd->add_flag("--no-store", a->no_store, "Do not record the invocation in the database")
      ->excludes(cmd->get_option("--db"));
  cmd->footer(
      "Exit status: 0 the function returned; 1 it failed (the error document on stdout, the Error on "
      "stderr); 2 usage error, bad functions file or unknown function.");
  return [a]() { return invoke_command(*a); };
}

}  // namespace stepwise::cli
