// Running the real `stepwise` binary from tests: stdin from /dev/null,
// stdout and stderr into files, optionally in another directory and with
// environment changes.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace stepwise::testing {

struct CliOptions {
  std::string out_path;  // stdout (appended to with append = true)
  std::string err_path;  // stderr; empty: into out_path
  std::string cwd;       // empty: this process's
  std::map<std::string, std::string> env;  // set in the child
  std::vector<std::string> unset_env;      // unset in the child (before env)
  bool append = false;
};

// Starts `stepwise ARGS`; returns its pid.
inline pid_t spawn_cli(const std::vector<std::string>& args, const CliOptions& o) {
  // The child must not inherit (and write out) what this process has buffered.
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  const char* mode = o.append ? "a" : "w";
  const std::string& err = o.err_path.empty() ? o.out_path : o.err_path;
  if (!freopen(o.out_path.c_str(), mode, stdout) || !freopen(err.c_str(), o.err_path.empty() ? "a" : mode, stderr))
    _exit(126);
  if (!freopen("/dev/null", "r", stdin)) _exit(126);
  if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) _exit(126);
  for (const auto& name : o.unset_env) unsetenv(name.c_str());
  for (const auto& [k, v] : o.env) setenv(k.c_str(), v.c_str(), 1);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  std::string bin = STEPWISE_CLI_PATH;
  argv.push_back(bin.data());
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(bin.c_str(), argv.data());
  _exit(127);
}

// Waits for it: its exit code, or minus the signal that ended it.
inline int wait_cli(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

inline std::string slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh directory under the system's temporary one (named PREFIX-XXXXXX),
// removed with everything in it at the end of the scope.
struct ScratchDir {
  explicit ScratchDir(const char* prefix = "stepwise-cli") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    path = mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path;
};

// What a finished `stepwise` run printed, and its exit code.
struct CliRun {
  int code;
  std::string out, err;
};

// Runs `stepwise ARGS` in dir (its working directory), stdout and stderr
// captured in files there.
inline CliRun run_cli_in(const ScratchDir& dir, const std::vector<std::string>& args) {
  CliOptions o;
  o.out_path = dir.path + "/out.txt";
  o.err_path = dir.path + "/err.txt";
  o.cwd = dir.path;
  const int code = wait_cli(spawn_cli(args, o));
  return {code, slurp_file(o.out_path), slurp_file(o.err_path)};
}

}  // namespace stepwise::testing
