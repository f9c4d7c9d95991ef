// Shared helpers of the stepwise subcommands.
#pragma once

#include <optional>
#include <string>

#include "states/definition.h"
#include "states/json.h"

namespace stepwise::cli {

// Exit codes: the contract scripts and tests rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // invalid definition (validate) / execution failed (run)
inline constexpr int kExitUsage = 2;   // usage error, unreadable file, bad JSON, invalid definition (run)

// Reads a whole file; nullopt (and *error set) when it cannot be read.
std::optional<std::string> read_file(const std::string& path, std::string* error);

// Reads and parses a definition file, printing every problem to stderr as
// "PATH: POINTER: message". Returns null when the file is unusable;
// *syntax_error tells whether it failed before validation (unreadable or not JSON).
std::shared_ptr<const states::Definition> load_definition(const std::string& path, bool* syntax_error);

// Reads a JSON file, printing a located error to stderr on failure.
std::optional<json::value> load_json_file(const std::string& path, const char* what);

// The data directory where a distributed Map's ItemReader and ResultWriter
// find s3://BUCKET/KEY as DIR/BUCKET/KEY: `flag` (--data-dir) when given,
// else $STEPWISE_DATA_DIR when set and not empty, else "data" (./data).
std::string data_dir_path(const std::string& flag);
inline constexpr const char* kDataDirHelp =
    "Directory holding the files distributed Maps read (ItemReader) and write (ResultWriter): s3://BUCKET/KEY is "
    "DIR/BUCKET/KEY (default: $STEPWISE_DATA_DIR, else ./data)";

// The base name without ".asl.json" / ".json".
std::string definition_base_name(const std::string& path);

}  // namespace stepwise::cli
