// The JSONata value model: objects in insertion order, JavaScript-compatible
// equality, stringification and number formatting, UTF-8 helpers.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "states/json.h"
#include "states/jsonata/internal.h"

namespace stepwise::jsonata::detail {

namespace {

// Values nested deeper than this are refused where they are walked recursively
// (output conversion, stringification, comparison, cloning) so the C++ stack cannot run out.
constexpr int kMaxValueNesting = 1000;

void check_nesting(int depth) {
  if (depth > kMaxValueNesting) {
    EvalError e;
    e.error.code = "U1001";
    e.error.message = "Value nested more than 1000 levels deep";
    throw e;
  }
}

}  // namespace

namespace {

struct Teardown {
  std::vector<Value> values;
  std::vector<FramePtr> frames;
};

bool nests(const Value& v) {
  return v.is_array() || v.is_object() || v.is_function();
}

void keep(Teardown& t, Value& v) {
  if (nests(v)) t.values.push_back(std::move(v));
}

void take_function_parts(Function& f, Teardown& t) {
  keep(t, f.input);
  if (f.env) t.frames.push_back(std::move(f.env));
  if (f.target) t.values.emplace_back(std::move(f.target));
  if (f.second) t.values.emplace_back(std::move(f.second));
  for (auto& b : f.bound) {
    if (b) keep(t, *b);
  }
  f.bound.clear();
}

void take_frame_parts(Frame& f, Teardown& t) {
  for (auto& [k, v] : f.vars) keep(t, v);
  f.vars.clear();
  if (f.parent) t.frames.push_back(std::move(f.parent));
}

// Destroys what `t` holds the last references to, breadth-first, without recursion:
// each container is emptied (its children moved into `t`) before it is destroyed.
void run(Teardown& t) {
  while (!t.values.empty() || !t.frames.empty()) {
    if (!t.values.empty()) {
      Value v = std::move(t.values.back());
      t.values.pop_back();
      if (v.is_array() && v.arr().use_count() == 1) {
        for (auto& item : v.arr()->items) keep(t, item);
        v.arr()->items.clear();
      } else if (v.is_object() && v.obj().use_count() == 1) {
        for (auto& member : v.obj()->members) keep(t, member.second);
        v.obj()->members.clear();
      } else if (v.is_function() && v.fn().use_count() == 1) {
        take_function_parts(*v.fn(), t);
      }
    } else {
      FramePtr f = std::move(t.frames.back());
      t.frames.pop_back();
      if (f.use_count() == 1) take_frame_parts(*f, t);
    }
  }
}

}  // namespace

void dismantle(std::vector<Value>& values) {
  if (values.empty()) return;
  Teardown t;
  for (auto& v : values) keep(t, v);
  values.clear();
  run(t);
}

Object::~Object() {
  Teardown t;
  for (auto& member : members) keep(t, member.second);
  members.clear();
  run(t);
}

Function::~Function() {
  Teardown t;
  take_function_parts(*this, t);
  run(t);
}

Frame::~Frame() {
  Teardown t;
  take_frame_parts(*this, t);
  run(t);
}

const Value* Object::find(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

Value* Object::find(std::string_view key) {
  for (auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Object::set(const std::string& key, Value v) {
  if (Value* existing = find(key)) {
    *existing = std::move(v);
  } else {
    members.emplace_back(key, std::move(v));
  }
}

void Object::erase(std::string_view key) {
  for (auto it = members.begin(); it != members.end(); ++it) {
    if (it->first == key) {
      members.erase(it);
      return;
    }
  }
}

ArrayPtr make_array() {
  return std::make_shared<Array>();
}
ArrayPtr make_sequence() {
  auto a = std::make_shared<Array>();
  a->sequence = true;
  return a;
}
ArrayPtr make_sequence(Value v) {
  auto a = make_sequence();
  a->items.push_back(std::move(v));
  return a;
}
ObjectPtr make_object() {
  return std::make_shared<Object>();
}

bool is_sequence(const Value& v) {
  return v.is_array() && v.arr()->sequence;
}

std::optional<bool> to_boolean(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return std::nullopt;
    case Value::Kind::kNull:
      return false;
    case Value::Kind::kBool:
      return v.boolean();
    case Value::Kind::kNumber:
      return v.number() != 0 && !std::isnan(v.number());
    case Value::Kind::kString:
      return !v.str().empty();
    case Value::Kind::kObject:
      return !v.obj()->members.empty();
    case Value::Kind::kFunction:
      return false;
    case Value::Kind::kArray: {
      const auto& items = v.arr()->items;
      if (items.size() == 1) return to_boolean(items[0]).value_or(false);
      for (const auto& item : items) {
        if (to_boolean(item).value_or(false)) return true;
      }
      return false;
    }
  }
  return false;
}

bool truthy(const Value& v) {
  return to_boolean(v).value_or(false);
}

bool deep_equal(const Value& a, const Value& b) {
  return deep_equal_at(a, b, 0);
}

bool deep_equal_at(const Value& a, const Value& b, int depth) {
  check_nesting(depth);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return a.boolean() == b.boolean();
    case Value::Kind::kNumber:
      return a.number() == b.number();
    case Value::Kind::kString:
      return a.str() == b.str();
    case Value::Kind::kFunction:
      return a.fn() == b.fn();
    case Value::Kind::kArray: {
      const auto& x = a.arr()->items;
      const auto& y = b.arr()->items;
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!deep_equal_at(x[i], y[i], depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kObject: {
      const auto& x = a.obj()->members;
      const auto& y = *b.obj();
      if (x.size() != y.members.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = y.find(k);
        if (!other || !deep_equal_at(v, *other, depth + 1)) return false;
      }
      return true;
    }
  }
  return false;
}

Value append(const Value& a, const Value& b) {
  if (a.undefined()) return b;
  if (b.undefined()) return a;
  auto out = make_array();
  if (a.is_array()) {
    out->items = a.arr()->items;
  } else {
    out->items.push_back(a);
  }
  if (b.is_array()) {
    out->items.insert(out->items.end(), b.arr()->items.begin(), b.arr()->items.end());
  } else {
    out->items.push_back(b);
  }
  return out;
}

Value clone_deep(const Value& v) {
  return clone_deep_at(v, 0);
}

Value clone_deep_at(const Value& v, int depth) {
  check_nesting(depth);
  if (v.is_array()) {
    auto out = make_array();
    for (const auto& item : v.arr()->items) {
      out->items.push_back(item.undefined() ? Value::null() : clone_deep_at(item, depth + 1));
    }
    return out;
  }
  if (v.is_object()) {
    auto out = make_object();
    for (const auto& [k, item] : v.obj()->members) {
      if (!item.undefined() && !item.is_function()) out->members.emplace_back(k, clone_deep_at(item, depth + 1));
    }
    return out;
  }
  return v;
}

std::string number_to_js(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  if (d == 0) return "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  auto e = sci.find('e');
  std::string digits;
  for (std::size_t i = 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int exp10 = std::atoi(sci.c_str() + e + 1);
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;
  std::string out = d < 0 ? "-" : "";
  if (k <= n && n <= 21) {
    out += digits + std::string(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0." + std::string(static_cast<std::size_t>(-n), '0') + digits;
  } else {
    int ex = n - 1;
    out += digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    out += ex < 0 ? "e-" : "e+";
    out += std::to_string(std::abs(ex));
  }
  return out;
}

namespace {

double to_precision15(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.14e", d);
  return std::strtod(buf, nullptr);
}

void stringify_into(std::string& out, const Value& v, bool pretty, int level) {
  check_nesting(level);
  auto newline = [&](int lvl) {
    if (!pretty) return;
    out += '\n';
    out.append(static_cast<std::size_t>(lvl) * 2, ' ');
  };
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNull:
      out += "null";
      break;
    case Value::Kind::kBool:
      out += v.boolean() ? "true" : "false";
      break;
    case Value::Kind::kNumber:
      if (!std::isfinite(v.number())) fail("D1001", std::nullopt, std::nullopt, v);
      out += number_to_js(to_precision15(v.number()));
      break;
    case Value::Kind::kString:
      stepwise::append_json_string(out, v.str());  // JSON.stringify escapes as JSON does
      break;
    case Value::Kind::kFunction:
      out += "\"\"";
      break;
    case Value::Kind::kArray: {
      const auto& items = v.arr()->items;
      if (items.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        stringify_into(out, items[i], pretty, level + 1);
      }
      newline(level);
      out += ']';
      break;
    }
    case Value::Kind::kObject: {
      bool first = true;
      out += '{';
      for (const auto& [k, item] : v.obj()->members) {
        if (item.undefined()) continue;
        if (!first) out += ',';
        first = false;
        newline(level + 1);
        stepwise::append_json_string(out, k);
        out += pretty ? ": " : ":";
        stringify_into(out, item, pretty, level + 1);
      }
      if (!first) newline(level);
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string stringify(const Value& v, bool pretty) {
  std::string out;
  const Value* target = &v;
  if (v.is_array() && v.arr()->outer_wrapper && !v.arr()->items.empty()) target = &v.arr()->items[0];
  stringify_into(out, *target, pretty, 0);
  return out;
}

Value from_json(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return Value::null();
    case json::kind::bool_:
      return Value(v.get_bool());
    case json::kind::int64:
      return Value(static_cast<double>(v.get_int64()));
    case json::kind::uint64:
      return Value(static_cast<double>(v.get_uint64()));
    case json::kind::double_:
      return Value(v.get_double());
    case json::kind::string:
      return Value(std::string(v.get_string()));
    case json::kind::array: {
      auto a = make_array();
      a->items.reserve(v.get_array().size());
      for (const auto& item : v.get_array()) a->items.push_back(from_json(item));
      return a;
    }
    case json::kind::object: {
      auto o = make_object();
      o->members.reserve(v.get_object().size());
      for (const auto& kv : v.get_object()) o->members.emplace_back(std::string(kv.key()), from_json(kv.value()));
      return o;
    }
  }
  return Value();
}

json::value to_json_value(const Value& v) {
  return to_json_value_at(v, 0);
}

json::value to_json_value_at(const Value& v, int depth) {
  check_nesting(depth);
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNull:
      return nullptr;
    case Value::Kind::kBool:
      return v.boolean();
    case Value::Kind::kNumber: {
      double d = v.number();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
        return static_cast<std::int64_t>(d);
      }
      return d;
    }
    case Value::Kind::kString:
      return json::string(v.str());
    case Value::Kind::kFunction:
      return json::string("");
    case Value::Kind::kArray: {
      json::array out;
      out.reserve(v.arr()->items.size());
      for (const auto& item : v.arr()->items) out.push_back(to_json_value_at(item, depth + 1));
      return out;
    }
    case Value::Kind::kObject: {
      json::object out;
      out.reserve(v.obj()->members.size());
      for (const auto& [k, item] : v.obj()->members) {
        if (!item.undefined()) out.emplace(k, to_json_value_at(item, depth + 1));
      }
      return out;
    }
  }
  return nullptr;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<std::uint32_t> to_code_points(std::string_view s) {
  std::vector<std::uint32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xC0) {
      len = 2;
      cp = c & 0x1F;
    }
    if (i + len > s.size()) {  // truncated sequence: take the byte as it is
      len = 1;
      cp = c;
    }
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string from_code_points(const std::vector<std::uint32_t>& cps, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end && i < cps.size(); ++i) append_utf8(out, cps[i]);
  return out;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace stepwise::jsonata::detail
