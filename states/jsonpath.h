// JSONPath as ASL uses it (the Jayway dialect AWS runs): "$" or "$$" followed by
// .name, ['name'], [n], [-n], [*], .*, [a:b], [a,b], ..name and [?(@.x op v)] filters.
//
// Filters support @ and $ paths made of names and indices, literals (numbers,
// 'strings', "strings", true, false, null), ==, !=, <, <=, >, >=, existence
// ([?(@.isbn)]), !, &&, || and parentheses. A missing operand compares unequal
// (so != holds and ordering fails), as in Jayway. Jayway functions (.length())
// and regex matching (=~) are not supported and are rejected by parse().
//
// Names in brackets are taken verbatim: a backslash only stops the next
// character from ending the name (AWS matches ['a\"b'] against the key a\"b).
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
  // a message naming the problem and its 0-based index in text, e.g.
  // "unclosed '[' at index 2" for "$.[".
  static std::optional<JsonPath> parse(std::string_view text, std::string* error = nullptr);

  const std::string& text() const;
  bool is_context() const;  // starts with "$$": reads the context object
  // "$name..." reads the workflow variable `name` (JSONPath states may use
  // variables wherever a path is allowed): evaluate it against the variable's
  // value. variable() is the name, empty for "$" and "$$" paths.
  bool is_variable() const;
  const std::string& variable() const;
  bool is_root() const;       // no steps: "$", "$$" or "$name"
  bool is_reference() const;  // names and non-negative indices only (any root)
  bool is_definite() const;   // no wildcard, slice, union, filter or deep scan

  // Jayway's canonical bracket form, used in AWS messages: "$['a']['b'][0]".
  // Other steps print as Jayway does: [*], ['a','b'], [0,1], [1:5], [?], and
  // ".." before a deep-scanned step. Context paths print with a single "$",
  // variable paths start with "$name".
  const std::string& canonical() const;

  // Evaluates against root. A definite path yields the single value it
  // names; an indefinite one yields an array of every match (possibly empty),
  // in document order, and never fails. Exception, as in Jayway: a trailing
  // name union (['a','b']) merges the named members that exist into one
  // object per match; after a definite prefix that object is the result.
  // When a definite path names nothing, returns nullopt and sets *miss to
  // Jayway's message (AWS prints it after "Invalid path '<text>' : "):
  //   "No results for path: $['a']['x']"   the last step is missing, or an
  //                                         index is out of range
  //   "Missing property in path $['a']"     a name before the last step is missing
  //   "The path $['a'] is null"             an index step applied to null
  //   "Filter: [0] can only be applied to arrays. Current context is: {...}"
  //   "Expected to find an object with property ['b'] in path $['a'] but found
  //    'java.lang.String'. This is not a json object according to the
  //    JsonProvider: '...'."                a name step applied to a non-object
  //                                         (Java class names are json-smart's,
  //                                         Jayway's default; AWS's are unknown)
  std::optional<json::value> select(const json::value& root, std::string* miss = nullptr) const;

  // For definite paths: a pointer into root, or nullptr when nothing matches
  // (or the path is not definite). Never allocates.
  const json::value* find(const json::value& root) const;

  // ResultPath semantics: stores v at this (reference) path inside root,
  // creating missing objects on the way (an existing member keeps its place).
  // "$" replaces root. An index step must name an existing array element.
  // Returns false, leaving root unchanged, and sets *error when a step cannot
  // be applied: a name on a non-object, an index on a non-array or out of
  // range, an index below a member that does not exist yet, or a path that is
  // not a reference path. The message is the cause AWS reports, with error
  // States.ReferencePathConflict (not the spec's States.ResultPathMatchFailure):
  //   Unable to apply ReferencePath $.a.b to input {"a":"x"}
  bool assign(json::value& root, json::value v, std::string* error = nullptr) const;

  // What undoes one assign(): the value it replaced, or the member it added.
  struct AssignUndo {
    std::size_t depth = 0;  // steps down to the member replaced (all of them) or added
    bool replaced = false;
    json::value old;  // the value replaced
  };
  // assign(), also filling `undo` (when it returns true) so that undo_assign
  // puts `root` back as it was, without copying it: the replaced value is
  // moved into `undo`. Valid as long as nothing else changed root meanwhile.
  bool assign(json::value& root, json::value v, AssignUndo& undo, std::string* error = nullptr) const;
  void undo_assign(json::value& root, AssignUndo&& undo) const;

  // Internal representation; opaque outside jsonpath.cpp.
  struct Impl;
  JsonPath(const JsonPath&);
  JsonPath(JsonPath&&) noexcept;
  JsonPath& operator=(const JsonPath&);
  JsonPath& operator=(JsonPath&&) noexcept;
  ~JsonPath();

 private:
  explicit JsonPath(std::shared_ptr<const Impl> impl);
  bool assign_impl(json::value& root, json::value v, AssignUndo* undo, std::string* error) const;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace stepwise::states
