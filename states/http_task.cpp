// The HTTP Task's fields, request building and result shape (no I/O).
#include "states/http_task.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace stepwise::states {
namespace {

constexpr std::array<std::string_view, 7> kMethods = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"};

// Header names AWS does not let a definition set.
constexpr std::array<std::string_view, 32> kForbiddenHeaders = {
    "a-im",          "accept-charset",      "accept-datetime",   "accept-encoding",
    "authorization", "cache-control",       "connection",        "content-encoding",
    "content-md5",   "date",                "expect",            "forwarded",
    "from",          "host",                "http2-settings",    "if-match",
    "if-modified-since", "if-none-match",   "if-range",          "if-unmodified-since",
    "max-forwards",  "origin",              "pragma",            "proxy-authorization",
    "referer",       "server",              "te",                "trailer",
    "transfer-encoding", "upgrade",         "via",               "warning"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_jsonata_text(const json::value& v) {
  if (!v.is_string()) return false;
  std::string_view s = v.get_string();
  return s.size() >= 4 && s.substr(0, 2) == "{%" && s.substr(s.size() - 2) == "%}";
}

// The text a scalar stands for in a header, a query string or a form.
std::optional<std::string> scalar_text(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return std::string();
  if (v.is_bool() || v.is_number()) return to_json(v);
  return std::nullopt;
}

void append_pair(std::string& out, std::string_view name, std::string_view value_encoded) {
  if (!out.empty()) out += '&';
  out += percent_encode(name);
  out += '=';
  out += value_encoded;
}

void encode_value(std::string& out, const std::string& name, const json::value& v, ArrayFormat format) {
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      std::string key(kv.key());
      encode_value(out, name.empty() ? key : name + "[" + key + "]", kv.value(), format);
    }
    return;
  }
  if (v.is_array()) {
    const json::array& items = v.get_array();
    if (format == ArrayFormat::kCommas) {
      // Only scalars can share one value; anything nested falls back to indices.
      bool scalars = std::all_of(items.begin(), items.end(), [](const json::value& i) { return scalar_text(i).has_value(); });
      if (scalars) {
        if (items.empty()) return;
        std::string joined;
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (i) joined += ',';
          joined += percent_encode(*scalar_text(items[i]));
        }
        append_pair(out, name, joined);
        return;
      }
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::string item_name;
      switch (format) {
        case ArrayFormat::kRepeat:
          item_name = name;
          break;
        case ArrayFormat::kBrackets:
          item_name = name + "[]";
          break;
        case ArrayFormat::kIndices:
        case ArrayFormat::kCommas:
          item_name = name + "[" + std::to_string(i) + "]";
          break;
      }
      encode_value(out, item_name, items[i], format);
    }
    return;
  }
  append_pair(out, name, percent_encode(*scalar_text(v)));
}

// A problem with one field, reported as AWS reports a bad service parameter.
Failure bad_field(const std::string& field, const std::string& why) {
  return Failure{"States.Runtime", "The HTTP Task's field '" + field + "' " + why, false};
}

const json::value* field(const json::object& o, std::string_view key) { return o.if_contains(key); }

// Parses "scheme://host[:port][/path][?query][#fragment]" into `call`.
std::optional<std::string> split_url(std::string_view url, HttpCall* call) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "must be an http:// or https:// URL";
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return "must be an http:// or https:// URL";
  std::string_view rest = url.substr(scheme_end + 3);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string target(path_start == std::string_view::npos ? std::string_view("/") : rest.substr(path_start));
  if (target.front() == '?') target.insert(target.begin(), '/');
  if (authority.empty()) return "has no host";
  if (authority.find('@') != std::string_view::npos) return "must not contain user information";
  std::string host;
  std::string_view port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "has an IPv6 host without its closing ']'";
    host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has something after the IPv6 host that is not a port";
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return "has no host";
  if (!port.empty()) {
    bool digits = std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || port.size() > 5 || std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0)
      return "has an invalid port";
  }
  for (unsigned char c : url)
    if (c <= ' ' || c == 0x7f) return "must not contain spaces or control characters";
  if (call) {
    call->tls = scheme == "https";
    call->host = std::move(host);
    call->port = port.empty() ? (call->tls ? "443" : "80") : std::string(port);
    call->target = std::move(target);
  }
  return std::nullopt;
}

// The literal value of `key` in a Parameters/Arguments object, or null when
// the key is absent or its value is left to run time.
const json::value* literal(const json::object& o, std::string_view key, bool jsonata) {
  const json::value* v = o.if_contains(key);
  if (!v || (jsonata && is_jsonata_text(*v))) return nullptr;
  return v;
}

bool present(const json::object& o, std::string_view key, bool jsonata) {
  return o.contains(key) || (!jsonata && o.contains(std::string(key) + ".$"));
}

}  // namespace

bool is_http_invoke(std::string_view resource) { return resource == kHttpInvokeResource; }

bool http_method_allowed(std::string_view method) {
  return std::find(kMethods.begin(), kMethods.end(), method) != kMethods.end();
}

bool http_header_forbidden(std::string_view name) {
  std::string n = lower(name);
  if (starts_with(n, "x-forwarded-") || starts_with(n, "x-amz-") || starts_with(n, "x-amzn-")) return true;
  return std::find(kForbiddenHeaders.begin(), kForbiddenHeaders.end(), n) != kForbiddenHeaders.end();
}

std::optional<std::string> http_endpoint_problem(std::string_view url) { return split_url(url, nullptr); }

std::optional<ArrayFormat> parse_array_format(std::string_view name) {
  if (name == "INDICES") return ArrayFormat::kIndices;
  if (name == "REPEAT") return ArrayFormat::kRepeat;
  if (name == "COMMAS") return ArrayFormat::kCommas;
  if (name == "BRACKETS") return ArrayFormat::kBrackets;
  return std::nullopt;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string url_encode_form(const json::value& value, ArrayFormat format) {
  std::string out;
  if (value.is_object()) encode_value(out, "", value, format);
  return out;
}

void check_http_parameters(const json::value& parameters, const std::string& pointer, bool jsonata,
                           Diagnostics& diagnostics) {
  if (!parameters.is_object()) return;  // a JSONata expression: all at run time
  const json::object& p = parameters.get_object();
  auto report = [&](std::string_view key, std::string message) {
    diagnostics.push_back(Diagnostic{child_pointer(pointer, key), std::move(message)});
  };
  for (std::string_view key : {"ApiEndpoint", "Method"}) {
    if (!present(p, key, jsonata))
      diagnostics.push_back(Diagnostic{pointer, "The field '" + std::string(key) + "' is required but was missing"});
  }
  if (const json::value* v = literal(p, "ApiEndpoint", jsonata)) {
    if (!v->is_string()) {
      report("ApiEndpoint", "The value of the field 'ApiEndpoint' must be a string");
    } else if (auto why = http_endpoint_problem(v->get_string())) {
      report("ApiEndpoint", "The value of the field 'ApiEndpoint' " + *why);
    }
  }
  if (const json::value* v = literal(p, "Method", jsonata)) {
    if (!v->is_string() || !http_method_allowed(v->get_string()))
      report("Method",
             "The value of the field 'Method' must be one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD");
  }
  if (const json::value* v = literal(p, "Headers", jsonata)) {
    if (!v->is_object()) {
      report("Headers", "The value of the field 'Headers' must be an object");
    } else {
      for (const auto& kv : v->get_object()) {
        std::string_view name = kv.key();
        if (!jsonata && name.size() > 2 && name.substr(name.size() - 2) == ".$") name.remove_suffix(2);
        if (http_header_forbidden(name))
          diagnostics.push_back(Diagnostic{child_pointer(child_pointer(pointer, "Headers"), kv.key()),
                                           "The header '" + std::string(name) + "' is not allowed in an HTTP Task"});
      }
    }
  }
  if (const json::value* v = literal(p, "QueryParameters", jsonata); v && !v->is_object())
    report("QueryParameters", "The value of the field 'QueryParameters' must be an object");
  if (const json::value* v = literal(p, "Transform", jsonata)) {
    const std::string tptr = child_pointer(pointer, "Transform");
    if (!v->is_object()) {
      report("Transform", "The value of the field 'Transform' must be an object");
      return;
    }
    const json::object& t = v->get_object();
    if (const json::value* e = literal(t, "RequestBodyEncoding", jsonata)) {
      if (!e->is_string() || (e->get_string() != "NONE" && e->get_string() != "URL_ENCODED"))
        diagnostics.push_back(Diagnostic{child_pointer(tptr, "RequestBodyEncoding"),
                                         "The value of the field 'RequestBodyEncoding' must be NONE or URL_ENCODED"});
    }
    if (const json::value* o = literal(t, "RequestEncodingOptions", jsonata)) {
      const std::string optr = child_pointer(tptr, "RequestEncodingOptions");
      if (!o->is_object()) {
        diagnostics.push_back(Diagnostic{optr, "The value of the field 'RequestEncodingOptions' must be an object"});
      } else if (const json::value* f = literal(o->get_object(), "ArrayFormat", jsonata)) {
        if (!f->is_string() || !parse_array_format(f->get_string()))
          diagnostics.push_back(
              Diagnostic{child_pointer(optr, "ArrayFormat"),
                         "The value of the field 'ArrayFormat' must be one of INDICES, REPEAT, COMMAS, BRACKETS"});
      }
    }
  }
}

Result<HttpCall> build_http_call(const json::value& parameters,
                                 const std::vector<std::pair<std::string, std::string>>& extra_query) {
  if (!parameters.is_object()) return Failure{"States.Runtime", "The HTTP Task's parameters must be an object", false};
  const json::object& p = parameters.get_object();
  HttpCall call;

  const json::value* endpoint = field(p, "ApiEndpoint");
  if (!endpoint) return bad_field("ApiEndpoint", "is required but was missing");
  if (!endpoint->is_string()) return bad_field("ApiEndpoint", "must be a string");
  if (auto why = split_url(endpoint->get_string(), &call)) return bad_field("ApiEndpoint", *why);

  const json::value* method = field(p, "Method");
  if (!method) return bad_field("Method", "is required but was missing");
  if (!method->is_string() || !http_method_allowed(method->get_string()))
    return bad_field("Method", "must be one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD");
  call.method = std::string(method->get_string());

  if (const json::value* auth = field(p, "Authentication")) {
    if (!auth->is_object()) return bad_field("Authentication", "must be an object");
    if (const json::value* arn = auth->get_object().if_contains("ConnectionArn")) {
      if (!arn->is_string()) return bad_field("Authentication.ConnectionArn", "must be a string");
      call.connection_arn = std::string(arn->get_string());
    }
  }

  ArrayFormat format = ArrayFormat::kIndices;
  bool url_encoded = false;
  if (const json::value* t = field(p, "Transform")) {
    if (!t->is_object()) return bad_field("Transform", "must be an object");
    if (const json::value* e = t->get_object().if_contains("RequestBodyEncoding")) {
      if (!e->is_string() || (e->get_string() != "NONE" && e->get_string() != "URL_ENCODED"))
        return bad_field("Transform.RequestBodyEncoding", "must be NONE or URL_ENCODED");
      url_encoded = e->get_string() == "URL_ENCODED";
    }
    if (const json::value* o = t->get_object().if_contains("RequestEncodingOptions")) {
      if (!o->is_object()) return bad_field("Transform.RequestEncodingOptions", "must be an object");
      if (const json::value* f = o->get_object().if_contains("ArrayFormat")) {
        auto parsed = f->is_string() ? parse_array_format(f->get_string()) : std::nullopt;
        if (!parsed)
          return bad_field("Transform.RequestEncodingOptions.ArrayFormat",
                           "must be one of INDICES, REPEAT, COMMAS, BRACKETS");
        format = *parsed;
      }
    }
  }

  std::string query;
  if (const json::value* q = field(p, "QueryParameters")) {
    if (!q->is_object()) return bad_field("QueryParameters", "must be an object");
    query = url_encode_form(*q, format);
  }
  for (const auto& [name, value] : extra_query) append_pair(query, name, percent_encode(value));
  if (!query.empty()) call.target += (call.target.find('?') == std::string::npos ? "?" : "&") + query;
  std::string_view endpoint_text = endpoint->get_string();
  call.url = std::string(endpoint_text.substr(0, endpoint_text.find_first_of("?#")));
  if (auto q = call.target.find('?'); q != std::string::npos) call.url += call.target.substr(q);

  bool has_content_type = false;
  if (const json::value* h = field(p, "Headers")) {
    if (!h->is_object()) return bad_field("Headers", "must be an object");
    for (const auto& kv : h->get_object()) {
      std::string name(kv.key());
      if (name.empty()) return bad_field("Headers", "has a header without a name");
      if (http_header_forbidden(name)) return bad_field("Headers", "sets '" + name + "', which is not allowed");
      auto text = scalar_text(kv.value());
      if (!text || kv.value().is_null()) return bad_field("Headers." + name, "must be a string, a number or a boolean");
      if (text->find_first_of("\r\n") != std::string::npos)
        return bad_field("Headers." + name, "must not contain line breaks");
      if (lower(name) == "content-type") has_content_type = true;
      call.headers.emplace_back(std::move(name), std::move(*text));
    }
  }

  if (const json::value* b = field(p, "RequestBody")) {
    if (b->is_string()) {
      call.body = std::string(b->get_string());
    } else if (url_encoded && b->is_object()) {
      call.body = url_encode_form(*b, format);
    } else {
      call.body = to_json(*b);
    }
    if (url_encoded) {
      // AWS sets the form content type for URL_ENCODED bodies, whatever the definition says.
      std::erase_if(call.headers, [](const auto& h) { return lower(h.first) == "content-type"; });
      call.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    } else if (!has_content_type) {
      call.headers.emplace_back("Content-Type", "application/json; charset=UTF-8");
    }
  }
  return call;
}

json::value http_task_result(int status, std::string_view status_text,
                             const std::vector<std::pair<std::string, std::string>>& headers, std::string body) {
  json::object hs;
  bool json_body = false;
  for (const auto& [name, value] : headers) {
    json::value& slot = hs[name];
    if (!slot.is_array()) slot = json::array();
    slot.get_array().emplace_back(value);
    if (lower(name) == "content-type") {
      std::string media = lower(value.substr(0, value.find(';')));
      while (!media.empty() && media.back() == ' ') media.pop_back();
      json_body = media == "application/json" || (media.size() > 5 && media.substr(media.size() - 5) == "+json");
    }
  }
  std::optional<json::value> parsed;
  if (json_body) parsed = parse_json(body);
  json::object out;
  out["ResponseBody"] = parsed ? std::move(*parsed) : json::value(json::string(body));
  out["Headers"] = std::move(hs);
  out["StatusCode"] = status;
  out["StatusText"] = json::string(status_text);
  return out;
}

Failure http_status_failure(const json::value& result) {
  std::int64_t code = 0;
  if (const auto* o = result.if_object()) {
    if (const json::value* s = o->if_contains("StatusCode"); s && s->is_int64()) code = s->get_int64();
  }
  return Failure{"States.Http.StatusCode." + std::to_string(code), to_json(result), false};
}

}  // namespace stepwise::states
