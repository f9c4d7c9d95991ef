#include "states/json.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace stepwise {

namespace {

// The body of a JSON string holding `s`: escaped once (kTwice false), or
// escaped once more, as that body reads inside another JSON string (a quote
// becomes backslash, backslash, backslash, quote; a newline backslash,
// backslash, n).
template <bool kTwice>
void append_escaped_body(std::string& out, std::string_view s) {
  // Runs of characters that need no escape are appended whole: most of a text.
  const char* run = s.data();
  const char* const end = run + s.size();
  for (const char* p = run; p < end; ++p) {
    const auto u = static_cast<unsigned char>(*p);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(run, static_cast<std::size_t>(p - run));
    run = p + 1;
    char letter = 0;  // what follows the escaping backslash; 0: \u00XX
    switch (*p) {
      case '"': letter = '"'; break;
      case '\\': letter = '\\'; break;
      case '\n': letter = 'n'; break;
      case '\r': letter = 'r'; break;
      case '\t': letter = 't'; break;
      case '\b': letter = 'b'; break;
      case '\f': letter = 'f'; break;
      default: break;
    }
    out += kTwice ? "\\\\" : "\\";
    if (letter == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "u%04x", u);
      out += buf;
      continue;
    }
    if (kTwice && (letter == '"' || letter == '\\')) out.push_back('\\');
    out.push_back(letter);
  }
  out.append(run, static_cast<std::size_t>(end - run));
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  append_escaped_body<false>(out, s);
  out.push_back('"');
}

namespace {

// Java's Double.toString layout over the shortest round-trip digits.
void append_double(std::string& out, double d) {
  if (std::isnan(d) || std::isinf(d)) {  // not representable in JSON
    out += "null";
    return;
  }
  if (d == 0) {
    out += std::signbit(d) ? "-0.0" : "0.0";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
  // sci looks like "-1.2345e+07"
  bool neg = sci.front() == '-';
  if (neg) sci.remove_prefix(1);
  auto epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos))
    if (c != '.') digits.push_back(c);
  int exp = std::stoi(std::string(sci.substr(epos + 1)));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (neg) out.push_back('-');
  double a = std::fabs(d);
  if (a >= 1e-3 && a < 1e7) {
    if (exp >= 0) {
      std::size_t int_len = static_cast<std::size_t>(exp) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, int_len);
        out.push_back('.');
        out += digits.substr(int_len);
      }
    } else {
      out += "0.";
      out.append(static_cast<std::size_t>(-exp - 1), '0');
      out += digits;
    }
  } else {
    out.push_back(digits[0]);
    out.push_back('.');
    out += digits.size() > 1 ? digits.substr(1) : "0";
    out.push_back('E');
    out += std::to_string(exp);
  }
}

}  // namespace

void append_json(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
      out.append(buf, r.ptr);
      break;
    }
    case json::kind::uint64: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, r.ptr);
      break;
    }
    case json::kind::double_: append_double(out, v.get_double()); break;
    case json::kind::string: append_json_string(out, v.get_string()); break;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, e);
      }
      out.push_back(']');
      break;
    }
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, kv.key());
        out.push_back(':');
        append_json(out, kv.value());
      }
      out.push_back('}');
      break;
    }
  }
}

namespace {

// append_json's text of v, escaped as the body of a JSON string, in one pass.
void append_json_escaped(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      out += "\\\"";
      append_escaped_body<true>(out, v.get_string());
      out += "\\\"";
      break;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_escaped(out, e);
      }
      out.push_back(']');
      break;
    }
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        out += "\\\"";
        append_escaped_body<true>(out, kv.key());
        out += "\\\":";
        append_json_escaped(out, kv.value());
      }
      out.push_back('}');
      break;
    }
    default:
      append_json(out, v);  // null, booleans and numbers need no escaping
  }
}

}  // namespace

void append_json_as_string(std::string& out, const json::value& v) {
  out.push_back('"');
  append_json_escaped(out, v);
  out.push_back('"');
}

std::string to_json(const json::value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

void append_indented(std::string& out, const json::value& v, int width, int depth, StringWriter write_string) {
  auto newline = [&](int level) {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(level) * static_cast<std::size_t>(width), ' ');
  };
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out.push_back('{');
    bool first = true;
    for (const auto& kv : o) {
      if (!first) out.push_back(',');
      first = false;
      newline(depth + 1);
      write_string(out, kv.key());
      out += ": ";
      append_indented(out, kv.value(), width, depth + 1, write_string);
    }
    newline(depth);
    out.push_back('}');
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    bool first = true;
    for (const auto& e : a) {
      if (!first) out.push_back(',');
      first = false;
      newline(depth + 1);
      append_indented(out, e, width, depth + 1, write_string);
    }
    newline(depth);
    out.push_back(']');
  } else if (v.is_string()) {
    write_string(out, v.get_string());
  } else {
    append_json(out, v);
  }
}

std::string to_pretty_json(const json::value& v) {
  std::string out;
  append_indented(out, v, 2, 0, append_json_string);
  return out;
}

std::string JsonParseError::describe() const {
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message;
}

std::optional<json::value> parse_json(std::string_view text, JsonParseError* error) {
  json::parse_options opts;
  opts.max_depth = 10000;
  json::stream_parser p({}, opts);
  boost::system::error_code ec;
  std::size_t consumed = p.write_some(text.data(), text.size(), ec);
  if (!ec) {
    // Anything left after one complete value must be whitespace.
    std::size_t i = consumed;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
    if (i < text.size()) {
      ec = json::error::extra_data;
      consumed = i;
    } else {
      p.finish(ec);
      consumed = text.size();
    }
  }
  if (ec) {
    if (error) {
      std::size_t line = 1, col = 1;
      for (std::size_t i = 0; i < consumed && i < text.size(); ++i) {
        if (text[i] == '\n') {
          ++line;
          col = 1;
        } else {
          ++col;
        }
      }
      error->message = ec.message();
      error->line = line;
      error->column = col;
    }
    return std::nullopt;
  }
  return p.release();
}

namespace {

// Extra bytes a character takes once escaped: \" \\ \n \r \t \b \f take
// two bytes, other control characters six (\u00XX), the rest one.
constexpr std::array<std::uint8_t, 256> kEscapeExtra = [] {
  std::array<std::uint8_t, 256> extra{};
  for (int c = 0; c < 0x20; ++c) extra[c] = 5;
  for (char c : {'"', '\\', '\n', '\r', '\t', '\b', '\f'}) extra[static_cast<unsigned char>(c)] = 1;
  return extra;
}();

std::size_t escaped_size(std::string_view str) {
  std::size_t n = 2 + str.size();
  for (char c : str) n += kEscapeExtra[static_cast<unsigned char>(c)];
  return n;
}

// Digits of v in decimal, without formatting it (json_size runs on every
// state's output).
std::size_t decimal_digits(std::uint64_t v) {
  std::size_t n = 1;
  for (std::uint64_t bound = 10; v >= bound; bound *= 10) {
    if (++n == 20) break;  // 10^19 is the last power of ten below 2^64
  }
  return n;
}

}  // namespace

std::size_t json_size(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return 4;
    case json::kind::bool_: return v.get_bool() ? 4 : 5;
    case json::kind::string: return escaped_size(v.get_string());
    case json::kind::int64: {
      std::int64_t i = v.get_int64();
      // The magnitude as unsigned, so that INT64_MIN does not overflow.
      std::uint64_t magnitude = i < 0 ? 0 - static_cast<std::uint64_t>(i) : static_cast<std::uint64_t>(i);
      return (i < 0 ? 1 : 0) + decimal_digits(magnitude);
    }
    case json::kind::uint64: return decimal_digits(v.get_uint64());
    case json::kind::double_: {
      std::string out;
      append_double(out, v.get_double());
      return out.size();
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      std::size_t n = 2 + (a.empty() ? 0 : a.size() - 1);
      for (const auto& e : a) n += json_size(e);
      return n;
    }
    case json::kind::object: {
      const auto& o = v.get_object();
      std::size_t n = 2 + (o.empty() ? 0 : o.size() - 1);
      for (const auto& kv : o) n += escaped_size(kv.key()) + 1 + json_size(kv.value());
      return n;
    }
  }
  return 0;
}

void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer.push_back('/');
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer.push_back(c);
    }
  }
}

std::string child_pointer(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  append_pointer_token(out, token);
  return out;
}

const char* json_type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
    default: return "number";
  }
}

}  // namespace stepwise
