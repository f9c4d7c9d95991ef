// What an expression may read while it is evaluated: the state's input, the
// context object ($$) and, later, workflow variables. Randomness (States.UUID,
// States.MathRandom) comes from an injected source so that states/ stays pure.
#pragma once

#include <cstdint>
#include <string_view>

#include "states/json.h"

namespace stepwise::states {

// A source of random 64-bit words. The engine injects one; tests make it
// deterministic.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual std::uint64_t next_u64() = 0;
};

// Workflow variables visible to a state: its own scope, then the enclosing
// ones (a Parallel branch or Map iteration reads the state machine around it).
class VariableLookup {
 public:
  virtual ~VariableLookup() = default;
  // The variable's value, or nullptr when no visible scope has it.
  virtual const json::value* find(std::string_view name) const = 0;
};

struct Scope {
  const json::value& input;
  const json::value& context;  // the context object, read by paths starting "$$"
  RandomSource* random = nullptr;
  const VariableLookup* vars = nullptr;  // read by paths starting "$name"
};

// The value a path starts from: the context object for "$$...", the named
// variable for "$name..." (nullptr when no visible scope has it), else the input.
inline const json::value* path_root(bool context, bool variable, std::string_view name, const Scope& scope) {
  if (context) return &scope.context;
  if (variable) return scope.vars ? scope.vars->find(name) : nullptr;
  return &scope.input;
}

}  // namespace stepwise::states
