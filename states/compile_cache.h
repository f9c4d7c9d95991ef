// Paths and intrinsic calls compiled once per distinct text while one
// definition is parsed. Definitions repeat the same expressions across many
// states ("$.detail", "$$.Map.Item.Value", "States.MathAdd($.i, 1)"); sharing
// one compiled (immutable) object per text makes parsing cheaper and keeps
// the data a running state machine reads small, so it stays in cache.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "states/intrinsics.h"
#include "states/jsonpath.h"

namespace stepwise::states {

// Not thread-safe; meant to live for one parse.
class CompileCache {
 public:
  // Same results as JsonPath::parse / Intrinsic::parse; texts that fail to
  // parse are not remembered (their error is only needed once).
  std::optional<JsonPath> path(std::string_view text, std::string* error = nullptr);
  std::optional<Intrinsic> intrinsic(std::string_view text, std::string* error = nullptr);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, JsonPath, Hash, std::equal_to<>> paths_;
  std::unordered_map<std::string, Intrinsic, Hash, std::equal_to<>> intrinsics_;
};

}  // namespace stepwise::states
