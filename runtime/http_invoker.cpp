// HTTP Tasks over Boost.Beast: one I/O thread runs every request as a C++20
// coroutine, so a slow endpoint holds no thread and the engine never blocks.
#include "runtime/http_invoker.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "states/http_task.h"

namespace stepwise {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// When a request must have its answer, and which limit that is.
struct Deadline {
  SteadyTime at;
  bool task_timeout = false;  // the Task's TimeoutSeconds (else the HTTP Task's own limit)
  double limit_seconds = 0;
};

// One connection to a scheme, host and port; TLS or plain.
struct Connection {
  std::string key;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  SteadyTime idle_since;
  beast::tcp_stream& lowest() { return secure ? secure->next_layer() : *plain; }
};

// The region of an execution ARN (arn:aws:states:REGION:...), for the User-Agent.
std::string region_of(const std::string& arn) {
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    pos = arn.find(':', pos);
    if (pos == std::string::npos) return "us-east-1";
    ++pos;
  }
  auto end = arn.find(':', pos);
  if (end == std::string::npos || end == pos) return "us-east-1";
  return arn.substr(pos, end - pos);
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::string host_header(const states::HttpCall& call) {
  std::string host = call.host.find(':') != std::string::npos ? "[" + call.host + "]" : call.host;
  const bool default_port = call.port == (call.tls ? "443" : "80");
  return default_port ? host : host + ":" + call.port;
}

TaskOutcome socket_failure(std::string cause) { return TaskOutcome::fail("States.Http.Socket", std::move(cause)); }

std::string format_seconds(double s) {
  std::string text = std::to_string(s);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

TaskOutcome timed_out(const Deadline& d, const states::HttpCall& call) {
  if (d.task_timeout) {
    // As the engine's own timer reports it: no Cause.
    TaskOutcome o = TaskOutcome::fail("States.Timeout", "");
    o.failure.has_cause = false;
    return o;
  }
  return socket_failure("The HTTP request to " + call.url + " got no response within " +
                        format_seconds(d.limit_seconds) + " seconds");
}

}  // namespace

class HttpInvoker::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(HttpInvokerOptions options) : options_(std::move(options)), work_(asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() { shutdown(); }

  void start(const TaskRequest& request, TaskCompletion done) {
    std::vector<std::pair<std::string, std::string>> extra_query;
    const HttpConnection* connection = nullptr;
    if (const auto* p = request.payload.if_object()) {
      if (const auto* auth = p->if_contains("Authentication"); auth && auth->is_object()) {
        if (const auto* arn = auth->get_object().if_contains("ConnectionArn"); arn && arn->is_string()) {
          if (auto it = options_.connections.find(std::string_view(arn->get_string()));
              it != options_.connections.end()) {
            connection = &it->second;
            extra_query = connection->query;
          }
        }
      }
    }
    auto call = states::build_http_call(request.payload, extra_query);
    if (!call) {
      done(TaskOutcome{false, nullptr, call.failure()});
      return;
    }
    if (connection) {
      // The connection's headers win over the definition's of the same name.
      for (const auto& [name, value] : connection->headers) {
        std::erase_if(call->headers, [&](const auto& h) { return beast::iequals(h.first, name); });
        call->headers.emplace_back(name, value);
      }
    }
    Deadline d;
    const auto now = std::chrono::steady_clock::now();
    d.limit_seconds = options_.request_timeout_seconds;
    if (request.timeout_seconds > 0 && request.timeout_seconds < d.limit_seconds) {
      d.limit_seconds = request.timeout_seconds;
      d.task_timeout = true;
    }
    d.at = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(d.limit_seconds));
    std::lock_guard lock(mu_);
    if (stopped_) {
      done(socket_failure("The HTTP client has shut down"));
      return;
    }
    asio::co_spawn(io_, run(shared_from_this(), std::move(*call), d, region_of(request.execution_id), std::move(done)),
                   asio::detached);
  }

  void shutdown() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    asio::post(io_, [this] {
      stopping_ = true;
      for (Connection* c : busy_) c->lowest().close();
      idle_.clear();
    });
    work_.reset();
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // called from a completion: the thread ends by itself
      } else {
        thread_.join();
      }
    }
  }

  HttpInvokerStats stats() const { return HttpInvokerStats{requests_.load(), opened_.load(), reused_.load()}; }

 private:
  // Holds `self` so the invoker's state outlives every request in flight.
  static asio::awaitable<void> run(std::shared_ptr<Impl> self, states::HttpCall call, Deadline d, std::string region,
                                   TaskCompletion done) {
    TaskOutcome outcome;
    try {
      outcome = co_await self->perform(call, d, region);
    } catch (const std::exception& e) {
      outcome = socket_failure("The HTTP request to " + call.url + " failed: " + e.what());
    }
    done(std::move(outcome));
  }

  asio::awaitable<TaskOutcome> perform(const states::HttpCall& call, const Deadline& d, const std::string& region) {
    http::request<http::string_body> req;
    req.method(http::string_to_verb(call.method));
    req.target(call.target);
    req.version(11);
    req.set(http::field::host, host_header(call));
    req.set(http::field::user_agent, "Amazon|StepFunctions|HttpInvoke|" + region);
    req.set(http::field::range, "bytes=0-262144");
    for (const auto& [name, value] : call.headers) req.set(name, value);
    if (call.body) req.body() = *call.body;
    req.prepare_payload();
    req.keep_alive(true);

    const std::string key = (call.tls ? "https://" : "http://") + call.host + ":" + call.port;
    const std::string where = host_header(call);
    for (int attempt = 0;; ++attempt) {
      if (stopping_) co_return socket_failure("The HTTP client has shut down");
      std::unique_ptr<Connection> conn = take_idle(key);
      const bool reused = conn != nullptr;
      if (!conn) {
        if (call.tls && !tls_context()) co_return socket_failure("TLS is not usable: " + tls_problem_);
        conn = std::make_unique<Connection>();
        conn->key = key;
        auto failure = co_await connect(*conn, call, d);
        if (failure) co_return std::move(*failure);
        if (stopping_) co_return socket_failure("The HTTP client has shut down");
        ++opened_;
      } else {
        ++reused_;
      }
      ++requests_;
      http::response_parser<http::string_body> parser;
      parser.body_limit(options_.response_limit);
      if (req.method() == http::verb::head) parser.skip(true);
      conn->lowest().expires_at(d.at);
      busy_.insert(conn.get());
      beast::error_code ec = conn->secure ? co_await exchange(*conn->secure, *conn, req, parser)
                                          : co_await exchange(*conn->plain, *conn, req, parser);
      busy_.erase(conn.get());
      if (ec) {
        if (ec == beast::error::timeout) co_return timed_out(d, call);
        if (reused && attempt == 0 && !parser.got_some() && !stopping_) continue;  // closed while idle
        if (ec == http::error::body_limit)
          co_return TaskOutcome::fail("States.DataLimitExceeded", "The response from " + call.url + " is larger than " +
                                                                      std::to_string(options_.response_limit) + " bytes");
        if (stopping_) co_return socket_failure("The HTTP client has shut down");
        co_return socket_failure("The connection to " + where + " failed: " + ec.message());
      }
      http::response<http::string_body> res = parser.release();
      std::vector<std::pair<std::string, std::string>> headers;
      for (const auto& f : res) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      const int status = static_cast<int>(res.result_int());
      std::string reason(res.reason());
      if (reason.empty()) reason = std::string(http::obsolete_reason(res.result()));
      if (res.keep_alive()) put_idle(std::move(conn));
      json::value result = states::http_task_result(status, reason, headers, std::move(res.body()));
      if (status >= 200 && status < 300) co_return TaskOutcome::success(std::move(result));
      co_return TaskOutcome{false, nullptr, states::http_status_failure(result)};
    }
  }

  // Resolves, connects and (for https) does the TLS handshake; a failure when
  // any of it fails.
  asio::awaitable<std::optional<TaskOutcome>> connect(Connection& conn, const states::HttpCall& call,
                                                      const Deadline& d) {
    const std::string where = host_header(call);
    tcp::resolver resolver(io_);
    auto [rec, endpoints] = co_await resolver.async_resolve(call.host, call.port, kTuple);
    if (rec) co_return socket_failure("Unable to resolve the host '" + call.host + "': " + rec.message());
    if (stopping_) co_return socket_failure("The HTTP client has shut down");  // while resolving
    if (call.tls) {
      conn.secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *tls_);
    } else {
      conn.plain = std::make_unique<beast::tcp_stream>(io_);
    }
    beast::tcp_stream& lowest = conn.lowest();
    lowest.expires_at(d.at);
    busy_.insert(&conn);
    auto [cec, ep] = co_await lowest.async_connect(endpoints, kTuple);
    (void)ep;
    if (!cec && call.tls) {
      if (!is_ip_address(call.host)) SSL_set_tlsext_host_name(conn.secure->native_handle(), call.host.c_str());
      if (options_.verify_peer) conn.secure->set_verify_callback(ssl::host_name_verification(call.host));
      auto [hec] = co_await conn.secure->async_handshake(ssl::stream_base::client, kTuple);
      busy_.erase(&conn);
      if (hec == beast::error::timeout) co_return timed_out(d, call);
      if (hec) {
        if (stopping_) co_return socket_failure("The HTTP client has shut down");
        co_return socket_failure("The TLS handshake with " + where + " failed: " + hec.message());
      }
      co_return std::nullopt;
    }
    busy_.erase(&conn);
    if (cec == beast::error::timeout) co_return timed_out(d, call);
    if (cec) {
      if (stopping_) co_return socket_failure("The HTTP client has shut down");
      co_return socket_failure("Unable to connect to " + where + ": " + cec.message());
    }
    co_return std::nullopt;
  }

  template <class Stream>
  asio::awaitable<beast::error_code> exchange(Stream& stream, Connection& conn, http::request<http::string_body>& req,
                                              http::response_parser<http::string_body>& parser) {
    auto [wec, written] = co_await http::async_write(stream, req, kTuple);
    (void)written;
    if (wec) co_return wec;
    auto [rec, read] = co_await http::async_read(stream, conn.buffer, parser, kTuple);
    (void)read;
    co_return rec;
  }

  // The TLS context, made on the first https request: reading the system's
  // CA bundle takes tens of milliseconds that runs without HTTPS need not pay.
  // Null (with tls_problem_ set) when it cannot be made.
  ssl::context* tls_context() {
    if (tls_ || !tls_problem_.empty()) return tls_ ? &*tls_ : nullptr;
    boost::system::error_code ec;
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_default_verify_paths(ec);  // no system store: only extra_ca_pem is trusted
    if (!options_.extra_ca_pem.empty()) {
      ctx.add_certificate_authority(asio::buffer(options_.extra_ca_pem), ec);
      if (ec) {
        tls_problem_ = "the extra CA certificate could not be read: " + ec.message();
        return nullptr;
      }
    }
    ctx.set_verify_mode(options_.verify_peer ? ssl::verify_peer : ssl::verify_none);
    tls_.emplace(std::move(ctx));
    return &*tls_;
  }

  std::unique_ptr<Connection> take_idle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    const auto oldest_usable = std::chrono::steady_clock::now() -
                               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(options_.idle_seconds));
    while (!it->second.empty()) {
      std::unique_ptr<Connection> c = std::move(it->second.back());
      it->second.pop_back();
      if (c->idle_since >= oldest_usable) return c;
    }
    return nullptr;
  }

  void put_idle(std::unique_ptr<Connection> conn) {
    if (stopping_) return;
    auto& list = idle_[conn->key];
    if (list.size() >= options_.max_idle_per_host) return;
    conn->idle_since = std::chrono::steady_clock::now();
    list.push_back(std::move(conn));
  }

  const HttpInvokerOptions options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::optional<ssl::context> tls_;  // the I/O thread's, made by tls_context()
  std::string tls_problem_;
  std::thread thread_;
  std::mutex mu_;
  bool stopped_ = false;  // guarded by mu_
  // The I/O thread's own.
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle_;
  std::set<Connection*> busy_;
  bool stopping_ = false;
  std::atomic<std::int64_t> requests_{0}, opened_{0}, reused_{0};
};

HttpInvoker::HttpInvoker(HttpInvokerOptions options, std::shared_ptr<Invoker> fallback)
    : options_(std::move(options)), fallback_(std::move(fallback)) {}

HttpInvoker::~HttpInvoker() { shutdown(); }

std::shared_ptr<HttpInvoker::Impl> HttpInvoker::client() {
  std::lock_guard lock(mu_);
  // The I/O thread starts with the first HTTP Task: a run without any costs nothing.
  if (!impl_ && !shut_down_) impl_ = std::make_shared<Impl>(options_);
  return impl_;
}

void HttpInvoker::invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) {
  if (!states::is_http_invoke(request.resource)) {
    if (fallback_) {
      fallback_->invoke(request, std::move(done), std::move(heartbeat));
    } else {
      done(TaskOutcome::fail("States.Runtime", "No invoker handles the resource " + request.resource));
    }
    return;
  }
  std::shared_ptr<Impl> impl = client();
  if (!impl) {
    done(socket_failure("The HTTP client has shut down"));
    return;
  }
  impl->start(request, std::move(done));
}

void HttpInvoker::shutdown() {
  std::shared_ptr<Impl> impl;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    impl = impl_;
  }
  if (impl) impl->shutdown();
}

HttpInvokerStats HttpInvoker::stats() const {
  std::lock_guard lock(mu_);
  return impl_ ? impl_->stats() : HttpInvokerStats{};
}

}  // namespace stepwise
