#include <doctest/doctest.h>

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
