// What an expression may read while it is evaluated: the state's input, the
// context object ($$) and, later, workflow variables. Randomness (States.UUID,
// States.MathRandom) comes from an injected source so that states/ stays pure.
#pragma once

#include <cstdint>

#include "states/json.h"

namespace stepwise::states {

// A source of random 64-bit words. The engine injects one; tests make it
// deterministic.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual std::uint64_t next_u64() = 0;
};

struct Scope {
  const json::value& input;
  const json::value& context;  // the context object, read by paths starting "$$"
  RandomSource* random = nullptr;
};

}  // namespace stepwise::states
