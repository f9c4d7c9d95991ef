// Payload templates: Parameters, ResultSelector, ItemSelector. A JSON object
// whose keys ending in ".$" take their value from a path (input or "$$"
// context) or an intrinsic function; other values are copied as they are,
// recursively through nested objects and arrays.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "states/compile_cache.h"
#include "states/failure.h"
#include "states/json.h"
#include "states/scope.h"

namespace stepwise::states {

class PayloadTemplate {
 public:
  // Compiles spec (found at JSON pointer `pointer` in the definition). Every
  // problem (a ".$" value that is not a string, an invalid path or intrinsic)
  // is appended to diags with its own pointer; returns nullopt if any.
  // With a cache, paths and calls already compiled from the same text are
  // shared rather than compiled again.
  static std::optional<PayloadTemplate> compile(const json::value& spec, const std::string& pointer,
                                                Diagnostics& diags, CompileCache* cache = nullptr);

  // Builds the payload. A path that matches nothing fails with States.Runtime:
  // "The JSONPath '$.x' specified for the field 'k.$' could not be found in the input '<input>'"
  // (in_state set, so the engine adds the state prefix).
  Result<json::value> evaluate(const Scope& scope) const;

  struct Impl;
  PayloadTemplate(const PayloadTemplate&);
  PayloadTemplate(PayloadTemplate&&) noexcept;
  PayloadTemplate& operator=(const PayloadTemplate&);
  PayloadTemplate& operator=(PayloadTemplate&&) noexcept;
  ~PayloadTemplate();

 private:
  explicit PayloadTemplate(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace stepwise::states
