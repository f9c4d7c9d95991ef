// Internals of the JSONata engine: the value model, the AST and the evaluator.
// Not part of the public API (see jsonata.h).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "states/jsonata/jsonata.h"

namespace stepwise::jsonata::detail {

struct Array;
struct Object;
struct Function;
using ArrayPtr = std::shared_ptr<Array>;
using ObjectPtr = std::shared_ptr<Object>;
using FunctionPtr = std::shared_ptr<Function>;

// A JSONata value: JavaScript's model (undefined, null, boolean, double, string, array,
// object, function). Arrays and objects are shared by reference, as in JavaScript.
class Value {
 public:
  enum class Kind : std::uint8_t { kUndefined, kNull, kBool, kNumber, kString, kArray, kObject, kFunction };
  Value() = default;
  static Value null() {
    Value v;
    v.v_ = nullptr;
    return v;
  }
  Value(bool b) : v_(b) {}                      // NOLINT
  Value(double n) : v_(n) {}                    // NOLINT
  Value(int n) : v_(static_cast<double>(n)) {}  // NOLINT
  Value(std::string s) : v_(std::move(s)) {}    // NOLINT
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT
  Value(ArrayPtr a) : v_(std::move(a)) {}       // NOLINT
  Value(ObjectPtr o) : v_(std::move(o)) {}      // NOLINT
  Value(FunctionPtr f) : v_(std::move(f)) {}    // NOLINT

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool undefined() const { return v_.index() == 0; }
  bool is_null() const { return v_.index() == 1; }
  bool is_bool() const { return v_.index() == 2; }
  bool is_number() const { return v_.index() == 3; }
  bool is_string() const { return v_.index() == 4; }
  bool is_array() const { return v_.index() == 5; }
  bool is_object() const { return v_.index() == 6; }
  bool is_function() const { return v_.index() == 7; }
  bool boolean() const { return std::get<2>(v_); }
  double number() const { return std::get<3>(v_); }
  const std::string& str() const { return std::get<4>(v_); }
  const ArrayPtr& arr() const { return std::get<5>(v_); }
  const ObjectPtr& obj() const { return std::get<6>(v_); }
  const FunctionPtr& fn() const { return std::get<7>(v_); }

 private:
  std::variant<std::monostate, std::nullptr_t, bool, double, std::string, ArrayPtr, ObjectPtr, FunctionPtr> v_;
};

// Arrays, objects, functions and frames take their children apart iteratively when
// destroyed, so a value (or a chain of closures) nested a million levels deep does not
// exhaust the stack.
void dismantle(std::vector<Value>& values);

struct Array {
  Array() = default;
  Array(const Array&) = default;
  Array& operator=(const Array&) = default;
  ~Array() { dismantle(items); }
  std::vector<Value> items;
  bool sequence = false;        // made by evaluation (unwrapped when it holds one item)
  bool keep_singleton = false;  // path ended with [] : never unwrap
  bool cons = false;            // made by an array constructor: not flattened by a path
  bool outer_wrapper = false;   // wraps the top-level input array
  bool tuple_stream = false;    // items are tuples (objects of bindings)
};

// An object with members in insertion order.
struct Object {
  Object() = default;
  Object(const Object&) = default;
  Object& operator=(const Object&) = default;
  ~Object();
  std::vector<std::pair<std::string, Value>> members;
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value v);
  void erase(std::string_view key);
};

ArrayPtr make_array();
ArrayPtr make_sequence();
ArrayPtr make_sequence(Value v);
ObjectPtr make_object();

// ---- errors (thrown inside the engine only; the API turns them into values) ----
struct EvalError {
  Error error;  // message left empty until the API fills it in (token and position may change on the way)
  Value value;
  std::optional<Value> value2;
};
// Fills in error.message from jsonata-js's template for the code, unless already set.
void finish_message(EvalError& e);
[[noreturn]] void fail(const std::string& code, std::optional<std::size_t> position = std::nullopt,
                       std::optional<std::string> token = std::nullopt, Value value = Value(),
                       std::optional<Value> value2 = std::nullopt);
std::string error_message(const std::string& code, const Error& e, const Value& value,
                          const std::optional<Value>& value2);

// ---- signatures ----
struct Signature {
  struct Param {
    char type = 0;         // s n b l a o f j x ( for a choice
    std::string regex;     // the symbol pattern of this parameter
    std::string subtype;   // for a<...>
    bool context = false;  // '-': use the context when missing
    std::string context_regex;
  };
  std::vector<Param> params;
  std::string text;
};
std::shared_ptr<Signature> parse_signature(const std::string& text, std::size_t position);
char symbol_of(const Value& v);

// ---- AST ----
enum class NodeType {
  kBinary,
  kUnary,
  kFunction,
  kPartial,
  kLambda,
  kCondition,
  kTransform,
  kBlock,
  kName,
  kVariable,
  kString,
  kNumber,
  kValue,
  kRegex,
  kWildcard,
  kDescendant,
  kParent,
  kOperator,
  kEnd,
  kPath,
  kBind,
  kApply,
  kSort,
  kArrayCons,
  kObjectCons,  // processed forms of unary [ and {
};

struct Node;
struct Slot {
  std::string label;
  int level = 1;
  int index = 0;
};
using SlotPtr = std::shared_ptr<Slot>;

struct Stage {
  bool is_index = false;
  Node* expr = nullptr;
  std::string var;  // index variable name
  std::size_t position = 0;
};

struct SortTerm {
  bool descending = false;
  Node* expr = nullptr;
};

struct Group {
  std::vector<std::pair<Node*, Node*>> pairs;
  std::size_t position = 0;
};

struct Node {
  NodeType type = NodeType::kEnd;
  std::string value;  // operator, name, variable, string literal
  Value literal;      // number / string / true / false / null literal
  std::size_t position = 0;

  Node* lhs = nullptr;
  Node* rhs = nullptr;
  Node* expression = nullptr;
  Node* procedure = nullptr;
  Node* body = nullptr;
  Node* condition = nullptr;
  Node* then = nullptr;
  Node* otherwise = nullptr;
  Node* pattern = nullptr;
  Node* update = nullptr;
  Node* remove = nullptr;
  std::vector<Node*> steps;
  std::vector<Node*> expressions;
  std::vector<Node*> arguments;
  std::vector<std::pair<Node*, Node*>> pairs;  // object constructor
  std::vector<SortTerm> terms;                 // raw ^ and processed sort
  std::optional<Group> group;
  std::optional<std::vector<Stage>> predicate;
  std::optional<std::vector<Stage>> stages;

  bool keep_array = false;
  bool keep_singleton_array = false;
  bool consarray = false;
  bool tuple = false;
  bool thunk = false;
  std::optional<std::string> focus;
  std::optional<std::string> index;
  SlotPtr ancestor;
  SlotPtr slot;
  std::optional<std::vector<SlotPtr>> seeking_parent;

  std::shared_ptr<Signature> signature;
  std::shared_ptr<std::regex> regex;
};

struct Program {
  std::deque<Node> nodes;
  Node* root = nullptr;
  Node* new_node() { return &nodes.emplace_back(); }
};

// Parses and post-processes (the jsonata-js "ast_optimize" step); throws EvalError.
void parse_program(std::string_view text, Program& program);

// ---- functions ----
struct Frame;
using FramePtr = std::shared_ptr<Frame>;
class Evaluator;

using NativeFn = Value (*)(Evaluator& ev, std::vector<Value>& args, const Value& input, const FramePtr& env);

struct Builtin {
  const char* name;
  const char* signature;
  int arity;  // as jsonata-js reports it to higher-order functions
  NativeFn fn;
  std::shared_ptr<Signature> parsed;
  FunctionPtr value;  // the function value $name evaluates to (shared, immutable)
};
const Builtin* find_builtin(std::string_view name);

struct Function {
  Function() = default;
  Function(const Function&) = default;
  ~Function();
  enum class Type { kLambda, kBuiltin, kPartial, kRegex, kChain, kTransform };
  Type type = Type::kLambda;
  // lambda
  const Node* node = nullptr;  // the lambda (or transform) node
  std::vector<std::string> params;
  Value input;
  FramePtr env;
  bool thunk = false;
  std::shared_ptr<Signature> signature;
  // builtin
  const Builtin* builtin = nullptr;
  // partial: target with holes
  FunctionPtr target;
  std::vector<std::optional<Value>> bound;
  // chain: second(first(x))
  FunctionPtr second;
  // regex
  std::shared_ptr<std::regex> regex;
  std::string source;
};

struct Frame {
  Frame() = default;
  ~Frame();
  FramePtr parent;
  std::vector<std::pair<std::string, Value>> vars;
  const Value* lookup(std::string_view name) const;
  void bind(const std::string& name, Value v);
};

// A regex match as jsonata-js's matcher closures return it.
struct RegexMatch {
  std::string match;
  std::size_t start = 0;  // code points
  std::size_t end = 0;
  std::vector<std::string> groups;
  std::size_t byte_start = 0, byte_end = 0;
};
std::vector<RegexMatch> regex_all_matches(const Function& re, const std::string& s, std::size_t limit = SIZE_MAX);

class Evaluator {
 public:
  Evaluator(const EvalOptions& options);
  // Clears every frame this evaluation made that is still alive: a closure
  // bound in the frame it closes over (e.g. a recursive lambda) keeps that
  // frame alive through a reference cycle, which would otherwise leak once
  // the evaluation is over (its result has been converted by then).
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;
  // Registers a frame made by this evaluation (see ~Evaluator); returns it.
  const FramePtr& track(const FramePtr& frame);
  Value evaluate(const Node* expr, const Value& input, const FramePtr& env);
  Value apply(const Value& proc, std::vector<Value> args, const Value& input, const FramePtr& env);
  std::int64_t now_millis() const { return now_; }
  // A uniformly distributed double in [0, 1) from the injected source; fails without one.
  double random_unit();
  std::uint64_t random_word();  // 64 random bits from the injected source (D3137 without one)
  int arity(const Value& fn) const;

 private:
  friend struct EvalScope;
  Value evaluate_inner(const Node* expr, const Value& input, const FramePtr& env);
  Value evaluate_path(const Node* expr, const Value& input, const FramePtr& env);
  ArrayPtr evaluate_step(const Node* expr, const ArrayPtr& input, const FramePtr& env, bool last);
  ArrayPtr evaluate_tuple_step(const Node* expr, const ArrayPtr& input, ArrayPtr tuples, const FramePtr& env);
  Value evaluate_stages(const std::vector<Stage>& stages, Value input, const FramePtr& env);
  Value evaluate_filter(const Node* pred, const Value& input, const FramePtr& env);
  Value evaluate_binary(const Node* expr, const Value& input, const FramePtr& env);
  Value evaluate_unary(const Node* expr, const Value& input, const FramePtr& env);
  Value evaluate_array_cons(const Node* expr, const Value& input, const FramePtr& env);
  Value evaluate_group(const Group& group, const Value& input, const FramePtr& env);
  Value evaluate_sort(const Node* expr, const Value& input, const FramePtr& env);
  Value evaluate_function(const Node* expr, const Value& input, const FramePtr& env, const Value* applyto);
  Value evaluate_partial(const Node* expr, const Value& input, const FramePtr& env);
  Value evaluate_apply(const Node* expr, const Value& input, const FramePtr& env);
  Value evaluate_transform_fn(const Function& f, const Value& obj);
  Value apply_inner(const Value& proc, std::vector<Value>& args, const Value& input, const FramePtr& env);
  Value apply_procedure(const Function& proc, std::vector<Value>& args);
  void check_guard();

  EvalOptions options_;
  std::int64_t now_;
  int depth_ = 0;
  std::int64_t start_ = 0;
  std::uint32_t ticks_ = 0;
  std::vector<std::weak_ptr<Frame>> frames_;  // made by this evaluation (see track)
  std::size_t prune_at_ = 1024;
};

// ---- helpers shared by the evaluator and the functions ----
bool is_sequence(const Value& v);
bool truthy(const Value& v);  // $boolean; undefined -> false
std::optional<bool> to_boolean(const Value& v);
bool deep_equal(const Value& a, const Value& b);
bool deep_equal_at(const Value& a, const Value& b, int depth);
Value append(const Value& a, const Value& b);
Value clone_deep(const Value& v);
Value clone_deep_at(const Value& v, int depth);
std::string stringify(const Value& v, bool pretty);  // JSON.stringify with JSONata's replacer
std::string number_to_js(double d);                  // plain Number#toString
std::string stringify_value(const Value& v);         // $string without prettify
Value from_json(const json::value& v);
json::value to_json_value(const Value& v);
json::value to_json_value_at(const Value& v, int depth);
std::size_t utf8_length(std::string_view s);
std::vector<std::uint32_t> to_code_points(std::string_view s);
std::string from_code_points(const std::vector<std::uint32_t>& cps, std::size_t begin, std::size_t end);
void append_utf8(std::string& out, std::uint32_t cp);

// $round's rounding: half to even, at `precision` decimal places (shifted in decimal text).
double js_round_half_even(double arg, std::optional<double> precision);
Value fn_format_number(Evaluator& ev, std::vector<Value>& args, const Value& input, const FramePtr& env);

// Date/time (datetime.cpp).
std::optional<std::string> format_datetime(std::int64_t millis, const std::optional<std::string>& picture,
                                           const std::optional<std::string>& timezone);
// nullopt: undefined; `now` fills the unspecified leading components.
std::optional<double> parse_datetime(const std::string& text, const std::string& picture, std::int64_t now);
std::string format_integer(double value, const std::string& picture);
std::optional<double> parse_integer(const std::string& text, const std::string& picture);
std::optional<double> iso_to_millis(const std::string& s);
std::string millis_to_iso(double millis);

}  // namespace stepwise::jsonata::detail
