#include "runtime/process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace stepwise {
namespace {

// Only async-signal-safe calls from here to execve: the parent may have other
// threads, whose locks the child inherits in whatever state they were.
[[noreturn]] void exec_child(const SpawnRequest& r, char* const* argv, char* const* envp, int devnull, int err_pipe) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaction(sig, &dfl, nullptr);
  struct rlimit no_core {
    0, 0
  };
  setrlimit(RLIMIT_CORE, &no_core);

  // Lift every source above the targets first, so no dup2 clobbers a source.
  int sources[3 + 16];
  int targets[3 + 16];
  int n = 0;
  sources[n] = r.stdin_fd >= 0 ? r.stdin_fd : devnull, targets[n++] = 0;
  sources[n] = r.stdout_fd >= 0 ? r.stdout_fd : devnull, targets[n++] = 1;
  sources[n] = r.stderr_fd >= 0 ? r.stderr_fd : devnull, targets[n++] = 2;
  for (const auto& [from, to] : r.extra_fds) {
    if (n == 3 + 16) break;
    sources[n] = from, targets[n++] = to;
  }
  int max_target = 2;
  for (int i = 0; i < n; ++i) {
    sources[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 64);
    if (sources[i] < 0) goto fail;
    if (targets[i] > max_target) max_target = targets[i];
  }
  for (int i = 0; i < n; ++i) {
    if (dup2(sources[i], targets[i]) < 0) goto fail;  // dup2 clears close-on-exec on the target
  }
  // Everything else closes at execve (the error pipe included).
  for (int fd = max_target + 1; fd < 1024; ++fd) {
    if (fd != err_pipe) {
      int flags = fcntl(fd, F_GETFD);
      if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  if (!r.cwd.empty() && chdir(r.cwd.c_str()) != 0) goto fail;
  execve(argv[0], argv, envp);
fail:
  int e = errno;
  ssize_t ignored = write(err_pipe, &e, sizeof e);
  (void)ignored;
  _exit(127);
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

pid_t spawn_process(const SpawnRequest& request, std::string* error) {
  if (request.argv.empty()) {
    *error = "no program";
    return -1;
  }
  std::vector<std::string> argv_copy = request.argv;
  std::vector<std::string> env_copy = request.env;
  std::vector<char*> argv = c_strings(argv_copy);
  std::vector<char*> envp = c_strings(env_copy);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  int err_pipe[2];
  if (devnull < 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    *error = std::string("cannot prepare the process: ") + std::strerror(errno);
    if (devnull >= 0) close(devnull);
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) exec_child(request, argv.data(), envp.data(), devnull, err_pipe[1]);
  close(err_pipe[1]);
  close(devnull);
  if (pid < 0) {
    *error = std::string("fork failed: ") + std::strerror(errno);
    close(err_pipe[0]);
    return -1;
  }
  int child_errno = 0;
  ssize_t got;
  do {
    got = read(err_pipe[0], &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  close(err_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    waitpid(pid, &status, 0);
    *error = "cannot execute " + request.argv[0] + ": " + std::strerror(child_errno);
    return -1;
  }
  return pid;
}

std::optional<std::string> find_program(const std::string& name, const std::string& path_var) {
  if (name.find('/') != std::string::npos) return name;
  std::stringstream dirs(path_var);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

void kill_process_group(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    std::string desc = strsignal(sig);
    for (auto& c : desc) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "signal: " + desc + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "status " + std::to_string(status);
}

}  // namespace stepwise
