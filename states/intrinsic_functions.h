// Internal to states/: the 18 intrinsic functions applied to already-evaluated
// arguments. intrinsics.cpp parses calls and evaluates their arguments; this
// part knows only JSON values, so it is testable without JSONPath.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "states/failure.h"
#include "states/json.h"
#include "states/scope.h"

namespace stepwise::states::intrinsics {

enum class Function {
  kFormat,
  kStringToJson,
  kJsonToString,
  kArray,
  kArrayPartition,
  kArrayContains,
  kArrayRange,
  kArrayGetItem,
  kArrayLength,
  kArrayUnique,
  kBase64Encode,
  kBase64Decode,
  kHash,
  kJsonMerge,
  kMathRandom,
  kMathAdd,
  kStringSplit,
  kUuid,
};

struct FunctionInfo {
  Function function;
  std::string_view name;  // full name, e.g. "States.Format"
  int min_args;
  int max_args;  // -1: no limit
};

// Looks a function up by its full name ("States.ArrayLength"); case-sensitive.
const FunctionInfo* find_function(std::string_view name);
const FunctionInfo& function_info(Function function);

// A States.Format template split at its "{}" placeholders: pieces.size() is
// one more than the number of placeholders.
struct FormatTemplate {
  std::vector<std::string> pieces;
};

// Splits a template that came from data (a path argument): every "{}" is a
// placeholder. Literal templates are split by the parser, which knows which
// braces were escaped.
FormatTemplate split_format_template(std::string_view text);

using Args = std::span<const json::value* const>;

// Applies function to args (their count already checked by the parser).
// format_template, when set, is the precompiled literal template of
// States.Format and replaces args[0]. Failures are States.IntrinsicFailure.
Result<json::value> apply(Function function, Args args, const FormatTemplate* format_template,
                          RandomSource* random);

// Java's java.util.Random, which seeded States.MathRandom reproduces.
class JavaRandom {
 public:
  explicit JavaRandom(std::int64_t seed);
  std::int32_t next_int(std::int32_t bound);  // uniform in [0, bound), bound > 0

 private:
  std::int32_t next(int bits);
  std::uint64_t seed_;
};

// Java's Math.round for doubles: the closest integer, ties towards positive infinity.
double java_round(double x);

// How States.Format prints a value: strings bare, objects as Java maps
// ("{a=1, b=[x, y]}"), other values as JSON.
void append_format_argument(std::string& out, const json::value& v);

}  // namespace stepwise::states::intrinsics
