// The functions file: the functions Task states call, declared with the
// property names of an AWS SAM AWS::Serverless::Function.
//
//   {"Globals": {"Function": {"MemorySize": 256}},          (optional defaults)
//    "Functions": {"Resize": {"Runtime": "python3", "Handler": "resize.handler",
//                             "CodeUri": "functions/", "Timeout": 30, ...}}}
//
// docs/functions.md documents every property. Parsing reports each problem
// with a JSON pointer into the file.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "states/failure.h"
#include "states/json.h"

namespace stepwise {

enum class RuntimeKind { kPython3, kNode, kExec };

// What a pool does with an invocation when all its workers are busy and it
// may not start another (ReservedConcurrentExecutions reached).
enum class OverflowPolicy { kQueue, kThrottle };

struct FunctionConfig {
  std::string name;
  RuntimeKind runtime = RuntimeKind::kPython3;
  std::string runtime_name;          // as written ("python3", "nodejs20.x", ...)
  std::string handler;               // "module.function"; for exec, the command line
  std::vector<std::string> command;  // exec: Handler split into arguments (no shell)
  std::string code_dir;              // CodeUri resolved against the functions file's directory
  int memory_mb = 128;
  double timeout_seconds = 3;
  std::map<std::string, std::string> environment;
  int reserved_concurrency = 10;    // the most workers (concurrent invocations)
  int provisioned_concurrency = 0;  // workers kept started and warm
  double idle_seconds = 300;        // an idle worker beyond the provisioned ones is retired after this
  OverflowPolicy overflow = OverflowPolicy::kQueue;
};

struct FunctionsFile {
  std::string path;  // the file read, when read from a file
  std::map<std::string, FunctionConfig> functions;
};

// Reads a parsed functions document; CodeUri is resolved against `base_dir`.
// Returns nullopt with the problems in `errors` (JSON pointers into the
// document) when it is not valid.
std::optional<FunctionsFile> parse_functions(const json::value& doc, const std::string& base_dir, Diagnostics& errors);

// Reads, parses and checks a functions file (CodeUri directories must exist).
// Problems that are not about one property have pointer "".
std::optional<FunctionsFile> load_functions_file(const std::string& path, Diagnostics& errors);

// Splits an exec Handler into arguments: whitespace separates, '...' and
// "..." quote, backslash escapes the next character. Nullopt when a quote is
// not closed or nothing is left.
std::optional<std::vector<std::string>> split_command_line(const std::string& text);

}  // namespace stepwise
