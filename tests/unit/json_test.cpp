#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "states/json.h"

using namespace stepwise;

TEST_CASE("to_json prints numbers like AWS") {
  CHECK(to_json(json::value(1)) == "1");
  CHECK(to_json(json::value(-7)) == "-7");
  CHECK(to_json(json::value(1.0)) == "1.0");
  CHECK(to_json(json::value(2.5)) == "2.5");
  CHECK(to_json(json::value(0.001)) == "0.001");
  CHECK(to_json(json::value(0.0001)) == "1.0E-4");
  CHECK(to_json(json::value(1e7)) == "1.0E7");
  CHECK(to_json(json::value(1234567.5)) == "1234567.5");
  CHECK(to_json(json::value(1.5e300)) == "1.5E300");
}

TEST_CASE("to_json keeps member order and escapes strings") {
  auto v = *parse_json(R"({"b":1,"a":"x\"y\n","c":[true,null]})");
  CHECK(to_json(v) == R"({"b":1,"a":"x\"y\n","c":[true,null]})");
}

TEST_CASE("parse_json reports line and column") {
  JsonParseError err;
  CHECK_FALSE(parse_json("{\n  \"a\": ,\n}", &err).has_value());
  CHECK(err.line == 2);
  CHECK(err.column > 1);
  CHECK_FALSE(parse_json("{} x", &err).has_value());
  CHECK(parse_json("  [1, 2]\n").has_value());
}

TEST_CASE("json_size is the exact size of to_json") {
  for (const char* text : {R"({"a":[1,2.5,"x\"y\n\u0001",null,true,false,{}],"b":{"c":-12}})", "[]", "{}", "\"\"",
                           "1e300", "[0.001,1E7]"}) {
    auto v = *parse_json(text);
    CHECK(json_size(v) == to_json(v).size());
  }
}

TEST_CASE("json_size counts integer digits and escapes exactly at the boundaries") {
  std::vector<json::value> values = {
      json::value(0),
      json::value(9),
      json::value(10),
      json::value(-1),
      json::value(-10),
      json::value(99),
      json::value(100),
      json::value(std::numeric_limits<std::int64_t>::max()),
      json::value(std::numeric_limits<std::int64_t>::min()),
      json::value(std::numeric_limits<std::uint64_t>::max()),
      json::value(std::uint64_t{9999999999999999999ull}),
      json::value(std::uint64_t{10000000000000000000ull}),
      json::value(std::int64_t{999999999999999999}),
      json::value(std::int64_t{1000000000000000000}),
      json::value("\b\f\n\r\t\"\\/\x1f\x7f \xc3\xa9 \xe2\x80\xa8"),
      json::value(std::string_view("\0x", 2)),
  };
  for (const auto& v : values) {
    INFO(to_json(v));
    CHECK(json_size(v) == to_json(v).size());
    json::object wrapped;
    wrapped[std::string("k\x01\"") + to_json(v)] = v;
    CHECK(json_size(json::value(wrapped)) == to_json(json::value(wrapped)).size());
  }
}

TEST_CASE("append_json_as_string writes to_json's text as a JSON string, in one pass") {
  // Every kind of value, and every character class the escaping treats apart.
  std::string control;
  for (int c = 1; c < 0x20; ++c) control.push_back(static_cast<char>(c));
  std::vector<json::value> values;
  for (const char* text : {"null", "true", "false", "0", "-12", "18446744073709551615", "1.5", "1e21", "-0.0", "\"\"",
                           R"("plain")", R"("q\"uote b\\ack/slash")", "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"",
                           R"({"a":[1,"x\"y",{"k\\":"v\n"}],"b":{},"c":[],"\u0001":null})",
                           R"([{"nested \"key\"":["\\\"",2.25]}])"}) {
    auto v = parse_json(text);
    REQUIRE(v);
    values.push_back(*v);
  }
  values.emplace_back(control);
  for (const auto& v : values) {
    std::string once;
    append_json_as_string(once, v);
    std::string twice;
    append_json_string(twice, to_json(v));
    CHECK(once == twice);
    // And it reads back as the string holding to_json's text.
    auto back = parse_json(once);
    REQUIRE(back);
    REQUIRE(back->is_string());
    CHECK(std::string(back->get_string()) == to_json(v));
  }
}
