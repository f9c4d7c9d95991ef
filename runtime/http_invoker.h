// The HTTP Task ("arn:aws:states:::http:invoke") over the network: an Invoker
// that sends the request its parameters describe (states/http_task.h) with
// Boost.Beast, HTTPS through OpenSSL, and answers with the response shaped as
// AWS's HTTP Task returns it. Other resources go to `fallback`.
//
// Requests run on the invoker's own I/O thread (asynchronous, one thread for
// all of them), started by the first HTTP Task: invoke() only queues the
// request, so the engine's thread never waits on the network; completions run
// on the I/O thread. The TLS context (the system's CAs) is loaded by the
// first https request.
//
// Connections are kept alive and reused per scheme, host and port (up to
// max_idle_per_host idle ones, closed after idle_seconds unused). A request
// that fails on a reused connection before any byte of a response arrived
// (the server closed it meanwhile) is sent once more on a new connection.
//
// Outcomes:
//   2xx                   the result {"ResponseBody","Headers","StatusCode","StatusText"}
//   other status          States.Http.StatusCode.NNN, Cause: that result as JSON text
//   resolve/connect/TLS/reset, or no answer within request_timeout_seconds
//                         States.Http.Socket, Cause saying what failed and where
//   the Task's TimeoutSeconds elapsed first
//                         States.Timeout (the engine's own timer says the same)
//   parameters that describe no request
//                         States.Runtime, Cause naming the field
//
// Every request carries User-Agent "Amazon|StepFunctions|HttpInvoke|REGION"
// (the region of the execution ARN) and Range "bytes=0-262144", as AWS's do.
// Authentication.ConnectionArn is accepted; when `connections` has an entry
// for it, that entry's headers and query parameters are added (they win over
// the definition's), standing in for an EventBridge connection's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/invoker.h"

namespace stepwise {

// What an EventBridge connection would add to a request.
struct HttpConnection {
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Authorization", "Bearer ..."}
  std::vector<std::pair<std::string, std::string>> query;
};

struct HttpInvokerOptions {
  // AWS ends an HTTP Task that gets no response within 60 seconds with States.Http.Socket.
  double request_timeout_seconds = 60;
  std::size_t max_idle_per_host = 8;
  double idle_seconds = 30;                    // an idle kept-alive connection is closed after this
  std::uint64_t response_limit = 10u << 20;    // bytes of response body accepted
  bool verify_peer = true;                     // HTTPS: check the certificate chain and host name
  std::string extra_ca_pem;                    // HTTPS: trusted besides the system's CAs (PEM)
  std::map<std::string, HttpConnection, std::less<>> connections;  // by ConnectionArn
};

struct HttpInvokerStats {
  std::int64_t requests = 0;            // requests sent (a resend on a new connection counts)
  std::int64_t connections_opened = 0;  // TCP connections made
  std::int64_t reused = 0;              // requests sent on a kept-alive connection
};

class HttpInvoker final : public Invoker {
 public:
  explicit HttpInvoker(HttpInvokerOptions options = {}, std::shared_ptr<Invoker> fallback = nullptr);
  ~HttpInvoker() override;  // shutdown()
  HttpInvoker(const HttpInvoker&) = delete;
  HttpInvoker& operator=(const HttpInvoker&) = delete;

  void invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) override;

  // Fails requests in flight (States.Http.Socket), closes every connection and
  // joins the I/O thread; later invocations fail at once. Idempotent.
  void shutdown();

  HttpInvokerStats stats() const;

 private:
  class Impl;
  std::shared_ptr<Impl> client();  // started on first use; null after shutdown()

  const HttpInvokerOptions options_;
  std::shared_ptr<Invoker> fallback_;
  mutable std::mutex mu_;
  std::shared_ptr<Impl> impl_;  // guarded by mu_
  bool shut_down_ = false;      // guarded by mu_
};

}  // namespace stepwise
