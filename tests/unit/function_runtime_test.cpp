// Functions in worker processes (runtime/): the functions file, the python3,
// node and exec runtimes, pools, failures and accounting — with real processes.
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "runtime/function_pool.h"
#include "runtime/functions_file.h"
#include "runtime/invocation_stats.h"
#include "tests/unit/engine_test_util.h"

namespace stepwise {
namespace {

namespace fs = std::filesystem;

// A scratch directory, removed afterwards.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "stepwise-fn-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    fs::create_directories((fs::path(path) / name).parent_path());
    std::ofstream(fs::path(path) / name) << text;
  }
  std::string path;
};

FunctionConfig function(const TempDir& dir, const std::string& json_props) {
  Diagnostics errors;
  auto doc = parse_json(R"({"Functions": {"Fn": )" + json_props + "}}");
  REQUIRE(doc);
  auto file = parse_functions(*doc, dir.path, errors);
  for (const auto& d : errors) MESSAGE(d.pointer << ": " << d.message);
  REQUIRE(file);
  return file->functions.at("Fn");
}

// Runs one invocation and waits (real time, bounded) for its outcome.
TaskOutcome call(FunctionPool& pool, json::value event) {
  auto promise = std::make_shared<std::promise<TaskOutcome>>();
  auto future = promise->get_future();
  pool.invoke(std::move(event), [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
  REQUIRE(future.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return future.get();
}

json::value cause_json(const TaskOutcome& o) {
  auto v = parse_json(o.failure.cause);
  REQUIRE(v);
  return *v;
}

// Waits (real time, bounded) until `pred` holds.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

RuntimeOptions options_with(std::shared_ptr<Clock> clock = nullptr, std::string log_dir = "") {
  RuntimeOptions o;
  o.clock = std::move(clock);
  o.log_dir = std::move(log_dir);
  return o;
}

const char* kCounterPy = R"(
count = 0
def handler(event, context):
    global count
    count += 1
    return {"count": count, "event": event, "name": context.function_name,
            "memory": context.memory_limit_in_mb, "request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis()}
)";

const char* kCounterJs = R"(
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  return {count, event, name: context.functionName, memory: Number(context.memoryLimitInMB),
          request_id: context.awsRequestId, remaining: context.getRemainingTimeInMillis()};
};
)";

}  // namespace

TEST_CASE("functions file: SAM-like properties, defaults, Globals and CodeUri relative to the file") {
  TempDir dir;
  auto doc = parse_json(R"({
    "Globals": {"Function": {"MemorySize": 256, "Timeout": 10}},
    "Functions": {
      "Resize": {"Runtime": "python3", "Handler": "resize.handler", "CodeUri": "functions/",
                 "Environment": {"Variables": {"K": "V"}}, "ReservedConcurrentExecutions": 4,
                 "ProvisionedConcurrency": 2, "IdleTimeout": 60, "ConcurrencyOverflow": "Throttle"},
      "Hash": {"Runtime": "nodejs20.x", "Handler": "index.handler", "Timeout": 5},
      "Tool": {"Runtime": "exec", "Handler": "bin/tool --name 'a b' \"c\\\"d\""}}})");
  REQUIRE(doc);
  Diagnostics errors;
  auto file = parse_functions(*doc, dir.path, errors);
  REQUIRE(errors.empty());
  REQUIRE(file);
  const auto& r = file->functions.at("Resize");
  CHECK(r.runtime == RuntimeKind::kPython3);
  CHECK(r.code_dir == (fs::path(dir.path) / "functions/").lexically_normal().string());
  CHECK(r.memory_mb == 256);
  CHECK(r.timeout_seconds == 10);
  CHECK(r.environment.at("K") == "V");
  CHECK(r.reserved_concurrency == 4);
  CHECK(r.provisioned_concurrency == 2);
  CHECK(r.idle_seconds == 60);
  CHECK(r.overflow == OverflowPolicy::kThrottle);
  const auto& h = file->functions.at("Hash");
  CHECK(h.runtime == RuntimeKind::kNode);
  CHECK(h.timeout_seconds == 5);
  CHECK(h.memory_mb == 256);
  CHECK(h.code_dir == fs::path(dir.path).lexically_normal().string());
  CHECK(h.reserved_concurrency == 10);
  CHECK(h.overflow == OverflowPolicy::kQueue);
  const auto& t = file->functions.at("Tool");
  CHECK(t.runtime == RuntimeKind::kExec);
  CHECK(t.command == std::vector<std::string>{"bin/tool", "--name", "a b", "c\"d"});
  CHECK(t.memory_mb == 256);
}

TEST_CASE("functions file: every problem reported with a JSON pointer") {
  TempDir dir;
  auto doc = parse_json(R"({"Functions": {
      "A": {"Runtime": "ruby", "Handler": "x.y", "MemorySize": 64, "Timeout": 0},
      "B": {"Runtime": "python3", "Handler": "nodot", "Environment": {"Variables": {"N": 1}}, "Colour": "red"},
      "C": {"Runtime": "node", "Handler": "i.h", "ReservedConcurrentExecutions": 1, "ProvisionedConcurrency": 2},
      "D": {"Runtime": "exec", "Handler": "tool 'unclosed"},
      "E": {"Handler": "a.b"},
      "bad name": {"Runtime": "exec", "Handler": "x"}}})");
  REQUIRE(doc);
  Diagnostics errors;
  CHECK_FALSE(parse_functions(*doc, dir.path, errors));
  std::set<std::string> pointers;
  for (const auto& d : errors) pointers.insert(d.pointer);
  for (const char* p :
       {"/Functions/A/Runtime", "/Functions/A/MemorySize", "/Functions/A/Timeout", "/Functions/B/Handler",
        "/Functions/B/Environment/Variables/N", "/Functions/B/Colour", "/Functions/C/ProvisionedConcurrency",
        "/Functions/D/Handler", "/Functions/E/Runtime", "/Functions/bad name"}) {
    CHECK_MESSAGE(pointers.count(p) == 1, p);
  }
  CHECK(errors.size() == 10);

  Diagnostics none;
  CHECK_FALSE(parse_functions(json::value(json::array()), dir.path, none));
  REQUIRE(none.size() == 1);
  CHECK(none[0].pointer == "");

  // A CodeUri that does not exist is found when loading the file.
  dir.write("functions.json", R"({"Functions": {"F": {"Runtime": "python3", "Handler": "a.b", "CodeUri": "nope"}}})");
  Diagnostics missing;
  CHECK_FALSE(load_functions_file(dir.path + "/functions.json", missing));
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].pointer == "/Functions/F/CodeUri");
}

TEST_CASE("python3 runtime: cold start once, then warm reuse keeping module state; Lambda-like context") {
  TempDir dir;
  dir.write("src/app.py", kCounterPy);
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler", "CodeUri": "src",
                                       "MemorySize": 192, "Timeout": 7})"),
                    options_with());
  auto first = call(pool, json::object{{"n", 1}});
  REQUIRE(first.ok);
  CHECK(first.output.at("count") == json::value(1));
  CHECK(first.output.at("event") == json::value(json::object{{"n", 1}}));
  CHECK(first.output.at("name") == json::value("Fn"));
  CHECK(first.output.at("memory") == json::value(192));
  const auto remaining = first.output.at("remaining").to_number<std::int64_t>();
  CHECK(remaining > 0);
  CHECK(remaining <= 7000);
  REQUIRE(first.report);
  CHECK(first.report->cold);
  REQUIRE(first.report->init_duration_ms);
  CHECK(*first.report->init_duration_ms > 0);
  CHECK(first.output.at("request_id") == json::value(first.report->request_id));
  CHECK(first.report->memory_size_mb == 192);
  CHECK(first.report->max_memory_used_mb > 0);
  CHECK(first.report->billed_duration_ms >= first.report->duration_ms);
  CHECK(first.report->billed_duration_ms < first.report->duration_ms + 1);
  CHECK(first.report->error.empty());

  auto second = call(pool, json::object{{"n", 2}});
  REQUIRE(second.ok);
  CHECK(second.output.at("count") == json::value(2));
  REQUIRE(second.report);
  CHECK_FALSE(second.report->cold);
  CHECK_FALSE(second.report->init_duration_ms);
  CHECK(second.report->request_id != first.report->request_id);
  CHECK(pool.stats().cold_starts == 1);
  CHECK(pool.stats().invocations == 2);
}

TEST_CASE("node runtime: cold then warm, async and callback handlers") {
  TempDir dir;
  dir.write("index.js", kCounterJs);
  dir.write("cb.js", "exports.handler = (event, context, callback) => callback(null, {doubled: event.x * 2});\n");
  FunctionPool pool(function(dir, R"({"Runtime": "node", "Handler": "index.handler", "MemorySize": 256})"),
                    options_with());
  auto first = call(pool, json::object{{"a", "b"}});
  REQUIRE(first.ok);
  CHECK(first.output.at("count") == json::value(1));
  CHECK(first.output.at("name") == json::value("Fn"));
  CHECK(first.output.at("memory") == json::value(256));
  CHECK(first.output.at("request_id") == json::value(first.report->request_id));
  CHECK(first.output.at("remaining").to_number<std::int64_t>() > 0);
  CHECK(first.report->cold);
  auto second = call(pool, nullptr);
  REQUIRE(second.ok);
  CHECK(second.output.at("count") == json::value(2));
  CHECK_FALSE(second.report->cold);

  FunctionPool cb(function(dir, R"({"Runtime": "node", "Handler": "cb.handler"})"), options_with());
  auto r = call(cb, json::object{{"x", 21}});
  REQUIRE(r.ok);
  CHECK(r.output == json::value(json::object{{"doubled", 42}}));
}

TEST_CASE("handler exceptions: Error = the exception's type, Cause = {errorMessage, errorType, stackTrace}") {
  TempDir dir;
  dir.write("app.py",
            "class NotReady(Exception):\n    pass\n\ndef handler(event, context):\n"
            "    raise NotReady('try later: ' + event['why'])\n");
  dir.write("app.js",
            "class Invalid extends Error { constructor(m) { super(m); this.name = 'Invalid'; } }\n"
            "exports.handler = async (event) => { throw new Invalid('bad ' + event.why); };\n");
  FunctionPool py(function(dir, R"({"Runtime": "python3", "Handler": "app.handler"})"), options_with());
  auto r = call(py, json::object{{"why", "busy"}});
  REQUIRE_FALSE(r.ok);
  CHECK(r.failure.error == "NotReady");
  auto cause = cause_json(r);
  CHECK(cause.at("errorMessage") == json::value("try later: busy"));
  CHECK(cause.at("errorType") == json::value("NotReady"));
  REQUIRE(cause.at("stackTrace").is_array());
  CHECK_FALSE(cause.at("stackTrace").get_array().empty());
  CHECK(r.failure.cause.find("{\"errorMessage\"") == 0);  // Lambda's key order
  CHECK(r.report->error == "NotReady");
  // The worker survives a handled exception: the next call is warm.
  auto again = call(py, json::object{{"why", "x"}});
  CHECK_FALSE(again.report->cold);

  FunctionPool js(function(dir, R"({"Runtime": "node", "Handler": "app.handler"})"), options_with());
  auto j = call(js, json::object{{"why", "input"}});
  REQUIRE_FALSE(j.ok);
  CHECK(j.failure.error == "Invalid");
  CHECK(cause_json(j).at("errorMessage") == json::value("bad input"));
}

TEST_CASE("handlers that do not load: Runtime.ImportModuleError and Runtime.HandlerNotFound, each call retried") {
  TempDir dir;
  dir.write("app.py", "def other(event, context):\n    return 1\n");
  dir.write("broken.py", "def handler(:\n");
  FunctionPool missing(function(dir, R"({"Runtime": "python3", "Handler": "nosuch.handler"})"), options_with());
  auto r = call(missing, nullptr);
  REQUIRE_FALSE(r.ok);
  CHECK(r.failure.error == "Runtime.ImportModuleError");
  CHECK(cause_json(r).at("errorMessage").as_string().starts_with("Unable to import module 'nosuch'"));
  CHECK(r.report->cold);
  // The code appears: the next invocation loads it.
  dir.write("nosuch.py", "def handler(event, context):\n    return 'loaded'\n");
  auto fixed = call(missing, nullptr);
  REQUIRE(fixed.ok);
  CHECK(fixed.output == json::value("loaded"));

  FunctionPool nohandler(function(dir, R"({"Runtime": "python3", "Handler": "app.handler"})"), options_with());
  CHECK(call(nohandler, nullptr).failure.error == "Runtime.HandlerNotFound");
  FunctionPool syntax(function(dir, R"({"Runtime": "python3", "Handler": "broken.handler"})"), options_with());
  CHECK(call(syntax, nullptr).failure.error == "Runtime.UserCodeSyntaxError");
  FunctionPool js(function(dir, R"({"Runtime": "node", "Handler": "gone.handler"})"), options_with());
  CHECK(call(js, nullptr).failure.error == "Runtime.ImportModuleError");
  dir.write("nohandler.js", "exports.other = () => 1;\n");
  FunctionPool js2(function(dir, R"({"Runtime": "node", "Handler": "nohandler.handler"})"), options_with());
  CHECK(call(js2, nullptr).failure.error == "Runtime.HandlerNotFound");
}

TEST_CASE("a handler that hangs while loading: the init timeout (by the clock) kills it; Lambda.Unknown") {
  TempDir dir;
  dir.write("slow.py",
            "import time\nopen('loading', 'w').close()\ntime.sleep(600)\n"
            "def handler(event, context):\n    return 1\n");
  auto clock = std::make_shared<ManualClock>();
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "slow.handler"})"), options_with(clock));
  auto promise = std::make_shared<std::promise<TaskOutcome>>();
  auto future = promise->get_future();
  pool.invoke(nullptr, [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
  REQUIRE(eventually([&] { return fs::exists(fs::path(dir.path) / "loading"); }));
  clock->advance(11 * kNanosPerSecond);  // past the 10 s init timeout
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  auto r = future.get();
  REQUIRE_FALSE(r.ok);
  CHECK(r.failure.error == "Lambda.Unknown");
  CHECK(cause_json(r).at("errorMessage").as_string().starts_with("Init timed out after 10.00 seconds"));
  REQUIRE(r.report);
  CHECK(r.report->cold);
  CHECK(r.report->init_duration_ms);
}

TEST_CASE("results that are not JSON: Runtime.MarshalError, and the worker stays usable") {
  TempDir dir;
  dir.write("app.py", "def handler(event, context):\n    return {1, 2} if event == 'set' else 'fine'\n");
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler"})"), options_with());
  auto r = call(pool, "set");
  REQUIRE_FALSE(r.ok);
  CHECK(r.failure.error == "Runtime.MarshalError");
  auto ok = call(pool, "other");
  REQUIRE(ok.ok);
  CHECK(ok.output == json::value("fine"));
  CHECK_FALSE(ok.report->cold);
}

TEST_CASE("timeout (by the injected clock) kills the worker: States.Timeout; the next call starts a new one") {
  TempDir dir;
  dir.write("app.py",
            "import os, time\ndef handler(event, context):\n"
            "    if event == 'hang':\n        open('started', 'w').close()\n        time.sleep(600)\n"
            "    return os.getpid()\n");
  auto clock = std::make_shared<ManualClock>();
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler", "Timeout": 2})"),
                    options_with(clock));
  auto before = call(pool, "hi");
  REQUIRE(before.ok);
  auto promise = std::make_shared<std::promise<TaskOutcome>>();
  auto future = promise->get_future();
  pool.invoke("hang", [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
  REQUIRE(eventually([&] { return fs::exists(fs::path(dir.path) / "started"); }));
  CHECK(future.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);  // 2 s not passed yet
  clock->advance(3 * kNanosPerSecond);
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  auto r = future.get();
  REQUIRE_FALSE(r.ok);
  CHECK(r.failure.error == "States.Timeout");
  CHECK(cause_json(r).at("errorMessage").as_string().ends_with("Task timed out after 2.00 seconds"));
  CHECK(kill(static_cast<pid_t>(before.output.to_number<std::int64_t>()), 0) != 0);  // the worker is gone
  auto after = call(pool, "hi");
  REQUIRE(after.ok);
  CHECK(after.report->cold);
  CHECK(after.output != before.output);
}

TEST_CASE("a crashing worker: Lambda.Unknown with Runtime.ExitError; the pool recovers") {
  TempDir dir;
  dir.write("app.py",
            "import os\ndef handler(event, context):\n    if event == 'die':\n        os._exit(3)\n"
            "    return 'ok'\n");
  dir.write("seg.js",
            "exports.handler = async (e) => { if (e === 'die') process.kill(process.pid, 'SIGSEGV'); "
            "return 'ok'; };\n");
  FunctionPool py(function(dir, R"({"Runtime": "python3", "Handler": "app.handler"})"), options_with());
  auto r = call(py, "die");
  REQUIRE_FALSE(r.ok);
  CHECK(r.failure.error == "Lambda.Unknown");
  auto cause = cause_json(r);
  CHECK(cause.at("errorType") == json::value("Runtime.ExitError"));
  CHECK(cause.at("errorMessage").as_string().ends_with("Runtime exited with error: exit status 3"));
  auto next = call(py, "live");
  REQUIRE(next.ok);
  CHECK(next.report->cold);

  FunctionPool js(function(dir, R"({"Runtime": "node", "Handler": "seg.handler"})"), options_with());
  auto s = call(js, "die");
  REQUIRE_FALSE(s.ok);
  CHECK(s.failure.error == "Lambda.Unknown");
  CHECK(std::string(cause_json(s).at("errorMessage").as_string()).find("SIGSEGV") != std::string::npos);
  CHECK(call(js, "live").ok);
}

TEST_CASE("a worker killed from outside while idle is replaced without failing the next call") {
  TempDir dir;
  dir.write("app.py", "import os\ndef handler(event, context):\n    return os.getpid()\n");
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler"})"), options_with());
  auto first = call(pool, nullptr);
  REQUIRE(first.ok);
  const auto pid = static_cast<pid_t>(first.output.to_number<std::int64_t>());
  REQUIRE(kill(pid, SIGKILL) == 0);
  // Dead (a zombie until the pool notices) before the next call.
  REQUIRE(eventually([&] {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    return text.empty() || text.find(") Z") != std::string::npos;
  }));
  auto second = call(pool, nullptr);
  REQUIRE(second.ok);
  CHECK(second.output != first.output);
  CHECK(second.report->cold);
}

TEST_CASE("MemorySize is enforced: over it the worker is killed (Lambda.Unknown, Runtime.OutOfMemory)") {
  TempDir dir;
  dir.write("app.py",
            "def handler(event, context):\n    if event == 'big':\n"
            "        block = bytearray(200 * 1024 * 1024)\n        return len(block)\n    return 'small'\n");
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler", "MemorySize": 128})"),
                    options_with());
  auto small = call(pool, "small");
  REQUIRE(small.ok);
  CHECK(small.report->max_memory_used_mb < 128);
  auto big = call(pool, "big");
  REQUIRE_FALSE(big.ok);
  CHECK(big.failure.error == "Lambda.Unknown");
  CHECK(cause_json(big).at("errorType") == json::value("Runtime.OutOfMemory"));
  CHECK(big.report->max_memory_used_mb > 128);
  auto after = call(pool, "small");
  REQUIRE(after.ok);
  CHECK(after.report->cold);
}

TEST_CASE("concurrency: at most ReservedConcurrentExecutions workers; beyond, queue or throttle") {
  TempDir dir;
  dir.write("app.py", "import os, time\ndef handler(event, context):\n    time.sleep(event)\n    return os.getpid()\n");
  SUBCASE("queue") {
    FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler",
                                         "ReservedConcurrentExecutions": 2})"),
                      options_with());
    std::vector<std::future<TaskOutcome>> futures;
    for (int i = 0; i < 6; ++i) {
      auto promise = std::make_shared<std::promise<TaskOutcome>>();
      futures.push_back(promise->get_future());
      pool.invoke(0.2, [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
      CHECK(pool.stats().workers <= 2);
    }
    std::set<std::int64_t> pids;
    for (auto& f : futures) {
      REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
      auto o = f.get();
      REQUIRE(o.ok);
      pids.insert(o.output.to_number<std::int64_t>());
    }
    CHECK(pids.size() == 2);
    CHECK(pool.stats().cold_starts == 2);
    CHECK(pool.stats().throttles == 0);
  }
  SUBCASE("throttle") {
    FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler",
                                         "ReservedConcurrentExecutions": 1, "ConcurrencyOverflow": "Throttle"})"),
                      options_with());
    auto promise = std::make_shared<std::promise<TaskOutcome>>();
    auto busy = promise->get_future();
    pool.invoke(1.0, [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
    auto throttled = call(pool, 0);
    REQUIRE_FALSE(throttled.ok);
    CHECK(throttled.failure.error == "Lambda.TooManyRequestsException");
    CHECK(throttled.failure.cause.starts_with("Rate Exceeded."));
    REQUIRE(throttled.report);
    CHECK(throttled.report->throttled);
    REQUIRE(busy.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    CHECK(busy.get().ok);
    CHECK(call(pool, 0).ok);  // the worker is free again
    CHECK(pool.stats().throttles == 1);
  }
  SUBCASE("reserved 0 throttles everything") {
    FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler",
                                         "ReservedConcurrentExecutions": 0})"),
                      options_with());
    CHECK(call(pool, 0).failure.error == "Lambda.TooManyRequestsException");
    CHECK(pool.stats().cold_starts == 0);
  }
}

TEST_CASE("provisioned workers start at once and stay; others retire after IdleTimeout (by the clock)") {
  TempDir dir;
  dir.write("app.py", "import os, time\ndef handler(event, context):\n    time.sleep(event)\n    return os.getpid()\n");
  auto clock = std::make_shared<ManualClock>();
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler", "ProvisionedConcurrency": 1,
                                       "IdleTimeout": 30})"),
                    options_with(clock));
  REQUIRE(eventually([&] { return pool.stats().cold_starts == 1 && pool.stats().idle == 1; }));
  auto warm = call(pool, 0);
  REQUIRE(warm.ok);
  CHECK_FALSE(warm.report->cold);  // initialised ahead of time
  // Two at once: a second worker starts on demand.
  auto promise = std::make_shared<std::promise<TaskOutcome>>();
  auto slow = promise->get_future();
  pool.invoke(0.5, [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
  auto other = call(pool, 0);
  REQUIRE(other.ok);
  REQUIRE(slow.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(slow.get().ok);
  CHECK(pool.stats().workers == 2);
  clock->advance(10 * kNanosPerSecond);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(pool.stats().workers == 2);  // not idle long enough
  clock->advance(25 * kNanosPerSecond);
  REQUIRE(eventually([&] { return pool.stats().workers == 1; }));
  CHECK(pool.stats().retired == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(pool.stats().workers == 1);  // the provisioned one stays
  CHECK(call(pool, 0).ok);
}

TEST_CASE("environment isolation: only the declared variables and PATH; handler output goes to the log") {
  TempDir dir;
  setenv("STEPWISE_TEST_SECRET", "leak", 1);
  dir.write("app.py",
            "import os\ndef handler(event, context):\n    print('hello from the handler')\n"
            "    return dict(os.environ)\n");
  dir.write("app.js", "exports.handler = async () => { console.log('node says hi'); return process.env; };\n");
  const std::string logs = dir.path + "/logs";
  FunctionPool py(function(dir, R"({"Runtime": "python3", "Handler": "app.handler",
                                     "Environment": {"Variables": {"TABLE": "orders", "EMPTY": ""}}})"),
                  options_with(nullptr, logs));
  auto r = call(py, nullptr);
  unsetenv("STEPWISE_TEST_SECRET");
  REQUIRE(r.ok);
  const auto& env = r.output.as_object();
  CHECK(env.at("TABLE") == json::value("orders"));
  CHECK(env.at("EMPTY") == json::value(""));
  CHECK(env.contains("PATH"));
  CHECK_FALSE(env.contains("STEPWISE_TEST_SECRET"));
  CHECK_FALSE(env.contains("HOME"));
  for (const auto& [k, v] : env) {
    (void)v;
    const std::string key(k);
    CHECK_MESSAGE((key == "TABLE" || key == "EMPTY" || key == "PATH" || key == "LC_CTYPE"),
                  key);  // LC_CTYPE: python's own locale coercion
  }
  py.shutdown();
  std::ifstream log(logs + "/Fn.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(text.find("hello from the handler") != std::string::npos);

  // Only stdin, stdout, stderr and the channel are open in a worker (the
  // listing's own descriptor aside).
  dir.write("fds.py",
            "import os\ndef handler(event, context):\n"
            "    names = [int(n) for n in os.listdir('/proc/self/fd')]\n"
            "    return {'fds': sorted(n for n in names if os.path.exists('/proc/self/fd/%d' % n)),\n"
            "            'stdin': os.readlink('/proc/self/fd/0')}\n");
  FunctionPool fds(function(dir, R"({"Runtime": "python3", "Handler": "fds.handler"})"), options_with(nullptr, logs));
  auto f = call(fds, nullptr);
  REQUIRE(f.ok);
  CHECK(f.output.at("fds") == json::value(json::array{0, 1, 2, 3}));
  CHECK(f.output.at("stdin") == json::value("/dev/null"));

  FunctionPool js(function(dir, R"({"Runtime": "node", "Handler": "app.handler",
                                     "Environment": {"Variables": {"PATH": "/usr/bin:/bin", "K": "V"}}})"),
                  options_with(nullptr, logs));
  auto j = call(js, nullptr);
  REQUIRE(j.ok);
  CHECK(j.output.as_object().size() == 2);
  CHECK(j.output.at("PATH") == json::value("/usr/bin:/bin"));
  CHECK(j.output.at("K") == json::value("V"));
}

TEST_CASE("exec runtime: the event on stdin, the result on stdout, one process per call, no shell") {
  TempDir dir;
  dir.write("tool.py",
            "import json, os, sys\nevent = json.load(sys.stdin)\n"
            "if event.get('fail'):\n"
            "    print(json.dumps({'errorMessage': 'no way', 'errorType': 'ToolFailed'}))\n"
            "    sys.exit(2)\n"
            "if event.get('crash'):\n    sys.exit(5)\n"
            "if event.get('garbage'):\n    print('this is not json')\n    sys.exit(0)\n"
            "sys.stderr.write('to the log\\n')\n"
            "print(json.dumps({'args': sys.argv[1:], 'event': event, 'pid': os.getpid()}))\n");
  FunctionPool pool(function(dir, R"({"Runtime": "exec", "Handler": "python3 tool.py --name 'a b' $HOME"})"),
                    options_with(nullptr, dir.path + "/logs"));
  auto r = call(pool, json::object{{"x", 1}});
  REQUIRE(r.ok);
  CHECK(r.output.at("args") == json::value(json::array{"--name", "a b", "$HOME"}));  // no shell expansion
  CHECK(r.output.at("event") == json::value(json::object{{"x", 1}}));
  CHECK(r.report->cold);
  CHECK(r.report->max_memory_used_mb > 0);
  auto r2 = call(pool, json::object{{"x", 2}});
  REQUIRE(r2.ok);
  CHECK(r2.output.at("pid") != r.output.at("pid"));

  auto failed = call(pool, json::object{{"fail", true}});
  REQUIRE_FALSE(failed.ok);
  CHECK(failed.failure.error == "ToolFailed");
  CHECK(cause_json(failed).at("errorMessage") == json::value("no way"));
  auto crashed = call(pool, json::object{{"crash", true}});
  REQUIRE_FALSE(crashed.ok);
  CHECK(crashed.failure.error == "Lambda.Unknown");
  CHECK(cause_json(crashed).at("errorMessage").as_string().ends_with("exit status 5"));
  auto garbage = call(pool, json::object{{"garbage", true}});
  REQUIRE_FALSE(garbage.ok);
  CHECK(garbage.failure.error == "Runtime.MarshalError");

  FunctionPool missing(function(dir, R"({"Runtime": "exec", "Handler": "./nosuch-tool"})"), options_with());
  auto m = call(missing, nullptr);
  REQUIRE_FALSE(m.ok);
  CHECK(m.failure.error == "Lambda.Unknown");
  CHECK(cause_json(m).at("errorType") == json::value("Runtime.InvalidEntrypoint"));
}

TEST_CASE("exec runtime: Timeout kills the process (by the clock)") {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  FunctionPool pool(function(dir, R"({"Runtime": "exec", "Handler": "sleep 600", "Timeout": 1})"), options_with(clock));
  auto promise = std::make_shared<std::promise<TaskOutcome>>();
  auto future = promise->get_future();
  pool.invoke(nullptr, [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
  REQUIRE(eventually([&] { return pool.stats().invocations == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  clock->advance(2 * kNanosPerSecond);
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(future.get().failure.error == "States.Timeout");
}

TEST_CASE("shutdown: an invocation in flight fails with Lambda.ServiceException, later ones are refused") {
  TempDir dir;
  dir.write("app.py",
            "import time\ndef handler(event, context):\n    open('started', 'w').close()\n"
            "    time.sleep(600)\n");
  FunctionPool pool(function(dir, R"({"Runtime": "python3", "Handler": "app.handler", "Timeout": 900})"),
                    options_with());
  auto promise = std::make_shared<std::promise<TaskOutcome>>();
  auto future = promise->get_future();
  pool.invoke(nullptr, [promise](TaskOutcome o) { promise->set_value(std::move(o)); });
  REQUIRE(eventually([&] { return fs::exists(fs::path(dir.path) / "started"); }));
  pool.shutdown();
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(future.get().failure.error == "Lambda.ServiceException");
  CHECK(call(pool, nullptr).failure.error == "Lambda.ServiceException");
}

TEST_CASE("FunctionInvoker: Lambda ARNs and lambda:invoke reach declared functions; others the fallback") {
  TempDir dir;
  dir.write("app.py", "def handler(event, context):\n    return {'got': event, 'fn': context.function_name}\n");
  auto doc = parse_json(R"({"Functions": {"Greet": {"Runtime": "python3", "Handler": "app.handler"}}})");
  Diagnostics errors;
  auto file = parse_functions(*doc, dir.path, errors);
  REQUIRE(file);
  Engine engine(EngineOptions{});
  engine.functions().add("InProcess", [](const json::value& e, const InvocationContext&) { return e; });
  std::vector<InvocationReport> reports;
  std::mutex mu;
  RuntimeOptions opts;
  opts.on_report = [&](const InvocationReport& r) {
    std::lock_guard lock(mu);
    reports.push_back(r);
  };
  auto invoker = std::make_shared<FunctionInvoker>(*file, opts, engine.invoker());
  engine.set_invoker(invoker);
  auto def = testing::parse_or_fail(R"({"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Greet", "ResultPath": "$.a",
          "Next": "B"},
    "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:Greet:$LATEST",
                         "Payload": {"n.$": "$.n"}},
          "ResultSelector": {"p.$": "$.Payload", "code.$": "$.StatusCode"}, "ResultPath": "$.b", "Next": "C"},
    "C": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:InProcess",
          "ResultPath": "$.c", "Next": "D"},
    "D": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Nobody", "End": true,
          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.d", "Next": "E"}]},
    "E": {"Type": "Pass", "End": true}}})");
  auto r = engine.run(def, json::object{{"n", 5}});
  REQUIRE(r.status == ExecutionStatus::Succeeded);
  CHECK(r.output.at("a") == json::value(json::object{{"got", json::object{{"n", 5}}}, {"fn", "Greet"}}));
  CHECK(r.output.at("b") == json::value(json::object{
                                {"p", json::object{{"got", json::object{{"n", 5}}}, {"fn", "Greet"}}}, {"code", 200}}));
  CHECK(r.output.at("c").at("n") == json::value(5));
  CHECK(r.output.at("d").at("Error") == json::value("Lambda.ResourceNotFoundException"));
  std::lock_guard lock(mu);
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].cold);
  CHECK_FALSE(reports[1].cold);
  CHECK(reports[1].function_name == "Greet");
}

}  // namespace stepwise

namespace stepwise {

TEST_CASE("functions stats: invocations, errors, throttles, cold-start rate, percentiles, GB-seconds, cost") {
  std::vector<storage::InvocationRecord> records;
  for (int i = 1; i <= 100; ++i) {
    storage::InvocationRecord r;
    r.function_name = "Resize";
    r.duration_ms = i;  // 1..100 ms
    r.billed_duration_ms = i;
    r.memory_size_mb = 1024;
    r.cold = i <= 4;
    if (i % 10 == 0) r.error = "ValueError";
    records.push_back(r);
  }
  storage::InvocationRecord throttled;
  throttled.function_name = "Resize";
  throttled.throttled = true;
  throttled.error = "Lambda.TooManyRequestsException";
  throttled.memory_size_mb = 1024;
  records.push_back(throttled);
  storage::InvocationRecord other;
  other.function_name = "Hash";
  other.duration_ms = 2.5;
  other.billed_duration_ms = 3;
  other.memory_size_mb = 512;
  records.push_back(other);

  auto stats = summarize_invocations(records);
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].function_name == "Hash");
  CHECK(stats[0].p50_duration_ms == 2.5);
  CHECK(stats[0].gb_seconds == doctest::Approx(0.003 * 0.5));
  const auto& r = stats[1];
  CHECK(r.function_name == "Resize");
  CHECK(r.invocations == 100);
  CHECK(r.errors == 10);
  CHECK(r.throttles == 1);
  CHECK(r.cold_starts == 4);
  CHECK(r.cold_start_rate == doctest::Approx(0.04));
  CHECK(r.p50_duration_ms == 50);
  CHECK(r.p99_duration_ms == 99);
  CHECK(r.gb_seconds == doctest::Approx(5.050));  // (1 + ... + 100) ms at 1 GB
  CHECK(r.estimated_cost_usd == doctest::Approx(5.050 * kPricePerGbSecond + 100 * kPricePerRequest));
}

TEST_CASE("InvocationRecorder: reports reach the store in batches and on flush") {
  auto opened = storage::open_memory();
  REQUIRE(opened.ok());
  std::shared_ptr<storage::Store> store = std::move(opened).value();
  InvocationRecorder recorder(store, /*batch=*/2);
  InvocationReport rep;
  rep.function_name = "F";
  rep.request_id = "r1";
  rep.duration_ms = 1.5;
  rep.billed_duration_ms = 2;
  rep.cold = true;
  rep.init_duration_ms = 40;
  rep.execution_arn = "arn:x";
  rep.state_name = "S";
  recorder.add(rep);
  CHECK(store->list_invocations("")->empty());
  rep.request_id = "r2";
  recorder.add(rep);  // a full batch is written
  CHECK(store->list_invocations("")->size() == 2);
  rep.request_id = "r3";
  recorder.add(rep);
  CHECK(recorder.flush().ok());
  auto all = *store->list_invocations("F");
  REQUIRE(all.size() == 3);
  CHECK(all[2].request_id == "r3");
  CHECK(all[2].execution_arn == "arn:x");
  CHECK(all[2].state_name == "S");
  CHECK(*all[2].init_duration_ms == 40);
}

}  // namespace stepwise
