#include "states/compile_cache.h"

namespace stepwise::states {

std::optional<JsonPath> CompileCache::path(std::string_view text, std::string* error) {
  if (auto it = paths_.find(text); it != paths_.end()) return it->second;
  auto parsed = JsonPath::parse(text, error);
  if (parsed) paths_.emplace(std::string(text), *parsed);
  return parsed;
}

std::optional<Intrinsic> CompileCache::intrinsic(std::string_view text, std::string* error) {
  if (auto it = intrinsics_.find(text); it != intrinsics_.end()) return it->second;
  auto parsed = Intrinsic::parse(text, error);
  if (parsed) intrinsics_.emplace(std::string(text), *parsed);
  return parsed;
}

}  // namespace stepwise::states
