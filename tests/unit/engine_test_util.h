// Helpers for engine tests: parse a definition from text, run it with virtual time.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "engine/engine.h"
#include "engine/mock.h"

namespace stepwise::testing {

inline std::shared_ptr<const states::Definition> parse_or_fail(const std::string& text) {
  auto r = states::parse_definition_text(text);
  if (!r.diagnostics.empty()) {
    for (const auto& d : r.diagnostics) MESSAGE(d.pointer << ": " << d.message);
  }
  REQUIRE(r.diagnostics.empty());
  return r.definition;
}

// A deterministic random source.
class CountingRandom final : public states::RandomSource {
 public:
  std::uint64_t next_u64() override { return state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL; }

 private:
  std::uint64_t state_ = 42;
};

// Virtual time on `clock` (a test that moves or reads it keeps it), a
// deterministic random source.
inline EngineOptions virtual_time_options(std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>()) {
  EngineOptions o;
  o.clock = std::move(clock);
  o.virtual_time = true;
  o.random = std::make_shared<CountingRandom>();
  return o;
}

}  // namespace stepwise::testing
