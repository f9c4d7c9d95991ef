// Errors that flow through an execution (ASL "errors": a name and a cause), and
// diagnostics that parsing a definition reports.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace stepwise {

// An ASL runtime error: Error is the error name matched by Retry/Catch
// (e.g. "States.Runtime"), Cause is human-readable text.
struct Failure {
  std::string error;
  std::string cause;
  // True when the cause must be prefixed, by the engine, with
  // "An error occurred while executing the state 'S' (entered at the event id #N). "
  // as AWS does for the errors the interpreter itself raises (States.Runtime, ...).
  bool in_state = false;
  // False when the error (or cause) is absent, as when a task fails without
  // naming one; Catch then writes null for it.
  bool has_error = true;
  bool has_cause = true;
};

inline Failure runtime_failure(std::string cause) {
  return Failure{"States.Runtime", std::move(cause), true};
}

// A value or an ASL Failure.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Failure failure) : v_(std::move(failure)) {}  // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Failure& failure() { return std::get<1>(v_); }
  const Failure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<T, Failure> v_;
};

// One problem found in a definition: where (a JSON pointer into the
// definition, e.g. "/States/Check/Choices/0/Next") and what.
struct Diagnostic {
  std::string pointer;
  std::string message;
  // AWS's validation code where one applies (e.g. "SCHEMA_VALIDATION_FAILED",
  // "MISSING_TRANSITION_TARGET"); empty otherwise.
  std::string code = "SCHEMA_VALIDATION_FAILED";
};
using Diagnostics = std::vector<Diagnostic>;

}  // namespace stepwise
