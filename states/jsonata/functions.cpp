// The JSONata 2.0.6 function library (all but $eval), as jsonata-js defines each
// function: signature, argument handling, undefined propagation and error codes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "states/digest.h"
#include "states/jsonata/internal.h"

namespace stepwise::jsonata::detail {
namespace {

using Args = std::vector<Value>;

const Value& arg(const Args& a, std::size_t i) {
  static const Value kUndefined;
  return i < a.size() ? a[i] : kUndefined;
}

Value num(double d) {
  return Value(d);
}

// JavaScript truthiness, for comparator results.
bool js_truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNull:
      return false;
    case Value::Kind::kBool:
      return v.boolean();
    case Value::Kind::kNumber:
      return v.number() != 0 && !std::isnan(v.number());
    case Value::Kind::kString:
      return !v.str().empty();
    default:
      return true;
  }
}

std::vector<Value> hof_args(Evaluator& ev, const Value& fn, const Value& a1, const Value& a2, const Value& a3) {
  std::vector<Value> out{a1};
  int n = ev.arity(fn);
  if (n >= 2) out.push_back(a2);
  if (n >= 3) out.push_back(a3);
  return out;
}

// ---- aggregation ----

Value fn_sum(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  double total = 0;
  for (const auto& v : arg(a, 0).arr()->items) total += v.number();
  return num(total);
}

Value fn_count(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return num(0);
  return num(static_cast<double>(arg(a, 0).arr()->items.size()));
}

Value extreme(Args& a, bool max) {
  if (arg(a, 0).undefined() || arg(a, 0).arr()->items.empty()) return Value();
  double best = max ? -INFINITY : INFINITY;
  for (const auto& v : arg(a, 0).arr()->items) best = max ? std::max(best, v.number()) : std::min(best, v.number());
  return num(best);
}
Value fn_max(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return extreme(a, true);
}
Value fn_min(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return extreme(a, false);
}

Value fn_average(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined() || arg(a, 0).arr()->items.empty()) return Value();
  double total = 0;
  for (const auto& v : arg(a, 0).arr()->items) total += v.number();
  return num(total / static_cast<double>(arg(a, 0).arr()->items.size()));
}

// ---- strings ----

Value fn_string(Evaluator&, Args& a, const Value&, const FramePtr&) {
  const Value& v = arg(a, 0);
  if (v.undefined()) return Value();
  if (v.is_string()) return v;
  if (v.is_function()) return Value(std::string());
  if (v.is_number() && !std::isfinite(v.number())) fail("D3001", std::nullopt, std::nullopt, v);
  bool pretty = arg(a, 1).is_bool() && arg(a, 1).boolean();
  return Value(stringify(v, pretty));
}

long long js_int(double d) {
  if (std::isnan(d)) return 0;
  if (d > 1e15) return static_cast<long long>(1e15);
  if (d < -1e15) return static_cast<long long>(-1e15);
  return static_cast<long long>(std::trunc(d));
}

Value fn_substring(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  auto cps = to_code_points(arg(a, 0).str());
  long long len = static_cast<long long>(cps.size());
  long long start = js_int(arg(a, 1).number());
  if (len + start < 0) start = 0;
  auto slice = [&](long long b, long long e) {
    if (b < 0) b = std::max(0LL, len + b);
    if (e < 0) e = std::max(0LL, len + e);
    b = std::min(b, len);
    e = std::min(e, len);
    if (e <= b) return std::string();
    return from_code_points(cps, static_cast<std::size_t>(b), static_cast<std::size_t>(e));
  };
  if (!arg(a, 2).undefined()) {
    double length = arg(a, 2).number();
    if (length <= 0) return Value(std::string());
    long long l = js_int(length);
    long long end = start >= 0 ? start + l : len + start + l;
    return Value(slice(start, end));
  }
  return Value(slice(start, len));
}

Value fn_substring_before(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  auto pos = s.find(arg(a, 1).str());
  return pos == std::string::npos ? Value(s) : Value(s.substr(0, pos));
}

Value fn_substring_after(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  auto pos = s.find(arg(a, 1).str());
  return pos == std::string::npos ? Value(s) : Value(s.substr(pos + arg(a, 1).str().size()));
}

Value change_case(Args& a, bool upper) {
  if (arg(a, 0).undefined()) return Value();
  auto cps = to_code_points(arg(a, 0).str());
  std::string out;
  for (auto cp : cps) {
    if (upper) {
      if ((cp >= 'a' && cp <= 'z') || (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7))
        cp -= 32;
      else if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2)
        cp -= 32;
      else if (cp >= 0x430 && cp <= 0x44F)
        cp -= 32;
    } else {
      if ((cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7))
        cp += 32;
      else if (cp >= 0x391 && cp <= 0x3A9)
        cp += 32;
      else if (cp >= 0x410 && cp <= 0x42F)
        cp += 32;
    }
    append_utf8(out, cp);
  }
  return Value(out);
}
Value fn_lowercase(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return change_case(a, false);
}
Value fn_uppercase(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return change_case(a, true);
}

Value fn_length(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  return num(static_cast<double>(utf8_length(arg(a, 0).str())));
}

Value fn_trim(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  std::string out;
  bool in_space = false;
  for (char c : arg(a, 0).str()) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!in_space) out += ' ';
      in_space = true;
    } else {
      out += c;
      in_space = false;
    }
  }
  if (!out.empty() && out.front() == ' ') out.erase(0, 1);
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return Value(out);
}

Value fn_pad(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  double width = arg(a, 1).number();
  std::string ch = arg(a, 2).is_string() && !arg(a, 2).str().empty() ? arg(a, 2).str() : " ";
  long long pad_len = static_cast<long long>(std::fabs(std::trunc(width))) - static_cast<long long>(utf8_length(s));
  if (pad_len <= 0) return Value(s);
  if (pad_len > 100000000) {
    EvalError e;
    e.error.code = "U1001";
    e.error.message = "$pad() would build a string of more than 100,000,000 characters";
    throw e;
  }
  auto ch_cps = to_code_points(ch);
  std::vector<std::uint32_t> padding;
  while (static_cast<long long>(padding.size()) < pad_len) {
    for (auto cp : ch_cps) padding.push_back(cp);
  }
  std::string pad = from_code_points(padding, 0, static_cast<std::size_t>(pad_len));
  return Value(width > 0 ? s + pad : pad + s);
}

// The matches of a regex or of a user-defined matcher function (which returns
// {match, start, end, groups, next}) over `s`, at most `limit`.
std::vector<RegexMatch> run_matcher(Evaluator& ev, const Value& matcher, const std::string& s, std::size_t limit,
                                    const Value& input, const FramePtr& env) {
  if (matcher.fn()->type == Function::Type::kRegex) return regex_all_matches(*matcher.fn(), s, limit);
  std::vector<RegexMatch> out;
  std::vector<std::size_t> byte_at;  // code point index -> byte offset
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) byte_at.push_back(i);
  }
  byte_at.push_back(s.size());
  auto to_byte = [&](double cp) {
    if (cp <= 0) return std::size_t{0};
    std::size_t i = static_cast<std::size_t>(cp);
    return i < byte_at.size() ? byte_at[i] : s.size();
  };
  Value result = ev.apply(matcher, {Value(s)}, input, env);
  while (out.size() < limit && !result.undefined()) {
    if (!result.is_object()) fail("T1010");
    const Object& o = *result.obj();
    const Value* match = o.find("match");
    const Value* start = o.find("start");
    const Value* end = o.find("end");
    const Value* groups = o.find("groups");
    if (!match || !match->is_string() || !start || !start->is_number() || !end || !end->is_number() || !groups ||
        !groups->is_array()) {
      fail("T1010");
    }
    RegexMatch m;
    m.match = match->str();
    m.start = static_cast<std::size_t>(start->number());
    m.end = static_cast<std::size_t>(end->number());
    m.byte_start = to_byte(start->number());
    m.byte_end = to_byte(end->number());
    for (const auto& g : groups->arr()->items) m.groups.push_back(g.is_string() ? g.str() : std::string());
    out.push_back(std::move(m));
    const Value* next = o.find("next");
    if (!next || !next->is_function()) break;
    result = ev.apply(*next, {}, input, env);
  }
  return out;
}

Value fn_match(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  if (!arg(a, 2).undefined() && arg(a, 2).number() < 0) fail("D3040", std::nullopt, std::nullopt, arg(a, 2));
  std::size_t limit = arg(a, 2).undefined() ? SIZE_MAX : static_cast<std::size_t>(arg(a, 2).number());
  auto result = make_sequence();
  if (limit == 0) return result;
  for (const auto& m : run_matcher(ev, arg(a, 1), arg(a, 0).str(), limit, input, env)) {
    auto o = make_object();
    o->set("match", Value(m.match));
    o->set("index", num(static_cast<double>(m.start)));
    auto groups = make_array();
    for (const auto& g : m.groups) groups->items.emplace_back(g);
    o->set("groups", groups);
    result->items.push_back(o);
  }
  return result;
}

Value fn_contains(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  if (arg(a, 1).is_string()) return Value(s.find(arg(a, 1).str()) != std::string::npos);
  return Value(!run_matcher(ev, arg(a, 1), s, 1, input, env).empty());
}

std::string substitute(const std::string& replacement, const RegexMatch& m) {
  std::string out;
  std::size_t position = 0;
  auto index = replacement.find('$', position);
  while (index != std::string::npos && position < replacement.size()) {
    out += replacement.substr(position, index - position);
    position = index + 1;
    char c = position < replacement.size() ? replacement[position] : '\0';
    if (c == '$') {
      out += '$';
      ++position;
    } else if (c == '0') {
      out += m.match;
      ++position;
    } else {
      std::size_t max_digits =
          m.groups.empty() ? 1
                           : static_cast<std::size_t>(std::floor(std::log10(static_cast<double>(m.groups.size())))) + 1;
      auto parse = [&](std::size_t n) -> std::optional<std::size_t> {
        std::string digits;
        for (std::size_t k = position;
             k < position + n && k < replacement.size() && std::isdigit(static_cast<unsigned char>(replacement[k]));
             ++k) {
          digits += replacement[k];
        }
        if (digits.empty()) return std::nullopt;
        return static_cast<std::size_t>(std::stoul(digits));
      };
      auto idx = parse(max_digits);
      if (max_digits > 1 && idx && *idx > m.groups.size()) idx = parse(max_digits - 1);
      if (idx) {
        if (!m.groups.empty() && *idx >= 1 && *idx <= m.groups.size()) out += m.groups[*idx - 1];
        position += std::to_string(*idx).size();
      } else {
        out += '$';
      }
    }
    index = replacement.find('$', position);
  }
  if (position < replacement.size()) out += replacement.substr(position);
  return out;
}

Value fn_replace(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  const Value& pattern = arg(a, 1);
  const Value& replacement = arg(a, 2);
  if (pattern.is_string() && pattern.str().empty()) fail("D3010", std::nullopt, std::nullopt, pattern);
  if (!arg(a, 3).undefined() && arg(a, 3).number() < 0) fail("D3011", std::nullopt, std::nullopt, arg(a, 3));
  std::size_t limit = arg(a, 3).undefined() ? SIZE_MAX : static_cast<std::size_t>(arg(a, 3).number());
  std::string out;
  if (pattern.is_string()) {
    std::size_t position = 0, count = 0;
    const std::string& p = pattern.str();
    while (count < limit) {
      auto idx = s.find(p, position);
      if (idx == std::string::npos) break;
      out += s.substr(position, idx - position);
      if (replacement.is_string()) {
        out += replacement.str();
      } else {
        RegexMatch m;
        m.match = p;
        auto o = make_object();
        o->set("match", Value(p));
        o->set("start", num(static_cast<double>(idx)));
        o->set("end", num(static_cast<double>(idx + p.size())));
        o->set("groups", make_array());
        Value r = ev.apply(replacement, {Value(o)}, input, env);
        if (!r.is_string()) fail("D3012", std::nullopt, std::nullopt, r);
        out += r.str();
      }
      position = idx + p.size();
      ++count;
    }
    out += s.substr(position);
    return Value(out);
  }
  std::size_t position = 0;
  for (const auto& m : run_matcher(ev, pattern, s, limit, input, env)) {
    out += s.substr(position, m.byte_start - position);
    if (replacement.is_string()) {
      out += substitute(replacement.str(), m);
    } else {
      auto o = make_object();
      o->set("match", Value(m.match));
      o->set("start", num(static_cast<double>(m.start)));
      o->set("end", num(static_cast<double>(m.end)));
      auto groups = make_array();
      for (const auto& g : m.groups) groups->items.emplace_back(g);
      o->set("groups", groups);
      Value r = ev.apply(replacement, {Value(o)}, input, env);
      if (!r.is_string()) fail("D3012", std::nullopt, std::nullopt, r);
      out += r.str();
    }
    position = m.byte_end;
  }
  out += s.substr(position);
  return Value(out);
}

Value fn_split(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  if (!arg(a, 2).undefined() && arg(a, 2).number() < 0) fail("D3020", std::nullopt, std::nullopt, arg(a, 2));
  std::size_t limit = arg(a, 2).undefined() ? SIZE_MAX : static_cast<std::size_t>(arg(a, 2).number());
  const std::string& s = arg(a, 0).str();
  auto result = make_array();
  if (limit == 0) return result;
  if (arg(a, 1).is_string()) {
    const std::string& sep = arg(a, 1).str();
    if (sep.empty()) {
      auto cps = to_code_points(s);
      for (std::size_t i = 0; i < cps.size() && result->items.size() < limit; ++i) {
        result->items.emplace_back(from_code_points(cps, i, i + 1));
      }
      return result;
    }
    std::size_t pos = 0;
    while (result->items.size() < limit) {
      auto idx = s.find(sep, pos);
      if (idx == std::string::npos) {
        result->items.emplace_back(s.substr(pos));
        break;
      }
      result->items.emplace_back(s.substr(pos, idx - pos));
      pos = idx + sep.size();
    }
    return result;
  }
  auto matches = run_matcher(ev, arg(a, 1), s, limit, input, env);
  std::size_t start = 0;
  for (const auto& m : matches) {
    result->items.emplace_back(s.substr(start, m.byte_start - start));
    start = m.byte_end;
  }
  if (matches.size() < limit) result->items.emplace_back(s.substr(start));
  return result;
}

Value fn_join(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  std::string sep = arg(a, 1).is_string() ? arg(a, 1).str() : "";
  std::string out;
  bool first = true;
  for (const auto& v : arg(a, 0).arr()->items) {
    if (!first) out += sep;
    first = false;
    out += v.str();
  }
  return Value(out);
}

// ---- numbers ----

Value fn_number(Evaluator&, Args& a, const Value&, const FramePtr&) {
  const Value& v = arg(a, 0);
  if (v.undefined()) return Value();
  if (v.is_number()) return v;
  if (v.is_bool()) return num(v.boolean() ? 1 : 0);
  if (v.is_string()) {
    static const std::regex kDecimal("^-?[0-9]+(\\.[0-9]+)?([Ee][-+]?[0-9]+)?$");
    static const std::regex kRadix("^0([xX][0-9A-Fa-f]+|[oO][0-7]+|[bB][01]+)$");
    const std::string& s = v.str();
    if (std::regex_match(s, kDecimal)) {
      double d = std::strtod(s.c_str(), nullptr);
      if (std::isfinite(d)) return num(d);
    } else if (std::regex_match(s, kRadix)) {
      int base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
      double d = 0;
      for (std::size_t i = 2; i < s.size(); ++i) {
        int digit = std::isdigit(static_cast<unsigned char>(s[i])) ? s[i] - '0' : std::tolower(s[i]) - 'a' + 10;
        d = d * base + digit;
      }
      return num(d);
    }
  }
  fail("D3030", std::nullopt, std::nullopt, v);
}

Value fn_floor(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return arg(a, 0).undefined() ? Value() : num(std::floor(arg(a, 0).number()));
}
Value fn_ceil(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return arg(a, 0).undefined() ? Value() : num(std::ceil(arg(a, 0).number()));
}
Value fn_abs(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return arg(a, 0).undefined() ? Value() : num(std::fabs(arg(a, 0).number()));
}
Value fn_round(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  std::optional<double> precision;
  if (arg(a, 1).is_number()) precision = arg(a, 1).number();
  return num(js_round_half_even(arg(a, 0).number(), precision));
}
Value fn_sqrt(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  if (arg(a, 0).number() < 0) fail("D3060", std::nullopt, std::nullopt, arg(a, 0));
  return num(std::sqrt(arg(a, 0).number()));
}
Value fn_power(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  double r = std::pow(arg(a, 0).number(), arg(a, 1).number());
  if (!std::isfinite(r)) fail("D3061", std::nullopt, std::nullopt, arg(a, 0), arg(a, 1));
  return num(r);
}
// $random([seed]): AWS's addition of a seed makes the number reproducible.
// The seeded form draws Java's java.util.Random nextDouble() for the seed.
Value fn_random(Evaluator& ev, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return num(ev.random_unit());
  const auto seed = static_cast<std::int64_t>(std::trunc(arg(a, 0).number()));
  std::uint64_t state = (static_cast<std::uint64_t>(seed) ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1);
  auto next = [&state](int bits) {
    state = (state * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
    return static_cast<std::int64_t>(state >> (48 - bits));
  };
  const std::int64_t high = next(26);
  const std::int64_t low = next(27);
  return num(static_cast<double>((high << 27) + low) * 0x1.0p-53);
}

// ---- AWS Step Functions' additions -------------------------------------------

// $partition(array, size): the array cut into consecutive arrays of `size` items.
Value fn_partition(Evaluator&, Args& a, const Value&, const FramePtr&) {
  const Value& v = arg(a, 0);
  if (v.undefined()) return Value();
  const double size = arg(a, 1).number();
  if (!(size >= 1) || std::floor(size) != size) {
    EvalError e;
    e.error.code = "D3141";
    e.error.message = "The size argument of $partition must be a positive integer";
    throw e;
  }
  const auto& items = v.is_array() ? v.arr()->items : std::vector<Value>{v};
  auto out = make_array();
  const auto n = static_cast<std::size_t>(size);
  for (std::size_t i = 0; i < items.size(); i += n) {
    auto part = make_array();
    part->items.assign(items.begin() + static_cast<std::ptrdiff_t>(i),
                       items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + n)));
    out->items.emplace_back(part);
  }
  return out;
}

// $range(start, end, step): start, start+step, ... up to end inclusive.
Value fn_range(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined() || arg(a, 1).undefined()) return Value();
  const double start = arg(a, 0).number(), end = arg(a, 1).number();
  const double step = arg(a, 2).undefined() ? 1 : arg(a, 2).number();
  if (step == 0 || std::isnan(step)) {
    EvalError e;
    e.error.code = "D3141";
    e.error.message = "The step argument of $range must not be zero";
    throw e;
  }
  auto out = make_sequence();
  constexpr std::size_t kMaxItems = 1000000;  // as the range operator (..) allows
  for (double x = start; step > 0 ? x <= end : x >= end; x += step) {
    if (out->items.size() >= kMaxItems) fail("D2014", std::nullopt, std::nullopt, num(kMaxItems));
    out->items.emplace_back(num(x));
  }
  return out;
}

// $hash(value, [algorithm]): hex digest, SHA-256 unless named as States.Hash names them.
Value fn_hash(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  std::string algorithm = arg(a, 1).undefined() ? "SHA-256" : arg(a, 1).str();
  auto alg = states::parse_digest_algorithm(algorithm);
  if (!alg) {
    EvalError e;
    e.error.code = "D3141";
    e.error.message = "The hashing algorithm '" + algorithm + "' is not supported: use MD5, SHA-1, SHA-256, "
                      "SHA-384 or SHA-512";
    throw e;
  }
  return Value(states::hex_digest(*alg, arg(a, 0).str()));
}

// $uuid(): a random (version 4) UUID.
Value fn_uuid(Evaluator& ev, Args&, const Value&, const FramePtr&) {
  std::uint64_t hi = ev.random_word(), lo = ev.random_word();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return Value(std::string(buf));
}

// $parse(text): the JSON value the text holds.
Value fn_parse(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  JsonParseError err;
  auto v = parse_json(arg(a, 0).str(), &err);
  if (!v) {
    EvalError e;
    e.error.code = "D3141";
    e.error.message = "The argument of $parse is not valid JSON: " + err.describe();
    throw e;
  }
  return from_json(*v);
}

std::string to_radix(double value, int radix) {
  bool negative = value < 0;
  double v = std::fabs(value);
  std::string digits;
  if (v == 0) digits = "0";
  while (v >= 1) {
    int d = static_cast<int>(std::fmod(v, radix));
    digits += static_cast<char>(d < 10 ? '0' + d : 'a' + d - 10);
    v = std::floor(v / radix);
  }
  std::reverse(digits.begin(), digits.end());
  return (negative ? "-" : "") + digits;
}

Value fn_format_base(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  double value = js_round_half_even(arg(a, 0).number(), std::nullopt);
  int radix = arg(a, 1).undefined() ? 10 : static_cast<int>(arg(a, 1).number());
  if (radix < 2 || radix > 36) fail("D3100", std::nullopt, std::nullopt, arg(a, 1));
  return Value(to_radix(value, radix));
}

Value fn_format_integer(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  return Value(format_integer(arg(a, 0).number(), arg(a, 1).str()));
}

Value fn_parse_integer(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  auto r = parse_integer(arg(a, 0).str(), arg(a, 1).str());
  return r ? num(*r) : Value();
}

// ---- booleans ----

Value fn_boolean(Evaluator&, Args& a, const Value&, const FramePtr&) {
  auto b = to_boolean(arg(a, 0));
  return b ? Value(*b) : Value();
}
Value fn_not(Evaluator&, Args& a, const Value&, const FramePtr&) {
  auto b = to_boolean(arg(a, 0));
  return b ? Value(!*b) : Value();
}
Value fn_exists(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return Value(!arg(a, 0).undefined());
}

// ---- higher-order ----

Value fn_map(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  auto result = make_sequence();
  const Value arr = arg(a, 0);
  const auto& items = arr.arr()->items;
  for (std::size_t i = 0; i < items.size(); ++i) {
    Value res = ev.apply(arg(a, 1), hof_args(ev, arg(a, 1), items[i], num(static_cast<double>(i)), arr), input, env);
    if (!res.undefined()) result->items.push_back(res);
  }
  return result;
}

Value fn_filter(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  auto result = make_sequence();
  const Value arr = arg(a, 0);
  const auto& items = arr.arr()->items;
  for (std::size_t i = 0; i < items.size(); ++i) {
    Value res = ev.apply(arg(a, 1), hof_args(ev, arg(a, 1), items[i], num(static_cast<double>(i)), arr), input, env);
    if (truthy(res)) result->items.push_back(items[i]);
  }
  return result;
}

Value fn_single(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  const Value arr = arg(a, 0);
  const auto& items = arr.arr()->items;
  bool found = false;
  Value result;
  for (std::size_t i = 0; i < items.size(); ++i) {
    bool positive = true;
    if (!arg(a, 1).undefined()) {
      positive =
          truthy(ev.apply(arg(a, 1), hof_args(ev, arg(a, 1), items[i], num(static_cast<double>(i)), arr), input, env));
    }
    if (positive) {
      if (found) fail("D3138");
      result = items[i];
      found = true;
    }
  }
  if (!found) fail("D3139");
  return result;
}

Value fn_zip(Evaluator&, Args& a, const Value&, const FramePtr&) {
  auto result = make_array();
  std::size_t length = a.empty() ? 0 : SIZE_MAX;
  for (const auto& v : a) length = std::min(length, v.is_array() ? v.arr()->items.size() : std::size_t{0});
  for (std::size_t i = 0; i < length; ++i) {
    auto tuple = make_array();
    for (const auto& v : a) tuple->items.push_back(v.arr()->items[i]);
    result->items.push_back(tuple);
  }
  return result;
}

Value fn_reduce(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  const Value seq = arg(a, 0);
  const auto& items = seq.arr()->items;
  int n = ev.arity(arg(a, 1));
  if (n < 2) fail("D3050");
  Value result;
  std::size_t index = 0;
  if (arg(a, 2).undefined() && !items.empty()) {
    result = items[0];
    index = 1;
  } else {
    result = arg(a, 2);
  }
  for (; index < items.size(); ++index) {
    std::vector<Value> args{result, items[index]};
    if (n >= 3) args.push_back(num(static_cast<double>(index)));
    if (n >= 4) args.push_back(seq);
    result = ev.apply(arg(a, 1), std::move(args), input, env);
  }
  return result;
}

Value fn_sift(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (!arg(a, 0).is_object()) return Value();
  const Value obj = arg(a, 0);
  auto result = make_object();
  for (const auto& [k, v] : obj.obj()->members) {
    if (truthy(ev.apply(arg(a, 1), hof_args(ev, arg(a, 1), v, Value(k), obj), input, env)))
      result->members.emplace_back(k, v);
  }
  if (result->members.empty()) return Value();
  return result;
}

Value fn_each(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (!arg(a, 0).is_object()) return Value();
  const Value obj = arg(a, 0);
  auto result = make_sequence();
  for (const auto& [k, v] : obj.obj()->members) {
    Value r = ev.apply(arg(a, 1), hof_args(ev, arg(a, 1), v, Value(k), obj), input, env);
    if (!r.undefined()) result->items.push_back(r);
  }
  return result;
}

Value fn_sort(Evaluator& ev, Args& a, const Value& input, const FramePtr& env) {
  if (arg(a, 0).undefined()) return Value();
  const auto& src = arg(a, 0).arr()->items;
  if (src.size() <= 1) return arg(a, 0);
  const Value comparator = arg(a, 1);
  if (comparator.undefined()) {
    bool numbers = std::all_of(src.begin(), src.end(), [](const Value& v) { return v.is_number(); });
    bool strings = std::all_of(src.begin(), src.end(), [](const Value& v) { return v.is_string(); });
    if (!numbers && !strings) fail("D3070");
  }
  auto greater = [&](const Value& x, const Value& y) {
    if (comparator.undefined()) return x.is_number() ? x.number() > y.number() : x.str() > y.str();
    return js_truthy(ev.apply(comparator, {x, y}, input, env));
  };
  std::vector<Value> items = src;
  std::vector<Value> buffer(items.size());
  std::function<void(std::size_t, std::size_t)> sort = [&](std::size_t lo, std::size_t hi) {
    if (hi - lo <= 1) return;
    std::size_t mid = lo + (hi - lo) / 2;
    sort(lo, mid);
    sort(mid, hi);
    std::size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) buffer[k++] = greater(items[i], items[j]) ? items[j++] : items[i++];
    while (i < mid) buffer[k++] = items[i++];
    while (j < hi) buffer[k++] = items[j++];
    for (std::size_t x = lo; x < hi; ++x) items[x] = buffer[x];
  };
  sort(0, items.size());
  auto out = make_array();
  out->items = std::move(items);
  return out;
}

// ---- arrays and objects ----

Value fn_keys(Evaluator&, Args& a, const Value&, const FramePtr&);

void collect_keys(const Value& v, std::vector<std::string>& out) {
  if (v.is_array()) {
    for (const auto& item : v.arr()->items) {
      if (!item.is_object()) continue;
      for (const auto& [k, x] : item.obj()->members) {
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
      }
    }
  } else if (v.is_object()) {
    for (const auto& [k, x] : v.obj()->members) out.push_back(k);
  }
}

Value fn_keys(Evaluator&, Args& a, const Value&, const FramePtr&) {
  std::vector<std::string> keys;
  collect_keys(arg(a, 0), keys);
  auto result = make_sequence();
  for (auto& k : keys) result->items.emplace_back(k);
  return result;
}

Value lookup_in(const Value& input, const std::string& key) {
  if (input.is_array()) {
    auto result = make_sequence();
    for (const auto& item : input.arr()->items) {
      Value r = lookup_in(item, key);
      if (r.undefined()) continue;
      if (r.is_array()) {
        for (const auto& x : r.arr()->items) result->items.push_back(x);
      } else {
        result->items.push_back(r);
      }
    }
    return result;
  }
  if (input.is_object()) {
    if (const Value* v = input.obj()->find(key)) return *v;
  }
  return Value();
}

Value fn_lookup(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return lookup_in(arg(a, 0), arg(a, 1).str());
}

Value fn_append(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return append(arg(a, 0), arg(a, 1));
}

Value spread(const Value& v) {
  if (v.is_array()) {
    Value result = make_sequence();
    for (const auto& item : v.arr()->items) result = append(result, spread(item));
    return result;
  }
  if (v.is_object()) {
    auto result = make_sequence();
    for (const auto& [k, x] : v.obj()->members) {
      auto o = make_object();
      o->members.emplace_back(k, x);
      result->items.push_back(o);
    }
    return result;
  }
  return v;
}
Value fn_spread(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return spread(arg(a, 0));
}

Value fn_merge(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  auto result = make_object();
  for (const auto& item : arg(a, 0).arr()->items) {
    if (!item.is_object()) continue;
    for (const auto& [k, v] : item.obj()->members) result->set(k, v);
  }
  return result;
}

Value fn_reverse(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  if (arg(a, 0).arr()->items.size() <= 1) return arg(a, 0);
  auto out = make_array();
  out->items.assign(arg(a, 0).arr()->items.rbegin(), arg(a, 0).arr()->items.rend());
  return out;
}

Value fn_shuffle(Evaluator& ev, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  if (arg(a, 0).arr()->items.size() <= 1) return arg(a, 0);
  auto out = make_array();
  out->items = arg(a, 0).arr()->items;
  // Fisher-Yates, drawing from the injected random source.
  for (std::size_t i = out->items.size(); i > 1; --i) {
    auto j = static_cast<std::size_t>(ev.random_unit() * static_cast<double>(i));
    std::swap(out->items[i - 1], out->items[j]);
  }
  return out;
}

Value fn_distinct(Evaluator&, Args& a, const Value&, const FramePtr&) {
  const Value& v = arg(a, 0);
  if (v.undefined()) return Value();
  if (!v.is_array() || v.arr()->items.size() <= 1) return v;
  auto out = v.arr()->sequence ? make_sequence() : make_array();
  for (const auto& item : v.arr()->items) {
    bool seen = false;
    for (const auto& x : out->items) {
      if (deep_equal(x, item)) {
        seen = true;
        break;
      }
    }
    if (!seen) out->items.push_back(item);
  }
  return out;
}

Value fn_error(Evaluator&, Args& a, const Value&, const FramePtr&) {
  EvalError e;
  e.error.code = "D3137";
  e.error.message = arg(a, 0).is_string() && !arg(a, 0).str().empty() ? arg(a, 0).str() : "$error() function evaluated";
  throw e;
}

Value fn_assert(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (!arg(a, 0).boolean()) {
    EvalError e;
    e.error.code = "D3141";
    e.error.message =
        arg(a, 1).is_string() && !arg(a, 1).str().empty() ? arg(a, 1).str() : "$assert() statement failed";
    throw e;
  }
  return Value();
}

Value fn_type(Evaluator&, Args& a, const Value&, const FramePtr&) {
  switch (arg(a, 0).kind()) {
    case Value::Kind::kUndefined:
      return Value();
    case Value::Kind::kNull:
      return Value("null");
    case Value::Kind::kBool:
      return Value("boolean");
    case Value::Kind::kNumber:
      return Value("number");
    case Value::Kind::kString:
      return Value("string");
    case Value::Kind::kArray:
      return Value("array");
    case Value::Kind::kObject:
      return Value("object");
    case Value::Kind::kFunction:
      return Value("function");
  }
  return Value();
}

Value fn_clone(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  return clone_deep(arg(a, 0));
}

// ---- encodings ----

const char* kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Value fn_base64encode(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  // btoa works on Latin-1 code units: each code point below 256 is one byte.
  std::string bytes;
  for (auto cp : to_code_points(s)) bytes += static_cast<char>(cp & 0xFF);
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += kBase64[(n >> 6) & 63];
    out += kBase64[n & 63];
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return Value(out);
}

Value fn_base64decode(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : arg(a, 0).str()) {
    const char* p = std::strchr(kBase64, c);
    if (c == '=' || p == nullptr || c == 0) continue;
    buffer = (buffer << 6) | static_cast<unsigned>(p - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      append_utf8(out, (buffer >> bits) & 0xFF);
    }
  }
  return Value(out);
}

Value encode_uri(Args& a, const char* keep, const char* name) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || (c < 0x80 && std::strchr(keep, c) && c != 0)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  (void)name;
  return Value(out);
}
Value fn_encode_url_component(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return encode_uri(a, "-_.!~*'()", "encodeUrlComponent");
}
Value fn_encode_url(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return encode_uri(a, "-_.!~*'();/?:@&=+$,#", "encodeUrl");
}

Value decode_uri(Args& a, const char* reserved, const char* name) {
  if (arg(a, 0).undefined()) return Value();
  const std::string& s = arg(a, 0).str();
  auto malformed = [&]() {
    EvalError e;
    e.error.code = "D3140";
    e.error.message = std::string("Malformed URL passed to $") + name + "(): \"" + s + "\"";
    e.error.value = json::string(s);
    throw e;
  };
  // The byte value of the escape "%XY" at i; malformed unless two hex digits follow.
  auto hex = [&](std::size_t i) -> int {
    if (i + 2 >= s.size() + 1 || s[i] != '%' || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      malformed();
    }
    return std::stoi(s.substr(i + 1, 2), nullptr, 16);
  };
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '%') {
      out += s[i++];
      continue;
    }
    int b = hex(i);
    int extra = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : (b & 0xF8) == 0xF0 ? 3 : -1;
    if (extra < 0) malformed();
    if (extra == 0) {
      if (std::strchr(reserved, b) && b != 0) {
        out += s.substr(i, 3);
      } else {
        out += static_cast<char>(b);
      }
      i += 3;
      continue;
    }
    std::string bytes(1, static_cast<char>(b));
    std::size_t j = i + 3;
    for (int k = 0; k < extra; ++k) {
      if (j >= s.size()) malformed();
      int c = hex(j);
      if ((c & 0xC0) != 0x80) malformed();
      bytes += static_cast<char>(c);
      j += 3;
    }
    out += bytes;
    i = j;
  }
  return Value(out);
}
Value fn_decode_url_component(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return decode_uri(a, "", "decodeUrlComponent");
}
Value fn_decode_url(Evaluator&, Args& a, const Value&, const FramePtr&) {
  return decode_uri(a, ";/?:@&=+$,#", "decodeUrl");
}

// ---- date/time ----

Value fn_millis(Evaluator& ev, Args&, const Value&, const FramePtr&) {
  return num(static_cast<double>(ev.now_millis()));
}

Value from_millis(double millis, const Value& picture, const Value& tz) {
  if (picture.undefined() && tz.undefined()) return Value(millis_to_iso(millis));
  auto r = format_datetime(static_cast<std::int64_t>(millis),
                           picture.is_string() ? std::optional<std::string>(picture.str()) : std::nullopt,
                           tz.is_string() ? std::optional<std::string>(tz.str()) : std::nullopt);
  return r ? Value(*r) : Value();
}

Value fn_now(Evaluator& ev, Args& a, const Value&, const FramePtr&) {
  return from_millis(static_cast<double>(ev.now_millis()), arg(a, 0), arg(a, 1));
}

Value fn_from_millis(Evaluator&, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  return from_millis(arg(a, 0).number(), arg(a, 1), arg(a, 2));
}

Value fn_to_millis(Evaluator& ev, Args& a, const Value&, const FramePtr&) {
  if (arg(a, 0).undefined()) return Value();
  if (arg(a, 1).undefined()) {
    auto r = iso_to_millis(arg(a, 0).str());
    if (!r) fail("D3110", std::nullopt, std::nullopt, arg(a, 0));
    return num(*r);
  }
  auto r = parse_datetime(arg(a, 0).str(), arg(a, 1).str(), ev.now_millis());
  return r ? num(*r) : Value();
}

std::vector<Builtin>& builtins() {
  static std::vector<Builtin> table = [] {
    std::vector<Builtin> t = {
        {"sum", "<a<n>:n>", 1, fn_sum, nullptr},
        {"count", "<a:n>", 1, fn_count, nullptr},
        {"max", "<a<n>:n>", 1, fn_max, nullptr},
        {"min", "<a<n>:n>", 1, fn_min, nullptr},
        {"average", "<a<n>:n>", 1, fn_average, nullptr},
        {"string", "<x-b?:s>", 1, fn_string, nullptr},
        {"substring", "<s-nn?:s>", 3, fn_substring, nullptr},
        {"substringBefore", "<s-s:s>", 2, fn_substring_before, nullptr},
        {"substringAfter", "<s-s:s>", 2, fn_substring_after, nullptr},
        {"lowercase", "<s-:s>", 1, fn_lowercase, nullptr},
        {"uppercase", "<s-:s>", 1, fn_uppercase, nullptr},
        {"length", "<s-:n>", 1, fn_length, nullptr},
        {"trim", "<s-:s>", 1, fn_trim, nullptr},
        {"pad", "<s-ns?:s>", 3, fn_pad, nullptr},
        {"match", "<s-f<s:o>n?:a<o>>", 3, fn_match, nullptr},
        {"contains", "<s-(sf):b>", 2, fn_contains, nullptr},
        {"replace", "<s-(sf)(sf)n?:s>", 4, fn_replace, nullptr},
        {"split", "<s-(sf)n?:a<s>>", 3, fn_split, nullptr},
        {"join", "<a<s>s?:s>", 2, fn_join, nullptr},
        {"formatNumber", "<n-so?:s>", 3, fn_format_number, nullptr},
        {"formatBase", "<n-n?:s>", 2, fn_format_base, nullptr},
        {"formatInteger", "<n-s:s>", 2, fn_format_integer, nullptr},
        {"parseInteger", "<s-s:n>", 2, fn_parse_integer, nullptr},
        {"number", "<(nsb)-:n>", 1, fn_number, nullptr},
        {"floor", "<n-:n>", 1, fn_floor, nullptr},
        {"ceil", "<n-:n>", 1, fn_ceil, nullptr},
        {"round", "<n-n?:n>", 2, fn_round, nullptr},
        {"abs", "<n-:n>", 1, fn_abs, nullptr},
        {"sqrt", "<n-:n>", 1, fn_sqrt, nullptr},
        {"power", "<n-n:n>", 2, fn_power, nullptr},
        {"random", "<n?:n>", 1, fn_random, nullptr},
        {"partition", "<an:a>", 2, fn_partition, nullptr},
        {"range", "<nnn?:a>", 3, fn_range, nullptr},
        {"hash", "<s-s?:s>", 2, fn_hash, nullptr},
        {"uuid", "<:s>", 0, fn_uuid, nullptr},
        {"parse", "<s-:x>", 1, fn_parse, nullptr},
        {"boolean", "<x-:b>", 1, fn_boolean, nullptr},
        {"not", "<x-:b>", 1, fn_not, nullptr},
        {"map", "<af>", 2, fn_map, nullptr},
        {"zip", "<a+>", 0, fn_zip, nullptr},
        {"filter", "<af>", 2, fn_filter, nullptr},
        {"single", "<af?>", 2, fn_single, nullptr},
        {"reduce", "<afj?:j>", 3, fn_reduce, nullptr},
        {"sift", "<o-f?:o>", 2, fn_sift, nullptr},
        {"keys", "<x-:a<s>>", 1, fn_keys, nullptr},
        {"lookup", "<x-s:x>", 2, fn_lookup, nullptr},
        {"append", "<xx:a>", 2, fn_append, nullptr},
        {"exists", "<x:b>", 1, fn_exists, nullptr},
        {"spread", "<x-:a<o>>", 1, fn_spread, nullptr},
        {"merge", "<a<o>:o>", 1, fn_merge, nullptr},
        {"reverse", "<a:a>", 1, fn_reverse, nullptr},
        {"each", "<o-f:a>", 2, fn_each, nullptr},
        {"error", "<s?:x>", 1, fn_error, nullptr},
        {"assert", "<bs?:x>", 2, fn_assert, nullptr},
        {"type", "<x:s>", 1, fn_type, nullptr},
        {"sort", "<af?:a>", 2, fn_sort, nullptr},
        {"shuffle", "<a:a>", 1, fn_shuffle, nullptr},
        {"distinct", "<x:x>", 1, fn_distinct, nullptr},
        {"base64encode", "<s-:s>", 1, fn_base64encode, nullptr},
        {"base64decode", "<s-:s>", 1, fn_base64decode, nullptr},
        {"encodeUrlComponent", "<s-:s>", 1, fn_encode_url_component, nullptr},
        {"encodeUrl", "<s-:s>", 1, fn_encode_url, nullptr},
        {"decodeUrlComponent", "<s-:s>", 1, fn_decode_url_component, nullptr},
        {"decodeUrl", "<s-:s>", 1, fn_decode_url, nullptr},
        {"toMillis", "<s-s?:n>", 2, fn_to_millis, nullptr},
        {"fromMillis", "<n-s?s?:s>", 3, fn_from_millis, nullptr},
        {"clone", "<(oa)-:o>", 1, fn_clone, nullptr},
        {"now", "<s?s?:s>", 2, fn_now, nullptr},
        {"millis", "<:n>", 0, fn_millis, nullptr},
    };
    for (auto& b : t) b.parsed = parse_signature(b.signature, 0);
    for (auto& b : t) {
      auto f = std::make_shared<Function>();
      f->type = Function::Type::kBuiltin;
      f->builtin = &b;
      f->signature = b.parsed;
      b.value = f;
    }
    return t;
  }();
  return table;
}

}  // namespace

double js_round_half_even(double arg, std::optional<double> precision) {
  auto shift = [](double v, double p) {
    std::string s = number_to_js(v);
    auto e = s.find('e');
    double exp = p;
    std::string mant = s;
    if (e != std::string::npos) {
      mant = s.substr(0, e);
      exp += std::stod(s.substr(e + 1));
    }
    return std::strtod((mant + "e" + number_to_js(exp)).c_str(), nullptr);
  };
  bool has_precision = precision && *precision != 0;
  if (has_precision) arg = shift(arg, *precision);
  double result = std::floor(arg + 0.5);
  double diff = result - arg;
  if (std::fabs(diff) == 0.5 && std::fabs(std::fmod(result, 2)) == 1) result -= 1;
  if (has_precision) result = shift(result, -*precision);
  if (result == 0) result = 0;
  return result;
}

const Builtin* find_builtin(std::string_view name) {
  for (const auto& b : builtins()) {
    if (name == b.name) return &b;
  }
  return nullptr;
}

}  // namespace stepwise::jsonata::detail
