// The JSONata evaluator: jsonata-js's evaluation rules over the value model of
// value.cpp (sequences, tuple streams, singleton unwrapping, thunks for tail calls).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "states/jsonata/internal.h"

namespace stepwise::jsonata::detail {

// ---- errors ----

void fail(const std::string& code, std::optional<std::size_t> position, std::optional<std::string> token, Value value,
          std::optional<Value> value2) {
  EvalError e;
  e.error.code = code;
  e.error.position = position;
  e.error.token = std::move(token);
  if (!value.undefined()) e.error.value = to_json_value(value);
  e.value = std::move(value);
  e.value2 = std::move(value2);
  throw e;
}

// ---- signatures ----

char symbol_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kFunction:
      return 'f';
    case Value::Kind::kString:
      return 's';
    case Value::Kind::kNumber:
      return 'n';
    case Value::Kind::kBool:
      return 'b';
    case Value::Kind::kNull:
      return 'l';
    case Value::Kind::kArray:
      return 'a';
    case Value::Kind::kObject:
      return 'o';
    default:
      return 'm';
  }
}

std::shared_ptr<Signature> parse_signature(const std::string& text, std::size_t position) {
  auto sig = std::make_shared<Signature>();
  sig->text = text;
  std::size_t i = 1;  // skip '<'
  auto closing = [&](std::size_t start, char open, char close) {
    int depth = 1;
    std::size_t p = start;
    while (p + 1 < text.size()) {
      ++p;
      if (text[p] == open) ++depth;
      if (text[p] == close && --depth == 0) return p;
    }
    return p;
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == ':') break;
    Signature::Param p;
    switch (c) {
      case 's':
      case 'n':
      case 'b':
      case 'l':
      case 'o':
        p.type = c;
        p.regex = std::string("[") + c + "m]";
        sig->params.push_back(p);
        break;
      case 'a':
        p.type = 'a';
        p.regex = "[asnblfom]";
        sig->params.push_back(p);
        break;
      case 'f':
        p.type = 'f';
        p.regex = "f";
        sig->params.push_back(p);
        break;
      case 'j':
        p.type = 'j';
        p.regex = "[asnblom]";
        sig->params.push_back(p);
        break;
      case 'x':
        p.type = 'x';
        p.regex = "[asnblfom]";
        sig->params.push_back(p);
        break;
      case '-':
        if (sig->params.empty()) fail("S0401", position + i);
        sig->params.back().context = true;
        sig->params.back().context_regex = sig->params.back().regex;
        sig->params.back().regex += "?";
        break;
      case '?':
      case '+':
        if (sig->params.empty()) fail("S0401", position + i);
        sig->params.back().regex += c;
        break;
      case '(': {
        std::size_t end = closing(i, '(', ')');
        std::string choice = text.substr(i + 1, end - i - 1);
        if (choice.find('<') != std::string::npos) fail("S0402", position + i, std::nullopt, Value(choice));
        p.type = '(';
        p.regex = "[" + choice + "m]";
        sig->params.push_back(p);
        i = end;
        break;
      }
      case '<': {
        if (sig->params.empty() || (sig->params.back().type != 'a' && sig->params.back().type != 'f')) {
          fail("S0401", position + i, std::nullopt,
               Value(std::string(1, sig->params.empty() ? c : sig->params.back().type)));
        }
        std::size_t end = closing(i, '<', '>');
        sig->params.back().subtype = text.substr(i + 1, end - i - 1);
        i = end;
        break;
      }
      case '>':
        break;
      default:
        fail("S0401", position + i, std::nullopt, Value(std::string(1, c)));
    }
    ++i;
  }
  return sig;
}

namespace {

// One parameter's symbol class and quantifier, parsed from its regex text
// ("[snm]", "f", "[asnblfom]?", "[nm]+").
struct ParamPattern {
  std::string allowed;
  char quant = 0;
};

ParamPattern pattern_of(const std::string& regex) {
  ParamPattern p;
  std::string r = regex;
  if (!r.empty() && (r.back() == '?' || r.back() == '+')) {
    p.quant = r.back();
    r.pop_back();
  }
  if (!r.empty() && r.front() == '[') r = r.substr(1, r.size() - 2);
  p.allowed = r;
  return p;
}

// Backtracking match of `params[pi..]` against `sym[si..]`, greedy as a regex
// engine is; `upto` params must match; `anchored` requires the whole string.
bool match_params(const std::vector<ParamPattern>& params, std::size_t pi, std::size_t upto, const std::string& sym,
                  std::size_t si, bool anchored, std::vector<std::size_t>& lengths, std::size_t& end) {
  if (pi == upto) {
    if (anchored && si != sym.size()) return false;
    end = si;
    return true;
  }
  const auto& p = params[pi];
  std::size_t max = 0;
  while (si + max < sym.size() && p.allowed.find(sym[si + max]) != std::string::npos) {
    ++max;
    if (p.quant != '+') break;
  }
  std::size_t min = p.quant == '?' ? 0 : 1;
  for (std::size_t n = max + 1; n-- > min;) {
    if (n > max) continue;
    lengths[pi] = n;
    if (match_params(params, pi + 1, upto, sym, si + n, anchored, lengths, end)) return true;
  }
  return false;
}

std::vector<Value> validate_arguments(const Signature& sig, std::vector<Value>& args, const Value& context) {
  std::string supplied;
  for (const auto& a : args) supplied += symbol_of(a);
  std::vector<ParamPattern> patterns;
  for (const auto& p : sig.params) patterns.push_back(pattern_of(p.regex));
  std::vector<std::size_t> lengths(patterns.size(), 0);
  std::size_t end = 0;
  if (!match_params(patterns, 0, patterns.size(), supplied, 0, true, lengths, end)) {
    std::size_t good_to = 0;
    for (std::size_t k = 0; k < patterns.size(); ++k) {
      std::vector<std::size_t> scratch(patterns.size(), 0);
      std::size_t e = 0;
      if (!match_params(patterns, 0, k + 1, supplied, 0, false, scratch, e)) {
        fail("T0410", std::nullopt, std::nullopt, good_to < args.size() ? args[good_to] : Value(),
             Value(static_cast<double>(good_to + 1)));
      }
      good_to = e;
    }
    fail("T0410", std::nullopt, std::nullopt, good_to < args.size() ? args[good_to] : Value(),
         Value(static_cast<double>(good_to + 1)));
  }
  std::vector<std::string> matched;
  std::size_t offset = 0;
  for (std::size_t k = 0; k < patterns.size(); ++k) {
    matched.push_back(supplied.substr(offset, lengths[k]));
    offset += lengths[k];
  }
  std::vector<Value> out;
  std::size_t arg_index = 0;
  for (std::size_t index = 0; index < sig.params.size(); ++index) {
    const auto& param = sig.params[index];
    const std::string& match = matched[index];
    if (match.empty()) {
      if (param.context) {
        if (pattern_of(param.context_regex).allowed.find(symbol_of(context)) != std::string::npos) {
          out.push_back(context);
        } else {
          fail("T0411", std::nullopt, std::nullopt, context, Value(static_cast<double>(arg_index + 1)));
        }
      } else {
        out.push_back(arg_index < args.size() ? args[arg_index] : Value());
        ++arg_index;
      }
      continue;
    }
    for (char single : match) {
      Value arg = arg_index < args.size() ? args[arg_index] : Value();
      if (param.type == 'a') {
        if (single == 'm') {
          arg = Value();
        } else {
          bool ok = true;
          if (!param.subtype.empty()) {
            if (single != 'a' && match != param.subtype) {
              ok = false;
            } else if (single == 'a' && !arg.arr()->items.empty()) {
              char first = symbol_of(arg.arr()->items[0]);
              if (first != param.subtype[0]) {
                ok = false;
              } else {
                for (const auto& item : arg.arr()->items) {
                  if (symbol_of(item) != first) ok = false;
                }
              }
            }
          }
          if (!ok) fail("T0412", std::nullopt, std::nullopt, arg, Value(static_cast<double>(arg_index + 1)));
          if (single != 'a') {
            auto wrapped = make_array();
            wrapped->items.push_back(arg);
            arg = wrapped;
          }
        }
      }
      out.push_back(arg);
      ++arg_index;
    }
  }
  return out;
}

bool is_numeric(const Value& v) {
  if (!v.is_number()) return false;
  if (std::isnan(v.number())) return false;
  if (!std::isfinite(v.number())) fail("D1001", std::nullopt, std::nullopt, v);
  return true;
}

Value lookup_key(const Value& input, const std::string& key) {
  if (input.is_array()) {
    auto result = make_sequence();
    for (const auto& item : input.arr()->items) {
      Value res = lookup_key(item, key);
      if (res.undefined()) continue;
      if (res.is_array()) {
        for (const auto& v : res.arr()->items) result->items.push_back(v);
      } else {
        result->items.push_back(res);
      }
    }
    return result;
  }
  if (input.is_object()) {
    if (const Value* v = input.obj()->find(key)) return *v;
  }
  return Value();
}

FramePtr frame_from_tuple(Evaluator& ev, const FramePtr& env, const Value& tuple) {
  auto frame = ev.track(std::make_shared<Frame>());
  frame->parent = env;
  if (tuple.is_object()) {
    for (const auto& [k, v] : tuple.obj()->members) frame->vars.emplace_back(k, v);
  }
  return frame;
}

const Value& tuple_focus(const Value& tuple) {
  static const Value kUndefined;
  if (!tuple.is_object()) return kUndefined;
  const Value* v = tuple.obj()->find("@");
  return v ? *v : kUndefined;
}

void flatten_into(const Value& v, std::vector<Value>& out) {
  if (v.is_array()) {
    for (const auto& item : v.arr()->items) flatten_into(item, out);
  } else {
    out.push_back(v);
  }
}

void descendants(const Value& v, std::vector<Value>& out) {
  if (!v.is_array()) out.push_back(v);
  if (v.is_array()) {
    for (const auto& item : v.arr()->items) descendants(item, out);
  } else if (v.is_object()) {
    for (const auto& [k, item] : v.obj()->members) descendants(item, out);
  }
}

Value reduce_tuple_stream(const Value& stream) {
  if (!stream.is_array()) return stream;
  auto result = make_object();
  const auto& items = stream.arr()->items;
  if (items.empty()) return result;
  if (items[0].is_object()) result->members = items[0].obj()->members;
  for (std::size_t i = 1; i < items.size(); ++i) {
    if (!items[i].is_object()) continue;
    for (const auto& [k, v] : items[i].obj()->members) {
      Value* existing = result->find(k);
      result->set(k, append(existing ? *existing : Value(), v));
    }
  }
  return result;
}

// Deep enough for real expressions (jsonata-js itself stops near 10,000 JavaScript frames), shallow
// enough to stay within a 1 MiB thread stack: the guard fails with U1001 before the C++ stack runs out.
constexpr int kSafetyDepth = 1000;

}  // namespace

const Value* Frame::lookup(std::string_view name) const {
  for (const Frame* f = this; f != nullptr; f = f->parent.get()) {
    for (auto it = f->vars.rbegin(); it != f->vars.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
  }
  return nullptr;
}

void Frame::bind(const std::string& name, Value v) {
  for (auto& [k, existing] : vars) {
    if (k == name) {
      existing = std::move(v);
      return;
    }
  }
  vars.emplace_back(name, std::move(v));
}

namespace {

// The variable `name` from the frames, or a built-in function of that name.
Value lookup_variable(const FramePtr& env, const std::string& name) {
  if (const Value* v = env->lookup(name)) return *v;
  if (const Builtin* b = find_builtin(name)) return b->value;
  return Value();
}

}  // namespace

Evaluator::~Evaluator() {
  for (const auto& weak : frames_) {
    if (FramePtr frame = weak.lock()) {
      // Torn down as a Frame is (without recursion), by a frame that owns
      // the parts.
      Frame doomed;
      doomed.vars = std::move(frame->vars);
      doomed.parent = std::move(frame->parent);
      frame->vars.clear();
    }
  }
}

const FramePtr& Evaluator::track(const FramePtr& frame) {
  if (frames_.size() >= prune_at_) {
    // Forget the frames already gone, so the list (and the memory each weak
    // reference holds on to) grows with the live frames, not with every frame made.
    std::erase_if(frames_, [](const std::weak_ptr<Frame>& w) { return w.expired(); });
    prune_at_ = std::max<std::size_t>(1024, 2 * frames_.size());
  }
  frames_.push_back(frame);
  return frame;
}

Evaluator::Evaluator(const EvalOptions& options) : options_(options), now_(options.now_millis) {
  if (options_.time_limit.count() > 0 && options_.clock) {
    start_ = options_.clock();
  } else {
    options_.time_limit = std::chrono::milliseconds(0);
  }
}

std::uint64_t Evaluator::random_word() {
  if (options_.random == nullptr) {
    EvalError e;
    e.error.code = "D3137";
    e.error.message = "No random source is available";
    throw e;
  }
  return options_.random->next_u64();
}

double Evaluator::random_unit() { return static_cast<double>(random_word() >> 11) * 0x1.0p-53; }

void Evaluator::check_guard() {
  if ((options_.max_depth > 0 && depth_ > options_.max_depth) || depth_ > kSafetyDepth) {
    fail("U1001");
  }
  if (options_.time_limit.count() > 0 && (++ticks_ & 0xFF) == 0) {
    if (options_.clock() - start_ > options_.time_limit.count()) {
      EvalError e;
      e.error.code = "U1001";
      e.error.message = "Expression evaluation timeout: Check for infinite loop";
      throw e;
    }
  }
}

struct DepthScope {
  explicit DepthScope(int& d) : depth(d) { ++depth; }
  ~DepthScope() { --depth; }
  int& depth;
};

Value Evaluator::evaluate(const Node* expr, const Value& input, const FramePtr& env) {
  DepthScope scope(depth_);
  check_guard();
  Value result = evaluate_inner(expr, input, env);
  if (expr->predicate) {
    for (const auto& stage : *expr->predicate) result = evaluate_filter(stage.expr, result, env);
  }
  if (expr->type != NodeType::kPath && expr->group) result = evaluate_group(*expr->group, result, env);
  if (is_sequence(result) && !result.arr()->tuple_stream) {
    auto& arr = *result.arr();
    if (expr->keep_array) arr.keep_singleton = true;
    if (arr.items.empty()) return Value();
    if (arr.items.size() == 1 && !arr.keep_singleton) return Value(arr.items[0]);
  }
  return result;
}

Value Evaluator::evaluate_inner(const Node* expr, const Value& input, const FramePtr& env) {
  switch (expr->type) {
    case NodeType::kPath:
      return evaluate_path(expr, input, env);
    case NodeType::kBinary:
      return evaluate_binary(expr, input, env);
    case NodeType::kUnary:
      return evaluate_unary(expr, input, env);
    case NodeType::kArrayCons:
      return evaluate_array_cons(expr, input, env);
    case NodeType::kObjectCons: {
      Group g;
      g.pairs = expr->pairs;
      g.position = expr->position;
      return evaluate_group(g, input, env);
    }
    case NodeType::kName:
      return lookup_key(input, expr->value);
    case NodeType::kString:
    case NodeType::kNumber:
    case NodeType::kValue:
      return expr->literal;
    case NodeType::kWildcard: {
      auto results = make_sequence();
      const Value* in = &input;
      if (input.is_array() && input.arr()->outer_wrapper && !input.arr()->items.empty()) in = &input.arr()->items[0];
      if (in->is_array()) {
        for (const auto& v : in->arr()->items) {
          if (v.is_array()) {
            flatten_into(v, results->items);
          } else {
            results->items.push_back(v);
          }
        }
      } else if (in->is_object()) {
        for (const auto& [k, v] : in->obj()->members) {
          if (v.is_array()) {
            flatten_into(v, results->items);
          } else {
            results->items.push_back(v);
          }
        }
      }
      return results;
    }
    case NodeType::kDescendant: {
      if (input.undefined()) return Value();
      auto results = make_sequence();
      descendants(input, results->items);
      if (results->items.size() == 1) return results->items[0];
      return results;
    }
    case NodeType::kParent: {
      if (const Value* v = env->lookup(expr->slot->label)) return *v;
      return Value();
    }
    case NodeType::kCondition: {
      Value cond = evaluate(expr->condition, input, env);
      if (truthy(cond)) return evaluate(expr->then, input, env);
      if (expr->otherwise) return evaluate(expr->otherwise, input, env);
      return Value();
    }
    case NodeType::kBlock: {
      auto frame = track(std::make_shared<Frame>());
      frame->parent = env;
      Value result;
      for (const Node* e : expr->expressions) result = evaluate(e, input, frame);
      return result;
    }
    case NodeType::kBind: {
      Value v = evaluate(expr->rhs, input, env);
      env->bind(expr->lhs->value, v);
      return v;
    }
    case NodeType::kRegex: {
      auto f = std::make_shared<Function>();
      f->type = Function::Type::kRegex;
      f->regex = expr->regex;
      f->source = expr->value;
      f->node = expr;
      return f;
    }
    case NodeType::kFunction:
      return evaluate_function(expr, input, env, nullptr);
    case NodeType::kVariable: {
      if (expr->value.empty()) {
        if (input.is_array() && input.arr()->outer_wrapper && !input.arr()->items.empty()) return input.arr()->items[0];
        return input;
      }
      return lookup_variable(env, expr->value);
    }
    case NodeType::kLambda: {
      auto f = std::make_shared<Function>();
      f->type = Function::Type::kLambda;
      f->node = expr;
      for (const Node* p : expr->arguments) f->params.push_back(p->value);
      f->input = input;
      f->env = env;
      f->thunk = expr->thunk;
      f->signature = expr->signature;
      return f;
    }
    case NodeType::kPartial:
      return evaluate_partial(expr, input, env);
    case NodeType::kApply:
      return evaluate_apply(expr, input, env);
    case NodeType::kTransform: {
      auto f = std::make_shared<Function>();
      f->type = Function::Type::kTransform;
      f->node = expr;
      f->env = env;
      static const auto kSig = parse_signature("<(oa):o>", 0);
      f->signature = kSig;
      return f;
    }
    case NodeType::kSort:
      return evaluate_sort(expr, input, env);
    default:
      fail("S0206", expr->position, expr->value);
  }
}

Value Evaluator::evaluate_path(const Node* expr, const Value& input, const FramePtr& env) {
  ArrayPtr input_seq;
  if (input.is_array() && expr->steps[0]->type != NodeType::kVariable) {
    input_seq = input.arr();
  } else {
    input_seq = make_sequence(input);
  }
  Value result_seq;
  bool is_tuple = false;
  ArrayPtr tuples;
  for (std::size_t i = 0; i < expr->steps.size(); ++i) {
    const Node* step = expr->steps[i];
    if (step->tuple) is_tuple = true;
    if (i == 0 && step->consarray) {
      // An explicit array constructor as the first step is evaluated once, not per context item.
      result_seq = evaluate(step, input_seq, env);
      if (result_seq.undefined() || (result_seq.is_array() && result_seq.arr()->items.empty())) break;
    } else if (is_tuple) {
      tuples = evaluate_tuple_step(step, input_seq, tuples, env);
    } else {
      if (step->type == NodeType::kSort) {
        result_seq = evaluate_sort(step, input_seq, env);
        if (step->stages) result_seq = evaluate_stages(*step->stages, result_seq, env);
      } else {
        result_seq = evaluate_step(step, input_seq, env, i + 1 == expr->steps.size());
      }
      if (result_seq.undefined() || (result_seq.is_array() && result_seq.arr()->items.empty())) break;
    }
    if (!step->focus) {
      if (result_seq.is_array()) {
        input_seq = result_seq.arr();
      } else if (!is_tuple) {
        input_seq = make_sequence(result_seq);
      }
    }
  }
  if (is_tuple) {
    if (expr->tuple) {
      result_seq = tuples;
    } else {
      auto seq = make_sequence();
      if (tuples) {
        for (const auto& t : tuples->items) seq->items.push_back(tuple_focus(t));
      }
      result_seq = seq;
    }
  }
  if (expr->keep_singleton_array && result_seq.is_array()) {
    if (result_seq.arr()->cons && !result_seq.arr()->sequence) result_seq = make_sequence(result_seq);
    result_seq.arr()->keep_singleton = true;
  }
  if (expr->group) result_seq = evaluate_group(*expr->group, is_tuple ? Value(tuples) : result_seq, env);
  return result_seq;
}

ArrayPtr Evaluator::evaluate_step(const Node* expr, const ArrayPtr& input, const FramePtr& env, bool last) {
  std::vector<Value> results;
  results.reserve(input->items.size());
  for (const auto& item : input->items) {
    Value res = evaluate(expr, item, env);
    if (expr->stages) {
      for (const auto& stage : *expr->stages) res = evaluate_filter(stage.expr, res, env);
    }
    if (!res.undefined()) results.push_back(std::move(res));
  }
  if (last && results.size() == 1 && results[0].is_array() && !is_sequence(results[0])) return results[0].arr();
  auto out = make_sequence();
  for (auto& res : results) {
    if (!res.is_array() || res.arr()->cons) {
      out->items.push_back(std::move(res));
    } else {
      for (const auto& v : res.arr()->items) out->items.push_back(v);
    }
  }
  return out;
}

Value Evaluator::evaluate_stages(const std::vector<Stage>& stages, Value input, const FramePtr& env) {
  for (const auto& stage : stages) {
    if (!stage.is_index) {
      input = evaluate_filter(stage.expr, input, env);
    } else if (input.is_array()) {
      auto& items = input.arr()->items;
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (items[i].is_object()) items[i].obj()->set(stage.var, Value(static_cast<double>(i)));
      }
    }
  }
  return input;
}

ArrayPtr Evaluator::evaluate_tuple_step(const Node* expr, const ArrayPtr& input, ArrayPtr tuples, const FramePtr& env) {
  if (expr->type == NodeType::kSort) {
    Value result;
    if (tuples) {
      result = evaluate_sort(expr, tuples, env);
    } else {
      Value sorted = evaluate_sort(expr, input, env);
      auto seq = make_sequence();
      seq->tuple_stream = true;
      if (sorted.is_array()) {
        for (std::size_t i = 0; i < sorted.arr()->items.size(); ++i) {
          auto t = make_object();
          t->set("@", sorted.arr()->items[i]);
          if (expr->index) t->set(*expr->index, Value(static_cast<double>(i)));
          seq->items.push_back(t);
        }
      }
      result = seq;
    }
    if (expr->stages) result = evaluate_stages(*expr->stages, result, env);
    if (!result.is_array()) return make_sequence();
    return result.arr();
  }
  auto result = make_sequence();
  result->tuple_stream = true;
  if (!tuples) {
    tuples = make_sequence();
    for (const auto& item : input->items) {
      auto t = make_object();
      t->set("@", item);
      tuples->items.push_back(t);
    }
  }
  for (const auto& tuple : tuples->items) {
    FramePtr step_env = frame_from_tuple(*this, env, tuple);
    const Value& focus = tuple_focus(tuple);
    Value res = evaluate(expr, focus, step_env);
    if (res.undefined()) continue;
    std::vector<Value> list;
    bool stream = res.is_array() && res.arr()->tuple_stream;
    if (res.is_array()) {
      list = res.arr()->items;
    } else {
      list.push_back(res);
    }
    for (std::size_t b = 0; b < list.size(); ++b) {
      auto t = make_object();
      if (tuple.is_object()) t->members = tuple.obj()->members;
      if (stream) {
        if (list[b].is_object()) {
          for (const auto& [k, v] : list[b].obj()->members) t->set(k, v);
        }
      } else {
        if (expr->focus) {
          t->set(*expr->focus, list[b]);
          t->set("@", focus);
        } else {
          t->set("@", list[b]);
        }
        if (expr->index) t->set(*expr->index, Value(static_cast<double>(b)));
        if (expr->ancestor) t->set(expr->ancestor->label, focus);
      }
      result->items.push_back(t);
    }
  }
  if (expr->stages) {
    Value staged = evaluate_stages(*expr->stages, result, env);
    if (staged.is_array()) return staged.arr();
    return make_sequence();
  }
  return result;
}

Value Evaluator::evaluate_filter(const Node* pred, const Value& input, const FramePtr& env) {
  auto results = make_sequence();
  bool stream = input.is_array() && input.arr()->tuple_stream;
  if (stream) results->tuple_stream = true;
  ArrayPtr in = input.is_array() ? input.arr() : make_sequence(input);
  const auto& items = in->items;
  if (pred->type == NodeType::kNumber) {
    double idx = std::floor(pred->literal.number());
    if (idx < 0) idx += static_cast<double>(items.size());
    if (idx >= 0 && idx < static_cast<double>(items.size())) {
      const Value& item = items[static_cast<std::size_t>(idx)];
      if (!item.undefined()) {
        if (item.is_array()) return item;
        results->items.push_back(item);
      }
    }
    return results;
  }
  for (std::size_t index = 0; index < items.size(); ++index) {
    const Value& item = items[index];
    Value res;
    if (stream) {
      res = evaluate(pred, tuple_focus(item), frame_from_tuple(*this, env, item));
    } else {
      res = evaluate(pred, item, env);
    }
    bool numbers = false;
    std::vector<double> indexes;
    if (is_numeric(res)) {
      numbers = true;
      indexes.push_back(res.number());
    } else if (res.is_array()) {
      numbers = true;
      for (const auto& v : res.arr()->items) {
        if (!v.is_number()) {
          numbers = false;
          break;
        }
        indexes.push_back(v.number());
      }
    }
    if (numbers) {
      for (double d : indexes) {
        double ii = std::floor(d);
        if (ii < 0) ii += static_cast<double>(items.size());
        if (ii == static_cast<double>(index)) results->items.push_back(item);
      }
    } else if (truthy(res)) {
      results->items.push_back(item);
    }
  }
  return results;
}

Value Evaluator::evaluate_binary(const Node* expr, const Value& input, const FramePtr& env) {
  Value lhs = evaluate(expr->lhs, input, env);
  const std::string& op = expr->value;
  if (op == "and") return Value(truthy(lhs) && truthy(evaluate(expr->rhs, input, env)));
  if (op == "or") return Value(truthy(lhs) || truthy(evaluate(expr->rhs, input, env)));
  Value rhs = evaluate(expr->rhs, input, env);
  try {
    char c = op[0];
    if (op.size() == 1 && (c == '+' || c == '-' || c == '*' || c == '/' || c == '%')) {
      if (!lhs.undefined() && !is_numeric(lhs)) fail("T2001", std::nullopt, std::nullopt, lhs);
      if (!rhs.undefined() && !is_numeric(rhs)) fail("T2002", std::nullopt, std::nullopt, rhs);
      if (lhs.undefined() || rhs.undefined()) return Value();
      double a = lhs.number(), b = rhs.number();
      switch (c) {
        case '+':
          return Value(a + b);
        case '-':
          return Value(a - b);
        case '*':
          return Value(a * b);
        case '/':
          return Value(a / b);
        default:
          return Value(std::fmod(a, b));
      }
    }
    if (op == "=" || op == "!=") {
      if (lhs.undefined() || rhs.undefined()) return Value(false);
      bool eq = deep_equal(lhs, rhs);
      return Value(op == "=" ? eq : !eq);
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      auto comparable = [](const Value& v) { return v.undefined() || v.is_string() || v.is_number(); };
      if (!comparable(lhs) || !comparable(rhs)) {
        fail("T2010", std::nullopt, std::nullopt, (lhs.is_string() || lhs.is_number()) ? rhs : lhs);
      }
      if (lhs.undefined() || rhs.undefined()) return Value();
      if (lhs.kind() != rhs.kind()) fail("T2009", std::nullopt, std::nullopt, lhs, rhs);
      int cmp = 0;
      if (lhs.is_number()) {
        double a = lhs.number(), b = rhs.number();
        if (op == "<") return Value(a < b);
        if (op == "<=") return Value(a <= b);
        if (op == ">") return Value(a > b);
        return Value(a >= b);
      }
      cmp = lhs.str().compare(rhs.str());
      if (op == "<") return Value(cmp < 0);
      if (op == "<=") return Value(cmp <= 0);
      if (op == ">") return Value(cmp > 0);
      return Value(cmp >= 0);
    }
    if (op == "&") {
      std::string out = lhs.undefined() ? std::string() : (lhs.is_string() ? lhs.str() : stringify_value(lhs));
      out += rhs.undefined() ? std::string() : (rhs.is_string() ? rhs.str() : stringify_value(rhs));
      return Value(std::move(out));
    }
    if (op == "..") {
      auto is_int = [](const Value& v) {
        return v.is_number() && std::isfinite(v.number()) && v.number() == std::floor(v.number());
      };
      if (!lhs.undefined() && !is_int(lhs)) fail("T2003", std::nullopt, std::nullopt, lhs);
      if (!rhs.undefined() && !is_int(rhs)) fail("T2004", std::nullopt, std::nullopt, rhs);
      if (lhs.undefined() || rhs.undefined()) return Value();
      double a = lhs.number(), b = rhs.number();
      if (a > b) return Value();
      double size = b - a + 1;
      if (size > 1e7) fail("D2014", std::nullopt, std::nullopt, Value(size));
      auto seq = make_sequence();
      seq->items.reserve(static_cast<std::size_t>(size));
      for (double x = a; x <= b; x += 1) seq->items.emplace_back(x);
      return seq;
    }
    if (op == "in") {
      if (lhs.undefined() || rhs.undefined()) return Value(false);
      auto same = [&](const Value& v) {
        if (v.kind() != lhs.kind()) return false;
        if (v.is_array() || v.is_object() || v.is_function()) {
          return (v.is_array() && v.arr() == lhs.arr()) || (v.is_object() && v.obj() == lhs.obj()) ||
                 (v.is_function() && v.fn() == lhs.fn());
        }
        return deep_equal(v, lhs);
      };
      if (rhs.is_array()) {
        for (const auto& v : rhs.arr()->items) {
          if (same(v)) return Value(true);
        }
        return Value(false);
      }
      return Value(same(rhs));
    }
  } catch (EvalError& e) {
    e.error.position = expr->position;
    e.error.token = op;
    throw;
  }
  fail("S0201", expr->position, op);
}

std::string stringify_value(const Value& v) {
  if (v.is_string()) return v.str();
  if (v.is_function()) return "";
  if (v.is_number() && !std::isfinite(v.number())) fail("D3001", std::nullopt, std::nullopt, v);
  return stringify(v, false);
}

Value Evaluator::evaluate_unary(const Node* expr, const Value& input, const FramePtr& env) {
  Value v = evaluate(expr->expression, input, env);
  if (v.undefined()) return Value();
  if (is_numeric(v)) return Value(-v.number());
  fail("D1002", expr->position, expr->value, v);
}

Value Evaluator::evaluate_array_cons(const Node* expr, const Value& input, const FramePtr& env) {
  auto result = make_array();
  Value acc = result;
  for (const Node* item : expr->expressions) {
    Value v = evaluate(item, input, env);
    if (v.undefined()) continue;
    if (item->type == NodeType::kArrayCons) {
      acc.arr()->items.push_back(v);
    } else if (v.is_array()) {
      for (const auto& x : v.arr()->items) acc.arr()->items.push_back(x);
    } else {
      acc.arr()->items.push_back(v);
    }
  }
  if (expr->consarray) acc.arr()->cons = true;
  return acc;
}

Value Evaluator::evaluate_group(const Group& group, const Value& input_value, const FramePtr& env) {
  bool reduce = input_value.is_array() && input_value.arr()->tuple_stream;
  ArrayPtr input = input_value.is_array() ? input_value.arr() : make_sequence(input_value);
  std::vector<Value> items = input->items;
  if (items.empty()) items.emplace_back();
  struct Entry {
    std::string key;
    Value data;
    std::size_t expr_index;
  };
  std::vector<Entry> groups;
  for (const auto& item : items) {
    FramePtr item_env = reduce ? frame_from_tuple(*this, env, item) : env;
    for (std::size_t p = 0; p < group.pairs.size(); ++p) {
      Value key = evaluate(group.pairs[p].first, reduce ? tuple_focus(item) : item, item_env);
      if (key.undefined()) continue;
      if (!key.is_string()) fail("T1003", group.position, std::nullopt, key);
      auto it = std::find_if(groups.begin(), groups.end(), [&](const Entry& e) { return e.key == key.str(); });
      if (it != groups.end()) {
        if (it->expr_index != p) fail("D1009", group.position, std::nullopt, key);
        it->data = append(it->data, item);
      } else {
        groups.push_back(Entry{key.str(), item, p});
      }
    }
  }
  auto result = make_object();
  for (auto& entry : groups) {
    Value context = entry.data;
    FramePtr group_env = env;
    if (reduce) {
      Value tuple = reduce_tuple_stream(entry.data);
      context = tuple_focus(tuple);
      if (tuple.is_object()) tuple.obj()->erase("@");
      group_env = frame_from_tuple(*this, env, tuple);
    }
    Value v = evaluate(group.pairs[entry.expr_index].second, context, group_env);
    if (!v.undefined()) result->set(entry.key, v);
  }
  return result;
}

Value Evaluator::evaluate_sort(const Node* expr, const Value& input, const FramePtr& env) {
  if (input.undefined()) return Value();
  if (!input.is_array() || input.arr()->items.size() <= 1) return input;
  bool tuple_sort = input.arr()->tuple_stream;
  auto greater = [&](const Value& a, const Value& b) {
    int comp = 0;
    for (const auto& term : expr->terms) {
      Value aa, bb;
      if (tuple_sort) {
        aa = evaluate(term.expr, tuple_focus(a), frame_from_tuple(*this, env, a));
        bb = evaluate(term.expr, tuple_focus(b), frame_from_tuple(*this, env, b));
      } else {
        aa = evaluate(term.expr, a, env);
        bb = evaluate(term.expr, b, env);
      }
      if (aa.undefined()) {
        comp = bb.undefined() ? 0 : 1;
        continue;
      }
      if (bb.undefined()) {
        comp = -1;
        continue;
      }
      if (!(aa.is_string() || aa.is_number()) || !(bb.is_string() || bb.is_number())) {
        fail("T2008", expr->position, std::nullopt, (aa.is_string() || aa.is_number()) ? bb : aa);
      }
      if (aa.kind() != bb.kind()) fail("T2007", expr->position, std::nullopt, aa, bb);
      bool equal = aa.is_number() ? aa.number() == bb.number() : aa.str() == bb.str();
      if (equal) continue;
      bool less = aa.is_number() ? aa.number() < bb.number() : aa.str() < bb.str();
      comp = less ? -1 : 1;
      if (term.descending) comp = -comp;
      break;
    }
    return comp == 1;
  };
  std::vector<Value> items = input.arr()->items;
  std::vector<Value> buffer(items.size());
  // Merge sort as jsonata-js does it (stable; `greater(a, b)` puts b first).
  std::function<void(std::size_t, std::size_t)> sort = [&](std::size_t lo, std::size_t hi) {
    if (hi - lo <= 1) return;
    std::size_t mid = lo + (hi - lo) / 2;
    sort(lo, mid);
    sort(mid, hi);
    std::size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
      if (greater(items[i], items[j])) {
        buffer[k++] = items[j++];
      } else {
        buffer[k++] = items[i++];
      }
    }
    while (i < mid) buffer[k++] = items[i++];
    while (j < hi) buffer[k++] = items[j++];
    for (std::size_t x = lo; x < hi; ++x) items[x] = buffer[x];
  };
  sort(0, items.size());
  auto out = make_sequence();
  out->tuple_stream = tuple_sort;
  out->items = std::move(items);
  return out;
}

Value Evaluator::evaluate_function(const Node* expr, const Value& input, const FramePtr& env, const Value* applyto) {
  Value proc = evaluate(expr->procedure, input, env);
  const Node* pn = expr->procedure;
  std::string proc_name = pn->type == NodeType::kPath && !pn->steps.empty() ? pn->steps[0]->value : pn->value;
  if (proc.undefined() && pn->type == NodeType::kPath && !pn->steps.empty() &&
      !lookup_variable(env, pn->steps[0]->value).undefined()) {
    fail("T1005", expr->position, pn->steps[0]->value);
  }
  std::vector<Value> args;
  args.reserve(expr->arguments.size() + 1);
  if (applyto) args.push_back(*applyto);
  for (const Node* a : expr->arguments) args.push_back(evaluate(a, input, env));
  try {
    return apply(proc, std::move(args), input, env);
  } catch (EvalError& e) {
    if (!e.error.position) e.error.position = expr->position;
    if (!e.error.token) e.error.token = proc_name;
    throw;
  }
}

Value Evaluator::evaluate_partial(const Node* expr, const Value& input, const FramePtr& env) {
  std::vector<std::optional<Value>> args;
  for (const Node* a : expr->arguments) {
    if (a->type == NodeType::kOperator && a->value == "?") {
      args.emplace_back(std::nullopt);
    } else {
      args.emplace_back(evaluate(a, input, env));
    }
  }
  Value proc = evaluate(expr->procedure, input, env);
  const Node* pn = expr->procedure;
  std::string proc_name = pn->type == NodeType::kPath && !pn->steps.empty() ? pn->steps[0]->value : pn->value;
  if (proc.undefined() && pn->type == NodeType::kPath && !pn->steps.empty() &&
      !lookup_variable(env, pn->steps[0]->value).undefined()) {
    fail("T1007", expr->position, pn->steps[0]->value);
  }
  if (!proc.is_function()) fail("T1008", expr->position, proc_name);
  const Function& f = *proc.fn();
  auto out = std::make_shared<Function>();
  if (f.type == Function::Type::kLambda) {
    out->type = Function::Type::kLambda;
    out->node = f.node;
    out->input = f.input;
    out->env = track(std::make_shared<Frame>());
    out->env->parent = f.env;
    for (std::size_t i = 0; i < f.params.size(); ++i) {
      if (i < args.size() && !args[i]) {
        out->params.push_back(f.params[i]);
      } else {
        out->env->bind(f.params[i], i < args.size() ? *args[i] : Value());
      }
    }
    return out;
  }
  out->type = Function::Type::kPartial;
  out->target = proc.fn();
  out->bound = std::move(args);
  return out;
}

Value Evaluator::evaluate_apply(const Node* expr, const Value& input, const FramePtr& env) {
  Value lhs = evaluate(expr->lhs, input, env);
  if (expr->rhs->type == NodeType::kFunction) return evaluate_function(expr->rhs, input, env, &lhs);
  Value func = evaluate(expr->rhs, input, env);
  if (!func.is_function()) fail("T2006", expr->position, std::nullopt, func);
  if (lhs.is_function()) {
    auto chain = std::make_shared<Function>();
    chain->type = Function::Type::kChain;
    chain->target = lhs.fn();
    chain->second = func.fn();
    return chain;
  }
  return apply(func, {lhs}, Value(), env);
}

int Evaluator::arity(const Value& fn) const {
  if (!fn.is_function()) return 0;
  const Function& f = *fn.fn();
  switch (f.type) {
    case Function::Type::kLambda:
      return static_cast<int>(f.params.size());
    case Function::Type::kBuiltin:
      return f.builtin->arity;
    case Function::Type::kPartial: {
      int n = 0;
      for (const auto& b : f.bound) n += b ? 0 : 1;
      return n;
    }
    default:
      return 1;
  }
}

Value Evaluator::apply(const Value& proc, std::vector<Value> args, const Value& input, const FramePtr& env) {
  Value result = apply_inner(proc, args, input, env);
  while (result.is_function() && result.fn()->type == Function::Type::kLambda && result.fn()->thunk) {
    DepthScope scope(depth_);
    check_guard();
    FunctionPtr thunk = result.fn();
    const Node* call = thunk->node->body;
    Value next = evaluate(call->procedure, thunk->input, thunk->env);
    std::vector<Value> next_args;
    for (const Node* a : call->arguments) next_args.push_back(evaluate(a, thunk->input, thunk->env));
    try {
      result = apply_inner(next, next_args, input, env);
    } catch (EvalError& e) {
      if (!e.error.token && call->procedure->type == NodeType::kVariable) e.error.token = call->procedure->value;
      if (!e.error.position) e.error.position = call->procedure->position;
      throw;
    }
  }
  return result;
}

Value Evaluator::apply_inner(const Value& proc, std::vector<Value>& args, const Value& input, const FramePtr& env) {
  if (!proc.is_function()) fail("T1006");
  FunctionPtr hold = proc.fn();
  const Function& f = *hold;
  switch (f.type) {
    case Function::Type::kLambda: {
      if (f.signature) {
        std::vector<Value> validated = validate_arguments(*f.signature, args, input);
        return apply_procedure(f, validated);
      }
      return apply_procedure(f, args);
    }
    case Function::Type::kBuiltin: {
      std::vector<Value> validated = f.signature ? validate_arguments(*f.signature, args, input) : args;
      return f.builtin->fn(*this, validated, input, env);
    }
    case Function::Type::kPartial: {
      std::vector<Value> full;
      std::size_t next = 0;
      for (const auto& b : f.bound) {
        if (b) {
          full.push_back(*b);
        } else {
          full.push_back(next < args.size() ? args[next] : Value());
          ++next;
        }
      }
      return apply(f.target, std::move(full), input, env);
    }
    case Function::Type::kChain: {
      Value first = apply(f.target, args, input, env);
      return apply(f.second, {first}, input, env);
    }
    case Function::Type::kTransform: {
      std::vector<Value> validated = validate_arguments(*f.signature, args, input);
      return evaluate_transform_fn(f, validated.empty() ? Value() : validated[0]);
    }
    case Function::Type::kRegex: {
      std::string s = !args.empty() && args[0].is_string() ? args[0].str() : std::string();
      auto matches = regex_all_matches(f, s, 1);
      if (matches.empty()) return Value();
      auto o = make_object();
      o->set("match", Value(matches[0].match));
      o->set("start", Value(static_cast<double>(matches[0].start)));
      o->set("end", Value(static_cast<double>(matches[0].end)));
      auto groups = make_array();
      for (const auto& g : matches[0].groups) groups->items.emplace_back(g);
      o->set("groups", groups);
      return o;
    }
  }
  fail("T1006");
}

Value Evaluator::apply_procedure(const Function& proc, std::vector<Value>& args) {
  auto frame = track(std::make_shared<Frame>());
  frame->parent = proc.env;
  for (std::size_t i = 0; i < proc.params.size(); ++i) frame->bind(proc.params[i], i < args.size() ? args[i] : Value());
  return evaluate(proc.node->body, proc.input, frame);
}

Value Evaluator::evaluate_transform_fn(const Function& f, const Value& obj) {
  if (obj.undefined()) return Value();
  const Node* expr = f.node;
  Value result = clone_deep(obj);
  Value matches = evaluate(expr->pattern, result, f.env);
  if (matches.undefined()) return result;
  std::vector<Value> list;
  if (matches.is_array()) {
    list = matches.arr()->items;
  } else {
    list.push_back(matches);
  }
  for (const auto& match : list) {
    Value update = evaluate(expr->update, match, f.env);
    if (!update.undefined()) {
      if (!update.is_object()) fail("T2011", expr->update->position, std::nullopt, update);
      if (match.is_object()) {
        for (const auto& [k, v] : update.obj()->members) match.obj()->set(k, v);
      }
    }
    if (expr->remove) {
      Value deletions = evaluate(expr->remove, match, f.env);
      if (deletions.undefined()) continue;
      std::vector<Value> names;
      if (deletions.is_array()) {
        names = deletions.arr()->items;
      } else {
        names.push_back(deletions);
      }
      for (const auto& n : names) {
        if (!n.is_string()) fail("T2012", expr->remove->position, std::nullopt, deletions);
      }
      if (match.is_object()) {
        for (const auto& n : names) match.obj()->erase(n.str());
      }
    }
  }
  return result;
}

// ---- regular expressions ----

std::vector<RegexMatch> regex_all_matches(const Function& re, const std::string& s, std::size_t limit) {
  std::vector<RegexMatch> out;
  auto begin = std::sregex_iterator(s.begin(), s.end(), *re.regex);
  std::size_t cp_pos = 0, byte_pos = 0;
  auto advance_to = [&](std::size_t byte) {
    cp_pos += utf8_length(std::string_view(s).substr(byte_pos, byte - byte_pos));
    byte_pos = byte;
    return cp_pos;
  };
  for (auto it = begin; it != std::sregex_iterator() && out.size() < limit; ++it) {
    const auto& m = *it;
    RegexMatch r;
    r.match = m.str(0);
    r.byte_start = static_cast<std::size_t>(m.position(0));
    r.byte_end = r.byte_start + r.match.size();
    r.start = advance_to(r.byte_start);
    r.end = r.start + utf8_length(r.match);
    for (std::size_t g = 1; g < m.size(); ++g) r.groups.push_back(m[g].matched ? m[g].str() : std::string());
    if (r.match.empty()) {
      const Node* n = re.node;
      fail("D1004", n ? std::optional<std::size_t>(n->position) : std::nullopt, std::nullopt, Value(re.source));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace stepwise::jsonata::detail
