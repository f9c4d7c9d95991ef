// The 18 intrinsic functions of ASL (States.Format, States.StringToJson, ...,
// States.UUID), parsed once and evaluated per state.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "states/failure.h"
#include "states/json.h"
#include "states/scope.h"

namespace stepwise::states {

class Intrinsic {
 public:
  // True when text looks like an intrinsic call ("States.Name(...)"), so a
  // "k.$" value is parsed as one rather than as a path.
  static bool looks_like_call(std::string_view text);

  // Parses a call with nested calls, string literals ('...' with \' \{ \} \\ escapes),
  // numbers, booleans, null and JSONPath arguments. Checks function names and
  // argument counts where they are fixed. On error returns nullopt and sets *error.
  static std::optional<Intrinsic> parse(std::string_view text, std::string* error = nullptr);

  const std::string& text() const;

  // Evaluates with AWS's results; failures are States.IntrinsicFailure (or
  // States.Runtime where AWS raises that) with AWS's messages. `field` is the
  // payload key holding the call ("k.$"), named in the States.Runtime failure
  // raised when a path argument selects nothing.
  Result<json::value> evaluate(const Scope& scope, std::string_view field = {}) const;

  struct Impl;
  Intrinsic(const Intrinsic&);
  Intrinsic(Intrinsic&&) noexcept;
  Intrinsic& operator=(const Intrinsic&);
  Intrinsic& operator=(Intrinsic&&) noexcept;
  ~Intrinsic();

 private:
  explicit Intrinsic(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace stepwise::states
