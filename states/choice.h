// Choice rules: every comparison operator and its ...Path variant, Is...
// type tests, StringMatches, And/Or/Not.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "states/failure.h"
#include "states/json.h"
#include "states/scope.h"

namespace stepwise::states {

class ChoiceRule {
 public:
  // Compiles one rule. `top_level` rules carry "Next"; nested rules (inside
  // And/Or/Not) must not. Problems go to diags with JSON pointers below
  // `pointer`; returns nullopt if any. The Next field is not resolved here.
  static std::optional<ChoiceRule> compile(const json::value& rule, const std::string& pointer,
                                           bool top_level, Diagnostics& diags);

  // Evaluates against the state's input (and "$$" context). A Variable that
  // matches nothing makes comparisons false (IsPresent tests it); failures are
  // AWS's (States.Runtime for an invalid path value where AWS raises it).
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
