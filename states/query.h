// JSONata inside ASL: the values of a JSONata state's fields (Output,
// Arguments, Assign, Condition, Items, ...). A string "{% expr %}" is a JSONata
// expression; any other value is a literal, and objects and arrays are walked
// so that expressions nested in them are evaluated too. Every expression is
// compiled once, when the definition is parsed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "states/failure.h"
#include "states/json.h"
#include "states/jsonata/jsonata.h"
#include "states/scope.h"

namespace stepwise::states {

// What a JSONata expression of a state can read: the reserved $states
// variable (each member present when set) and the workflow variables.
struct QueryInputs {
  const json::value* input = nullptr;         // $states.input
  const json::value* result = nullptr;        // $states.result
  const json::value* error_output = nullptr;  // $states.errorOutput (in a Catch)
  const json::value* context = nullptr;       // $states.context
  const VariableLookup* vars = nullptr;
  RandomSource* random = nullptr;
  std::int64_t now_millis = 0;  // $now(), $millis()
};

// True for a string of the form "{% ... %}".
bool is_query_expression(const json::value& v);

// One "{% expr %}" expression.
class QueryExpression {
 public:
  // Compiles the text between "{%" and "%}". On a syntax error returns nullopt
  // and sets *error to "<code>: <message> (at position N...)".
  static std::optional<QueryExpression> compile(std::string_view braced, std::string* error = nullptr);

  const std::string& text() const { return impl_->text; }  // the expression, trimmed
  // Evaluates; an error or an undefined result is States.QueryEvaluationError
  // with AWS's message naming `field` ("Output/result", "Items", ...).
  Result<json::value> evaluate(const QueryInputs& in, std::string_view field) const;
  // As evaluate, but an undefined result is nullopt rather than a failure.
  Result<std::optional<json::value>> evaluate_optional(const QueryInputs& in, std::string_view field) const;

  struct Impl {
    std::string text;
    jsonata::Expression expression;
    std::vector<std::string> names;  // $names the text mentions (variables, "states")
    bool uses_context = false;       // mentions $states other than as $states.input/result/errorOutput
  };

 private:
  explicit QueryExpression(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// A field value with expressions inside.
class QueryTemplate {
 public:
  // Compiles spec found at `pointer`; syntax errors are appended to diags with
  // their pointer and position. Returns nullopt if any.
  static std::optional<QueryTemplate> compile(const json::value& spec, const std::string& pointer,
                                              Diagnostics& diags);

  // Evaluates. `field` names the field in messages ("Output"); members add
  // their keys ("Output/result").
  Result<json::value> evaluate(const QueryInputs& in, std::string_view field) const;

  // The whole value is one expression (nullptr otherwise).
  const QueryExpression* expression() const;
  // The template has no expression at all.
  bool literal() const;

  struct Node;
  QueryTemplate(const QueryTemplate&);
  QueryTemplate(QueryTemplate&&) noexcept;
  QueryTemplate& operator=(const QueryTemplate&);
  QueryTemplate& operator=(QueryTemplate&&) noexcept;
  ~QueryTemplate();

 private:
  explicit QueryTemplate(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

// States.QueryEvaluationError with `message` (in_state: the engine adds the state prefix).
Failure query_failure(std::string message);

}  // namespace stepwise::states
