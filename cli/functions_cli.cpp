#include "cli/functions_cli.h"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace stepwise::cli {

void add_functions_options(CLI::App* cmd, FunctionsArgs& args) {
  cmd->add_option("--functions", args.file,
                  "Functions file (docs/functions.md) declaring the functions Task states call; default: "
                  "functions.json beside the definition (run) or in the working directory, if there is one");
  cmd->add_option("--function-logs", args.log_dir,
                  "Directory for the functions' own output, one NAME.log each (default ./stepwise-logs)");
}

bool load_functions(const FunctionsArgs& args, const std::string& beside_dir, std::optional<FunctionsFile>* out) {
  std::string path = args.file;
  if (path.empty()) {
    const auto candidate = std::filesystem::path(beside_dir.empty() ? "." : beside_dir) / "functions.json";
    std::error_code ec;
    if (!std::filesystem::exists(candidate, ec)) return true;
    path = candidate.string();
  }
  Diagnostics errors;
  auto file = load_functions_file(path, errors);
  if (!file) {
    for (const auto& d : errors) {
      std::cerr << path << ": " << (d.pointer.empty() ? "" : d.pointer + ": ") << d.message << "\n";
    }
    return false;
  }
  *out = std::move(file);
  return true;
}

RuntimeOptions runtime_options(const FunctionsArgs& args, std::shared_ptr<InvocationRecorder> recorder, bool trace) {
  RuntimeOptions o;
  o.log_dir = args.log_dir;
  if (recorder || trace) {
    o.on_report = [recorder, trace](const InvocationReport& r) {
      if (recorder) recorder->add(r);
      // One write per line: reports come from several pool threads.
      if (trace) std::cerr << "[trace] " + r.function_name + " " + report_line(r) + "\n";
    };
  }
  return o;
}

std::string report_line(const InvocationReport& r) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << "REPORT RequestId: " << r.request_id << "\tDuration: " << r.duration_ms
      << " ms\tBilled Duration: " << r.billed_duration_ms << " ms\tMemory Size: " << r.memory_size_mb
      << " MB\tMax Memory Used: " << r.max_memory_used_mb << " MB";
  if (r.init_duration_ms) out << "\tInit Duration: " << *r.init_duration_ms << " ms";
  if (r.throttled) out << "\tThrottled";
  return out.str();
}

}  // namespace stepwise::cli
