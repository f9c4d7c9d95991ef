#include "cli/functions_cli.h"

#include <filesystem>
#include <iostream>

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

RuntimeOptions runtime_options(const FunctionsArgs& args, std::shared_ptr<InvocationRecorder> recorder) {
  RuntimeOptions o;
  o.log_dir = args.log_dir;
  if (recorder) o.on_report = [recorder](const InvocationReport& r) { recorder->add(r); };
  return o;
}

}  // namespace stepwise::cli
