// Choice rules: every comparison operator and its ...Path variant, Is...
// type tests, StringMatches, And/Or/Not.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "states/compile_cache.h"
#include "states/failure.h"
#include "states/json.h"
#include "states/scope.h"

namespace stepwise::states {

class ChoiceRule {
 public:
  // Compiles one rule. `top_level` rules carry "Next" (and may carry
  // "Assign"); nested rules (inside And/Or/Not) must not. "Comment" is allowed
  // anywhere. Problems go to diags with JSON pointers below `pointer` (every
  // problem, not just the first); returns nullopt if any. Next and Assign are
  // not read here: the definition parser handles them. With a cache, paths
  // already compiled from the same text are shared.
  static std::optional<ChoiceRule> compile(const json::value& rule, const std::string& pointer,
                                           bool top_level, Diagnostics& diags,
                                           CompileCache* cache = nullptr);

  // Evaluates against the state's input (and "$$" context). Type mismatches
  // make a comparison false (StringEquals on a number, a Timestamp comparison
  // on a non-timestamp string, ...). A Variable or ...Path operand that
  // matches nothing is, as in AWS, a States.Runtime failure ("Invalid path
  // '$.x': The choice state's condition path references an invalid value.");
  // only IsPresent tests for it. And/Or stop at the first deciding rule.
  // Allocation-free unless it fails.
  Result<bool> evaluate(const Scope& scope) const;

  struct Impl;
  ChoiceRule(const ChoiceRule&);
  ChoiceRule(ChoiceRule&&) noexcept;
  ChoiceRule& operator=(const ChoiceRule&);
  ChoiceRule& operator=(ChoiceRule&&) noexcept;
  ~ChoiceRule();

 private:
  explicit ChoiceRule(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace stepwise::states
