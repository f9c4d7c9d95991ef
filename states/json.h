// JSON values (Boost.JSON) and the JSON text helpers the whole engine shares.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace stepwise {

namespace json = boost::json;

// Compact serialization, as AWS Step Functions prints payloads: no spaces,
// strings escaped as JSON requires, integers as integers, doubles in their
// shortest round-trip form with a ".0" kept for integral doubles ("1.0",
// "2.5", "1.0E21" beyond 1e21 like Java's Double.toString). Object members
// keep insertion order.
std::string to_json(const json::value& v);
void append_json(std::string& out, const json::value& v);

// Appends `s` as a JSON string: quoted, escaped as append_json escapes.
void append_json_string(std::string& out, std::string_view s);
// Appends the JSON text of `v` as a JSON string, as AWS nests a payload in an
// event ("input":"{\"a\":1}"): append_json_string(out, to_json(v)).
void append_json_as_string(std::string& out, const json::value& v);

// Human-readable indented form, for the command line.
std::string to_pretty_json(const json::value& v);

// Indented form with `width` spaces per level, starting at level `depth`;
// keys and string values are written by `write_string` (e.g. the AWS CLI's
// own escaping), everything else as append_json writes it.
using StringWriter = void (*)(std::string& out, std::string_view s);
void append_indented(std::string& out, const json::value& v, int width, int depth, StringWriter write_string);

struct JsonParseError {
  std::string message;  // e.g. "syntax error"
  std::size_t line = 0;    // 1-based
  std::size_t column = 0;  // 1-based
  std::string describe() const;  // "line L, column C: message"
};

// Parses exactly one JSON text (surrounding whitespace allowed).
std::optional<json::value> parse_json(std::string_view text, JsonParseError* error = nullptr);

// Size in bytes of to_json(v) (AWS counts payload sizes this way), computed
// without building the string.
std::size_t json_size(const json::value& v);

// JSON pointers (RFC 6901), as every diagnostic reports locations:
// appends "/" + token with "~" written "~0" and "/" written "~1".
void append_pointer_token(std::string& pointer, std::string_view token);
// pointer + "/" + escaped token.
std::string child_pointer(std::string_view pointer, std::string_view token);

// The JSON type name AWS uses in messages ("object", "array", "string", "number", "boolean", "null").
const char* json_type_name(const json::value& v);

}  // namespace stepwise
