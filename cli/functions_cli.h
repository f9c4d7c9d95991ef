// What the commands that run functions share: --functions and
// --function-logs, finding and loading the functions file, the invoker.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "runtime/function_pool.h"
#include "runtime/functions_file.h"
#include "runtime/invocation_stats.h"

namespace stepwise::cli {

struct FunctionsArgs {
  std::string file;  // --functions; empty: functions.json beside the definition (or in the working directory)
  std::string log_dir = "stepwise-logs";  // --function-logs
};

void add_functions_options(CLI::App* cmd, FunctionsArgs& args);

// The functions file to use: --functions, else `beside_dir`/functions.json
// when it exists. Prints every problem ("FILE: POINTER: message") and returns
// false when the file is unusable; *out stays empty when there is none.
bool load_functions(const FunctionsArgs& args, const std::string& beside_dir, std::optional<FunctionsFile>* out);

// Runtime options from the arguments; reports go to `recorder` when given,
// and are printed on stderr as REPORT lines when `trace`.
RuntimeOptions runtime_options(const FunctionsArgs& args, std::shared_ptr<InvocationRecorder> recorder = nullptr,
                               bool trace = false);

// Lambda's REPORT line: "REPORT RequestId: ID\tDuration: 1.23 ms\tBilled Duration: 2 ms\t...".
std::string report_line(const InvocationReport& report);

}  // namespace stepwise::cli
