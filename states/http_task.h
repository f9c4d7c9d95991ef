// The HTTP Task ("arn:aws:states:::http:invoke"), as far as it is pure: the
// fields AWS defines, checking them, turning a task's effective parameters
// into a request, and a response into the task's result. The network side
// is runtime/http_invoker.h.
//
// Parameters (Arguments in JSONata):
//   ApiEndpoint      required; an http:// or https:// URL (AWS only calls https)
//   Method           required; GET, POST, PUT, DELETE, PATCH, OPTIONS or HEAD
//   Authentication   {"ConnectionArn": ARN}; optional here (no EventBridge)
//   Headers          object of header names to values (strings, numbers, booleans);
//                    some names are reserved (http_header_forbidden)
//   QueryParameters  object appended to the URL's query, encoded as a form
//   RequestBody      a string (sent as is) or any JSON value (sent as JSON)
//   Transform        {"RequestBodyEncoding": "NONE" | "URL_ENCODED",
//                     "RequestEncodingOptions": {"ArrayFormat":
//                        "INDICES" | "REPEAT" | "COMMAS" | "BRACKETS"}}
//
// Result: {"ResponseBody": <JSON when the response says application/json
// (or +json) and parses, else the text>, "Headers": {name: [values...]},
// "StatusCode": N, "StatusText": "OK"}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "states/failure.h"
#include "states/json.h"

namespace stepwise::states {

inline constexpr std::string_view kHttpInvokeResource = "arn:aws:states:::http:invoke";

// True for the HTTP Task's resource.
bool is_http_invoke(std::string_view resource);

// GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD (case-sensitive, as AWS).
bool http_method_allowed(std::string_view method);

// Headers a definition may not set (AWS's list, case-insensitive), including
// any name starting with x-forwarded-, x-amz- or x-amzn-.
bool http_header_forbidden(std::string_view name);

// Why `url` is not a usable ApiEndpoint, or nullopt when it is.
std::optional<std::string> http_endpoint_problem(std::string_view url);

// How arrays are written in URL-encoded bodies and query strings, for
// {"a": ["x","y"]}:
//   kIndices  a[0]=x&a[1]=y  (the default)
//   kRepeat   a=x&a=y
//   kCommas   a=x,y
//   kBrackets a[]=x&a[]=y
// Objects nest as a[key]=value. Names and values are percent-encoded (all
// but A-Z a-z 0-9 - _ . ~), so brackets travel as %5B %5D and a comma inside
// a value as %2C; the COMMAS separator is a literal ','.
enum class ArrayFormat { kIndices, kRepeat, kCommas, kBrackets };
std::optional<ArrayFormat> parse_array_format(std::string_view name);

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string percent_encode(std::string_view text);

// `value` (an object; anything else encodes as nothing) as
// application/x-www-form-urlencoded text.
std::string url_encode_form(const json::value& value, ArrayFormat format);

// Checks the literal parts of an HTTP Task's Parameters (JSONPath: keys
// ending in ".$" are left to run time) or Arguments (JSONata: "{% %}"
// strings are left to run time), reporting each problem with a pointer
// below `pointer` (which points at the Parameters / Arguments object).
void check_http_parameters(const json::value& parameters, const std::string& pointer, bool jsonata,
                           Diagnostics& diagnostics);

// A request ready to send.
struct HttpCall {
  std::string method;
  bool tls = false;
  std::string host;    // without IPv6 brackets
  std::string port;    // "80" / "443" unless the URL says otherwise
  std::string target;  // path and query
  std::string url;     // the whole URL, for messages
  std::vector<std::pair<std::string, std::string>> headers;  // the definition's, then Content-Type
  std::optional<std::string> body;
  std::optional<std::string> connection_arn;  // Authentication.ConnectionArn
};

// The request an HTTP Task's effective parameters describe, with the query
// and body encoded as Transform says; a States.Runtime failure (not in_state)
// naming the field when they do not describe one. `extra_query` (e.g. a
// connection's parameters) is encoded after QueryParameters.
Result<HttpCall> build_http_call(const json::value& parameters,
                                 const std::vector<std::pair<std::string, std::string>>& extra_query = {});

// The task's result for a response.
json::value http_task_result(int status, std::string_view status_text,
                             const std::vector<std::pair<std::string, std::string>>& headers, std::string body);

// The failure for a non-2xx response: States.Http.StatusCode.NNN, its Cause
// the result (above) as JSON text.
Failure http_status_failure(const json::value& result);

}  // namespace stepwise::states
