#include "runtime/function_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/functions.h"
#include "runtime/process.h"

namespace stepwise {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

constexpr std::size_t kMaxLine = 64u << 20;  // a reply longer than this is garbage, not a result

double ms_since(Steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
}

int mib_of(long kib) {
  return kib <= 0 ? 0 : static_cast<int>((kib + 1023) / 1024);
}

json::object lambda_error(const std::string& message, const std::string& type) {
  return json::object{{"errorMessage", message}, {"errorType", type}};
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

bool send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// waitpid with the child's peak memory (ru_maxrss, KiB).
int reap(pid_t pid, long* maxrss_kib) {
  int status = 0;
  struct rusage ru {};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  if (maxrss_kib) *maxrss_kib = ru.ru_maxrss;
  return status;
}

std::vector<std::string> environment_of(const FunctionConfig& cfg) {
  std::vector<std::string> env;
  bool has_path = false;
  for (const auto& [k, v] : cfg.environment) {
    env.push_back(k + "=" + v);
    has_path = has_path || k == "PATH";
  }
  if (!has_path) {
    const char* path = std::getenv("PATH");
    env.push_back(std::string("PATH=") + (path && *path ? path : "/usr/local/bin:/usr/bin:/bin"));
  }
  return env;
}

std::string path_of(const std::vector<std::string>& env) {
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) return e.substr(5);
  }
  return {};
}

bool is_script(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {0, 0};
  in.read(magic, 2);
  return magic[0] == '#' && magic[1] == '!';
}

// The interpreter's own executable. A `python3` or `node` found in PATH may be
// a launcher script (pyenv, asdf, nvm shims) that runs a shell and adds its
// own variables to the environment; the binary it launches is asked for its
// path once, so workers start without a shell and with only their declared
// environment.
std::string resolve_interpreter(const std::string& program, const std::string& path_var, RuntimeKind kind) {
  auto found = find_program(program, path_var);
  if (!found || !is_script(*found)) return found ? *found : program;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return *found;
  SpawnRequest req;
  req.argv = kind == RuntimeKind::kPython3
                 ? std::vector<std::string>{*found, "-c", "import sys; sys.stdout.write(sys.executable)"}
                 : std::vector<std::string>{*found, "-e", "process.stdout.write(process.execPath)"};
  for (char** e = environ; *e; ++e) req.env.emplace_back(*e);  // the launcher needs its own settings
  req.stdout_fd = out[1];
  std::string err;
  const pid_t pid = spawn_process(req, &err);
  close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while (pid > 0 && ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))) {
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  if (pid > 0) reap(pid, nullptr);
  if (!text.empty() && text[0] == '/' && access(text.c_str(), X_OK) == 0) return text;
  return *found;
}

}  // namespace

std::string locate_shim_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& dir :
         {exe.parent_path() / "runtime", exe.parent_path() / ".." / "share" / "stepwise" / "runtime"}) {
      if (fs::exists(dir / "python3_shim.py", ec)) return fs::canonical(dir, ec).string();
    }
  }
  return STEPWISE_SHIM_SOURCE_DIR;
}

// ---- one worker thread -------------------------------------------------------

class FunctionPool::Worker {
 public:
  Worker(FunctionPool& pool, Slot& slot)
      : pool_(pool), slot_(slot), cfg_(pool.config_), opts_(pool.options_), env_(environment_of(pool.config_)) {}

  void run(bool provisioned) {
    if (provisioned && persistent()) {
      InitResult init = start();
      if (!init.ok) spdlog::warn("function {}: provisioned worker failed to start: {}", cfg_.name, to_json(init.cause));
    }
    Job job;
    while (pool_.next_job(slot_, job)) {
      serve(job);
      job = Job{};
    }
    stop_process();
  }

 private:
  struct InitResult {
    bool ok = true;
    double ms = 0;
    std::string error;
    json::object cause;
  };
  enum class Read { kLine, kEof, kTimeout, kMemory, kGarbage };

  bool persistent() const { return cfg_.runtime != RuntimeKind::kExec; }
  long limit_kib() const { return static_cast<long>(cfg_.memory_mb) * 1024; }
  Nanos now() const { return opts_.clock->now(); }

  bool stopping() const {
    std::lock_guard lock(pool_.mu_);
    return pool_.stopping_;
  }

  void set_pid(pid_t pid) {
    std::lock_guard lock(pool_.mu_);
    slot_.pid = pid;
  }

  int open_log() const {
    if (pool_.log_path_.empty()) return -1;
    return open(pool_.log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }

  std::optional<std::vector<std::string>> interpreter_argv(std::string* error) const {
    const bool python = cfg_.runtime == RuntimeKind::kPython3;
    const std::string& program = python ? opts_.python : opts_.node;
    auto path = find_program(program, path_of(env_));
    if (!path) {
      *error = "the " + std::string(python ? "python3" : "node") + " interpreter (" + program + ") is not in PATH";
      return std::nullopt;
    }
    const std::string mem = std::to_string(cfg_.memory_mb);
    if (python)
      return std::vector<std::string>{*path,        "-u",      "-B", pool_.shim_dir_ + "/python3_shim.py",
                                      cfg_.handler, cfg_.name, mem};
    return std::vector<std::string>{
        *path, "--max-old-space-size=" + mem, pool_.shim_dir_ + "/node_shim.js", cfg_.handler, cfg_.name, mem};
  }

  // Starts the worker process and waits until it has loaded the handler.
  InitResult start() {
    InitResult r;
    const auto t0 = Steady::now();
    std::string err;
    auto argv = interpreter_argv(&err);
    int sv[2] = {-1, -1};
    if (argv && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) err = "socketpair failed";
    if (!err.empty()) return init_failed(r, t0, "Lambda.Unknown", lambda_error(err, "Runtime.InvalidEntrypoint"));
    SpawnRequest req;
    req.argv = std::move(*argv);
    req.env = env_;
    req.cwd = cfg_.code_dir;
    const int log = open_log();
    req.stdout_fd = req.stderr_fd = log;
    req.extra_fds = {{sv[1], 3}};
    const pid_t pid = spawn_process(req, &err);
    close(sv[1]);
    if (log >= 0) close(log);
    {
      std::lock_guard lock(pool_.mu_);
      ++pool_.counters_.cold_starts;
      slot_.pid = pid;
    }
    if (pid < 0) {
      close(sv[0]);
      return init_failed(r, t0, "Lambda.Unknown", lambda_error(err, "Runtime.InvalidEntrypoint"));
    }
    pid_ = pid;
    fd_ = sv[0];
    buf_.clear();
    std::string line;
    const Read got = read_line(now() + opts_.init_timeout, &line);
    r.ms = ms_since(t0);
    if (got == Read::kLine) {
      JsonParseError perr;
      auto msg = parse_json(line, &perr);
      const auto* o = msg ? msg->if_object() : nullptr;
      const auto* type = o ? o->if_contains("type") : nullptr;
      if (type && *type == json::value("ready")) return r;
      const auto* e = o ? o->if_contains("error") : nullptr;
      if (type && *type == json::value("init_error") && e && e->is_object()) {
        kill_worker(nullptr);
        return init_failed(r, t0, error_name_of(e->get_object()), e->get_object());
      }
    }
    const std::string why = got == Read::kTimeout
                                ? "Init timed out after " + seconds_text(opts_.init_timeout / 1e9) + " seconds"
                            : got == Read::kMemory ? "Runtime exited with error: out of memory"
                                                   : "Runtime exited without loading the handler";
    std::string status = kill_worker(nullptr);
    return init_failed(r, t0, "Lambda.Unknown",
                       lambda_error(why + (got == Read::kEof ? " (" + status + ")" : ""), "Runtime.ExitError"));
  }

  InitResult init_failed(InitResult& r, Steady::time_point t0, std::string error, json::object cause) {
    r.ok = false;
    r.ms = ms_since(t0);
    r.error = std::move(error);
    r.cause = std::move(cause);
    return r;
  }

  static std::string error_name_of(const json::object& e) {
    const auto* t = e.if_contains("errorType");
    return t && t->is_string() && !t->get_string().empty() ? std::string(t->get_string()) : "Error";
  }

  // Reads one reply line, checking the deadline (by the clock) and memory
  // every check_interval.
  Read read_line(Nanos deadline, std::string* line) {
    const int interval_ms = std::max<int>(1, static_cast<int>(opts_.check_interval / kNanosPerMilli));
    auto last_check = Steady::now();
    char chunk[65536];
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        line->assign(buf_, 0, nl);
        buf_.erase(0, nl + 1);
        return Read::kLine;
      }
      if (buf_.size() > kMaxLine) return Read::kGarbage;
      pollfd p{fd_, POLLIN, 0};
      const int rc = poll(&p, 1, interval_ms);
      if (rc > 0) {
        const ssize_t n = read(fd_, chunk, sizeof chunk);
        if (n > 0) {
          buf_.append(chunk, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          return Read::kEof;
        }
      }
      if (rc == 0 || Steady::now() - last_check >= std::chrono::nanoseconds(opts_.check_interval)) {
        last_check = Steady::now();
        if (now() >= deadline) return Read::kTimeout;
        const long hwm = peak_rss_kib(pid_);
        if (hwm > peak_kib_) peak_kib_ = hwm;
        if (hwm > limit_kib()) return Read::kMemory;
      }
    }
  }

  // Kills the worker process (if alive) and reaps it; how it ended.
  std::string kill_worker(long* maxrss_kib) {
    if (pid_ <= 0) return "not running";
    set_pid(-1);
    kill_process_group(pid_);
    long rss = 0;
    const int status = reap(pid_, &rss);
    if (rss > peak_kib_) peak_kib_ = rss;
    if (maxrss_kib) *maxrss_kib = rss;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    pid_ = -1;
    return describe_wait_status(status);
  }

  // The worker closed its end: give it a moment to exit by itself, so its
  // status (exit code, signal) can be told.
  std::string reap_crashed() {
    for (int i = 0; i < 100 && pid_ > 0; ++i) {
      int status = 0;
      struct rusage ru {};
      if (wait4(pid_, &status, WNOHANG, &ru) == pid_) {
        if (ru.ru_maxrss > peak_kib_) peak_kib_ = ru.ru_maxrss;
        set_pid(-1);
        kill_process_group(pid_);  // whatever it left behind
        close(fd_);
        fd_ = -1;
        pid_ = -1;
        return describe_wait_status(status);
      }
      usleep(10000);
    }
    return kill_worker(nullptr);
  }

  void stop_process() {
    if (pid_ > 0) {
      // EOF on its request stream tells a shim to exit; it has a moment.
      ::shutdown(fd_, SHUT_RDWR);
      for (int i = 0; i < 20; ++i) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          set_pid(-1);
          close(fd_);
          fd_ = pid_ = -1;
          return;
        }
        usleep(5000);
      }
      kill_worker(nullptr);
    }
  }

  bool died_while_idle() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    spdlog::warn("function {}: idle worker {} ended ({}); starting another", cfg_.name, pid_,
                 describe_wait_status(status));
    set_pid(-1);
    close(fd_);
    fd_ = pid_ = -1;
    return true;
  }

  void serve(Job& job) {
    InvocationReport rep;
    rep.function_name = cfg_.name;
    rep.request_id = pool_.new_request_id();
    rep.memory_size_mb = cfg_.memory_mb;
    rep.start_time = now();
    if (!persistent()) return run_exec(job, rep);
    died_while_idle();
    if (pid_ <= 0) {
      peak_kib_ = 0;
      InitResult init = start();
      rep.cold = true;
      rep.init_duration_ms = init.ms;
      if (!init.ok) {
        rep.max_memory_used_mb = mib_of(peak_kib_);
        return finish(job, rep, TaskOutcome::fail(init.error, to_json(init.cause)));
      }
    }
    run_persistent(job, rep);
  }

  void run_persistent(Job& job, InvocationReport& rep) {
    const Nanos timeout = seconds_to_nanos(cfg_.timeout_seconds);
    json::object req{{"id", rep.request_id},
                     {"event", std::move(job.event)},
                     {"timeout_ms", static_cast<std::int64_t>(timeout / kNanosPerMilli)}};
    const auto t0 = Steady::now();
    const Nanos deadline = now() + timeout;
    std::string line;
    Read got = send_all(fd_, to_json(req) + "\n") ? read_line(deadline, &line) : Read::kEof;
    rep.duration_ms = ms_since(t0);
    rep.billed_duration_ms = static_cast<std::int64_t>(std::ceil(rep.duration_ms));
    if (got == Read::kLine) {
      const long hwm = peak_rss_kib(pid_);
      if (hwm > peak_kib_) peak_kib_ = hwm;
      if (hwm > limit_kib()) got = Read::kMemory;
    }
    if (got == Read::kLine) return reply(job, rep, line);
    std::string status;
    if (got == Read::kEof) {
      status = reap_crashed();
    } else {
      status = kill_worker(nullptr);
    }
    rep.max_memory_used_mb = mib_of(peak_kib_);
    finish(job, rep, abnormal_end(got, rep, status));
  }

  TaskOutcome abnormal_end(Read got, const InvocationReport& rep, const std::string& status) {
    const std::string prefix = "RequestId: " + rep.request_id + " Error: ";
    switch (got) {
      case Read::kTimeout:
        return TaskOutcome::fail(
            "States.Timeout",
            to_json(lambda_error(prefix + "Task timed out after " + seconds_text(cfg_.timeout_seconds) + " seconds",
                                 "Sandbox.Timedout")));
      case Read::kMemory:
        return TaskOutcome::fail(
            "Lambda.Unknown",
            to_json(lambda_error(prefix + "Runtime exited with error: out of memory (max memory used " +
                                     std::to_string(rep.max_memory_used_mb) + " MB > memory size " +
                                     std::to_string(cfg_.memory_mb) + " MB)",
                                 "Runtime.OutOfMemory")));
      case Read::kGarbage:
        return TaskOutcome::fail("Lambda.Unknown", to_json(lambda_error(prefix + "Runtime returned an invalid response",
                                                                        "Runtime.InvalidResponse")));
      default:
        return TaskOutcome::fail("Lambda.Unknown", to_json(lambda_error(prefix + "Runtime exited with error: " + status,
                                                                        "Runtime.ExitError")));
    }
  }

  // A reply line: {"id","ok":true,"result"} or {"id","ok":false,"error":{...}}.
  void reply(Job& job, InvocationReport& rep, const std::string& line) {
    rep.max_memory_used_mb = mib_of(peak_kib_);
    auto msg = parse_json(line);
    const auto* o = msg ? msg->if_object() : nullptr;
    const auto* id = o ? o->if_contains("id") : nullptr;
    const auto* ok = o ? o->if_contains("ok") : nullptr;
    if (!o || !id || *id != json::value(rep.request_id) || !ok || !ok->is_bool()) {
      std::string status = kill_worker(nullptr);
      return finish(job, rep,
                    TaskOutcome::fail("Lambda.Unknown", to_json(lambda_error("RequestId: " + rep.request_id +
                                                                                 " Error: Runtime returned an invalid "
                                                                                 "response; the worker was stopped",
                                                                             "Runtime.InvalidResponse"))));
    }
    if (ok->get_bool()) {
      const auto* result = o->if_contains("result");
      return finish(job, rep, TaskOutcome::success(result ? *result : json::value(nullptr)));
    }
    const auto* e = o->if_contains("error");
    json::object err = e && e->is_object() ? e->get_object() : lambda_error("unknown error", "Error");
    finish(job, rep, TaskOutcome::fail(error_name_of(err), to_json(err)));
  }

  // ---- exec: one process per invocation ----

  void run_exec(Job& job, InvocationReport& rep) {
    rep.cold = true;
    peak_kib_ = 0;
    std::string err;
    std::vector<std::string> argv = cfg_.command;
    if (argv[0].find('/') == std::string::npos) {
      auto p = find_program(argv[0], path_of(env_));
      if (!p)
        err = "cannot execute " + argv[0] + ": not found in PATH";
      else
        argv[0] = *p;
    }
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (err.empty() && (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 ||
                        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0))
      err = "socketpair failed";
    pid_t pid = -1;
    const auto t0 = Steady::now();
    if (err.empty()) {
      SpawnRequest req;
      req.argv = std::move(argv);
      req.env = env_;
      req.cwd = cfg_.code_dir;
      req.stdin_fd = in[1];
      req.stdout_fd = out[1];
      const int log = open_log();
      req.stderr_fd = log;
      pid = spawn_process(req, &err);
      if (log >= 0) close(log);
      close(in[1]);
      close(out[1]);
      set_pid(pid);
      if (pid < 0) {
        close(in[0]);
        close(out[0]);
      }
    }
    if (pid < 0) {
      rep.duration_ms = ms_since(t0);
      rep.billed_duration_ms = static_cast<std::int64_t>(std::ceil(rep.duration_ms));
      return finish(job, rep,
                    TaskOutcome::fail("Lambda.Unknown", to_json(lambda_error(err, "Runtime.InvalidEntrypoint"))));
    }
    pid_ = pid;
    std::string output;
    const Read got =
        exchange(in[0], out[0], to_json(job.event), now() + seconds_to_nanos(cfg_.timeout_seconds), &output);
    close(out[0]);
    pid_ = -1;
    set_pid(-1);
    if (got != Read::kEof) kill_process_group(pid);
    long rss = 0;
    const int status = reap(pid, &rss);
    if (rss > peak_kib_) peak_kib_ = rss;
    rep.duration_ms = ms_since(t0);
    rep.billed_duration_ms = static_cast<std::int64_t>(std::ceil(rep.duration_ms));
    rep.max_memory_used_mb = mib_of(peak_kib_);
    if (got == Read::kEof && peak_kib_ > limit_kib()) return finish(job, rep, abnormal_end(Read::kMemory, rep, ""));
    if (got != Read::kEof) return finish(job, rep, abnormal_end(got, rep, describe_wait_status(status)));
    finish(job, rep, exec_outcome(rep, status, output));
  }

  // Writes the event to the child's stdin (then EOF) while reading its stdout
  // to EOF; kEof when it is all read.
  Read exchange(int in_fd, int out_fd, std::string input, Nanos deadline, std::string* output) {
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
    std::size_t written = 0;
    const int interval_ms = std::max<int>(1, static_cast<int>(opts_.check_interval / kNanosPerMilli));
    char chunk[65536];
    for (;;) {
      if (in_fd >= 0 && written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
      pollfd p[2] = {{out_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
      const int rc = poll(p, in_fd >= 0 ? 2 : 1, interval_ms);
      if (rc > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = read(out_fd, chunk, sizeof chunk);
        if (n == 0) {
          if (in_fd >= 0) close(in_fd);
          return Read::kEof;
        }
        if (n > 0) output->append(chunk, static_cast<std::size_t>(n));
        if (output->size() > kMaxLine) {
          if (in_fd >= 0) close(in_fd);
          return Read::kGarbage;
        }
      }
      if (rc > 0 && in_fd >= 0 && (p[1].revents & (POLLOUT | POLLHUP | POLLERR))) {
        const ssize_t n = send(in_fd, input.data() + written, input.size() - written, MSG_NOSIGNAL);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        } else if (errno != EAGAIN && errno != EINTR) {
          written = input.size();  // it stopped reading: fine, it had what it wanted
        }
      }
      if (now() >= deadline || peak_exceeded()) {
        if (in_fd >= 0) close(in_fd);
        return now() >= deadline ? Read::kTimeout : Read::kMemory;
      }
    }
  }

  bool peak_exceeded() {
    const long hwm = peak_rss_kib(pid_);
    if (hwm > peak_kib_) peak_kib_ = hwm;
    return hwm > limit_kib();
  }

  TaskOutcome exec_outcome(const InvocationReport& rep, int status, const std::string& output) {
    std::size_t b = output.find_first_not_of(" \t\r\n");
    const std::string text = b == std::string::npos ? "" : output.substr(b, output.find_last_not_of(" \t\r\n") - b + 1);
    std::optional<json::value> value;
    if (!text.empty()) value = parse_json(text);
    const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!exited_ok) {
      const auto* o = value ? value->if_object() : nullptr;
      const auto* t = o ? o->if_contains("errorType") : nullptr;
      if (t && t->is_string()) return TaskOutcome::fail(error_name_of(*o), to_json(*o));
      return TaskOutcome::fail(
          "Lambda.Unknown",
          to_json(lambda_error(
              "RequestId: " + rep.request_id + " Error: Runtime exited with error: " + describe_wait_status(status),
              "Runtime.ExitError")));
    }
    if (text.empty()) return TaskOutcome::success(nullptr);
    if (!value) {
      return TaskOutcome::fail(
          "Runtime.MarshalError",
          to_json(lambda_error("Unable to marshal response: the output on stdout is not JSON: " + text.substr(0, 200),
                               "Runtime.MarshalError")));
    }
    return TaskOutcome::success(std::move(*value));
  }

  void finish(Job& job, InvocationReport& rep, TaskOutcome outcome) {
    if (!outcome.ok && outcome.failure.error == "Lambda.Unknown" && stopping()) {
      // shutdown() killed it: not the function's fault.
      outcome = TaskOutcome::fail("Lambda.ServiceException", "The function's pool is shut down.");
    }
    if (!outcome.ok) rep.error = outcome.failure.error;
    outcome.report = rep;
    // Counted idle before the completion runs: an invocation that the
    // completion triggers finds this (warm) worker instead of starting another.
    {
      std::lock_guard lock(pool_.mu_);
      ++pool_.idle_;
      slot_.released = true;
    }
    pool_.complete(job, std::move(outcome));
  }

  FunctionPool& pool_;
  Slot& slot_;
  const FunctionConfig& cfg_;
  const RuntimeOptions& opts_;
  const std::vector<std::string> env_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
  long peak_kib_ = 0;
};

// ---- the pool ------------------------------------------------------------------

FunctionPool::FunctionPool(FunctionConfig config, RuntimeOptions options)
    : config_(std::move(config)), options_(std::move(options)), random_(std::random_device{}()) {
  if (!options_.clock) options_.clock = std::make_shared<SystemClock>();
  std::error_code ec;
  shim_dir_ = fs::absolute(options_.shim_dir.empty() ? locate_shim_dir() : options_.shim_dir, ec).string();
  if (config_.runtime == RuntimeKind::kPython3) {
    options_.python = resolve_interpreter(options_.python, path_of(environment_of(config_)), config_.runtime);
  } else if (config_.runtime == RuntimeKind::kNode) {
    options_.node = resolve_interpreter(options_.node, path_of(environment_of(config_)), config_.runtime);
  }
  if (!options_.log_dir.empty()) {
    fs::create_directories(options_.log_dir, ec);
    log_path_ = fs::absolute(fs::path(options_.log_dir) / (config_.name + ".log"), ec).string();
  }
  std::lock_guard lock(mu_);
  for (int i = 0; i < config_.provisioned_concurrency; ++i) start_slot(/*provisioned=*/true);
}

FunctionPool::~FunctionPool() {
  shutdown();
}

void FunctionPool::start_slot(bool provisioned) {
  ++workers_;
  Slot& slot = slots_.emplace_back();
  slot.thread = std::thread([this, &slot, provisioned] {
    Worker(*this, slot).run(provisioned);
    slot_finished(slot);
  });
}

bool FunctionPool::next_job(Slot& slot, Job& job) {
  std::unique_lock lock(mu_);
  if (!slot.released) ++idle_;
  slot.released = false;
  const Nanos idle_since = options_.clock->now();
  for (;;) {
    if (stopping_) break;
    if (!queue_.empty()) {
      job = std::move(queue_.front());
      queue_.pop_front();
      --idle_;
      ++counters_.invocations;
      return true;
    }
    if (workers_ > config_.provisioned_concurrency &&
        options_.clock->now() - idle_since >= seconds_to_nanos(config_.idle_seconds)) {
      slot.retired = true;
      --workers_;
      ++counters_.retired;
      break;
    }
    work_cv_.wait_for(lock, std::chrono::nanoseconds(options_.check_interval * 5));
  }
  --idle_;
  return false;
}

void FunctionPool::slot_finished(Slot& slot) {
  std::lock_guard lock(mu_);
  slot.finished = true;
  if (!slot.retired) --workers_;
  // A job may have been queued while this worker was retiring.
  if (!stopping_ && queue_.size() > static_cast<std::size_t>(idle_) && workers_ < config_.reserved_concurrency)
    start_slot(false);
}

void FunctionPool::join_finished() {
  std::list<Slot> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      auto next = std::next(it);
      if (it->finished && it->thread.get_id() != std::this_thread::get_id()) done.splice(done.end(), slots_, it);
      it = next;
    }
  }
  for (auto& s : done) s.thread.join();
}

std::string FunctionPool::new_request_id() {
  std::uint64_t a, b;
  {
    std::lock_guard lock(mu_);
    a = random_();
    b = random_();
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

void FunctionPool::complete(Job& job, TaskOutcome outcome) {
  if (outcome.report) {
    outcome.report->execution_arn = job.execution_arn;
    outcome.report->state_name = job.state_name;
    if (options_.on_report) options_.on_report(*outcome.report);
  }
  if (job.done) job.done(std::move(outcome));
}

void FunctionPool::invoke(json::value event, TaskCompletion done, std::string execution_arn, std::string state_name) {
  join_finished();
  Job job{std::move(event), std::move(done), std::move(execution_arn), std::move(state_name)};
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    InvocationReport rep;
    rep.function_name = config_.name;
    rep.error = "Lambda.ServiceException";
    TaskOutcome o = TaskOutcome::fail("Lambda.ServiceException", "The function's pool is shut down.");
    o.report = rep;
    return complete(job, std::move(o));
  }
  const bool at_limit = workers_ >= config_.reserved_concurrency;
  const bool would_wait = queue_.size() >= static_cast<std::size_t>(idle_);
  if (config_.reserved_concurrency == 0 || (at_limit && would_wait && config_.overflow == OverflowPolicy::kThrottle)) {
    ++counters_.throttles;
    lock.unlock();
    InvocationReport rep;
    rep.function_name = config_.name;
    rep.request_id = new_request_id();
    rep.memory_size_mb = config_.memory_mb;
    rep.start_time = options_.clock->now();
    rep.throttled = true;
    rep.error = "Lambda.TooManyRequestsException";
    TaskOutcome o = TaskOutcome::fail(
        "Lambda.TooManyRequestsException",
        "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException; Request ID: " +
            rep.request_id + "; Proxy: null)");
    o.report = rep;
    return complete(job, std::move(o));
  }
  queue_.push_back(std::move(job));
  if (queue_.size() > static_cast<std::size_t>(idle_) && !at_limit) {
    start_slot(false);
  } else {
    work_cv_.notify_one();
  }
}

void FunctionPool::shutdown() {
  std::deque<Job> orphans;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    orphans.swap(queue_);
    for (auto& s : slots_) kill_process_group(s.pid);
  }
  work_cv_.notify_all();
  for (auto& job : orphans) {
    InvocationReport rep;
    rep.function_name = config_.name;
    rep.error = "Lambda.ServiceException";
    TaskOutcome o = TaskOutcome::fail("Lambda.ServiceException", "The function's pool is shut down.");
    o.report = rep;
    complete(job, std::move(o));
  }
  std::list<Slot> all;
  {
    std::lock_guard lock(mu_);
    all.swap(slots_);
  }
  for (auto& s : all) {
    if (s.thread.joinable() && s.thread.get_id() != std::this_thread::get_id()) s.thread.join();
  }
}

PoolStats FunctionPool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats s = counters_;
  s.workers = workers_;
  s.idle = idle_;
  s.queued = queue_.size();
  return s;
}

// ---- the invoker -----------------------------------------------------------------

FunctionInvoker::FunctionInvoker(const FunctionsFile& file, RuntimeOptions options, std::shared_ptr<Invoker> fallback)
    : fallback_(std::move(fallback)) {
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  for (const auto& [name, cfg] : file.functions) pools_.emplace(name, std::make_unique<FunctionPool>(cfg, options));
}

FunctionInvoker::~FunctionInvoker() {
  shutdown();
}

FunctionPool* FunctionInvoker::pool(const std::string& name) {
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : it->second.get();
}

void FunctionInvoker::shutdown() {
  for (auto& [name, p] : pools_) p->shutdown();
}

bool FunctionInvoker::invoke_function(const std::string& name, json::value event, TaskCompletion done) {
  FunctionPool* p = pool(name);
  if (!p) return false;
  p->invoke(std::move(event), std::move(done));
  return true;
}

void FunctionInvoker::invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) {
  auto name = function_name_for(request.resource, request.payload);
  FunctionPool* p = name ? pool(*name) : nullptr;
  if (!p) {
    if (fallback_) return fallback_->invoke(request, std::move(done), std::move(heartbeat));
    done(TaskOutcome::fail(name ? "Lambda.ResourceNotFoundException" : "States.Runtime",
                           name ? "Function not found: " + *name + " (not declared in the functions file)"
                                : "No invoker handles the resource '" + request.resource + "'"));
    return;
  }
  const bool wrap = is_lambda_invoke(request.resource);
  p->invoke(
      function_event_for(request.resource, request.payload),
      [wrap, done = std::move(done)](TaskOutcome o) {
        if (o.ok && wrap) o.output = function_task_result("arn:aws:states:::lambda:invoke", std::move(o.output));
        done(std::move(o));
      },
      request.execution_id, request.state_name);
}

}  // namespace stepwise
