// JSONata lexer and Pratt parser, then the post-processing pass that turns the
// parse tree into the evaluator's AST (paths, stages, tuple steps, parent slots),
// following the structure jsonata-js uses so that every flag means the same thing.
#include <cmath>
#include <cstring>
#include <string>

#include "states/jsonata/internal.h"

namespace stepwise::jsonata::detail {
namespace {

bool is_operator_char(char c) {
  return std::strchr(".[]{}(),@#;:?+-*/%|=<>^&!~", c) != nullptr && c != 0;
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v';
}

int binding_power(const std::string& op) {
  static const std::pair<const char*, int> kTable[] = {
      {".", 75},  {"[", 80},  {"{", 70},  {"(", 80},   {"@", 80},  {"#", 80},  {"?", 20}, {"+", 50},  {"-", 50},
      {"*", 60},  {"/", 60},  {"%", 60},  {"=", 40},   {"<", 40},  {">", 40},  {"^", 40}, {"!=", 40}, {"<=", 40},
      {">=", 40}, {"~>", 40}, {":=", 10}, {"and", 30}, {"or", 25}, {"in", 40}, {"&", 50}};
  for (const auto& [name, bp] : kTable) {
    if (op == name) return bp;
  }
  return 0;
}

bool known_symbol(const std::string& op) {
  static const char* kSymbols[] = {".",  "[",  "]",  "{",  "}",  "(",  ")",   ",",  "@",  "#", ";", ":",
                                   "?",  "+",  "-",  "*",  "/",  "%",  "|",   "=",  "<",  ">", "^", "**",
                                   "..", ":=", "!=", "<=", ">=", "~>", "and", "or", "in", "&"};
  for (const char* s : kSymbols) {
    if (op == s) return true;
  }
  return false;
}

struct Token {
  NodeType type = NodeType::kEnd;  // kName, kVariable, kOperator, kString, kNumber, kValue, kRegex, kEnd
  std::string value;
  Value literal;
  std::size_t position = 0;
  std::shared_ptr<std::regex> regex;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  // nullopt at the end of input.
  std::optional<Token> next(bool prefix) {
    if (pos_ >= s_.size()) return std::nullopt;
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
    if (pos_ + 1 < s_.size() && s_[pos_] == '/' && s_[pos_ + 1] == '*') {
      std::size_t start = pos_;
      pos_ += 2;
      while (!(pos_ + 1 < s_.size() && s_[pos_] == '*' && s_[pos_ + 1] == '/')) {
        ++pos_;
        if (pos_ >= s_.size()) fail("S0106", start);
      }
      pos_ += 2;
      return next(prefix);
    }
    if (pos_ >= s_.size()) return std::nullopt;
    char c = s_[pos_];
    if (!prefix && c == '/') {
      ++pos_;
      return scan_regex();
    }
    auto two = [&](const char* op) { return s_.compare(pos_, 2, op) == 0; };
    for (const char* op : {"..", ":=", "!=", ">=", "<=", "**", "~>"}) {
      if (two(op)) {
        pos_ += 2;
        return make(NodeType::kOperator, op);
      }
    }
    if (is_operator_char(c)) {
      ++pos_;
      return make(NodeType::kOperator, std::string(1, c));
    }
    if (c == '"' || c == '\'') return scan_string(c);
    if (auto num = scan_number()) return num;
    if (c == '`') {
      ++pos_;
      auto end = s_.find('`', pos_);
      if (end != std::string_view::npos) {
        std::string name(s_.substr(pos_, end - pos_));
        pos_ = end + 1;
        return make(NodeType::kName, name);
      }
      pos_ = s_.size();
      fail("S0105", pos_);
    }
    std::size_t i = pos_;
    while (i < s_.size() && !is_space(s_[i]) && !is_operator_char(s_[i])) ++i;
    if (s_[pos_] == '$') {
      std::string name(s_.substr(pos_ + 1, i - pos_ - 1));
      pos_ = i;
      return make(NodeType::kVariable, name);
    }
    std::string name(s_.substr(pos_, i - pos_));
    pos_ = i;
    if (name == "or" || name == "in" || name == "and") return make(NodeType::kOperator, name);
    if (name == "true" || name == "false" || name == "null") {
      Token t = make(NodeType::kValue, name);
      t.literal = name == "null" ? Value::null() : Value(name == "true");
      return t;
    }
    if (pos_ == s_.size() && name.empty()) return std::nullopt;
    return make(NodeType::kName, name);
  }

  std::size_t size() const { return s_.size(); }

 private:
  Token make(NodeType type, std::string value) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    t.position = pos_;
    return t;
  }

  Token scan_string(char quote) {
    ++pos_;
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\\') {
        ++pos_;
        c = pos_ < s_.size() ? s_[pos_] : '\0';
        switch (c) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            auto hex4 = [&](std::size_t at) -> std::optional<std::uint32_t> {
              if (at + 4 > s_.size()) return std::nullopt;
              std::uint32_t v = 0;
              for (std::size_t k = at; k < at + 4; ++k) {
                char h = s_[k];
                if (!std::isxdigit(static_cast<unsigned char>(h))) return std::nullopt;
                v = v * 16 + static_cast<std::uint32_t>(
                                 std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
              }
              return v;
            };
            auto cp = hex4(pos_ + 1);
            if (!cp) fail("S0104", pos_);
            pos_ += 4;
            std::uint32_t code = *cp;
            // A surrogate pair written as two escapes is one code point.
            if (code >= 0xD800 && code <= 0xDBFF && s_.compare(pos_ + 1, 2, "\\u") == 0) {
              auto low = hex4(pos_ + 3);
              if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
                code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
                pos_ += 6;
              }
            }
            append_utf8(out, code);
            break;
          }
          default:
            fail("S0103", pos_, std::string(1, c));
        }
      } else if (c == quote) {
        ++pos_;
        Token t = make(NodeType::kString, out);
        t.literal = Value(out);
        return t;
      } else {
        out += c;
      }
      ++pos_;
    }
    fail("S0101", pos_);
  }

  std::optional<Token> scan_number() {
    std::size_t i = pos_;
    auto digit = [&](std::size_t k) { return k < s_.size() && s_[k] >= '0' && s_[k] <= '9'; };
    if (i < s_.size() && s_[i] == '-') ++i;
    if (!digit(i)) return std::nullopt;
    if (s_[i] == '0') {
      ++i;
    } else {
      while (digit(i)) ++i;
    }
    if (i < s_.size() && s_[i] == '.' && digit(i + 1)) {
      ++i;
      while (digit(i)) ++i;
    }
    if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E')) {
      std::size_t j = i + 1;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
      if (digit(j)) {
        i = j;
        while (digit(i)) ++i;
      }
    }
    std::string text(s_.substr(pos_, i - pos_));
    double num = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(num)) fail("S0102", pos_, text);
    pos_ = i;
    Token t = make(NodeType::kNumber, text);
    t.literal = Value(num);
    return t;
  }

  Token scan_regex() {
    std::size_t start = pos_;
    int depth = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '/' && depth == 0) {
        std::size_t backslashes = 0;
        while (pos_ >= backslashes + 1 && s_[pos_ - (backslashes + 1)] == '\\') ++backslashes;
        if (backslashes % 2 == 0) {
          std::string pattern(s_.substr(start, pos_ - start));
          if (pattern.empty()) fail("S0301", pos_);
          ++pos_;
          std::size_t flag_start = pos_;
          while (pos_ < s_.size() && (s_[pos_] == 'i' || s_[pos_] == 'm')) ++pos_;
          std::string flags(s_.substr(flag_start, pos_ - flag_start));
          auto syntax = std::regex::ECMAScript;
          if (flags.find('i') != std::string::npos) syntax |= std::regex::icase;
          if (flags.find('m') != std::string::npos) syntax |= std::regex::multiline;
          Token t = make(NodeType::kRegex, pattern);
          try {
            t.regex = std::make_shared<std::regex>(pattern, syntax);
          } catch (const std::regex_error&) {
            fail("S0302", pos_, pattern);
          }
          return t;
        }
      }
      bool escaped = pos_ > 0 && s_[pos_ - 1] == '\\';
      if ((c == '(' || c == '[' || c == '{') && !escaped) ++depth;
      if ((c == ')' || c == ']' || c == '}') && !escaped) --depth;
      ++pos_;
    }
    fail("S0302", pos_);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// The Pratt parser: `node_` is the current token, as a fresh Node.
class Parser {
 public:
  Parser(std::string_view text, Program& program) : lexer_(text), program_(program) {}

  Node* parse() {
    advance();
    Node* expr = expression(0);
    if (node_->type != NodeType::kEnd) fail("S0201", node_->position, node_->value);
    return expr;
  }

 private:
  // The symbol id of a token: its operator text, or a class name.
  static std::string id(const Node* n) {
    switch (n->type) {
      case NodeType::kOperator:
        return n->value;
      case NodeType::kName:
      case NodeType::kVariable:
        return "(name)";
      case NodeType::kString:
      case NodeType::kNumber:
      case NodeType::kValue:
        return "(literal)";
      case NodeType::kRegex:
        return "(regex)";
      default:
        return "(end)";
    }
  }
  bool at(const char* op) const { return node_->type == NodeType::kOperator && node_->value == op; }
  int lbp(const Node* n) const { return n->type == NodeType::kOperator ? binding_power(n->value) : 0; }

  Node* advance(const char* expected = nullptr, bool infix = false) {
    if (expected && !(node_->type == NodeType::kOperator && node_->value == expected)) {
      const char* code = node_->type == NodeType::kEnd ? "S0203" : "S0202";
      fail(code, node_->position, node_->value, Value(std::string(expected)));
    }
    auto token = lexer_.next(infix);
    Node* n = program_.new_node();
    if (!token) {
      n->type = NodeType::kEnd;
      n->value = "(end)";
      n->position = lexer_.size();
      node_ = n;
      return n;
    }
    if (token->type == NodeType::kOperator && !known_symbol(token->value)) fail("S0204", token->position, token->value);
    n->type = token->type;
    n->value = token->value;
    n->literal = token->literal;
    n->position = token->position;
    n->regex = token->regex;
    node_ = n;
    return n;
  }

  Node* expression(int rbp) {
    // Nesting bounds the parser's (and later the evaluator's) recursion; far deeper than
    // any real expression, shallow enough that the C++ stack cannot run out.
    struct Nesting {
      explicit Nesting(int& d) : depth(++d) {}
      ~Nesting() { --depth; }
      int& depth;
    } nesting(depth_);
    if (depth_ > kMaxNesting) {
      EvalError e;
      e.error.code = "S0201";
      e.error.position = node_->position;
      e.error.token = node_->value;
      e.error.message = "Syntax error: expression nested more than 500 levels deep";
      throw e;
    }
    Node* t = node_;
    advance(nullptr, true);
    Node* left = nud(t);
    while (rbp < lbp(node_)) {
      t = node_;
      advance();
      left = led(t, left);
    }
    return left;
  }

  Node* nud(Node* t) {
    switch (t->type) {
      case NodeType::kName:
      case NodeType::kVariable:
      case NodeType::kString:
      case NodeType::kNumber:
      case NodeType::kValue:
      case NodeType::kRegex:
      case NodeType::kEnd:
        return t;
      default:
        break;
    }
    const std::string& op = t->value;
    if (op == "and" || op == "or" || op == "in") return t;
    if (op == "-") {
      t->expression = expression(70);
      t->type = NodeType::kUnary;
      return t;
    }
    if (op == "*") {
      t->type = NodeType::kWildcard;
      return t;
    }
    if (op == "**") {
      t->type = NodeType::kDescendant;
      return t;
    }
    if (op == "%") {
      t->type = NodeType::kParent;
      return t;
    }
    if (op == "(") {
      while (!at(")")) {
        t->expressions.push_back(expression(0));
        if (!at(";")) break;
        advance(";");
      }
      advance(")", true);
      t->type = NodeType::kBlock;
      return t;
    }
    if (op == "[") {
      if (!at("]")) {
        for (;;) {
          Node* item = expression(0);
          if (at("..")) {
            Node* range = program_.new_node();
            range->type = NodeType::kBinary;
            range->value = "..";
            range->position = node_->position;
            range->lhs = item;
            advance("..");
            range->rhs = expression(0);
            item = range;
          }
          t->expressions.push_back(item);
          if (!at(",")) break;
          advance(",");
        }
      }
      advance("]", true);
      t->type = NodeType::kUnary;
      return t;
    }
    if (op == "{") return object(t, nullptr);
    if (op == "|") {
      t->type = NodeType::kTransform;
      t->pattern = expression(0);
      advance("|");
      t->update = expression(0);
      if (at(",")) {
        advance(",");
        t->remove = expression(0);
      }
      advance("|");
      return t;
    }
    fail("S0211", t->position, t->value);
  }

  Node* object(Node* t, Node* left) {
    if (!at("}")) {
      for (;;) {
        Node* n = expression(0);
        advance(":");
        Node* v = expression(0);
        t->pairs.emplace_back(n, v);
        if (!at(",")) break;
        advance(",");
      }
    }
    advance("}", true);
    if (left == nullptr) {
      t->type = NodeType::kUnary;
    } else {
      t->lhs = left;
      t->type = NodeType::kBinary;
    }
    return t;
  }

  Node* led(Node* t, Node* left) {
    const std::string& op = t->value;
    int bp = binding_power(op);
    if (op == "(") return call(t, left);
    if (op == "[") {
      if (at("]")) {
        Node* step = left;
        while (step && step->type == NodeType::kBinary && step->value == "[") step = step->lhs;
        step->keep_array = true;
        advance("]");
        return left;
      }
      t->lhs = left;
      t->rhs = expression(0);
      t->type = NodeType::kBinary;
      advance("]", true);
      return t;
    }
    if (op == "^") {
      advance("(");
      for (;;) {
        SortTerm term;
        if (at("<")) {
          advance("<");
        } else if (at(">")) {
          term.descending = true;
          advance(">");
        }
        term.expr = expression(0);
        t->terms.push_back(term);
        if (!at(",")) break;
        advance(",");
      }
      advance(")");
      t->lhs = left;
      t->type = NodeType::kBinary;
      return t;
    }
    if (op == "{") return object(t, left);
    if (op == ":=") {
      if (left->type != NodeType::kVariable) fail("S0212", left->position, left->value);
      t->lhs = left;
      t->rhs = expression(bp - 1);
      t->type = NodeType::kBinary;
      return t;
    }
    if (op == "@" || op == "#") {
      t->lhs = left;
      t->rhs = expression(bp);
      if (t->rhs->type != NodeType::kVariable) fail("S0214", t->rhs->position, op);
      t->type = NodeType::kBinary;
      return t;
    }
    if (op == "?") {
      t->type = NodeType::kCondition;
      t->condition = left;
      t->then = expression(0);
      if (at(":")) {
        advance(":");
        t->otherwise = expression(0);
      }
      return t;
    }
    t->lhs = left;
    t->rhs = expression(bp);
    t->type = NodeType::kBinary;
    return t;
  }

  Node* call(Node* t, Node* left) {
    t->procedure = left;
    t->type = NodeType::kFunction;
    if (!at(")")) {
      for (;;) {
        if (at("?")) {
          t->type = NodeType::kPartial;
          t->arguments.push_back(node_);
          advance("?");
        } else {
          t->arguments.push_back(expression(0));
        }
        if (!at(",")) break;
        advance(",");
      }
    }
    advance(")", true);
    if (left->type == NodeType::kName && (left->value == "function" || left->value == "\xCE\xBB")) {
      for (std::size_t i = 0; i < t->arguments.size(); ++i) {
        Node* arg = t->arguments[i];
        if (arg->type != NodeType::kVariable)
          fail("S0208", arg->position, arg->value, Value(static_cast<double>(i + 1)));
      }
      t->type = NodeType::kLambda;
      if (at("<")) {
        std::size_t sig_pos = node_->position;
        int depth = 1;
        std::string sig = "<";
        while (depth > 0 && !at("{") && node_->type != NodeType::kEnd) {
          Node* tok = advance();
          if (tok->type == NodeType::kOperator && tok->value == ">") {
            --depth;
          } else if (tok->type == NodeType::kOperator && tok->value == "<") {
            ++depth;
          }
          sig += tok->value;
        }
        advance(">");
        t->signature = parse_signature(sig, sig_pos);
      }
      advance("{");
      t->body = expression(0);
      advance("}");
    }
    return t;
  }

  static constexpr int kMaxNesting = 500;
  Lexer lexer_;
  Program& program_;
  Node* node_ = nullptr;
  int depth_ = 0;
};

// ---- post-processing (jsonata-js's ast_optimize) ----
class Processor {
 public:
  explicit Processor(Program& program) : program_(program) {}

  Node* process(Node* expr) {
    Node* result = nullptr;
    switch (expr->type) {
      case NodeType::kBinary:
        result = binary(expr);
        break;
      case NodeType::kUnary:
        result = unary(expr);
        break;
      case NodeType::kFunction:
      case NodeType::kPartial: {
        result = fresh(expr->type, expr);
        for (Node* arg : expr->arguments) {
          Node* a = process(arg);
          push_ancestry(result, a);
          result->arguments.push_back(a);
        }
        result->procedure = process(expr->procedure);
        break;
      }
      case NodeType::kLambda: {
        result = fresh(NodeType::kLambda, expr);
        result->arguments = expr->arguments;
        result->signature = expr->signature;
        result->body = tail_call_optimize(process(expr->body));
        break;
      }
      case NodeType::kCondition: {
        result = fresh(NodeType::kCondition, expr);
        result->condition = process(expr->condition);
        push_ancestry(result, result->condition);
        result->then = process(expr->then);
        push_ancestry(result, result->then);
        if (expr->otherwise) {
          result->otherwise = process(expr->otherwise);
          push_ancestry(result, result->otherwise);
        }
        break;
      }
      case NodeType::kTransform: {
        result = fresh(NodeType::kTransform, expr);
        result->pattern = process(expr->pattern);
        result->update = process(expr->update);
        if (expr->remove) result->remove = process(expr->remove);
        break;
      }
      case NodeType::kBlock: {
        result = fresh(NodeType::kBlock, expr);
        for (Node* item : expr->expressions) {
          Node* part = process(item);
          push_ancestry(result, part);
          if (part->consarray || (part->type == NodeType::kPath && part->steps[0]->consarray)) result->consarray = true;
          result->expressions.push_back(part);
        }
        break;
      }
      case NodeType::kName: {
        result = fresh(NodeType::kPath, expr);
        result->steps.push_back(expr);
        if (expr->keep_array) result->keep_singleton_array = true;
        break;
      }
      case NodeType::kParent: {
        result = fresh(NodeType::kParent, expr);
        result->slot = std::make_shared<Slot>();
        result->slot->label = "!" + std::to_string(ancestor_label_++);
        result->slot->level = 1;
        result->slot->index = ancestor_index_++;
        break;
      }
      case NodeType::kString:
      case NodeType::kNumber:
      case NodeType::kValue:
      case NodeType::kWildcard:
      case NodeType::kDescendant:
      case NodeType::kVariable:
      case NodeType::kRegex:
        result = expr;
        break;
      case NodeType::kOperator:
        if (expr->value == "and" || expr->value == "or" || expr->value == "in") {
          expr->type = NodeType::kName;
          result = process(expr);
        } else if (expr->value == "?") {
          result = expr;
        } else {
          fail("S0201", expr->position, expr->value);
        }
        break;
      default:
        fail(expr->type == NodeType::kEnd ? "S0207" : "S0206", expr->position, expr->value);
    }
    if (expr->keep_array) result->keep_array = true;
    return result;
  }

 private:
  Node* fresh(NodeType type, const Node* from) {
    Node* n = program_.new_node();
    n->type = type;
    n->value = from->value;
    n->position = from->position;
    return n;
  }

  Node* binary(Node* expr) {
    const std::string& op = expr->value;
    Node* result = nullptr;
    if (op == ".") {
      Node* lstep = process(expr->lhs);
      if (lstep->type == NodeType::kPath) {
        result = lstep;
      } else {
        result = fresh(NodeType::kPath, expr);
        result->steps.push_back(lstep);
      }
      if (lstep->type == NodeType::kParent) result->seeking_parent = std::vector<SlotPtr>{lstep->slot};
      Node* rest = process(expr->rhs);
      if (rest->type == NodeType::kPath) {
        for (Node* s : rest->steps) result->steps.push_back(s);
      } else {
        if (rest->predicate) {
          rest->stages = std::move(rest->predicate);
          rest->predicate.reset();
        }
        result->steps.push_back(rest);
      }
      for (Node* step : result->steps) {
        if (step->type == NodeType::kNumber || step->type == NodeType::kValue) {
          fail("S0213", step->position, std::nullopt, step->literal);
        }
        if (step->type == NodeType::kString) step->type = NodeType::kName;
      }
      for (Node* step : result->steps) {
        if (step->keep_array) result->keep_singleton_array = true;
      }
      Node* first = result->steps.front();
      if (first->type == NodeType::kArrayCons) first->consarray = true;
      Node* last = result->steps.back();
      if (last->type == NodeType::kArrayCons) last->consarray = true;
      resolve_ancestry(result);
      return result;
    }
    if (op == "[") {
      result = process(expr->lhs);
      Node* step = result;
      bool stages = false;
      if (result->type == NodeType::kPath) {
        step = result->steps.back();
        stages = true;
      }
      if (step->group) fail("S0209", expr->position);
      auto& list = stages ? step->stages : step->predicate;
      if (!list) list.emplace();
      Node* predicate = process(expr->rhs);
      if (predicate->seeking_parent) {
        for (auto& slot : *predicate->seeking_parent) {
          if (slot->level == 1) {
            seek_parent(step, slot);
          } else {
            --slot->level;
          }
        }
        push_ancestry(step, predicate);
      }
      Stage stage;
      stage.expr = predicate;
      stage.position = expr->position;
      list->push_back(stage);
      return result;
    }
    if (op == "{") {
      result = process(expr->lhs);
      if (result->group) fail("S0210", expr->position);
      Group group;
      group.position = expr->position;
      for (auto& [k, v] : expr->pairs) group.pairs.emplace_back(process(k), process(v));
      result->group = std::move(group);
      return result;
    }
    if (op == "^") {
      result = process(expr->lhs);
      if (result->type != NodeType::kPath) {
        Node* path = fresh(NodeType::kPath, expr);
        path->steps.push_back(result);
        result = path;
      }
      Node* sort = fresh(NodeType::kSort, expr);
      for (const SortTerm& term : expr->terms) {
        Node* e = process(term.expr);
        push_ancestry(sort, e);
        sort->terms.push_back(SortTerm{term.descending, e});
      }
      result->steps.push_back(sort);
      resolve_ancestry(result);
      return result;
    }
    if (op == ":=") {
      result = fresh(NodeType::kBind, expr);
      result->lhs = process(expr->lhs);
      result->rhs = process(expr->rhs);
      push_ancestry(result, result->rhs);
      return result;
    }
    if (op == "@") {
      result = process(expr->lhs);
      Node* step = result;
      if (result->type == NodeType::kPath) step = result->steps.back();
      if (step->stages || step->predicate) fail("S0215", expr->position);
      if (step->type == NodeType::kSort) fail("S0216", expr->position);
      if (expr->keep_array) step->keep_array = true;
      step->focus = expr->rhs->value;
      step->tuple = true;
      return result;
    }
    if (op == "#") {
      result = process(expr->lhs);
      Node* step = result;
      if (result->type == NodeType::kPath) {
        step = result->steps.back();
      } else {
        Node* path = fresh(NodeType::kPath, expr);
        path->steps.push_back(result);
        result = path;
        if (step->predicate) {
          step->stages = std::move(step->predicate);
          step->predicate.reset();
        }
      }
      if (!step->stages) {
        step->index = expr->rhs->value;
      } else {
        Stage stage;
        stage.is_index = true;
        stage.var = expr->rhs->value;
        stage.position = expr->position;
        step->stages->push_back(stage);
      }
      step->tuple = true;
      return result;
    }
    if (op == "~>") {
      result = fresh(NodeType::kApply, expr);
      result->lhs = process(expr->lhs);
      result->rhs = process(expr->rhs);
      result->keep_array = result->lhs->keep_array || result->rhs->keep_array;
      return result;
    }
    result = fresh(NodeType::kBinary, expr);
    result->lhs = process(expr->lhs);
    result->rhs = process(expr->rhs);
    push_ancestry(result, result->lhs);
    push_ancestry(result, result->rhs);
    return result;
  }

  Node* unary(Node* expr) {
    Node* result = nullptr;
    if (expr->value == "[") {
      result = fresh(NodeType::kArrayCons, expr);
      for (Node* item : expr->expressions) {
        Node* v = process(item);
        push_ancestry(result, v);
        result->expressions.push_back(v);
      }
    } else if (expr->value == "{") {
      result = fresh(NodeType::kObjectCons, expr);
      for (auto& [k, v] : expr->pairs) {
        Node* key = process(k);
        push_ancestry(result, key);
        Node* value = process(v);
        push_ancestry(result, value);
        result->pairs.emplace_back(key, value);
      }
    } else {
      result = fresh(NodeType::kUnary, expr);
      result->expression = process(expr->expression);
      if (expr->value == "-" && result->expression->type == NodeType::kNumber) {
        result = result->expression;
        result->literal = Value(-result->literal.number());
      } else {
        push_ancestry(result, result->expression);
      }
    }
    return result;
  }

  Node* tail_call_optimize(Node* expr) {
    if (expr->type == NodeType::kFunction && !expr->predicate) {
      Node* thunk = fresh(NodeType::kLambda, expr);
      thunk->thunk = true;
      thunk->body = expr;
      return thunk;
    }
    if (expr->type == NodeType::kCondition) {
      expr->then = tail_call_optimize(expr->then);
      if (expr->otherwise) expr->otherwise = tail_call_optimize(expr->otherwise);
      return expr;
    }
    if (expr->type == NodeType::kBlock) {
      if (!expr->expressions.empty()) expr->expressions.back() = tail_call_optimize(expr->expressions.back());
      return expr;
    }
    return expr;
  }

  SlotPtr seek_parent(Node* node, SlotPtr slot) {
    switch (node->type) {
      case NodeType::kName:
      case NodeType::kWildcard:
        --slot->level;
        if (slot->level == 0) {
          if (!node->ancestor) {
            node->ancestor = slot;
          } else {
            slot->label = node->ancestor->label;
            node->ancestor = slot;
          }
          node->tuple = true;
        }
        break;
      case NodeType::kParent:
        ++slot->level;
        break;
      case NodeType::kBlock:
        if (!node->expressions.empty()) {
          node->tuple = true;
          slot = seek_parent(node->expressions.back(), slot);
        }
        break;
      case NodeType::kPath: {
        node->tuple = true;
        int index = static_cast<int>(node->steps.size()) - 1;
        slot = seek_parent(node->steps[index--], slot);
        while (slot->level > 0 && index >= 0) slot = seek_parent(node->steps[index--], slot);
        break;
      }
      default:
        fail("S0217", node->position, type_name(node->type));
    }
    return slot;
  }

  static std::string type_name(NodeType t) {
    switch (t) {
      case NodeType::kBinary:
        return "binary";
      case NodeType::kUnary:
      case NodeType::kArrayCons:
      case NodeType::kObjectCons:
        return "unary";
      case NodeType::kFunction:
        return "function";
      case NodeType::kPartial:
        return "partial";
      case NodeType::kLambda:
        return "lambda";
      case NodeType::kCondition:
        return "condition";
      case NodeType::kTransform:
        return "transform";
      case NodeType::kBlock:
        return "block";
      case NodeType::kName:
        return "name";
      case NodeType::kVariable:
        return "variable";
      case NodeType::kString:
        return "string";
      case NodeType::kNumber:
        return "number";
      case NodeType::kValue:
        return "value";
      case NodeType::kRegex:
        return "regex";
      case NodeType::kWildcard:
        return "wildcard";
      case NodeType::kDescendant:
        return "descendant";
      case NodeType::kParent:
        return "parent";
      case NodeType::kPath:
        return "path";
      case NodeType::kBind:
        return "bind";
      case NodeType::kApply:
        return "apply";
      case NodeType::kSort:
        return "sort";
      default:
        return "operator";
    }
  }

 public:
  static std::string name_of(NodeType t) { return type_name(t); }

 private:
  void push_ancestry(Node* result, Node* value) {
    if (value->seeking_parent || value->type == NodeType::kParent) {
      std::vector<SlotPtr> slots = value->seeking_parent ? *value->seeking_parent : std::vector<SlotPtr>{};
      if (value->type == NodeType::kParent) slots.push_back(value->slot);
      if (!result->seeking_parent) {
        result->seeking_parent = slots;
      } else {
        for (auto& s : slots) result->seeking_parent->push_back(s);
      }
    }
  }

  void resolve_ancestry(Node* path) {
    int index = static_cast<int>(path->steps.size()) - 1;
    Node* last = path->steps[index];
    std::vector<SlotPtr> slots = last->seeking_parent ? *last->seeking_parent : std::vector<SlotPtr>{};
    if (last->type == NodeType::kParent) slots.push_back(last->slot);
    for (SlotPtr slot : slots) {
      index = static_cast<int>(path->steps.size()) - 2;
      while (slot->level > 0) {
        if (index < 0) {
          if (!path->seeking_parent) path->seeking_parent.emplace();
          path->seeking_parent->push_back(slot);
          break;
        }
        Node* step = path->steps[index--];
        while (index >= 0 && step->focus && path->steps[index]->focus) step = path->steps[index--];
        slot = seek_parent(step, slot);
      }
    }
  }

  Program& program_;
  int ancestor_label_ = 0;
  int ancestor_index_ = 0;
};

}  // namespace

void parse_program(std::string_view text, Program& program) {
  Parser parser(text, program);
  Node* tree = parser.parse();
  Processor processor(program);
  Node* ast = processor.process(tree);
  if (ast->type == NodeType::kParent || ast->seeking_parent) {
    fail("S0217", ast->position, Processor::name_of(ast->type));
  }
  program.root = ast;
}

}  // namespace stepwise::jsonata::detail
