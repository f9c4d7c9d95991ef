// Starting and watching worker processes: fork + execve (never a shell),
// an explicit environment, chosen descriptors, a process group of its own.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace stepwise {

struct SpawnRequest {
  std::vector<std::string> argv;               // argv[0] is the program's path
  std::vector<std::string> env;                // "NAME=value": the whole environment
  std::string cwd;                             // empty: this process's
  int stdin_fd = -1;                           // -1: /dev/null
  int stdout_fd = -1;                          // -1: /dev/null
  int stderr_fd = -1;                          // -1: /dev/null
  std::vector<std::pair<int, int>> extra_fds;  // (fd here, fd number in the child), child numbers >= 3
};

// Starts the process; its pid, or -1 with *error set (e.g. the program cannot
// be executed). The child leads its own process group, has the default signal
// mask and dispositions, no core dumps, and only the descriptors asked for.
pid_t spawn_process(const SpawnRequest& request, std::string* error);

// The program's path: `name` itself when it contains '/', else the first
// executable "DIR/name" over the ':'-separated `path_var`.
std::optional<std::string> find_program(const std::string& name, const std::string& path_var);

// Peak resident memory (VmHWM) of a live process in KiB; -1 when unknown.
long peak_rss_kib(pid_t pid);

// SIGKILL to the process group `pid` leads (and to `pid` itself).
void kill_process_group(pid_t pid);

// How a process ended, in words: "exit status 3", "signal: killed", ...
std::string describe_wait_status(int status);

}  // namespace stepwise
