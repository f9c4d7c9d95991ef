#include "states/choice.h"

#include <array>
#include <compare>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "states/jsonpath.h"
#include "states/timestamp.h"

namespace stepwise::states {
namespace {

// What a rule tests. Comparisons carry a Relation; the rest do not.
enum class Kind : std::uint8_t {
  kString,
  kStringMatches,
  kNumeric,
  kBoolean,
  kTimestamp,
  kIsNull,
  kIsPresent,
  kIsNumeric,
  kIsString,
  kIsBoolean,
  kIsTimestamp,
  kAnd,
  kOr,
  kNot,
};

enum class Relation : std::uint8_t {
  kEquals,
  kLessThan,
  kGreaterThan,
  kLessEquals,
  kGreaterEquals
};

// One operator field name and what it means.
struct OperatorSpec {
  std::string_view name;
  Kind kind;
  Relation relation = Relation::kEquals;
  bool operand_is_path = false;  // the ...Path variants
};

constexpr std::array kOperators = {
    OperatorSpec{"StringEquals", Kind::kString, Relation::kEquals},
    OperatorSpec{"StringEqualsPath", Kind::kString, Relation::kEquals, true},
    OperatorSpec{"StringLessThan", Kind::kString, Relation::kLessThan},
    OperatorSpec{"StringLessThanPath", Kind::kString, Relation::kLessThan, true},
    OperatorSpec{"StringGreaterThan", Kind::kString, Relation::kGreaterThan},
    OperatorSpec{"StringGreaterThanPath", Kind::kString, Relation::kGreaterThan, true},
    OperatorSpec{"StringLessThanEquals", Kind::kString, Relation::kLessEquals},
    OperatorSpec{"StringLessThanEqualsPath", Kind::kString, Relation::kLessEquals, true},
    OperatorSpec{"StringGreaterThanEquals", Kind::kString, Relation::kGreaterEquals},
    OperatorSpec{"StringGreaterThanEqualsPath", Kind::kString, Relation::kGreaterEquals, true},
    OperatorSpec{"StringMatches", Kind::kStringMatches},
    OperatorSpec{"NumericEquals", Kind::kNumeric, Relation::kEquals},
    OperatorSpec{"NumericEqualsPath", Kind::kNumeric, Relation::kEquals, true},
    OperatorSpec{"NumericLessThan", Kind::kNumeric, Relation::kLessThan},
    OperatorSpec{"NumericLessThanPath", Kind::kNumeric, Relation::kLessThan, true},
    OperatorSpec{"NumericGreaterThan", Kind::kNumeric, Relation::kGreaterThan},
    OperatorSpec{"NumericGreaterThanPath", Kind::kNumeric, Relation::kGreaterThan, true},
    OperatorSpec{"NumericLessThanEquals", Kind::kNumeric, Relation::kLessEquals},
    OperatorSpec{"NumericLessThanEqualsPath", Kind::kNumeric, Relation::kLessEquals, true},
    OperatorSpec{"NumericGreaterThanEquals", Kind::kNumeric, Relation::kGreaterEquals},
    OperatorSpec{"NumericGreaterThanEqualsPath", Kind::kNumeric, Relation::kGreaterEquals, true},
    OperatorSpec{"BooleanEquals", Kind::kBoolean, Relation::kEquals},
    OperatorSpec{"BooleanEqualsPath", Kind::kBoolean, Relation::kEquals, true},
    OperatorSpec{"TimestampEquals", Kind::kTimestamp, Relation::kEquals},
    OperatorSpec{"TimestampEqualsPath", Kind::kTimestamp, Relation::kEquals, true},
    OperatorSpec{"TimestampLessThan", Kind::kTimestamp, Relation::kLessThan},
    OperatorSpec{"TimestampLessThanPath", Kind::kTimestamp, Relation::kLessThan, true},
    OperatorSpec{"TimestampGreaterThan", Kind::kTimestamp, Relation::kGreaterThan},
    OperatorSpec{"TimestampGreaterThanPath", Kind::kTimestamp, Relation::kGreaterThan, true},
    OperatorSpec{"TimestampLessThanEquals", Kind::kTimestamp, Relation::kLessEquals},
    OperatorSpec{"TimestampLessThanEqualsPath", Kind::kTimestamp, Relation::kLessEquals, true},
    OperatorSpec{"TimestampGreaterThanEquals", Kind::kTimestamp, Relation::kGreaterEquals},
    OperatorSpec{"TimestampGreaterThanEqualsPath", Kind::kTimestamp, Relation::kGreaterEquals,
                 true},
    OperatorSpec{"IsNull", Kind::kIsNull},
    OperatorSpec{"IsPresent", Kind::kIsPresent},
    OperatorSpec{"IsNumeric", Kind::kIsNumeric},
    OperatorSpec{"IsString", Kind::kIsString},
    OperatorSpec{"IsBoolean", Kind::kIsBoolean},
    OperatorSpec{"IsTimestamp", Kind::kIsTimestamp},
    OperatorSpec{"And", Kind::kAnd},
    OperatorSpec{"Or", Kind::kOr},
    OperatorSpec{"Not", Kind::kNot},
};

const OperatorSpec* find_operator(std::string_view name) {
  for (const auto& op : kOperators)
    if (op.name == name) return &op;
  return nullptr;
}

bool is_composite(Kind k) {
  return k == Kind::kAnd || k == Kind::kOr || k == Kind::kNot;
}

bool holds(Relation r, std::partial_ordering order) {
  switch (r) {
    case Relation::kEquals:
      return order == 0;
    case Relation::kLessThan:
      return order < 0;
    case Relation::kGreaterThan:
      return order > 0;
    case Relation::kLessEquals:
      return order <= 0;
    case Relation::kGreaterEquals:
      return order >= 0;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Value comparisons

// Compares two JSON numbers by value: integers exactly (also across the
// int64/uint64 split), anything involving a double as doubles, so 1 == 1.0.
std::partial_ordering compare_numbers(const json::value& a, const json::value& b) {
  if (a.is_double() || b.is_double()) return a.to_number<double>() <=> b.to_number<double>();
  if (a.is_int64() && b.is_int64()) return a.get_int64() <=> b.get_int64();
  if (a.is_uint64() && b.is_uint64()) return a.get_uint64() <=> b.get_uint64();
  // One int64, one uint64 (which only holds values above INT64_MAX).
  if (a.is_int64())
    return a.get_int64() < 0 ? std::partial_ordering::less
                             : static_cast<std::uint64_t>(a.get_int64()) <=> b.get_uint64();
  return b.get_int64() < 0 ? std::partial_ordering::greater
                           : a.get_uint64() <=> static_cast<std::uint64_t>(b.get_int64());
}

// Decodes the UTF-8 code point starting at s[i] (lenient: a malformed byte is
// its own code point).
std::uint32_t decode_code_point(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint32_t lead = byte(i);
  const std::size_t extra = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  if (extra == 0 || i + extra >= s.size()) return lead;
  std::uint32_t cp = lead & (0x3Fu >> extra);
  for (std::size_t k = 1; k <= extra; ++k) cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  return cp;
}

// The first UTF-16 code unit of a code point: what Java's String.compareTo
// sees first. Supplementary characters sort by their high surrogate, i.e.
// below U+E000..U+FFFF, unlike in code point order.
std::uint32_t first_utf16_unit(std::uint32_t cp) {
  return cp < 0x10000 ? cp : 0xD800 + ((cp - 0x10000) >> 10);
}

// Orders strings as Java (and so AWS) does: lexicographically by UTF-16 code
// unit. Byte order of UTF-8 agrees except around supplementary characters,
// which are checked at the first differing character.
std::strong_ordering compare_strings(std::string_view a, std::string_view b) {
  std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  if (i == n) return a.size() <=> b.size();
  auto continuation = [](char c) { return (static_cast<std::uint8_t>(c) & 0xC0) == 0x80; };
  while (i > 0 && (continuation(a[i]) || continuation(b[i]))) --i;  // back to the char start
  std::uint32_t ca = decode_code_point(a, i);
  std::uint32_t cb = decode_code_point(b, i);
  std::uint32_t ua = first_utf16_unit(ca);
  std::uint32_t ub = first_utf16_unit(cb);
  if (ua != ub) return ua <=> ub;
  return ca <=> cb;  // same high surrogate: low surrogates order as code points
}

// A StringMatches pattern split at its unescaped '*' wildcards into literal
// pieces: "a*b\*c*" -> {"a", "b*c", ""}. One piece means no wildcard.
struct WildcardPattern {
  std::vector<std::string> pieces;

  static WildcardPattern compile(std::string_view text) {
    WildcardPattern p;
    p.pieces.emplace_back();
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '*' || text[i + 1] == '\\')) {
        p.pieces.back().push_back(text[++i]);
      } else if (c == '*') {
        p.pieces.emplace_back();
      } else {
        p.pieces.back().push_back(c);
      }
    }
    return p;
  }

  // Greedy leftmost matching is exact when '*' is the only wildcard: the first
  // piece anchors the start, the last the end, the others need only occur in order.
  bool matches(std::string_view s) const {
    if (pieces.size() == 1) return s == pieces.front();
    const std::string& first = pieces.front();
    const std::string& last = pieces.back();
    if (s.size() < first.size() + last.size()) return false;
    if (s.substr(0, first.size()) != first) return false;
    if (s.substr(s.size() - last.size()) != last) return false;
    std::string_view middle = s.substr(first.size(), s.size() - first.size() - last.size());
    for (std::size_t k = 1; k + 1 < pieces.size(); ++k) {
      auto at = middle.find(pieces[k]);
      if (at == std::string_view::npos) return false;
      middle.remove_prefix(at + pieces[k].size());
    }
    return true;
  }
};


}  // namespace

// ---------------------------------------------------------------------------
// The compiled rule

struct ChoiceRule::Impl {
  Kind kind = Kind::kIsPresent;
  Relation relation = Relation::kEquals;
  std::optional<JsonPath> variable;
  std::optional<JsonPath> operand_path;  // set for the ...Path variants
  // Literal operands, parsed once; which one is used depends on kind.
  json::value number;          // kNumeric
  std::string text;            // kString
  bool flag = false;           // kBoolean and the Is... tests
  Instant instant;             // kTimestamp
  WildcardPattern pattern;     // kStringMatches
  std::vector<Impl> children;  // kAnd, kOr (kNot has one)
};

namespace {

using Impl = ChoiceRule::Impl;

// The value a path reads, nullptr for a variable that is not set.
const json::value* find_in_scope(const JsonPath& path, const Scope& scope) {
  const json::value* root = path_root(path.is_context(), path.is_variable(), path.variable(), scope);
  return root ? path.find(*root) : nullptr;
}

Failure invalid_path(const JsonPath& path) {
  return runtime_failure("Invalid path '" + path.text() +
                         "': The choice state's condition path references an invalid value.");
}

// Compares the Variable's value with the literal or path operand; false on
// any type mismatch, as AWS does.
bool compare(const Impl& rule, const json::value& value, const json::value* operand) {
  switch (rule.kind) {
    case Kind::kString: {
      if (!value.is_string()) return false;
      std::string_view rhs;
      if (operand) {
        if (!operand->is_string()) return false;
        rhs = operand->get_string();
      } else {
        rhs = rule.text;
      }
      return holds(rule.relation, compare_strings(value.get_string(), rhs));
    }
    case Kind::kStringMatches:
      return value.is_string() && rule.pattern.matches(value.get_string());
    case Kind::kNumeric: {
      const json::value& rhs = operand ? *operand : rule.number;
      if (!value.is_number() || !rhs.is_number()) return false;
      return holds(rule.relation, compare_numbers(value, rhs));
    }
    case Kind::kBoolean: {
      if (!value.is_bool()) return false;
      if (operand) return operand->is_bool() && value.get_bool() == operand->get_bool();
      return value.get_bool() == rule.flag;
    }
    case Kind::kTimestamp: {
      if (!value.is_string()) return false;
      auto lhs = parse_instant(value.get_string());
      if (!lhs) return false;
      Instant rhs = rule.instant;
      if (operand) {
        if (!operand->is_string()) return false;
        auto parsed = parse_instant(operand->get_string());
        if (!parsed) return false;
        rhs = *parsed;
      }
      return holds(rule.relation, *lhs <=> rhs);
    }
    case Kind::kIsNull:
      return value.is_null() == rule.flag;
    case Kind::kIsNumeric:
      return value.is_number() == rule.flag;
    case Kind::kIsString:
      return value.is_string() == rule.flag;
    case Kind::kIsBoolean:
      return value.is_bool() == rule.flag;
    case Kind::kIsTimestamp:
      return (value.is_string() && parse_instant(value.get_string()).has_value()) == rule.flag;
    default:
      return false;
  }
}

Result<bool> evaluate_rule(const Impl& rule, const Scope& scope) {
  switch (rule.kind) {
    case Kind::kAnd:
      for (const Impl& child : rule.children) {
        auto r = evaluate_rule(child, scope);
        if (!r.ok() || !*r) return r;
      }
      return true;
    case Kind::kOr:
      for (const Impl& child : rule.children) {
        auto r = evaluate_rule(child, scope);
        if (!r.ok() || *r) return r;
      }
      return false;
    case Kind::kNot: {
      auto r = evaluate_rule(rule.children.front(), scope);
      if (!r.ok()) return r;
      return !*r;
    }
    default:
      break;
  }
  const JsonPath& variable = *rule.variable;
  const json::value* value = find_in_scope(variable, scope);
  if (rule.kind == Kind::kIsPresent) return (value != nullptr) == rule.flag;
  // Every other test needs a value: AWS fails the state rather than taking
  // the rule as false.
  if (!value) return invalid_path(variable);
  const json::value* operand = nullptr;
  if (rule.operand_path) {
    operand = find_in_scope(*rule.operand_path, scope);
    if (!operand) return invalid_path(*rule.operand_path);
  }
  return compare(rule, *value, operand);
}

// ---------------------------------------------------------------------------
// Compilation

class RuleCompiler {
 public:
  RuleCompiler(Diagnostics& diags, CompileCache* cache) : diags_(diags), cache_(cache) {}

  // Fills rule from json; false if anything was reported.
  bool compile(const json::value& json, const std::string& pointer, bool top_level, Impl& rule) {
    const std::size_t errors_before = diags_.size();
    const json::object* object = json.if_object();
    if (!object) {
      report(pointer, "Choice rule must be an object");
      return false;
    }

    const OperatorSpec* op = nullptr;
    const json::value* operand = nullptr;
    for (const auto& field : *object) {
      std::string_view key = field.key();
      if (const OperatorSpec* spec = find_operator(key)) {
        if (op) {
          report(pointer,
                 "Choice rule has both " + std::string(op->name) + " and " + std::string(key));
          continue;
        }
        op = spec;
        operand = &field.value();
      } else if (key == "Next" || key == "Assign") {
        // Resolved by the definition parser; only top-level rules transition.
        if (!top_level)
          report(child_pointer(pointer, key),
                 "The field '" + std::string(key) + "' is not supported in a nested choice rule");
      } else if (key != "Variable" && key != "Comment") {
        report(child_pointer(pointer, key),
               "The field '" + std::string(key) + "' is not supported by Step Functions");
      }
    }
    if (top_level && !object->contains("Next"))
      report(pointer, "These fields are required: [Next]");
    if (!op) {
      report(pointer, "Choice rule has no comparison operator");
      return false;
    }

    rule.kind = op->kind;
    rule.relation = op->relation;
    const std::string operand_pointer = child_pointer(pointer, op->name);
    const json::value* variable = object->if_contains("Variable");
    if (is_composite(op->kind)) {
      if (variable)
        report(child_pointer(pointer, "Variable"),
               "The field 'Variable' is not supported with " + std::string(op->name));
      compile_composite(*op, *operand, operand_pointer, rule);
    } else {
      if (!variable) {
        report(pointer, "These fields are required: [Variable]");
      } else {
        rule.variable = compile_path(*variable, child_pointer(pointer, "Variable"), "Variable");
      }
      compile_operand(*op, *operand, operand_pointer, rule);
    }
    return diags_.size() == errors_before;
  }

 private:
  void report(const std::string& pointer, std::string message) {
    diags_.push_back(Diagnostic{pointer, std::move(message)});
  }

  // Variable and the ...Path operands: a Reference Path (ASL spec).
  std::optional<JsonPath> compile_path(const json::value& json, const std::string& pointer,
                                       std::string_view field) {
    const std::string must = "The value for the field '" + std::string(field) + "' must be ";
    if (!json.is_string()) {
      report(pointer, must + "a valid JSONPath");
      return std::nullopt;
    }
    std::string error;
    std::string_view text = json.get_string();
    auto path = cache_ ? cache_->path(text, &error) : JsonPath::parse(text, &error);
    if (!path) {
      report(pointer, must + "a valid JSONPath" + (error.empty() ? "" : ": " + error));
      return std::nullopt;
    }
    if (!path->is_reference()) {
      report(pointer, must + "a valid Reference Path");
      return std::nullopt;
    }
    return path;
  }

  void compile_operand(const OperatorSpec& op, const json::value& json, const std::string& pointer,
                       Impl& rule) {
    const std::string must = "The value for the field '" + std::string(op.name) + "' must be ";
    if (op.operand_is_path) {
      rule.operand_path = compile_path(json, pointer, op.name);
      return;
    }
    switch (op.kind) {
      case Kind::kString:
        if (!json.is_string()) return report(pointer, must + "a string");
        rule.text = json.get_string();
        return;
      case Kind::kStringMatches:
        if (!json.is_string()) return report(pointer, must + "a string");
        rule.pattern = WildcardPattern::compile(json.get_string());
        return;
      case Kind::kNumeric:
        if (!json.is_number()) return report(pointer, must + "a number");
        rule.number = json;
        return;
      case Kind::kTimestamp: {
        if (!json.is_string()) return report(pointer, must + "a string");
        auto instant = parse_instant(json.get_string());
        if (!instant) return report(pointer, "String does not match RFC3339 timestamp");
        rule.instant = *instant;
        return;
      }
      default:  // BooleanEquals and the Is... tests
        if (!json.is_bool()) return report(pointer, must + "a boolean");
        rule.flag = json.get_bool();
        return;
    }
  }

  void compile_composite(const OperatorSpec& op, const json::value& json,
                         const std::string& pointer, Impl& rule) {
    if (op.kind == Kind::kNot) {
      if (!json.is_object())
        return report(pointer, "The value for the field 'Not' must be a choice rule object");
      rule.children.resize(1);
      compile(json, pointer, /*top_level=*/false, rule.children.front());
      return;
    }
    const json::array* items = json.if_array();
    if (!items || items->empty())
      return report(pointer, "The value for the field '" + std::string(op.name) +
                                 "' must be a non-empty array of choice rules");
    rule.children.resize(items->size());
    for (std::size_t i = 0; i < items->size(); ++i)
      compile((*items)[i], child_pointer(pointer, std::to_string(i)), /*top_level=*/false,
              rule.children[i]);
  }

  Diagnostics& diags_;
  CompileCache* cache_;
};

}  // namespace

std::optional<ChoiceRule> ChoiceRule::compile(const json::value& rule, const std::string& pointer,
                                              bool top_level, Diagnostics& diags,
                                              CompileCache* cache) {
  auto impl = std::make_shared<Impl>();
  if (!RuleCompiler(diags, cache).compile(rule, pointer, top_level, *impl)) return std::nullopt;
  return ChoiceRule(std::move(impl));
}

Result<bool> ChoiceRule::evaluate(const Scope& scope) const {
  return evaluate_rule(*impl_, scope);
}

ChoiceRule::ChoiceRule(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
ChoiceRule::ChoiceRule(const ChoiceRule&) = default;
ChoiceRule::ChoiceRule(ChoiceRule&&) noexcept = default;
ChoiceRule& ChoiceRule::operator=(const ChoiceRule&) = default;
ChoiceRule& ChoiceRule::operator=(ChoiceRule&&) noexcept = default;
ChoiceRule::~ChoiceRule() = default;

}  // namespace stepwise::states
