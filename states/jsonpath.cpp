// JSONPath (Jayway dialect) compiled once into a flat list of steps.
//
// Evaluation has three paths, fastest first:
//  - find(): definite paths only, walks the steps with no allocation;
//  - select() of an indefinite path: one recursive walk that copies each match
//    into the result array (nothing else is copied);
//  - explain_miss(): only after a definite path missed, re-walks the steps to
//    build Jayway's message. Messages are never built on the success path.
#include "states/jsonpath.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace stepwise::states {

namespace {

enum class StepKind : std::uint8_t {
  kName,      // .name or ['name']
  kNames,     // ['a','b']
  kIndex,     // [n] or [-n]
  kIndexes,   // [n,m,...]
  kSlice,     // [a:b], [a:], [:b]
  kWildcard,  // .* or [*]
  kFilter,    // [?(...)]
};

struct Step {
  StepKind kind = StepKind::kName;
  bool scan = false;  // preceded by "..": applies to the node and all its descendants
  bool has_from = false;
  bool has_to = false;
  std::int64_t index = 0;             // kIndex; kSlice "from"
  std::int64_t to = 0;                // kSlice "to"
  std::uint32_t filter = 0;           // kFilter: index into Impl::filters
  std::string name;                   // kName
  std::vector<std::string> names;     // kNames
  std::vector<std::int64_t> indexes;  // kIndexes
};

// A filter operand: a definite path relative to @ or $, or a literal.
struct Operand {
  enum class Kind : std::uint8_t { kCurrent, kRoot, kLiteral };
  Kind kind = Kind::kLiteral;
  std::vector<Step> steps;  // names and indices only
  json::value literal;
};

enum class CompareOp : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

struct FilterNode {
  enum class Kind : std::uint8_t { kOr, kAnd, kNot, kExists, kCompare };
  Kind kind = Kind::kExists;
  CompareOp op = CompareOp::kEq;
  std::uint32_t lhs = 0;  // child nodes of kOr/kAnd/kNot
  std::uint32_t rhs = 0;
  Operand a;  // kExists, kCompare
  Operand b;  // kCompare
};

struct Filter {
  std::vector<FilterNode> nodes;
  std::uint32_t root = 0;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Variable names: letters, digits and '_', not starting with a digit; bytes
// of multi-byte UTF-8 characters count as letters.
bool is_variable_start(char c) {
  return is_letter(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_variable_char(char c) {
  return is_variable_start(c) || is_digit(c);
}

// Resolves a possibly negative index against a size; false when out of range.
bool normalize_index(std::int64_t index, std::size_t size, std::size_t& out) {
  const auto n = static_cast<std::int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return false;
  out = static_cast<std::size_t>(index);
  return true;
}

// Member lookup. Boost.JSON scans small objects linearly anyway, but through
// three out-of-line calls; an inline scan is about twice as fast for the small
// objects state payloads mostly are. Large objects use Boost's hash index.
template <class Object>
auto member(Object& obj, std::string_view name) -> decltype(obj.if_contains(name)) {
  if (obj.size() > 16) return obj.if_contains(name);
  for (auto& kv : obj) {
    json::string_view key = kv.key();
    if (key.size() == name.size() && std::memcmp(key.data(), name.data(), name.size()) == 0) {
      return &kv.value();
    }
  }
  return nullptr;
}

// One definite step (name or index) applied to node; nullptr when it misses.
const json::value* apply_definite(const Step& s, const json::value& node) {
  if (s.kind == StepKind::kName) {
    const json::object* obj = node.if_object();
    return obj ? member(*obj, s.name) : nullptr;
  }
  const json::array* arr = node.if_array();
  std::size_t i = 0;
  if (!arr || !normalize_index(s.index, arr->size(), i)) return nullptr;
  return &(*arr)[i];
}

const json::value* walk_definite(const std::vector<Step>& steps, std::size_t count,
                                 const json::value* node) {
  for (std::size_t i = 0; i < count && node; ++i) node = apply_definite(steps[i], *node);
  return node;
}

void append_step_fragment(std::string& out, const Step& s) {
  if (s.scan) out += "..";
  switch (s.kind) {
    case StepKind::kName:
      out += "['";
      out += s.name;
      out += "']";
      break;
    case StepKind::kNames:
      out += '[';
      for (std::size_t i = 0; i < s.names.size(); ++i) {
        if (i) out += ',';
        out += '\'';
        out += s.names[i];
        out += '\'';
      }
      out += ']';
      break;
    case StepKind::kIndex:
      out += '[';
      out += std::to_string(s.index);
      out += ']';
      break;
    case StepKind::kIndexes:
      out += '[';
      for (std::size_t i = 0; i < s.indexes.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(s.indexes[i]);
      }
      out += ']';
      break;
    case StepKind::kSlice:
      out += '[';
      if (s.has_from) out += std::to_string(s.index);
      out += ':';
      if (s.has_to) out += std::to_string(s.to);
      out += ']';
      break;
    case StepKind::kWildcard:
      out += "[*]";
      break;
    case StepKind::kFilter:
      out += "[?]";
      break;
  }
}

// ---------------------------------------------------------------------------
// Parsing

class Parser {
 public:
  Parser(std::string_view text, std::vector<Filter>& filters) : t_(text), filters_(filters) {}

  // Parses the steps after the root ("$" or "$$" already consumed up to pos).
  bool parse_steps(std::size_t pos, std::vector<Step>& steps) {
    p_ = pos;
    while (p_ < t_.size()) {
      if (t_[p_] == '.') {
        if (!parse_dot(steps)) return false;
      } else if (t_[p_] == '[') {
        Step s;
        if (!parse_bracket(s)) return false;
        steps.push_back(std::move(s));
      } else {
        return fail("unexpected character '" + std::string(1, t_[p_]) + "'");
      }
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& what) { return fail_at(what, p_); }
  bool fail_at(const std::string& what, std::size_t at) {
    if (error_.empty()) error_ = what + " at index " + std::to_string(at);
    return false;
  }
  bool at_end() const { return p_ >= t_.size(); }
  char peek() const { return at_end() ? '\0' : t_[p_]; }
  void skip_spaces() {
    while (!at_end() && is_space(t_[p_])) ++p_;
  }

  // "." name | ".*" | ".." (name | "*" | bracket) | "." bracket
  bool parse_dot(std::vector<Step>& steps) {
    ++p_;  // '.'
    bool scan = false;
    if (peek() == '.') {
      scan = true;
      ++p_;
    }
    if (at_end()) return fail(scan ? "path must not end with '..'" : "path must not end with '.'");
    Step s;
    s.scan = scan;
    char c = peek();
    if (c == '.') return fail("unexpected '.'");
    if (c == '[') {
      if (!parse_bracket(s)) return false;
    } else if (c == '*') {
      ++p_;
      s.kind = StepKind::kWildcard;
    } else {
      if (!parse_dot_name(s.name)) return false;
      s.kind = StepKind::kName;
    }
    s.scan = scan;
    steps.push_back(std::move(s));
    return true;
  }

  // A dot-notation name runs to the next '.' or '['; Jayway rejects blanks
  // (bracket notation is needed) and treats '(' as a function call.
  bool parse_dot_name(std::string& name) {
    std::size_t start = p_;
    while (!at_end()) {
      char c = t_[p_];
      if (c == '.' || c == '[') break;
      if (is_space(c)) return fail("blank in a name (use bracket notation ['a b'])");
      if (c == '(') return fail("path functions are not supported");
      ++p_;
    }
    if (p_ == start) return fail("expected a name, '*' or '[' after '.'");
    name.assign(t_.substr(start, p_ - start));
    return true;
  }

  bool parse_bracket(Step& s) {
    std::size_t open = p_;
    ++p_;  // '['
    skip_spaces();
    if (at_end()) return fail_at("unclosed '['", open);
    char c = peek();
    if (c == '\'' || c == '"') {
      if (!parse_quoted_names(s)) return false;
    } else if (c == '*') {
      ++p_;
      s.kind = StepKind::kWildcard;
    } else if (c == '?') {
      ++p_;
      if (!parse_filter(s)) return false;
    } else if (c == '-' || c == ':' || is_digit(c)) {
      if (!parse_indexes_or_slice(s)) return false;
    } else if (c == ']') {
      return fail("empty brackets");
    } else {
      return fail("expected a quoted name, an index, a slice, '*' or '?' after '['");
    }
    skip_spaces();
    if (peek() != ']') return at_end() ? fail_at("unclosed '['", open) : fail("expected ']'");
    ++p_;
    return true;
  }

  // 'name' or "name"; the backslash keeps the next character from closing
  // the name but stays in it (AWS matches ['a\"b'] against the key a\"b).
  bool parse_quoted_name(std::string& out) {
    char quote = t_[p_];
    std::size_t start = ++p_;
    while (!at_end() && t_[p_] != quote) {
      if (t_[p_] == '\\') ++p_;
      ++p_;
    }
    if (at_end()) return fail_at("unterminated quoted name", start - 1);
    out.assign(t_.substr(start, p_ - start));
    ++p_;
    return true;
  }

  bool parse_quoted_names(Step& s) {
    std::vector<std::string> names;
    for (;;) {
      std::string name;
      if (!parse_quoted_name(name)) return false;
      names.push_back(std::move(name));
      skip_spaces();
      if (peek() != ',') break;
      ++p_;
      skip_spaces();
      if (peek() != '\'' && peek() != '"') return fail("expected a quoted name after ','");
    }
    if (names.size() == 1) {
      s.kind = StepKind::kName;
      s.name = std::move(names[0]);
    } else {
      s.kind = StepKind::kNames;
      s.names = std::move(names);
    }
    return true;
  }

  bool parse_int(std::int64_t& out) {
    std::size_t start = p_;
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++p_;
    }
    if (!is_digit(peek())) return fail("expected an integer");
    std::uint64_t v = 0;
    while (is_digit(peek())) {
      v = v * 10 + static_cast<std::uint64_t>(t_[p_] - '0');
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return fail_at("integer out of range", start);
      }
      ++p_;
    }
    out = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    return true;
  }

  bool parse_indexes_or_slice(Step& s) {
    std::int64_t first = 0;
    bool has_first = false;
    if (peek() != ':') {
      if (!parse_int(first)) return false;
      has_first = true;
      skip_spaces();
    }
    if (peek() == ':') {
      ++p_;
      skip_spaces();
      s.kind = StepKind::kSlice;
      s.has_from = has_first;
      s.index = first;
      if (peek() == '-' || is_digit(peek())) {
        if (!parse_int(s.to)) return false;
        s.has_to = true;
        skip_spaces();
      }
      if (peek() == ':') return fail("slice steps are not supported");
      return true;
    }
    if (peek() != ',') {
      s.kind = StepKind::kIndex;
      s.index = first;
      return true;
    }
    s.kind = StepKind::kIndexes;
    s.indexes.push_back(first);
    while (peek() == ',') {
      ++p_;
      skip_spaces();
      std::int64_t next = 0;
      if (!parse_int(next)) return false;
      s.indexes.push_back(next);
      skip_spaces();
    }
    return true;
  }

  // ---- filters: "?(" expr ")"

  bool parse_filter(Step& s) {
    skip_spaces();
    if (peek() != '(') return fail("expected '(' after '?'");
    ++p_;
    Filter f;
    std::uint32_t root = 0;
    if (!parse_or(f, root)) return false;
    skip_spaces();
    if (peek() != ')') return at_end() ? fail("unclosed filter") : fail("expected ')' in filter");
    ++p_;
    f.root = root;
    s.kind = StepKind::kFilter;
    s.filter = static_cast<std::uint32_t>(filters_.size());
    filters_.push_back(std::move(f));
    return true;
  }

  std::uint32_t add(Filter& f, FilterNode n) {
    f.nodes.push_back(std::move(n));
    return static_cast<std::uint32_t>(f.nodes.size() - 1);
  }

  bool parse_or(Filter& f, std::uint32_t& out) {
    if (!parse_and(f, out)) return false;
    for (;;) {
      skip_spaces();
      if (t_.substr(p_, 2) != "||") return true;
      p_ += 2;
      std::uint32_t rhs = 0;
      if (!parse_and(f, rhs)) return false;
      FilterNode n;
      n.kind = FilterNode::Kind::kOr;
      n.lhs = out;
      n.rhs = rhs;
      out = add(f, std::move(n));
    }
  }

  bool parse_and(Filter& f, std::uint32_t& out) {
    if (!parse_unary(f, out)) return false;
    for (;;) {
      skip_spaces();
      if (t_.substr(p_, 2) != "&&") return true;
      p_ += 2;
      std::uint32_t rhs = 0;
      if (!parse_unary(f, rhs)) return false;
      FilterNode n;
      n.kind = FilterNode::Kind::kAnd;
      n.lhs = out;
      n.rhs = rhs;
      out = add(f, std::move(n));
    }
  }

  bool parse_unary(Filter& f, std::uint32_t& out) {
    skip_spaces();
    if (peek() == '!' && t_.substr(p_, 2) != "!=") {
      ++p_;
      std::uint32_t inner = 0;
      if (!parse_unary(f, inner)) return false;
      FilterNode n;
      n.kind = FilterNode::Kind::kNot;
      n.lhs = inner;
      out = add(f, std::move(n));
      return true;
    }
    if (peek() == '(') {
      ++p_;
      if (!parse_or(f, out)) return false;
      skip_spaces();
      if (peek() != ')') return fail("expected ')' in filter");
      ++p_;
      return true;
    }
    return parse_relation(f, out);
  }

  bool parse_relation(Filter& f, std::uint32_t& out) {
    FilterNode n;
    std::size_t start = p_;
    if (!parse_operand(n.a)) return false;
    skip_spaces();
    CompareOp op{};
    if (!parse_compare_op(op)) {
      if (n.a.kind == Operand::Kind::kLiteral) {
        return fail_at("a literal alone is not a filter condition", start);
      }
      n.kind = FilterNode::Kind::kExists;
      out = add(f, std::move(n));
      return true;
    }
    skip_spaces();
    if (!parse_operand(n.b)) return false;
    n.kind = FilterNode::Kind::kCompare;
    n.op = op;
    out = add(f, std::move(n));
    return true;
  }

  bool parse_compare_op(CompareOp& op) {
    std::string_view rest = t_.substr(p_);
    struct Spelling {
      std::string_view text;
      CompareOp op;
    };
    static constexpr Spelling kOps[] = {
        {"==", CompareOp::kEq}, {"!=", CompareOp::kNe}, {"<=", CompareOp::kLe},
        {">=", CompareOp::kGe}, {"<", CompareOp::kLt},  {">", CompareOp::kGt},
    };
    for (const auto& s : kOps) {
      if (rest.substr(0, s.text.size()) == s.text) {
        p_ += s.text.size();
        op = s.op;
        return true;
      }
    }
    if (rest.substr(0, 2) == "=~") return fail("regular expressions (=~) are not supported");
    if (!rest.empty() && rest[0] == '=')
      return fail("expected '==' (a single '=' is not an operator)");
    for (std::string_view word :
         {"in ", "nin ", "subsetof", "anyof", "noneof", "size ", "empty", "contains"}) {
      if (rest.substr(0, word.size()) == word) {
        return fail("filter operator '" + std::string(word.substr(0, word.find(' '))) +
                    "' is not supported");
      }
    }
    return false;
  }

  bool parse_operand(Operand& o) {
    skip_spaces();
    char c = peek();
    if (c == '@' || c == '$') {
      o.kind = c == '@' ? Operand::Kind::kCurrent : Operand::Kind::kRoot;
      ++p_;
      return parse_operand_steps(o.steps);
    }
    if (c == '\'' || c == '"') return parse_string_literal(o.literal);
    if (c == '-' || is_digit(c)) return parse_number_literal(o.literal);
    for (std::string_view word : {"true", "false", "null"}) {
      if (t_.substr(p_, word.size()) == word) {
        p_ += word.size();
        o.literal = word == "null" ? json::value(nullptr) : json::value(word == "true");
        return true;
      }
    }
    if (at_end()) return fail("unclosed filter");
    return fail("expected a path (@ or $) or a literal in filter");
  }

  // Names and indices only: a filter operand names one value.
  bool parse_operand_steps(std::vector<Step>& steps) {
    for (;;) {
      if (peek() == '.') {
        ++p_;
        if (peek() == '.' || peek() == '*')
          return fail("only names and indices are supported in filter paths");
        std::size_t start = p_;
        while (!at_end() &&
               std::string_view(".[ \t)=!<>&|,").find(t_[p_]) == std::string_view::npos) {
          if (t_[p_] == '(') return fail("path functions are not supported");
          ++p_;
        }
        if (p_ == start) return fail("expected a name after '.'");
        Step s;
        s.kind = StepKind::kName;
        s.name.assign(t_.substr(start, p_ - start));
        steps.push_back(std::move(s));
      } else if (peek() == '[') {
        Step s;
        std::size_t start = p_;
        if (!parse_bracket(s)) return false;
        if (s.kind != StepKind::kName && s.kind != StepKind::kIndex) {
          return fail_at("only names and indices are supported in filter paths", start);
        }
        steps.push_back(std::move(s));
      } else {
        return true;
      }
    }
  }

  bool parse_string_literal(json::value& out) {
    char quote = t_[p_];
    std::size_t start = p_++;
    std::string s;
    while (!at_end() && t_[p_] != quote) {
      char c = t_[p_++];
      if (c == '\\' && !at_end()) {
        char e = t_[p_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          default:
            c = e;
            break;
        }
      }
      s += c;
    }
    if (at_end()) return fail_at("unterminated string in filter", start);
    ++p_;
    out = json::string(s);
    return true;
  }

  bool parse_number_literal(json::value& out) {
    std::size_t start = p_;
    if (peek() == '-') ++p_;
    while (!at_end() &&
           (is_digit(t_[p_]) || t_[p_] == '.' || t_[p_] == 'e' || t_[p_] == 'E' ||
            ((t_[p_] == '+' || t_[p_] == '-') && (t_[p_ - 1] == 'e' || t_[p_ - 1] == 'E')))) {
      ++p_;
    }
    boost::system::error_code ec;
    json::value v = json::parse(t_.substr(start, p_ - start), ec);
    if (ec || !v.is_number()) return fail_at("invalid number in filter", start);
    out = std::move(v);
    return true;
  }

  std::string_view t_;
  std::vector<Filter>& filters_;
  std::size_t p_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------------------
// Filter evaluation

// -1, 0, 1; integers compare exactly, anything else as doubles.
int compare_numbers(const json::value& a, const json::value& b) {
  if (a.is_int64() && b.is_int64()) {
    auto x = a.get_int64(), y = b.get_int64();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (!a.is_double() && !b.is_double()) {  // int64/uint64 mix
    if (a.is_int64() && a.get_int64() < 0) return -1;
    if (b.is_int64() && b.get_int64() < 0) return 1;
    auto x = a.to_number<std::uint64_t>(), y = b.to_number<std::uint64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  double x = a.to_number<double>(), y = b.to_number<double>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool values_equal(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  return a == b;
}

bool compare(CompareOp op, const json::value* a, const json::value* b) {
  // A missing operand is Jayway's "undefined": equal to nothing.
  if (!a || !b) return op == CompareOp::kNe;
  if (op == CompareOp::kEq) return values_equal(*a, *b);
  if (op == CompareOp::kNe) return !values_equal(*a, *b);
  int c = 0;
  if (a->is_number() && b->is_number()) {
    c = compare_numbers(*a, *b);
  } else if (a->is_string() && b->is_string()) {
    int r = std::string_view(a->get_string()).compare(std::string_view(b->get_string()));
    c = r < 0 ? -1 : (r > 0 ? 1 : 0);
  } else {
    return false;
  }
  switch (op) {
    case CompareOp::kLt:
      return c < 0;
    case CompareOp::kLe:
      return c <= 0;
    case CompareOp::kGt:
      return c > 0;
    case CompareOp::kGe:
      return c >= 0;
    default:
      return false;
  }
}

const json::value* resolve(const Operand& o, const json::value& current, const json::value& root) {
  switch (o.kind) {
    case Operand::Kind::kCurrent:
      return walk_definite(o.steps, o.steps.size(), &current);
    case Operand::Kind::kRoot:
      return walk_definite(o.steps, o.steps.size(), &root);
    case Operand::Kind::kLiteral:
      return &o.literal;
  }
  return nullptr;
}

bool matches(const Filter& f, std::uint32_t node, const json::value& current,
             const json::value& root) {
  const FilterNode& n = f.nodes[node];
  switch (n.kind) {
    case FilterNode::Kind::kOr:
      return matches(f, n.lhs, current, root) || matches(f, n.rhs, current, root);
    case FilterNode::Kind::kAnd:
      return matches(f, n.lhs, current, root) && matches(f, n.rhs, current, root);
    case FilterNode::Kind::kNot:
      return !matches(f, n.lhs, current, root);
    case FilterNode::Kind::kExists:
      return resolve(n.a, current, root) != nullptr;
    case FilterNode::Kind::kCompare:
      return compare(n.op, resolve(n.a, current, root), resolve(n.b, current, root));
  }
  return false;
}

// The Java class Jayway names when a step meets the wrong kind of value.
const char* java_class_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "java.lang.Boolean";
    case json::kind::int64:
    case json::kind::uint64: {
      auto i = v.to_number<double>();
      return i >= -2147483648.0 && i <= 2147483647.0 ? "java.lang.Integer" : "java.lang.Long";
    }
    case json::kind::double_:
      return "java.lang.Double";
    case json::kind::string:
      return "java.lang.String";
    case json::kind::array:
      return "net.minidev.json.JSONArray";
    case json::kind::object:
      return "java.util.LinkedHashMap";
  }
  return "null";
}

}  // namespace

// ---------------------------------------------------------------------------

struct JsonPath::Impl {
  std::string text;
  std::string canonical;
  std::string variable;  // "x" for "$x.a"; empty otherwise
  std::vector<Step> steps;
  std::vector<Filter> filters;
  bool context = false;
  bool definite = true;
  bool reference = true;
  // The last step is a name union whose matches are merged into one object
  // (Jayway); merge_after_definite: every step before it is definite.
  bool merge_leaf = false;
  bool merge_after_definite = false;

  void collect(std::size_t i, const json::value& node, const json::value& root,
               json::array& out) const;
  void apply(std::size_t i, const json::value& node, const json::value& root,
             json::array& out) const;
  void scan(std::size_t i, const json::value& node, const json::value& root,
            json::array& out) const;
  json::value merge(const Step& s, const json::object& obj) const;
  std::string explain_miss(const json::value& root, std::size_t count) const;
};

void JsonPath::Impl::collect(std::size_t i, const json::value& node, const json::value& root,
                             json::array& out) const {
  if (i == steps.size()) {
    out.push_back(node);
    return;
  }
  if (steps[i].scan) {
    scan(i, node, root, out);
  } else {
    apply(i, node, root, out);
  }
}

json::value JsonPath::Impl::merge(const Step& s, const json::object& obj) const {
  json::object merged;
  for (const auto& name : s.names) {
    if (const json::value* v = member(obj, name)) merged.emplace(name, *v);
  }
  return merged;
}

// Applies step i (not as a scan) to node and continues with each match.
void JsonPath::Impl::apply(std::size_t i, const json::value& node, const json::value& root,
                           json::array& out) const {
  const Step& s = steps[i];
  switch (s.kind) {
    case StepKind::kName:
    case StepKind::kIndex:
      if (const json::value* v = apply_definite(s, node)) collect(i + 1, *v, root, out);
      return;
    case StepKind::kNames: {
      const json::object* obj = node.if_object();
      if (!obj) return;
      if (merge_leaf && i + 1 == steps.size()) {
        out.push_back(merge(s, *obj));
        return;
      }
      for (const auto& name : s.names) {
        if (const json::value* v = member(*obj, name)) collect(i + 1, *v, root, out);
      }
      return;
    }
    case StepKind::kIndexes: {
      const json::array* arr = node.if_array();
      if (!arr) return;
      for (std::int64_t index : s.indexes) {
        std::size_t k = 0;
        if (normalize_index(index, arr->size(), k)) collect(i + 1, (*arr)[k], root, out);
      }
      return;
    }
    case StepKind::kSlice: {
      const json::array* arr = node.if_array();
      if (!arr) return;
      // Negative bounds count from the end; bounds are clamped to the array.
      const auto n = static_cast<std::int64_t>(arr->size());
      auto clamp = [n](std::int64_t b) {
        return b < 0 ? std::max<std::int64_t>(0, n + b) : std::min(b, n);
      };
      std::int64_t from = s.has_from ? clamp(s.index) : 0;
      std::int64_t to = s.has_to ? clamp(s.to) : n;
      for (std::int64_t k = from; k < to; ++k) {
        collect(i + 1, (*arr)[static_cast<std::size_t>(k)], root, out);
      }
      return;
    }
    case StepKind::kWildcard:
      if (const json::object* obj = node.if_object()) {
        for (const auto& kv : *obj) collect(i + 1, kv.value(), root, out);
      } else if (const json::array* arr = node.if_array()) {
        for (const auto& element : *arr) collect(i + 1, element, root, out);
      }
      return;
    case StepKind::kFilter: {
      // On an array the filter selects elements; on an object it tests the object itself.
      const Filter& f = filters[s.filter];
      if (const json::array* arr = node.if_array()) {
        for (const auto& element : *arr) {
          if (matches(f, f.root, element, root)) collect(i + 1, element, root, out);
        }
      } else if (node.is_object() && matches(f, f.root, node, root)) {
        collect(i + 1, node, root, out);
      }
      return;
    }
  }
}

// Deep scan: the step applies to node and then to every descendant, in
// document (pre-)order, as Jayway walks. A scanned filter tests each node
// itself; a scanned name union needs all of its names present.
void JsonPath::Impl::scan(std::size_t i, const json::value& node, const json::value& root,
                          json::array& out) const {
  const Step& s = steps[i];
  if (s.kind == StepKind::kFilter) {
    const Filter& f = filters[s.filter];
    if (matches(f, f.root, node, root)) collect(i + 1, node, root, out);
  } else if (s.kind == StepKind::kNames) {
    const json::object* obj = node.if_object();
    bool all = obj != nullptr;
    for (std::size_t k = 0; all && k < s.names.size(); ++k) all = obj->contains(s.names[k]);
    if (all) apply(i, node, root, out);
  } else {
    apply(i, node, root, out);
  }
  if (const json::object* obj = node.if_object()) {
    for (const auto& kv : *obj) scan(i, kv.value(), root, out);
  } else if (const json::array* arr = node.if_array()) {
    for (const auto& element : *arr) scan(i, element, root, out);
  }
}

// Re-walks the first `count` (definite) steps to say, as Jayway does, why
// nothing matched. Only called after a miss.
std::string JsonPath::Impl::explain_miss(const json::value& root, std::size_t count) const {
  std::string prefix = "$" + variable;
  const json::value* node = &root;
  for (std::size_t i = 0; i < count; ++i) {
    const Step& s = steps[i];
    const bool leaf = i + 1 == steps.size();
    if (s.kind == StepKind::kName || s.kind == StepKind::kNames) {
      const json::object* obj = node->if_object();
      if (!obj) {
        std::string fragment;
        append_step_fragment(fragment, s);
        return "Expected to find an object with property " + fragment + " in path " + prefix +
               " but found '" + java_class_name(*node) +
               "'. This is not a json object according to the JsonProvider: "
               "'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'.";
      }
      if (s.kind == StepKind::kNames) break;  // a merge always yields an object
      const json::value* next = member(*obj, s.name);
      if (!next) {
        if (leaf) break;
        return "Missing property in path " + prefix + "['" + s.name + "']";
      }
      node = next;
    } else {
      if (node->is_null()) return "The path " + prefix + " is null";
      const json::array* arr = node->if_array();
      if (!arr) {
        // Jayway prints the token with the rest of the path after it, and
        // the value as Java's toString (a string without quotes).
        std::string rest;
        for (std::size_t k = i; k < steps.size(); ++k) append_step_fragment(rest, steps[k]);
        std::string context = node->is_string() ? std::string(node->get_string()) : to_json(*node);
        return "Filter: " + rest + " can only be applied to arrays. Current context is: " + context;
      }
      std::size_t k = 0;
      if (!normalize_index(s.index, arr->size(), k)) break;
      node = &(*arr)[k];
    }
    append_step_fragment(prefix, s);
  }
  return "No results for path: " + canonical;
}

// ---------------------------------------------------------------------------

std::optional<JsonPath> JsonPath::parse(std::string_view text, std::string* error) {
  auto set_error = [error](std::string message) {
    if (error) *error = std::move(message);
  };
  if (text.empty() || text[0] != '$') {
    set_error("a path must start with '$' at index 0");
    return std::nullopt;
  }
  auto impl = std::make_shared<Impl>();
  impl->text.assign(text);
  std::size_t steps_start = 1;
  if (text.size() > 1 && text[1] == '$') {
    impl->context = true;
    steps_start = 2;
  } else if (text.size() > 1 && is_variable_start(text[1])) {
    while (steps_start < text.size() && text[steps_start] != '.' && text[steps_start] != '[') {
      if (!is_variable_char(text[steps_start])) {
        set_error("invalid character '" + std::string(1, text[steps_start]) +
                  "' in a variable name at index " + std::to_string(steps_start));
        return std::nullopt;
      }
      ++steps_start;
    }
    impl->variable.assign(text.substr(1, steps_start - 1));
  }
  Parser parser(text, impl->filters);
  if (!parser.parse_steps(steps_start, impl->steps)) {
    set_error(parser.error());
    return std::nullopt;
  }
  impl->canonical = "$" + impl->variable;
  const std::size_t n = impl->steps.size();
  bool definite_before = true;
  for (std::size_t i = 0; i < n; ++i) {
    const Step& s = impl->steps[i];
    append_step_fragment(impl->canonical, s);
    const bool definite_step = !s.scan && (s.kind == StepKind::kName || s.kind == StepKind::kIndex);
    const bool leaf_merge = !s.scan && s.kind == StepKind::kNames && i + 1 == n;
    if (!definite_step) impl->definite = false;
    if (!definite_step || (s.kind == StepKind::kIndex && s.index < 0)) impl->reference = false;
    if (leaf_merge) {
      impl->merge_leaf = true;
      impl->merge_after_definite = definite_before;  // the steps before it
    }
    definite_before = definite_before && definite_step;
  }
  return JsonPath(std::move(impl));
}

JsonPath::JsonPath(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
JsonPath::JsonPath(const JsonPath&) = default;
JsonPath::JsonPath(JsonPath&&) noexcept = default;
JsonPath& JsonPath::operator=(const JsonPath&) = default;
JsonPath& JsonPath::operator=(JsonPath&&) noexcept = default;
JsonPath::~JsonPath() = default;

const std::string& JsonPath::text() const {
  return impl_->text;
}
const std::string& JsonPath::canonical() const {
  return impl_->canonical;
}
bool JsonPath::is_context() const {
  return impl_->context;
}
bool JsonPath::is_variable() const {
  return !impl_->variable.empty();
}
const std::string& JsonPath::variable() const {
  return impl_->variable;
}
bool JsonPath::is_root() const {
  return impl_->steps.empty();
}
bool JsonPath::is_reference() const {
  return impl_->reference;
}
bool JsonPath::is_definite() const {
  return impl_->definite;
}

const json::value* JsonPath::find(const json::value& root) const {
  if (!impl_->definite) return nullptr;
  return walk_definite(impl_->steps, impl_->steps.size(), &root);
}

std::optional<json::value> JsonPath::select(const json::value& root, std::string* miss) const {
  const Impl& p = *impl_;
  if (p.definite) {
    if (const json::value* v = walk_definite(p.steps, p.steps.size(), &root)) return *v;
    if (miss) *miss = p.explain_miss(root, p.steps.size());
    return std::nullopt;
  }
  if (p.merge_leaf && p.merge_after_definite) {
    const std::size_t prefix = p.steps.size() - 1;
    const json::value* v = walk_definite(p.steps, prefix, &root);
    if (!v) {
      if (miss) *miss = p.explain_miss(root, prefix);
      return std::nullopt;
    }
    if (const json::object* obj = v->if_object()) return p.merge(p.steps.back(), *obj);
    if (miss) *miss = p.explain_miss(root, p.steps.size());
    return std::nullopt;
  }
  json::array out;
  p.collect(0, root, root, out);
  return json::value(std::move(out));
}

bool JsonPath::assign(json::value& root, json::value v, std::string* error) const {
  return assign_impl(root, std::move(v), nullptr, error);
}

bool JsonPath::assign(json::value& root, json::value v, AssignUndo& undo, std::string* error) const {
  return assign_impl(root, std::move(v), &undo, error);
}

bool JsonPath::assign_impl(json::value& root, json::value v, AssignUndo* undo, std::string* error) const {
  const Impl& p = *impl_;
  auto conflict = [&]() {
    if (error) *error = "Unable to apply ReferencePath " + p.text + " to input " + to_json(root);
    return false;
  };
  if (!p.reference) return conflict();
  const std::size_t n = p.steps.size();
  json::value* node = &root;
  for (std::size_t i = 0; i < n; ++i) {
    const Step& s = p.steps[i];
    if (s.kind == StepKind::kIndex) {
      json::array* arr = node->if_array();
      std::size_t k = 0;
      if (!arr || !normalize_index(s.index, arr->size(), k)) return conflict();
      node = &(*arr)[k];
      continue;
    }
    json::object* obj = node->if_object();
    if (!obj) return conflict();
    if (json::value* next = member(*obj, s.name)) {
      node = next;
      continue;
    }
    // The rest of the path is created as nested objects, which only works
    // when it is made of names; check first so a failure changes nothing.
    for (std::size_t k = i + 1; k < n; ++k) {
      if (p.steps[k].kind != StepKind::kName) return conflict();
    }
    if (undo) {
      undo->depth = i;
      undo->replaced = false;
    }
    node = &(*obj)[s.name];
    for (std::size_t k = i + 1; k < n; ++k) {
      node->emplace_object();
      node = &node->get_object()[p.steps[k].name];
    }
    *node = std::move(v);
    return true;
  }
  if (undo) {
    undo->depth = n;
    undo->replaced = true;
    undo->old = std::move(*node);
  }
  *node = std::move(v);
  return true;
}

void JsonPath::undo_assign(json::value& root, AssignUndo&& undo) const {
  // The same steps as assign took, on the same (unchanged) structure: each
  // one exists.
  const Impl& p = *impl_;
  json::value* node = &root;
  for (std::size_t i = 0; i < undo.depth; ++i) {
    const Step& s = p.steps[i];
    if (s.kind == StepKind::kIndex) {
      std::size_t k = 0;
      json::array& arr = node->get_array();
      normalize_index(s.index, arr.size(), k);
      node = &arr[k];
    } else {
      node = member(node->get_object(), s.name);
    }
  }
  if (undo.replaced) {
    *node = std::move(undo.old);
  } else {
    // The member assign added is its object's last: erasing it moves nothing.
    node->get_object().erase(p.steps[undo.depth].name);
  }
}

}  // namespace stepwise::states
