// stepwise_bench --invocations: what one task invocation costs, by invoker
// (issue #4, section 7). Warm round trips (the invoker called, its completion
// received) for in-process functions, python3 and node workers, exec
// processes and HTTP over a kept-alive connection to a local server; cold
// starts of each runtime; task_echo with its Echo function in a warm python3
// worker.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <list>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "runtime/function_pool.h"
#include "runtime/functions_file.h"
#include "runtime/http_invoker.h"

namespace stepwise::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using WallClock = std::chrono::steady_clock;

double us_since(WallClock::time_point t0) {
  return std::chrono::duration<double, std::micro>(WallClock::now() - t0).count();
}

struct Summary {
  double mean = 0, p50 = 0, p99 = 0;
};

Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  s.p50 = v[v.size() / 2];
  s.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  return s;
}

// Starts one invocation and waits for its completion; the outcome's ok.
bool round_trip(const std::function<void(TaskCompletion)>& start, TaskOutcome* out = nullptr) {
  std::promise<TaskOutcome> promise;
  auto future = promise.get_future();
  start([&promise](TaskOutcome o) { promise.set_value(std::move(o)); });
  TaskOutcome o = future.get();
  bool ok = o.ok;
  if (!ok) std::cerr << "invocation failed: " << o.failure.error << ": " << o.failure.cause << "\n";
  if (out) *out = std::move(o);
  return ok;
}

// Times n sequential round trips after `warm` unmeasured ones; false if any failed.
bool time_round_trips(int n, int warm, const std::function<void(TaskCompletion)>& start, Summary* s) {
  for (int i = 0; i < warm; ++i)
    if (!round_trip(start)) return false;
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = WallClock::now();
    if (!round_trip(start)) return false;
    us.push_back(us_since(t0));
  }
  *s = summarize(std::move(us));
  return true;
}

void print_row(const char* what, const Summary& s, int n) {
  std::printf("%-34s %10.1f %10.1f %10.1f %8d\n", what, s.mean, s.p50, s.p99, n);
}

// A scratch directory holding the echo handlers.
struct Handlers {
  Handlers() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "stepwise-bench-fn-XXXXXX").string();
    dir = mkdtemp(tmpl.data());
    std::ofstream(dir + "/echo.py") << "def handler(event, context):\n    return event\n";
    std::ofstream(dir + "/echo.js") << "exports.handler = async (event) => event;\n";
  }
  ~Handlers() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
};

std::optional<FunctionConfig> echo_function(const Handlers& h, const char* runtime, int provisioned = 0) {
  std::string handler = std::string(runtime) == "python3" ? "echo.handler"
                        : std::string(runtime) == "node"  ? "echo.handler"
                                                          : "cat";
  auto doc = parse_json(std::string(R"({"Functions":{"Echo":{"Runtime":")") + runtime + R"(","Handler":")" + handler +
                        R"(","CodeUri":".","Timeout":30,"ProvisionedConcurrency":)" + std::to_string(provisioned) +
                        "}}}");
  Diagnostics errors;
  auto file = parse_functions(*doc, h.dir, errors);
  if (!file) {
    for (const auto& d : errors) std::cerr << d.pointer << ": " << d.message << "\n";
    return std::nullopt;
  }
  return file->functions.at("Echo");
}

// A keep-alive HTTP/1.1 server on 127.0.0.1 answering {"ok":true}, one thread per connection.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_ = std::thread([this] {
      for (;;) {
        tcp::socket s(io_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        std::lock_guard lock(mu_);
        if (ec || stopping_) return;
        fds_.push_back(s.native_handle());
        threads_.emplace_back([sock = std::move(s)]() mutable { serve(sock); });
      }
    });
  }
  ~EchoServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_.join();
    for (auto& t : threads_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/echo"; }

 private:
  static void serve(tcp::socket& s) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(s, buffer, req, ec);
      if (ec) return;
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"ok":true})";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread accept_;
  std::list<std::thread> threads_;
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<int> fds_;
};

// Cold starts: a new pool each time, its first invocation. Prints the init
// duration the report gives (python3, node) and the whole first round trip.
bool cold_starts(const Handlers& h, const char* runtime, int runs) {
  auto config = echo_function(h, runtime);
  if (!config) return false;
  std::vector<double> init_ms, first_ms;
  for (int i = 0; i < runs; ++i) {
    FunctionPool pool(*config, RuntimeOptions{});
    TaskOutcome o;
    auto t0 = WallClock::now();
    if (!round_trip([&](TaskCompletion done) { pool.invoke(json::object{{"i", i}}, std::move(done)); }, &o))
      return false;
    first_ms.push_back(us_since(t0) / 1000.0);
    if (o.report && o.report->init_duration_ms) init_ms.push_back(*o.report->init_duration_ms);
  }
  Summary first = summarize(first_ms);
  if (init_ms.empty()) {
    std::printf("%-10s cold start: first invocation median %.1f ms (process start included; %d runs)\n", runtime,
                first.p50, runs);
  } else {
    std::printf("%-10s cold start: init duration median %.1f ms, first invocation median %.1f ms (%d runs)\n", runtime,
                summarize(init_ms).p50, first.p50, runs);
  }
  return true;
}

// task_echo (bench/workflows) with Echo in a warm python3 worker.
bool task_echo_python(const Handlers& h, const std::string& workflows) {
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  auto parsed = states::parse_definition_text(read(workflows + "/task_echo.asl.json"));
  auto input = parse_json(read(workflows + "/task_echo.input.json"));
  auto expected = parse_json(read(workflows + "/task_echo.expected.json"));
  if (!parsed.definition || !input || !expected) return false;
  auto config = echo_function(h, "python3", /*provisioned=*/1);
  if (!config) return false;
  FunctionsFile file;
  file.functions.emplace("Echo", *config);
  Engine engine;
  auto invoker = std::make_shared<FunctionInvoker>(file, RuntimeOptions{}, engine.invoker());
  engine.set_invoker(invoker);
  // Warm: the provisioned worker has loaded the handler before the clock starts.
  if (!round_trip([&](TaskCompletion done) { invoker->invoke_function("Echo", json::object{}, std::move(done)); }))
    return false;
  auto t0 = WallClock::now();
  ExecutionResult r = engine.run(parsed.definition, std::move(*input));
  double ms = us_since(t0) / 1000.0;
  invoker->shutdown();
  bool ok = r.status == ExecutionStatus::Succeeded && r.output == *expected;
  std::printf("task_echo with Echo in a warm python3 worker: %lld states in %.1f ms = %.0f states/s (%s)\n",
              static_cast<long long>(r.states_entered), ms, static_cast<double>(r.states_entered) / (ms / 1000.0),
              ok ? "ok" : "WRONG");
  return ok;
}

}  // namespace

int invocation_benchmarks(int n, const std::string& workflows) {
  Handlers h;
  bool ok = true;
  std::printf("warm invocation round trip, invoker called -> completion received (%d calls after warm-up):\n", n);
  std::printf("%-34s %10s %10s %10s %8s\n", "invoker", "mean us", "p50 us", "p99 us", "calls");

  {
    FunctionRegistry registry;
    registry.add("Echo", [](const json::value& e, const InvocationContext&) { return e; });
    TaskRequest req;
    req.resource = "arn:aws:lambda:us-east-1:123456789012:function:Echo";
    req.payload = json::object{{"i", 1}};
    Summary s;
    ok = time_round_trips(n * 10, 100, [&](TaskCompletion done) { registry.invoke(req, std::move(done), [] {}); }, &s) &&
         ok;
    print_row("in-process (FunctionRegistry)", s, n * 10);
  }
  for (const char* runtime : {"python3", "node"}) {
    auto config = echo_function(h, runtime, 1);
    if (!config) return 1;
    FunctionPool pool(*config, RuntimeOptions{});
    Summary s;
    json::value event = json::object{{"i", 1}, {"name", "bench"}};
    ok = time_round_trips(n, 20, [&](TaskCompletion done) { pool.invoke(event, std::move(done)); }, &s) && ok;
    print_row((std::string(runtime) + " warm worker").c_str(), s, n);
  }
  {
    auto config = echo_function(h, "exec");
    if (!config) return 1;
    FunctionPool pool(*config, RuntimeOptions{});
    Summary s;
    const int calls = std::max(20, n / 10);
    ok = time_round_trips(calls, 3, [&](TaskCompletion done) { pool.invoke(json::object{{"i", 1}}, std::move(done)); },
                          &s) &&
         ok;
    print_row("exec (cat, one process per call)", s, calls);
  }
  {
    EchoServer server;
    HttpInvoker invoker;
    TaskRequest req;
    req.execution_id = "arn:aws:states:us-east-1:123456789012:execution:Bench:e";
    req.resource = "arn:aws:states:::http:invoke";
    req.payload = json::object{{"ApiEndpoint", server.url()}, {"Method", "POST"}, {"RequestBody", json::object{{"i", 1}}}};
    Summary s;
    ok = time_round_trips(n, 20, [&](TaskCompletion done) { invoker.invoke(req, std::move(done), [] {}); }, &s) && ok;
    print_row("HTTP keep-alive, local server", s, n);
    auto st = invoker.stats();
    std::printf("  (HTTP: %lld requests over %lld connection(s))\n", static_cast<long long>(st.requests),
                static_cast<long long>(st.connections_opened));
    invoker.shutdown();
  }
  std::printf("\n");
  for (const char* runtime : {"python3", "node", "exec"}) ok = cold_starts(h, runtime, 5) && ok;
  std::printf("\n");
  ok = task_echo_python(h, workflows) && ok;
  return ok ? 0 : 1;
}

}  // namespace stepwise::bench
