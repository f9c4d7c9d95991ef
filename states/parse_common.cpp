// Building blocks of the definition parser: pointers, diagnostics, typed field
// reading, paths, numbers, payload templates, Retry and Catch.
#include <cctype>
#include <cmath>
#include <string>

#include "states/intrinsics.h"
#include "states/parse_internal.h"

namespace stepwise::states::parse_detail {


std::string child(std::string_view base, std::string_view token) { return child_pointer(base, token); }

std::string child(std::string_view base, std::size_t index) {
  return child(base, std::to_string(index));
}

bool is_jsonata_expression(const json::value& v) {
  if (!v.is_string()) return false;
  std::string_view s = v.get_string();
  return s.size() >= 4 && s.substr(0, 2) == "{%" && s.substr(s.size() - 2) == "%}";
}

// --- reporting -------------------------------------------------------------

void Parser::error(std::string pointer, std::string message, const char* code) {
  diags_.push_back(Diagnostic{std::move(pointer), std::move(message), code});
}

void Parser::unsupported(std::string pointer, std::string message) {
  diags_.push_back(Diagnostic{std::move(pointer), std::move(message), kUnsupported});
}

void Parser::type_error(const std::string& base, std::string_view field, const char* expected,
                        const json::value& got) {
  error(child(base, field), "The value of the field '" + std::string(field) + "' must be " +
                                expected + ", not " + json_type_name(got));
}

void Parser::required(const std::string& pointer, std::string_view fields) {
  error(pointer, "These fields are required: [" + std::string(fields) + "]");
}

// --- typed reading ---------------------------------------------------------

const json::string* Parser::string_field(const json::object& obj, std::string_view key,
                                         const std::string& base) {
  const json::value* v = obj.if_contains(key);
  if (!v) return nullptr;
  if (!v->is_string()) {
    type_error(base, key, "a string", *v);
    return nullptr;
  }
  return &v->get_string();
}

std::optional<std::string> Parser::optional_string(const json::object& obj, std::string_view key,
                                                   const std::string& base) {
  if (const json::string* s = string_field(obj, key, base)) return std::string(*s);
  return std::nullopt;
}

namespace {

std::optional<double> as_number(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64:
      return static_cast<double>(v.get_int64());
    case json::kind::uint64:
      return static_cast<double>(v.get_uint64());
    case json::kind::double_:
      return v.get_double();
    default:
      return std::nullopt;
  }
}

// AWS's upper bound for second counts and attempt counts.
constexpr double kMaxInteger = 99999999;

}  // namespace

std::optional<double> Parser::number(const json::value& v, const std::string& base,
                                     std::string_view field, NumberRule rule) {
  std::optional<double> n = as_number(v);
  bool integral = rule == NumberRule::PositiveInteger || rule == NumberRule::NonNegativeInteger;
  if (!n) {
    type_error(base, field, integral ? "an integer" : "a number", v);
    return std::nullopt;
  }
  // An integral double such as 3.0 is accepted where an integer is expected.
  if (integral && std::trunc(*n) != *n) {
    type_error(base, field, "an integer", v);
    return std::nullopt;
  }
  const std::string name(field);
  switch (rule) {
    case NumberRule::PositiveInteger:
      if (*n < 1 || *n > kMaxInteger) {
        error(child(base, field), "The value of the field '" + name +
                                      "' must be a positive integer no greater than 99999999");
        return std::nullopt;
      }
      break;
    case NumberRule::NonNegativeInteger:
      if (*n < 0 || *n > kMaxInteger) {
        error(child(base, field), "The value of the field '" + name +
                                      "' must be a non-negative integer no greater than 99999999");
        return std::nullopt;
      }
      break;
    case NumberRule::Percentage:
      if (*n < 0 || *n > 100) {
        error(child(base, field),
              "The value of the field '" + name + "' must be a number between 0 and 100");
        return std::nullopt;
      }
      break;
    case NumberRule::AtLeastOne:
      if (*n < 1) {
        error(child(base, field), "The value of the field '" + name + "' must be at least 1.0");
        return std::nullopt;
      }
      break;
  }
  return n;
}

NumberSource Parser::number_source(const json::object& obj, const std::string& base,
                                   std::string_view literal_key, std::string_view path_key,
                                   NumberRule rule, Language lang) {
  NumberSource out;
  const json::value* literal = obj.if_contains(literal_key);
  const json::value* path_v = lang == Language::JsonPath ? obj.if_contains(path_key) : nullptr;
  if (literal && path_v) {
    error(base, "The fields '" + std::string(literal_key) + "' and '" + std::string(path_key) +
                    "' cannot both be set");
  }
  if (literal && lang == Language::Jsonata && is_jsonata_expression(*literal)) {
    out.expression = query_expression(*literal, base, literal_key);
  } else if (literal) {
    out.literal = number(*literal, base, literal_key, rule);
  }
  if (path_v) out.path = path(*path_v, base, path_key);
  return out;
}

std::optional<JsonPath> Parser::path(const json::value& v, const std::string& base,
                                     std::string_view field) {
  if (!v.is_string()) {
    type_error(base, field, "a string", v);
    return std::nullopt;
  }
  std::string why;
  std::optional<JsonPath> p = cache_.path(v.get_string(), &why);
  if (!p) {
    error(child(base, field), "The value for the field '" + std::string(field) +
                                  "' must be a valid JSONPath" + (why.empty() ? "" : ": " + why));
  }
  return p;
}

PathSpec Parser::path_spec(const json::value& v, const std::string& base, std::string_view field) {
  PathSpec spec;
  if (v.is_null()) {
    spec.kind = PathSpec::Kind::Empty;
  } else if (auto p = path(v, base, field)) {
    spec.kind = PathSpec::Kind::Path;
    spec.path = std::move(p);
  }
  return spec;
}

ResultPathSpec Parser::result_path_spec(const json::value& v, const std::string& base) {
  ResultPathSpec spec;
  if (v.is_null()) {
    spec.kind = ResultPathSpec::Kind::Discard;
    return spec;
  }
  std::optional<JsonPath> p = path(v, base, "ResultPath");
  if (!p) return spec;
  // ResultPath writes into the state's input: only names and indices can say where.
  if (p->is_context() || p->is_variable() || !p->is_reference()) {
    error(child(base, "ResultPath"),
          "The value for the field 'ResultPath' must be a valid ReferencePath (names and indices "
          "under '$' only)");
    return spec;
  }
  spec.kind = ResultPathSpec::Kind::Path;
  spec.path = std::move(p);
  return spec;
}

std::optional<PayloadTemplate> Parser::payload(const json::value& v, const std::string& base,
                                               std::string_view field) {
  return PayloadTemplate::compile(v, child(base, field), diags_, &cache_);
}

std::optional<QueryTemplate> Parser::query(const json::value& v, const std::string& base,
                                           std::string_view field) {
  return QueryTemplate::compile(v, child(base, field), diags_);
}

std::optional<QueryExpression> Parser::query_expression(const json::value& v, const std::string& base,
                                                        std::string_view field) {
  if (!is_jsonata_expression(v)) {
    error(child(base, field), "The value of the field '" + std::string(field) +
                                  "' must be a JSONata expression ({% ... %})");
    return std::nullopt;
  }
  std::string why;
  auto e = QueryExpression::compile(v.get_string(), &why);
  if (!e) error(child(base, field), "The JSONata expression is not valid: " + why);
  return e;
}

namespace {

// Variable names: a letter or underscore, then letters, digits and underscores.
bool valid_variable_name(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  auto start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  if (!start(name[0])) return false;
  for (char c : name)
    if (!start(c) && !std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

std::optional<AssignSpec> Parser::parse_assign(const json::value& v, const std::string& base, Language lang) {
  if (!v.is_object()) {
    type_error(base, "Assign", "an object", v);
    return std::nullopt;
  }
  const std::string ptr = child(base, "Assign");
  bool ok = true;
  for (const auto& kv : v.get_object()) {
    std::string_view name = kv.key();
    if (lang == Language::JsonPath && name.size() > 2 && name.ends_with(".$")) name.remove_suffix(2);
    if (!valid_variable_name(name)) {
      error(child(ptr, kv.key()), "The variable name '" + std::string(name) +
                                      "' is not valid: it must start with a letter or '_' and contain only "
                                      "letters, digits and '_'");
      ok = false;
    } else if (name == "states") {
      error(child(ptr, kv.key()), "The variable name 'states' is reserved");
      ok = false;
    }
  }
  AssignSpec spec;
  if (lang == Language::JsonPath) {
    spec.path = payload(v, base, "Assign");
    if (!spec.path) ok = false;
  } else {
    spec.query = query(v, base, "Assign");
    if (!spec.query) ok = false;
  }
  if (!ok) return std::nullopt;
  return spec;
}

// --- Retry and Catch ---------------------------------------------------------

std::vector<std::string> Parser::parse_error_equals(const json::object& obj, const std::string& ptr,
                                                    bool* has_all) {
  std::vector<std::string> errors;
  *has_all = false;
  const json::value* v = obj.if_contains("ErrorEquals");
  if (!v) {
    required(ptr, "ErrorEquals");
    return errors;
  }
  if (!v->is_array()) {
    type_error(ptr, "ErrorEquals", "an array of strings", *v);
    return errors;
  }
  const json::array& names = v->get_array();
  std::string list_ptr = child(ptr, "ErrorEquals");
  if (names.empty()) error(list_ptr, "The field 'ErrorEquals' must not be empty");
  errors.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!names[i].is_string()) {
      error(child(list_ptr, i),
            std::string("An error name must be a string, not ") + json_type_name(names[i]));
      continue;
    }
    errors.emplace_back(names[i].get_string());
    if (errors.back() == "States.ALL") *has_all = true;
  }
  if (*has_all && names.size() > 1) {
    error(list_ptr, "'States.ALL' must appear alone in 'ErrorEquals'");
  }
  return errors;
}

namespace {

bool one_of(std::string_view key, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys)
    if (k == key) return true;
  return false;
}

}  // namespace

std::vector<Retrier> Parser::parse_retry(const json::value& v, const std::string& base) {
  std::vector<Retrier> out;
  if (!v.is_array()) {
    type_error(base, "Retry", "an array", v);
    return out;
  }
  const json::array& list = v.get_array();
  std::string list_ptr = child(base, "Retry");
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string ptr = child(list_ptr, i);
    if (!list[i].is_object()) {
      error(ptr, std::string("A retrier must be an object, not ") + json_type_name(list[i]));
      continue;
    }
    const json::object& obj = list[i].get_object();
    for (const auto& kv : obj) {
      if (!one_of(kv.key(), {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                             "MaxDelaySeconds", "JitterStrategy", "Comment"})) {
        error(child(ptr, kv.key()),
              "The field '" + std::string(kv.key()) + "' is not supported in a retrier");
      }
    }
    Retrier r;
    bool has_all = false;
    r.errors = parse_error_equals(obj, ptr, &has_all);
    if (has_all && i + 1 < list.size()) {
      error(child(ptr, "ErrorEquals"),
            "A retrier with 'States.ALL' must be the last retrier in 'Retry'");
    }
    if (const json::value* x = obj.if_contains("IntervalSeconds")) {
      if (auto n = number(*x, ptr, "IntervalSeconds", NumberRule::PositiveInteger))
        r.interval_seconds = *n;
    }
    if (const json::value* x = obj.if_contains("MaxAttempts")) {
      if (auto n = number(*x, ptr, "MaxAttempts", NumberRule::NonNegativeInteger))
        r.max_attempts = static_cast<int>(*n);
    }
    if (const json::value* x = obj.if_contains("BackoffRate")) {
      if (auto n = number(*x, ptr, "BackoffRate", NumberRule::AtLeastOne)) r.backoff_rate = *n;
    }
    if (const json::value* x = obj.if_contains("MaxDelaySeconds")) {
      if (auto n = number(*x, ptr, "MaxDelaySeconds", NumberRule::PositiveInteger)) {
        if (*n >= 31622401) {
          error(child(ptr, "MaxDelaySeconds"),
                "The value of the field 'MaxDelaySeconds' must be less than 31622401");
        } else {
          r.max_delay_seconds = *n;
        }
      }
    }
    if (const json::string* s = string_field(obj, "JitterStrategy", ptr)) {
      if (*s == "FULL") {
        r.jitter = Jitter::Full;
      } else if (*s == "NONE") {
        r.jitter = Jitter::None;
      } else {
        error(child(ptr, "JitterStrategy"),
              "The value of the field 'JitterStrategy' must be one of [FULL, NONE]");
      }
    }
    optional_string(obj, "Comment", ptr);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Catcher> Parser::parse_catch(const json::value& v, const std::string& base,
                                         Language lang, StateIndex from,
                                         std::vector<Target>& targets) {
  std::vector<Catcher> out;
  if (!v.is_array()) {
    type_error(base, "Catch", "an array", v);
    return out;
  }
  const json::array& list = v.get_array();
  std::string list_ptr = child(base, "Catch");
  // Targets keep pointers to Catcher::next: no reallocation after this.
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string ptr = child(list_ptr, i);
    if (!list[i].is_object()) {
      error(ptr, std::string("A catcher must be an object, not ") + json_type_name(list[i]));
      ++unknown_transitions_;
      continue;
    }
    const json::object& obj = list[i].get_object();
    for (const auto& kv : obj) {
      std::string_view key = kv.key();
      if (one_of(key, {"ErrorEquals", "Next", "Comment"})) continue;
      if (key == "Assign") continue;
      if (lang == Language::JsonPath && key == "ResultPath") continue;
      if (lang == Language::Jsonata && key == "Output") continue;
      error(child(ptr, key), "The field '" + std::string(key) + "' is not supported in a catcher" +
                                 (lang == Language::Jsonata ? " using JSONata" : " using JSONPath"));
    }
    Catcher& c = out.emplace_back();
    bool has_all = false;
    c.errors = parse_error_equals(obj, ptr, &has_all);
    if (has_all && i + 1 < list.size()) {
      error(child(ptr, "ErrorEquals"),
            "A catcher with 'States.ALL' must be the last catcher in 'Catch'");
    }
    if (lang == Language::JsonPath) {
      if (const json::value* rp = obj.if_contains("ResultPath")) {
        c.result_path = result_path_spec(*rp, ptr);
      }
    } else if (const json::value* o = obj.if_contains("Output")) {
      c.output = query(*o, ptr, "Output");
    }
    if (const json::value* a = obj.if_contains("Assign")) c.assign = parse_assign(*a, ptr, lang);
    if (const json::value* next = obj.if_contains("Next")) {
      if (next->is_string()) {
        c.next_name = std::string(next->get_string());
        targets.push_back(Target{from, &c.next, next->get_string(), child(ptr, "Next"), "Next"});
      } else {
        type_error(ptr, "Next", "a string", *next);
        ++unknown_transitions_;
      }
    } else {
      required(ptr, "Next");
    }
    optional_string(obj, "Comment", ptr);
  }
  return out;
}

}  // namespace stepwise::states::parse_detail
