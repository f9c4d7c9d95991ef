#include "states/intrinsic_functions.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "states/digest.h"

namespace stepwise::states::intrinsics {
namespace {

constexpr std::array<FunctionInfo, 18> kFunctions = {{
    {Function::kFormat, "States.Format", 1, -1},
    {Function::kStringToJson, "States.StringToJson", 1, 1},
    {Function::kJsonToString, "States.JsonToString", 1, 1},
    {Function::kArray, "States.Array", 0, -1},
    {Function::kArrayPartition, "States.ArrayPartition", 2, 2},
    {Function::kArrayContains, "States.ArrayContains", 2, 2},
    {Function::kArrayRange, "States.ArrayRange", 3, 3},
    {Function::kArrayGetItem, "States.ArrayGetItem", 2, 2},
    {Function::kArrayLength, "States.ArrayLength", 1, 1},
    {Function::kArrayUnique, "States.ArrayUnique", 1, 1},
    {Function::kBase64Encode, "States.Base64Encode", 1, 1},
    {Function::kBase64Decode, "States.Base64Decode", 1, 1},
    {Function::kHash, "States.Hash", 2, 2},
    {Function::kJsonMerge, "States.JsonMerge", 3, 3},
    {Function::kMathRandom, "States.MathRandom", 2, 3},
    {Function::kMathAdd, "States.MathAdd", 2, 2},
    {Function::kStringSplit, "States.StringSplit", 2, 2},
    {Function::kUuid, "States.UUID", 0, 0},
}};

// AWS documents these input limits for the encoding and hashing functions
// and for the length of a generated range.
constexpr std::size_t kMaxEncodedInput = 10000;
constexpr std::size_t kMaxHashInput = 10000;
constexpr std::int64_t kMaxRangeLength = 1000;

Failure failure(Function fn, std::string_view detail) {
  std::string cause = "Invalid arguments in ";
  cause += function_info(fn).name;
  cause += ": ";
  cause += detail;
  return Failure{"States.IntrinsicFailure", std::move(cause), true};
}

// "The 2nd argument must be an array but was a string."-style type errors.
Failure type_failure(Function fn, std::size_t index, std::string_view expected,
                     const json::value& actual) {
  std::string detail = "argument " + std::to_string(index + 1) + " must be " +
                       std::string(expected) + ", but was " + json_type_name(actual);
  return failure(fn, detail);
}

bool is_number(const json::value& v) {
  return v.is_int64() || v.is_uint64() || v.is_double();
}

double to_double(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// An integer argument (an index, a size, a bound). Integral doubles such as
// 2.0 are accepted; fractions are not.
std::optional<std::int64_t> to_integer(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (std::floor(d) != d || std::fabs(d) > 9.0e15) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

Result<std::int64_t> integer_arg(Function fn, Args args, std::size_t index) {
  const json::value& v = *args[index];
  if (!is_number(v)) return type_failure(fn, index, "an integer", v);
  auto n = to_integer(v);
  if (!n) return failure(fn, "argument " + std::to_string(index + 1) + " must be an integer");
  return *n;
}

// A numeric argument rounded as Java's Math.round does (States.MathAdd and
// States.MathRandom accept decimals and round them: 1.5 -> 2, -1.5 -> -1).
Result<std::int64_t> rounded_arg(Function fn, Args args, std::size_t index) {
  const json::value& v = *args[index];
  if (!is_number(v)) return type_failure(fn, index, "a number", v);
  if (v.is_int64()) return v.get_int64();
  double r = java_round(to_double(v));
  if (std::fabs(r) > 9.2e18)
    return failure(fn, "argument " + std::to_string(index + 1) + " is out of range");
  return static_cast<std::int64_t>(r);
}

// ---- Strings and JSON -------------------------------------------------------

Result<json::value> format(Args args, const FormatTemplate* literal_template) {
  FormatTemplate runtime_template;
  if (literal_template == nullptr) {
    if (!args[0]->is_string()) return type_failure(Function::kFormat, 0, "a string", *args[0]);
    runtime_template = split_format_template(args[0]->get_string());
    literal_template = &runtime_template;
  }
  const auto& pieces = literal_template->pieces;
  std::size_t placeholders = pieces.size() - 1;
  if (placeholders != args.size() - 1) {
    return failure(Function::kFormat,
                   "the number of arguments (" + std::to_string(args.size() - 1) +
                       ") does not match the number of placeholders {} in the template (" +
                       std::to_string(placeholders) + ")");
  }
  std::string out = pieces[0];
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    append_format_argument(out, *args[i]);
    out += pieces[i];
  }
  return json::value(json::string(out));
}

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

Result<json::value> string_to_json(Args args) {
  if (!args[0]->is_string()) return type_failure(Function::kStringToJson, 0, "a string", *args[0]);
  std::string_view text = args[0]->get_string();
  // AWS maps an empty or blank string to null rather than failing.
  if (is_blank(text)) return json::value(nullptr);
  JsonParseError error;
  auto parsed = parse_json(text, &error);
  if (!parsed) {
    return failure(Function::kStringToJson,
                   "the string is not valid JSON (" + error.describe() + ")");
  }
  return std::move(*parsed);
}

// Splits on any of the delimiter characters and drops empty tokens, as Java's
// StringTokenizer does. Characters are whole UTF-8 sequences.
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;
}

Result<json::value> string_split(Args args) {
  if (!args[0]->is_string()) return type_failure(Function::kStringSplit, 0, "a string", *args[0]);
  if (!args[1]->is_string()) return type_failure(Function::kStringSplit, 1, "a string", *args[1]);
  std::string_view text = args[0]->get_string();
  std::string_view delimiters = args[1]->get_string();
  auto is_delimiter = [&](std::string_view ch) {
    for (std::size_t i = 0; i < delimiters.size();) {
      std::size_t n = utf8_length(static_cast<unsigned char>(delimiters[i]));
      if (delimiters.substr(i, n) == ch) return true;
      i += n;
    }
    return false;
  };
  json::array out;
  std::size_t token_start = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_length(static_cast<unsigned char>(text[i]));
    if (is_delimiter(text.substr(i, n))) {
      if (i > token_start)
        out.emplace_back(json::string(text.substr(token_start, i - token_start)));
      token_start = i + n;
    }
    i += n;
  }
  if (text.size() > token_start) out.emplace_back(json::string(text.substr(token_start)));
  return json::value(std::move(out));
}

// ---- Arrays -----------------------------------------------------------------

Result<json::value> array_partition(Args args) {
  constexpr auto fn = Function::kArrayPartition;
  if (!args[0]->is_array()) return type_failure(fn, 0, "an array", *args[0]);
  auto size = integer_arg(fn, args, 1);
  if (!size) return size.failure();
  if (*size <= 0) return failure(fn, "the chunk size must be greater than 0");
  const auto& in = args[0]->get_array();
  auto chunk = static_cast<std::size_t>(*size);
  json::array out;
  out.reserve((in.size() + chunk - 1) / chunk);
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    std::size_t end = std::min(in.size(), i + chunk);
    out.emplace_back(json::array(in.begin() + static_cast<std::ptrdiff_t>(i),
                                 in.begin() + static_cast<std::ptrdiff_t>(end)));
  }
  return json::value(std::move(out));
}

Result<json::value> array_contains(Args args) {
  if (!args[0]->is_array()) return type_failure(Function::kArrayContains, 0, "an array", *args[0]);
  for (const auto& e : args[0]->get_array())
    if (e == *args[1]) return json::value(true);
  return json::value(false);
}

Result<json::value> array_range(Args args) {
  constexpr auto fn = Function::kArrayRange;
  auto first = integer_arg(fn, args, 0);
  if (!first) return first.failure();
  auto last = integer_arg(fn, args, 1);
  if (!last) return last.failure();
  auto step = integer_arg(fn, args, 2);
  if (!step) return step.failure();
  if (*step == 0) return failure(fn, "the step must not be 0");
  // Count the elements first so that a huge range fails without building it.
  // (Computed in long double: last - first may not fit in 64 bits.)
  std::int64_t count = 0;
  if ((*step > 0 && *first <= *last) || (*step < 0 && *first >= *last)) {
    long double steps = (static_cast<long double>(*last) - static_cast<long double>(*first)) /
                        static_cast<long double>(*step);
    if (steps >= kMaxRangeLength) {
      count = kMaxRangeLength + 1;
    } else {
      count = (*last - *first) / *step + 1;
    }
  }
  if (count > kMaxRangeLength) {
    return failure(fn, "the range would have more than 1000 elements");
  }
  json::array out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) out.emplace_back(*first + i * *step);
  return json::value(std::move(out));
}

Result<json::value> array_get_item(Args args) {
  constexpr auto fn = Function::kArrayGetItem;
  if (!args[0]->is_array()) return type_failure(fn, 0, "an array", *args[0]);
  auto index = integer_arg(fn, args, 1);
  if (!index) return index.failure();
  const auto& a = args[0]->get_array();
  if (*index < 0 || static_cast<std::uint64_t>(*index) >= a.size()) {
    return failure(fn, "index " + std::to_string(*index) +
                           " is out of bounds for an array of length " + std::to_string(a.size()));
  }
  return a[static_cast<std::size_t>(*index)];
}

Result<json::value> array_length(Args args) {
  if (!args[0]->is_array()) return type_failure(Function::kArrayLength, 0, "an array", *args[0]);
  return json::value(static_cast<std::int64_t>(args[0]->get_array().size()));
}

// Keeps the first occurrence of each value, in order (a LinkedHashSet).
Result<json::value> array_unique(Args args) {
  if (!args[0]->is_array()) return type_failure(Function::kArrayUnique, 0, "an array", *args[0]);
  json::array out;
  for (const auto& e : args[0]->get_array()) {
    bool seen = false;
    for (const auto& kept : out) {
      if (kept == e) {
        seen = true;
        break;
      }
    }
    if (!seen) out.push_back(e);
  }
  return json::value(std::move(out));
}

// ---- Encoding and hashing ---------------------------------------------------

Result<json::value> base64_encode_fn(Args args) {
  constexpr auto fn = Function::kBase64Encode;
  if (!args[0]->is_string()) return type_failure(fn, 0, "a string", *args[0]);
  std::string_view s = args[0]->get_string();
  if (s.size() > kMaxEncodedInput) return failure(fn, "the input exceeds 10000 characters");
  return json::value(json::string(base64_encode(s)));
}

Result<json::value> base64_decode_fn(Args args) {
  constexpr auto fn = Function::kBase64Decode;
  if (!args[0]->is_string()) return type_failure(fn, 0, "a string", *args[0]);
  std::string_view s = args[0]->get_string();
  if (s.size() > kMaxEncodedInput) return failure(fn, "the input exceeds 10000 characters");
  auto decoded = base64_decode(s);
  if (!decoded) return failure(fn, "the input is not valid Base64");
  return json::value(json::string(*decoded));
}

Result<json::value> hash(Args args) {
  constexpr auto fn = Function::kHash;
  if (!args[0]->is_string()) return type_failure(fn, 0, "a string", *args[0]);
  if (!args[1]->is_string()) return type_failure(fn, 1, "a string", *args[1]);
  std::string_view data = args[0]->get_string();
  if (data.size() > kMaxHashInput) return failure(fn, "the input exceeds 10000 characters");
  auto algorithm = parse_digest_algorithm(args[1]->get_string());
  if (!algorithm) {
    return failure(fn, "unsupported hash algorithm '" + std::string(args[1]->get_string()) +
                           "'; supported are MD5, SHA-1, SHA-256, SHA-384 and SHA-512");
  }
  return json::value(json::string(hex_digest(*algorithm, data)));
}

// ---- JSON, math, identifiers ------------------------------------------------

// Shallow merge: members of the second object replace those of the first.
Result<json::value> json_merge(Args args) {
  constexpr auto fn = Function::kJsonMerge;
  if (!args[0]->is_object()) return type_failure(fn, 0, "an object", *args[0]);
  if (!args[1]->is_object()) return type_failure(fn, 1, "an object", *args[1]);
  if (!args[2]->is_bool()) return type_failure(fn, 2, "a boolean", *args[2]);
  if (args[2]->get_bool())
    return failure(fn, "deep merge is not supported; the third argument must be false");
  json::object out = args[0]->get_object();
  for (const auto& kv : args[1]->get_object()) out[kv.key()] = kv.value();
  return json::value(std::move(out));
}

Result<json::value> math_add(Args args) {
  constexpr auto fn = Function::kMathAdd;
  auto a = rounded_arg(fn, args, 0);
  if (!a) return a.failure();
  auto b = rounded_arg(fn, args, 1);
  if (!b) return b.failure();
  std::int64_t sum = 0;
  if (__builtin_add_overflow(*a, *b, &sum)) return failure(fn, "the sum is out of range");
  return json::value(sum);
}

// A random integer in [start, end). With a seed the sequence is Java's
// java.util.Random, so a seeded call always gives the same value.
Result<json::value> math_random(Args args, RandomSource* random) {
  constexpr auto fn = Function::kMathRandom;
  auto start = rounded_arg(fn, args, 0);
  if (!start) return start.failure();
  auto end = rounded_arg(fn, args, 1);
  if (!end) return end.failure();
  if (*start >= *end) return failure(fn, "the start must be less than the end");
  std::int64_t span = *end - *start;
  if (args.size() == 3) {
    auto seed = rounded_arg(fn, args, 2);
    if (!seed) return seed.failure();
    if (span > std::numeric_limits<std::int32_t>::max())
      return failure(fn, "the range is too large");
    JavaRandom generator(*seed);
    return json::value(*start + generator.next_int(static_cast<std::int32_t>(span)));
  }
  if (random == nullptr) return Failure{"States.Runtime", "No random source is available", true};
  auto offset = static_cast<std::int64_t>(random->next_u64() % static_cast<std::uint64_t>(span));
  return json::value(*start + offset);
}

Result<json::value> uuid(RandomSource* random) {
  if (random == nullptr) return Failure{"States.Runtime", "No random source is available", true};
  std::array<unsigned char, 16> bytes{};
  std::uint64_t hi = random->next_u64();
  std::uint64_t lo = random->next_u64();
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<unsigned char>(lo >> (56 - 8 * i));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return json::value(json::string(out));
}

}  // namespace

const FunctionInfo* find_function(std::string_view name) {
  for (const auto& f : kFunctions)
    if (f.name == name) return &f;
  return nullptr;
}

const FunctionInfo& function_info(Function function) {
  return kFunctions[static_cast<std::size_t>(function)];
}

FormatTemplate split_format_template(std::string_view text) {
  FormatTemplate t;
  t.pieces.emplace_back();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '}') {
      t.pieces.emplace_back();
      ++i;
    } else {
      t.pieces.back().push_back(text[i]);
    }
  }
  return t;
}

void append_format_argument(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      out.append(v.get_string().data(), v.get_string().size());
      break;
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ", ";
        first = false;
        out.append(kv.key().data(), kv.key().size());
        out.push_back('=');
        append_format_argument(out, kv.value());
      }
      out.push_back('}');
      break;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ", ";
        first = false;
        append_format_argument(out, e);
      }
      out.push_back(']');
      break;
    }
    default:
      append_json(out, v);
  }
}

double java_round(double x) {
  double floor = std::floor(x);
  return x - floor >= 0.5 ? floor + 1 : floor;
}

JavaRandom::JavaRandom(std::int64_t seed)
    : seed_((static_cast<std::uint64_t>(seed) ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1)) {}

std::int32_t JavaRandom::next(int bits) {
  seed_ = (seed_ * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
  // Java shifts the 48-bit state as a signed long and truncates to int.
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(seed_ >> (48 - bits)));
}

std::int32_t JavaRandom::next_int(std::int32_t bound) {
  if ((bound & -bound) == bound) {
    return static_cast<std::int32_t>((static_cast<std::int64_t>(bound) * next(31)) >> 31);
  }
  std::int32_t bits = 0;
  std::int32_t value = 0;
  do {
    bits = next(31);
    value = bits % bound;
    // Java relies on int overflow here to reject the biased tail.
  } while (static_cast<std::int32_t>(static_cast<std::uint32_t>(bits) -
                                     static_cast<std::uint32_t>(value) +
                                     static_cast<std::uint32_t>(bound - 1)) < 0);
  return value;
}

Result<json::value> apply(Function function, Args args, const FormatTemplate* format_template,
                          RandomSource* random) {
  switch (function) {
    case Function::kFormat:
      return format(args, format_template);
    case Function::kStringToJson:
      return string_to_json(args);
    case Function::kJsonToString:
      return json::value(json::string(to_json(*args[0])));
    case Function::kArray: {
      json::array out;
      out.reserve(args.size());
      for (const auto* a : args) out.push_back(*a);
      return json::value(std::move(out));
    }
    case Function::kArrayPartition:
      return array_partition(args);
    case Function::kArrayContains:
      return array_contains(args);
    case Function::kArrayRange:
      return array_range(args);
    case Function::kArrayGetItem:
      return array_get_item(args);
    case Function::kArrayLength:
      return array_length(args);
    case Function::kArrayUnique:
      return array_unique(args);
    case Function::kBase64Encode:
      return base64_encode_fn(args);
    case Function::kBase64Decode:
      return base64_decode_fn(args);
    case Function::kHash:
      return hash(args);
    case Function::kJsonMerge:
      return json_merge(args);
    case Function::kMathRandom:
      return math_random(args, random);
    case Function::kMathAdd:
      return math_add(args);
    case Function::kStringSplit:
      return string_split(args);
    case Function::kUuid:
      return uuid(random);
  }
  return Failure{"States.Runtime", "Unknown intrinsic function", true};
}

}  // namespace stepwise::states::intrinsics
