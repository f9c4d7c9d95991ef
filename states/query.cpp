// JSONata templates: compiled at parse time, evaluated with $states and the
// workflow variables bound.
#include "states/query.h"

#include <algorithm>

namespace stepwise::states {
namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The $names an expression mentions, so that an evaluation binds only those
// (converting every variable for every expression would cost as much as the
// expression). Over-approximates: a "$x" inside a string literal counts too.
std::vector<std::string> mentioned_names(std::string_view text, bool* uses_context) {
  std::vector<std::string> names;
  *uses_context = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size() || !is_name_start(text[i + 1])) continue;
    std::size_t j = i + 1;
    while (j < text.size() && is_name_char(text[j])) ++j;
    std::string name(text.substr(i + 1, j - i - 1));
    if (name == "states") {
      // $states.input, .result and .errorOutput need no context object.
      std::string_view rest = text.substr(j);
      if (!(rest.starts_with(".input") || rest.starts_with(".result") || rest.starts_with(".errorOutput")))
        *uses_context = true;
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
    i = j - 1;
  }
  return names;
}

}  // namespace

Failure query_failure(std::string message) {
  return Failure{"States.QueryEvaluationError", std::move(message), true};
}

bool is_query_expression(const json::value& v) {
  if (!v.is_string()) return false;
  std::string_view s = v.get_string();
  return s.size() >= 4 && s.starts_with("{%") && s.ends_with("%}");
}

std::optional<QueryExpression> QueryExpression::compile(std::string_view braced, std::string* error) {
  std::string_view inner = braced;
  if (inner.starts_with("{%")) inner.remove_prefix(2);
  if (inner.ends_with("%}")) inner.remove_suffix(2);
  inner = trim(inner);
  auto compiled = jsonata::compile(inner);
  if (!compiled) {
    if (error) *error = compiled.error().describe();
    return std::nullopt;
  }
  auto impl = std::make_shared<Impl>(Impl{std::string(inner), std::move(*compiled), {}, false});
  impl->names = mentioned_names(inner, &impl->uses_context);
  return QueryExpression(std::move(impl));
}

Result<std::optional<json::value>> QueryExpression::evaluate_optional(const QueryInputs& in,
                                                                      std::string_view field) const {
  json::object bindings;
  for (const std::string& name : impl_->names) {
    if (name == "states") {
      json::object st;
      if (in.input) st["input"] = *in.input;
      if (in.result) st["result"] = *in.result;
      if (in.error_output) st["errorOutput"] = *in.error_output;
      if (in.context) st["context"] = *in.context;
      bindings["states"] = std::move(st);
    } else if (in.vars) {
      if (const json::value* v = in.vars->find(name)) bindings[name] = *v;
    }
  }
  jsonata::EvalOptions options;
  options.random = in.random;
  options.now_millis = in.now_millis;
  bool function = false;
  options.result_is_function = &function;
  // In ASL the context item "$" is the state input, as $states.input.
  auto out = impl_->expression.evaluate(in.input, bindings, options);
  if (!out) {
    const jsonata::Error& e = out.error();
    return query_failure("The JSONata expression '" + impl_->text + "' specified for the field '" +
                         std::string(field) + "' threw an error during evaluation. " + e.code + ": " +
                         e.message);
  }
  if (function)
    return query_failure("The JSONata expression '" + impl_->text + "' specified for the field '" +
                         std::string(field) + "' returned an unsupported result type.");
  return std::move(*out);
}

Result<json::value> QueryExpression::evaluate(const QueryInputs& in, std::string_view field) const {
  auto v = evaluate_optional(in, field);
  if (!v) return v.failure();
  if (!*v)
    return query_failure("The JSONata expression '" + impl_->text + "' specified for the field '" +
                         std::string(field) + "' returned nothing (undefined).");
  return std::move(**v);
}

// ---- templates ----------------------------------------------------------------

struct QueryTemplate::Node {
  enum class Kind : std::uint8_t { Literal, Expression, Object, Array } kind = Kind::Literal;
  json::value literal;                                   // Literal
  std::optional<QueryExpression> expression;             // Expression
  std::vector<std::pair<std::string, Node>> members;     // Object (keys) / Array (keys empty)
};

namespace {

using Node = QueryTemplate::Node;

bool has_expression(const json::value& v) {
  if (is_query_expression(v)) return true;
  if (v.is_object()) {
    for (const auto& kv : v.get_object())
      if (has_expression(kv.value())) return true;
  } else if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (has_expression(e)) return true;
  }
  return false;
}

std::string pointer_child(const std::string& base, std::string_view token) {
  std::string out = base + "/";
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

bool build(const json::value& v, const std::string& pointer, Diagnostics& diags, Node& out) {
  if (!has_expression(v)) {
    out.kind = Node::Kind::Literal;
    out.literal = v;
    return true;
  }
  if (v.is_string()) {
    std::string error;
    auto e = QueryExpression::compile(v.get_string(), &error);
    if (!e) {
      diags.push_back(Diagnostic{pointer, "The JSONata expression is not valid: " + error, "SCHEMA_VALIDATION_FAILED"});
      return false;
    }
    out.kind = Node::Kind::Expression;
    out.expression = std::move(e);
    return true;
  }
  bool ok = true;
  if (v.is_object()) {
    out.kind = Node::Kind::Object;
    for (const auto& kv : v.get_object()) {
      Node child;
      ok = build(kv.value(), pointer_child(pointer, kv.key()), diags, child) && ok;
      out.members.emplace_back(std::string(kv.key()), std::move(child));
    }
  } else {
    out.kind = Node::Kind::Array;
    const auto& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      Node child;
      ok = build(a[i], pointer + "/" + std::to_string(i), diags, child) && ok;
      out.members.emplace_back(std::string(), std::move(child));
    }
  }
  return ok;
}

Result<json::value> eval_node(const Node& n, const QueryInputs& in, std::string& field) {
  switch (n.kind) {
    case Node::Kind::Literal: return n.literal;
    case Node::Kind::Expression: return n.expression->evaluate(in, field);
    case Node::Kind::Object: {
      json::object o;
      o.reserve(n.members.size());
      for (const auto& [key, child] : n.members) {
        const std::size_t len = field.size();
        field += '/';
        field += key;
        auto v = eval_node(child, in, field);
        field.resize(len);
        if (!v) return v.failure();
        o[key] = std::move(*v);
      }
      return json::value(std::move(o));
    }
    case Node::Kind::Array: {
      json::array a;
      a.reserve(n.members.size());
      for (std::size_t i = 0; i < n.members.size(); ++i) {
        const std::size_t len = field.size();
        field += '/';
        field += std::to_string(i);
        auto v = eval_node(n.members[i].second, in, field);
        field.resize(len);
        if (!v) return v.failure();
        a.push_back(std::move(*v));
      }
      return json::value(std::move(a));
    }
  }
  return json::value();
}

}  // namespace

std::optional<QueryTemplate> QueryTemplate::compile(const json::value& spec, const std::string& pointer,
                                                    Diagnostics& diags) {
  auto root = std::make_shared<Node>();
  if (!build(spec, pointer, diags, *root)) return std::nullopt;
  return QueryTemplate(std::move(root));
}

Result<json::value> QueryTemplate::evaluate(const QueryInputs& in, std::string_view field) const {
  std::string f(field);
  return eval_node(*root_, in, f);
}

const QueryExpression* QueryTemplate::expression() const {
  return root_->kind == Node::Kind::Expression ? &*root_->expression : nullptr;
}

bool QueryTemplate::literal() const { return root_->kind == Node::Kind::Literal; }

QueryTemplate::QueryTemplate(const QueryTemplate&) = default;
QueryTemplate::QueryTemplate(QueryTemplate&&) noexcept = default;
QueryTemplate& QueryTemplate::operator=(const QueryTemplate&) = default;
QueryTemplate& QueryTemplate::operator=(QueryTemplate&&) noexcept = default;
QueryTemplate::~QueryTemplate() = default;

}  // namespace stepwise::states
