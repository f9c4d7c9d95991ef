#include "states/compile_cache.h"

#include <doctest/doctest.h>

#include <string>

#include "states/choice.h"
#include "states/payload.h"

using namespace stepwise;
using namespace stepwise::states;

TEST_CASE("CompileCache: a path from the cache behaves as a freshly parsed one") {
  CompileCache cache;
  auto first = cache.path("$.a[0].b");
  auto again = cache.path("$.a[0].b");
  REQUIRE(first);
  REQUIRE(again);
  CHECK(again->text() == "$.a[0].b");
  CHECK(again->canonical() == "$['a'][0]['b']");
  auto input = *parse_json(R"({"a":[{"b":7}]})");
  const json::value* found = again->find(input);
  REQUIRE(found != nullptr);
  CHECK(*found == json::value(7));
}

TEST_CASE("CompileCache: an invalid path reports its error every time") {
  CompileCache cache;
  std::string direct_error;
  CHECK_FALSE(JsonPath::parse("$.[", &direct_error));
  for (int i = 0; i < 2; ++i) {
    std::string error;
    CHECK_FALSE(cache.path("$.[", &error));
    CHECK(error == direct_error);
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("CompileCache: intrinsics are shared by text and evaluate the same") {
  CompileCache cache;
  auto input = *parse_json(R"({"n":41})");
  json::value context = json::object();
  for (int i = 0; i < 2; ++i) {
    auto call = cache.intrinsic("States.MathAdd($.n, 1)");
    REQUIRE(call);
    auto r = call->evaluate(Scope{input, context, nullptr});
    REQUIRE(r);
    CHECK(*r == json::value(42));
  }
  std::string error;
  CHECK_FALSE(cache.intrinsic("States.Nope(1)", &error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("CompileCache: templates and choice rules compiled with a cache give the same results") {
  CompileCache cache;
  Diagnostics diags;
  auto spec = *parse_json(R"j({"x.$":"$.n","y.$":"States.MathAdd($.n, 1)","z":{"w.$":"$.n"}})j");
  auto a = PayloadTemplate::compile(spec, "/P", diags, &cache);
  auto b = PayloadTemplate::compile(spec, "/Q", diags, &cache);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(diags.empty());
  auto input = *parse_json(R"({"n":1})");
  json::value context = json::object();
  auto ra = a->evaluate(Scope{input, context, nullptr});
  auto rb = b->evaluate(Scope{input, context, nullptr});
  REQUIRE(ra);
  REQUIRE(rb);
  CHECK(*ra == *parse_json(R"({"x":1,"y":2,"z":{"w":1}})"));
  CHECK(*rb == *ra);

  auto rule = *parse_json(R"({"Variable":"$.n","NumericEquals":1,"Next":"A"})");
  auto r1 = ChoiceRule::compile(rule, "/C/0", true, diags, &cache);
  REQUIRE(r1);
  auto decided = r1->evaluate(Scope{input, context, nullptr});
  REQUIRE(decided);
  CHECK(*decided);
}
