// JSONata 2.0.6, natively: compile an expression once, evaluate it many times.
//
//   auto compiled = jsonata::compile("Account.Order.Product.(Price * Quantity)");
//   if (!compiled) report(compiled.error());          // code "S0202", position, token
//   auto out = compiled->evaluate(&input, {{"x", 1}});
//   if (!out) report(out.error());                    // code "T2001", ...
//   else if (*out) use(**out);                        // nullopt: no value ("undefined")
//
// Values are Boost.JSON values; objects keep insertion order. Errors carry the
// JSONata error code (S0xxx syntax, T0xxx/T1xxx/T2xxx type, D1xxx-D3xxx
// dynamic, U1001 runaway) as jsonata-js reports them, with the position (a
// character offset one past the failing token, as jsonata-js counts) and the
// token where one applies. Evaluation never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "states/json.h"
#include "states/scope.h"

namespace stepwise::jsonata {

struct Error {
  std::string code;     // e.g. "S0202", "T2001", "D3030", "U1001"
  std::string message;  // human-readable, jsonata-js's wording where known
  std::optional<std::size_t> position;
  std::optional<std::string> token;
  std::optional<json::value> value;  // the offending value, when the error names one
  // "code: message (at position N, token 'T')".
  std::string describe() const;
};

// A value or an Error.
template <class T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Outcome(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Guards and environment of one evaluation. Like the rest of states/, the engine
// reads no clock itself: time comes from the caller.
struct EvalOptions {
  // Maximum nesting of expression evaluations; deeper fails with U1001. 0: no limit
  // beyond the built-in safety limit (which also fails with U1001, never crashes).
  int max_depth = 0;
  // Budget of one evaluation, measured on `clock`; exceeding it fails with U1001.
  // 0, or no clock: no time limit.
  std::chrono::milliseconds time_limit{0};
  // Milliseconds on a monotonic clock (stepwise's engine passes its Clock), read
  // every few hundred evaluation steps while a time limit is set.
  std::function<std::int64_t()> clock;
  // "Now" for $now() and $millis() (and the defaults of $toMillis pictures), in
  // milliseconds since the epoch; the same value throughout one evaluation.
  std::int64_t now_millis = 0;
  // Randomness for $random() and $shuffle(); without one they fail with D3137
  // ("No random source is available").
  states::RandomSource* random = nullptr;
  // When set, receives whether the result is a function (which the result
  // itself writes as "").
  bool* result_is_function = nullptr;
};

namespace detail {
struct Program;
}

// An immutable compiled expression; cheap to copy and safe to evaluate from several
// threads at once.
class Expression {
 public:
  // Evaluates against `input` (nullptr: no input at all, which differs from JSON null)
  // with `bindings` bound as variables ($name). The result is nullopt when the
  // expression yields no value. Functions in the result are written as "".
  Outcome<std::optional<json::value>> evaluate(const json::value* input, const json::object& bindings = {},
                                               const EvalOptions& options = {}) const;

  explicit Expression(std::shared_ptr<const detail::Program> program) : program_(std::move(program)) {}

 private:
  std::shared_ptr<const detail::Program> program_;
};

// Parses `text` into an Expression, or the syntax error (S0xxx) with its position.
Outcome<Expression> compile(std::string_view text);

// JavaScript's Number-to-String conversion as JSONata applies it when it turns a number
// into text: rounded to 15 significant digits, then the shortest form ("1e+21", "1e-7",
// "0.000001", "3.14285714285714").
std::string format_number(double value);

}  // namespace stepwise::jsonata
