#include "states/intrinsics.h"

#include <boost/container/small_vector.hpp>
#include <cctype>
#include <charconv>
#include <vector>

#include "states/intrinsic_functions.h"
#include "states/jsonpath.h"

namespace stepwise::states {
namespace {

using intrinsics::FormatTemplate;
using intrinsics::Function;

struct Call;

// One argument of a call, resolved as far as parsing allows: a constant, a
// compiled path, or a nested call.
struct Argument {
  enum class Kind { kLiteral, kPath, kCall };
  Kind kind = Kind::kLiteral;
  json::value literal;
  std::optional<JsonPath> path;
  std::unique_ptr<Call> call;
};

struct Call {
  Function function = Function::kArray;
  std::vector<Argument> args;
  // States.Format with a literal template: split once, here, with escaped
  // braces already told apart from placeholders.
  std::optional<FormatTemplate> format_template;
};

// A string literal's value, and the same text split at unescaped "{}" (for
// States.Format templates).
struct StringLiteral {
  std::string value;
  FormatTemplate as_template;
};

// Recursive-descent parser over the call text. Errors carry the offset.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::optional<Call> parse_top_level(std::string* error) {
    auto call = parse_call();
    if (call) {
      skip_spaces();
      if (pos_ != text_.size()) {
        fail("unexpected text after the closing parenthesis");
        call.reset();
      }
    }
    if (!call && error) *error = error_;
    return call;
  }

 private:
  static constexpr int kMaxDepth = 64;

  void fail(std::string message) {
    if (error_.empty()) error_ = message + " at position " + std::to_string(pos_);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_spaces() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }
  bool starts_with(std::string_view s) const { return text_.substr(pos_).starts_with(s); }

  std::optional<Call> parse_call() {
    if (++depth_ > kMaxDepth) {
      fail("intrinsic functions are nested too deeply");
      return std::nullopt;
    }
    std::size_t name_start = pos_;
    if (!starts_with("States.")) {
      fail("expected an intrinsic function name");
      return std::nullopt;
    }
    pos_ += 7;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(peek())) != 0)) ++pos_;
    std::string_view name = text_.substr(name_start, pos_ - name_start);
    const auto* info = intrinsics::find_function(name);
    if (info == nullptr) {
      pos_ = name_start;
      fail("unknown intrinsic function '" + std::string(name) + "'");
      return std::nullopt;
    }
    skip_spaces();
    if (peek() != '(') {
      fail("expected '(' after " + std::string(name));
      return std::nullopt;
    }
    ++pos_;
    Call call;
    call.function = info->function;
    skip_spaces();
    if (peek() == ')') {
      ++pos_;
    } else {
      while (true) {
        skip_spaces();
        bool first_of_format = info->function == Function::kFormat && call.args.empty();
        auto arg = parse_argument(first_of_format ? &call.format_template : nullptr);
        if (!arg) return std::nullopt;
        call.args.push_back(std::move(*arg));
        skip_spaces();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == ')') {
          ++pos_;
          break;
        }
        fail("expected ',' or ')'");
        return std::nullopt;
      }
    }
    auto count = static_cast<int>(call.args.size());
    if (count < info->min_args || (info->max_args >= 0 && count > info->max_args)) {
      fail(std::string(name) + " does not take " + std::to_string(count) + " argument" +
           (count == 1 ? "" : "s"));
      return std::nullopt;
    }
    --depth_;
    return call;
  }

  // format_template is set for the first argument of States.Format: a string
  // literal there is kept split at its placeholders.
  std::optional<Argument> parse_argument(std::optional<FormatTemplate>* format_template) {
    Argument arg;
    char c = peek();
    if (c == '\'') {
      auto literal = parse_string();
      if (!literal) return std::nullopt;
      if (format_template) *format_template = std::move(literal->as_template);
      arg.literal = json::string(literal->value);
      return arg;
    }
    if (c == '$') return parse_path();
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    if (starts_with("States.")) {
      auto call = parse_call();
      if (!call) return std::nullopt;
      arg.kind = Argument::Kind::kCall;
      arg.call = std::make_unique<Call>(std::move(*call));
      return arg;
    }
    if (take_word("true")) {
      arg.literal = true;
      return arg;
    }
    if (take_word("false")) {
      arg.literal = false;
      return arg;
    }
    if (take_word("null")) {
      arg.literal = nullptr;
      return arg;
    }
    fail("expected an argument");
    return std::nullopt;
  }

  bool take_word(std::string_view word) {
    if (!starts_with(word) || is_word_char(pos_ + word.size())) return false;
    pos_ += word.size();
    return true;
  }

  bool is_word_char(std::size_t at) const {
    if (at >= text_.size()) return false;
    auto ch = static_cast<unsigned char>(text_[at]);
    return std::isalnum(ch) != 0 || ch == '_' || ch == '.';
  }

  // '...' with the escapes \' \{ \} \\ ; any other backslash is an error
  // (AWS rejects e.g. \" in a definition).
  std::optional<StringLiteral> parse_string() {
    ++pos_;  // opening quote
    StringLiteral out;
    out.as_template.pieces.emplace_back();
    while (true) {
      if (at_end()) {
        fail("unterminated string literal");
        return std::nullopt;
      }
      char ch = text_[pos_];
      if (ch == '\'') {
        ++pos_;
        return out;
      }
      if (ch == '\\') {
        char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
        if (next != '\'' && next != '{' && next != '}' && next != '\\') {
          fail("invalid escape sequence in string literal");
          return std::nullopt;
        }
        out.value.push_back(next);
        out.as_template.pieces.back().push_back(next);
        pos_ += 2;
        continue;
      }
      if (ch == '{' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '}') {
        out.value += "{}";
        out.as_template.pieces.emplace_back();
        pos_ += 2;
        continue;
      }
      out.value.push_back(ch);
      out.as_template.pieces.back().push_back(ch);
      ++pos_;
    }
  }

  std::optional<Argument> parse_number() {
    std::size_t start = pos_;
    if (peek() == '-') ++pos_;
    std::size_t digits_start = pos_;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(peek())) != 0) ++pos_;
    bool integral = true;
    if (pos_ == digits_start) {
      fail("expected a number");
      return std::nullopt;
    }
    if (peek() == '.') {
      integral = false;
      ++pos_;
      std::size_t frac_start = pos_;
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek())) != 0) ++pos_;
      if (pos_ == frac_start) {
        fail("expected digits after the decimal point");
        return std::nullopt;
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      std::size_t exp_start = pos_;
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek())) != 0) ++pos_;
      if (pos_ == exp_start) {
        fail("expected digits in the exponent");
        return std::nullopt;
      }
    }
    std::string_view text = text_.substr(start, pos_ - start);
    Argument arg;
    if (integral) {
      std::int64_t n = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), n);
      if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
        arg.literal = n;
        return arg;
      }
    }
    // Decimals, and integers too large for 64 bits, as JSON would read them.
    auto parsed = parse_json(text);
    if (!parsed) {
      fail("invalid number");
      return std::nullopt;
    }
    arg.literal = std::move(*parsed);
    return arg;
  }

  // A path runs to the next ',' or ')' outside brackets, parentheses and
  // quotes (filters and quoted names may contain both).
  std::optional<Argument> parse_path() {
    std::size_t start = pos_;
    int depth = 0;
    char quote = '\0';
    for (; !at_end(); ++pos_) {
      char ch = peek();
      if (quote != '\0') {
        if (ch == '\\') {
          ++pos_;
        } else if (ch == quote) {
          quote = '\0';
        }
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
      } else if (ch == '[' || ch == '(') {
        ++depth;
      } else if (ch == ']' || (ch == ')' && depth > 0)) {
        --depth;
      } else if (depth == 0 && (ch == ',' || ch == ')')) {
        break;
      }
    }
    std::string_view text = text_.substr(start, pos_ - start);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    std::string path_error;
    auto path = JsonPath::parse(text, &path_error);
    if (!path) {
      pos_ = start;
      fail("invalid path '" + std::string(text) + "'" +
           (path_error.empty() ? std::string() : ": " + path_error));
      return std::nullopt;
    }
    Argument arg;
    arg.kind = Argument::Kind::kPath;
    arg.path = std::move(*path);
    return arg;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::string error_;
};

// AWS's message for a path that selects nothing; the payload template and
// intrinsic arguments share it.
Failure path_not_found(const JsonPath& path, std::string_view field, const json::value& input) {
  std::string cause = "The JSONPath '" + path.text() + "'";
  if (!field.empty()) {
    cause += " specified for the field '";
    cause += field;
    cause += "'";
  }
  cause += " could not be found in the input '";
  append_json(cause, input);
  cause += "'";
  return runtime_failure(std::move(cause));
}

Result<json::value> evaluate_call(const Call& call, const Scope& scope, std::string_view field);

// Evaluated arguments: pointers into the input (paths, literals) or into
// `owned` (results of nested calls and indefinite paths), so that reading
// input values copies nothing. Inline storage covers the usual argument
// counts without touching the heap.
class EvaluatedArgs {
 public:
  explicit EvaluatedArgs(std::size_t n) {
    owned_.reserve(n);
    pointers_.reserve(n);
  }
  void refer(const json::value* v) { pointers_.push_back(v); }
  void own(json::value v) {
    owned_.push_back(std::move(v));
    pointers_.push_back(&owned_.back());
  }
  intrinsics::Args view() const { return {pointers_.data(), pointers_.size()}; }

 private:
  static constexpr std::size_t kInline = 4;
  // Reserved up front for every argument: never reallocates, so the
  // pointers into it stay valid.
  boost::container::small_vector<json::value, kInline> owned_;
  boost::container::small_vector<const json::value*, kInline> pointers_;
};

std::optional<Failure> evaluate_argument(const Argument& arg, const Scope& scope,
                                         std::string_view field, EvaluatedArgs& out) {
  switch (arg.kind) {
    case Argument::Kind::kLiteral:
      out.refer(&arg.literal);
      return std::nullopt;
    case Argument::Kind::kCall: {
      auto r = evaluate_call(*arg.call, scope, field);
      if (!r) return std::move(r.failure());
      out.own(std::move(*r));
      return std::nullopt;
    }
    case Argument::Kind::kPath: {
      const JsonPath& path = *arg.path;
      const json::value* root_p = path_root(path.is_context(), path.is_variable(), path.variable(), scope);
      if (!root_p) return path_not_found(path, field, scope.input);
      const json::value& root = *root_p;
      if (path.is_definite()) {
        const json::value* found = path.find(root);
        if (found == nullptr) return path_not_found(path, field, scope.input);
        out.refer(found);
        return std::nullopt;
      }
      auto selected = path.select(root);
      if (!selected) return path_not_found(path, field, scope.input);
      out.own(std::move(*selected));
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Result<json::value> evaluate_call(const Call& call, const Scope& scope, std::string_view field) {
  EvaluatedArgs args(call.args.size());
  for (const auto& arg : call.args) {
    if (auto failure = evaluate_argument(arg, scope, field, args)) return std::move(*failure);
  }
  const FormatTemplate* format_template = call.format_template ? &*call.format_template : nullptr;
  return intrinsics::apply(call.function, args.view(), format_template, scope.random);
}

}  // namespace

struct Intrinsic::Impl {
  std::string text;
  Call root;
};

bool Intrinsic::looks_like_call(std::string_view text) {
  return text.starts_with("States.");
}

std::optional<Intrinsic> Intrinsic::parse(std::string_view text, std::string* error) {
  Parser parser(text);
  auto call = parser.parse_top_level(error);
  if (!call) return std::nullopt;
  auto impl = std::make_shared<Impl>();
  impl->text = std::string(text);
  impl->root = std::move(*call);
  return Intrinsic(std::move(impl));
}

const std::string& Intrinsic::text() const {
  return impl_->text;
}

Result<json::value> Intrinsic::evaluate(const Scope& scope, std::string_view field) const {
  return evaluate_call(impl_->root, scope, field);
}

Intrinsic::Intrinsic(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Intrinsic::Intrinsic(const Intrinsic&) = default;
Intrinsic::Intrinsic(Intrinsic&&) noexcept = default;
Intrinsic& Intrinsic::operator=(const Intrinsic&) = default;
Intrinsic& Intrinsic::operator=(Intrinsic&&) noexcept = default;
Intrinsic::~Intrinsic() = default;

}  // namespace stepwise::states
