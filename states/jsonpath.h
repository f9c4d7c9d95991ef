// JSONPath as ASL uses it (the Jayway dialect AWS runs): "$" or "$$" followed by
// .name, ['name'], [n], [-n], [*], .*, [a:b], [a,b], ..name and [?(@.x op v)] filters.
//
// A Reference Path (ASL spec: only names and indices, always one value) is what
// InputPath/OutputPath/ResultPath, Variable and the ...Path fields accept where
// the spec requires it; is_reference() tells.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "states/json.h"

namespace stepwise::states {

class JsonPath {
 public:
  // Parses text. On a syntax error returns nullopt and, if error is set,
  // a message naming the problem.
  static std::optional<JsonPath> parse(std::string_view text, std::string* error = nullptr);

  const std::string& text() const;
  bool is_context() const;    // starts with "$$": reads the context object
  bool is_root() const;       // exactly "$" (or "$$")
  bool is_reference() const;  // names and non-negative indices only
  bool is_definite() const;   // no wildcard, slice, union, filter or deep scan

  // Evaluates against root. A definite path yields the single value it
  // names; an indefinite one yields an array of every match (possibly empty).
  // When a definite path names nothing, returns nullopt and sets *miss to
  // Jayway's message, e.g. "No results for path: $['x']" or
  // "Missing property in path $['a']".
  std::optional<json::value> select(const json::value& root, std::string* miss = nullptr) const;

  // For definite paths: a pointer into root, or nullptr when nothing matches.
  const json::value* find(const json::value& root) const;

  // ResultPath semantics: stores v at this (reference) path inside root,
  // creating missing objects on the way. "$" replaces root. Returns false and
  // sets *error when an intermediate value is not an object/array that can
  // hold the step (AWS raises States.ResultPathMatchFailure for that).
  bool assign(json::value& root, json::value v, std::string* error = nullptr) const;

  // Internal representation; opaque outside jsonpath.cpp.
  struct Impl;
  JsonPath(const JsonPath&);
  JsonPath(JsonPath&&) noexcept;
  JsonPath& operator=(const JsonPath&);
  JsonPath& operator=(JsonPath&&) noexcept;
  ~JsonPath();

 private:
  explicit JsonPath(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace stepwise::states
