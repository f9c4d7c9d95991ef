// Deterministic randomness and hashing for identifiers and values that must
// come out the same wherever (and however often) they are computed: child
// execution names, map run ARNs, an ItemSelector's numbers per item.
#pragma once

#include <cstdint>
#include <string_view>

#include "states/scope.h"

namespace stepwise {

// splitmix64's finalizer: spreads the bits of z.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// FNV-1a, 64 bits.
inline std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 0xCBF29CE484222325ULL) {
  for (unsigned char c : text) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

// A random source fixed by a seed (splitmix64).
class SeededRandom final : public states::RandomSource {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() override { return mix64(state_ += 0x9E3779B97F4A7C15ULL); }

 private:
  std::uint64_t state_;
};

}  // namespace stepwise
