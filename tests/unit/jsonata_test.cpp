#include "states/jsonata/jsonata.h"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "states/json.h"

using namespace stepwise;

namespace {

json::value doc(std::string_view text) {
  auto v = parse_json(text);
  REQUIRE(v.has_value());
  return *v;
}

jsonata::Expression compile_ok(std::string_view text) {
  auto e = jsonata::compile(text);
  INFO("expression: ", text, " error: ", e ? "" : e.error().describe());
  REQUIRE(e.ok());
  return *e;
}

// The result as compact JSON, "undefined", or "ERROR <code>".
std::string eval(std::string_view expr, std::string_view input = "", const json::object& bindings = {},
                 const jsonata::EvalOptions& options = {}) {
  auto e = compile_ok(expr);
  std::optional<json::value> in;
  if (!input.empty()) in = doc(input);
  auto out = e.evaluate(in ? &*in : nullptr, bindings, options);
  if (!out) return "ERROR " + out.error().code;
  return *out ? to_json(**out) : "undefined";
}

}  // namespace

TEST_CASE("jsonata: syntax errors carry code, position and token") {
  auto unterminated = jsonata::compile("[1,2");
  REQUIRE_FALSE(unterminated.ok());
  CHECK(unterminated.error().code == "S0203");
  CHECK(unterminated.error().position == 4u);
  CHECK(unterminated.error().message == "Expected \"]\" before end of expression");

  auto unexpected = jsonata::compile("Account.(Order]");
  REQUIRE_FALSE(unexpected.ok());
  CHECK(unexpected.error().code == "S0202");
  CHECK(unexpected.error().token == "]");

  auto string = jsonata::compile("'abc");
  REQUIRE_FALSE(string.ok());
  CHECK(string.error().code == "S0101");

  auto bind = jsonata::compile("a := 1");
  REQUIRE_FALSE(bind.ok());
  CHECK(bind.error().code == "S0212");

  auto parent = jsonata::compile("%");
  REQUIRE_FALSE(parent.ok());
  CHECK(parent.error().code == "S0217");
}

TEST_CASE("jsonata: absurdly deep nesting is a syntax error, not a crash") {
  std::string deep(100000, '(');
  deep.append("1").append(100000, ')');
  auto e = jsonata::compile(deep);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == "S0201");
  std::string fine(200, '[');
  fine.append("1").append(200, ']');
  CHECK(jsonata::compile(fine).ok());
}

TEST_CASE("jsonata: values and closures nested very deep neither crash nor overflow the stack") {
  // Built by a loop, not by recursion: the evaluator's depth guard does not see them.
  CHECK(eval("$reduce([1..200000], function($a, $b){{'x': $a}}).x.x ~> $type()") == "\"object\"");
  CHECK(eval("$reduce([1..200000], function($a, $b){function(){$a}}) ~> $type()") == "\"function\"");
  // Returning or printing one is refused cleanly.
  CHECK(eval("$reduce([1..5000], function($a, $b){{'x': $a}})") == "ERROR U1001");
  CHECK(eval("$string($reduce([1..5000], function($a, $b){[[$a]]}))") == "ERROR U1001");
}

TEST_CASE("jsonata: evaluation errors carry code, position, token and message") {
  auto e = compile_ok("\"a\" + 1");
  auto out = e.evaluate(nullptr);
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == "T2001");
  CHECK(out.error().token == "+");
  CHECK(out.error().position == 5u);
  CHECK(out.error().message == "The left side of the \"+\" operator must evaluate to a number");

  auto call = compile_ok("$nothing(1)").evaluate(nullptr);
  REQUIRE_FALSE(call.ok());
  CHECK(call.error().code == "T1006");
  CHECK(call.error().token == "nothing");

  auto thrown = compile_ok("$error('boom')").evaluate(nullptr);
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.error().code == "D3137");
  CHECK(thrown.error().message == "boom");

  CHECK(eval("$substring(\"abc\", \"x\")") == "ERROR T0410");
  CHECK(eval("$sum(['a'])") == "ERROR T0412");
}

TEST_CASE("jsonata: compile once, evaluate with different inputs and bindings") {
  auto e = compile_ok("$sum(Account.Order.Product.(Price * Quantity)) + $extra");
  json::value first =
      doc(R"({"Account":{"Order":[{"Product":[{"Price":2,"Quantity":3}]},{"Product":{"Price":1.5,"Quantity":2}}]}})");
  json::value second = doc(R"({"Account":{"Order":{"Product":{"Price":10,"Quantity":1}}}})");
  json::object bindings;
  bindings["extra"] = 100;
  auto a = e.evaluate(&first, bindings);
  auto b = e.evaluate(&second, bindings);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(to_json(**a) == "109");
  CHECK(to_json(**b) == "110");
  // Without the binding, $extra is undefined and + yields no value.
  auto c = e.evaluate(&first);
  REQUIRE(c.ok());
  CHECK_FALSE(c->has_value());
}

TEST_CASE("jsonata: no input differs from a null input") {
  CHECK(eval("$") == "undefined");
  CHECK(eval("$", "null") == "null");
  CHECK(eval("$exists($)") == "false");
  CHECK(eval("$exists($)", "null") == "true");
}

TEST_CASE("jsonata: sequences, singletons and flattening") {
  const char* input = R"({"a":[{"b":[1,2]},{"b":[3]}],"c":{"d":[5]}})";
  CHECK(eval("a.b", input) == "[1,2,3]");
  CHECK(eval("c.d", input) == "[5]");
  CHECK(eval("a[0].b[0]", input) == "1");
  CHECK(eval("a.b[]", input) == "[1,2,3]");
  CHECK(eval("c.d[0]", input) == "5");
  CHECK(eval("[c.d[0]]", input) == "[5]");
  CHECK(eval("a.b[$ > 1]", input) == "[2,3]");
  CHECK(eval("**.d", input) == "[5]");
  CHECK(eval("[1..3, [4]]") == "[1,2,3,[4]]");
  CHECK(eval("missing.path", input) == "undefined");
}

TEST_CASE("jsonata: objects keep insertion order, grouping and order-by") {
  CHECK(eval(R"({"b": 1, "a": 2, "c": 3})") == R"({"b":1,"a":2,"c":3})");
  const char* input = R"([{"k":"x","v":1},{"k":"y","v":2},{"k":"x","v":3}])";
  CHECK(eval("${k: $sum(v)}", input) == R"({"x":4,"y":2})");
  CHECK(eval("$^(>v).v", input) == "[3,2,1]");
  CHECK(eval("$#$i[$i > 0].v", input) == "[2,3]");
  CHECK(eval("$.{k: v}", input) == R"([{"x":1},{"y":2},{"x":3}])");
}

TEST_CASE("jsonata: parent operator, focus binding and joins") {
  const char* input = R"({"order":{"id":7,"items":[{"sku":"a"},{"sku":"b"}]}})";
  CHECK(eval("order.items.{'sku': sku, 'order': %.id}", input) == R"([{"sku":"a","order":7},{"sku":"b","order":7}])");
  const char* tables = R"({"os":[{"id":7},{"id":8}],"is":[{"o":7,"sku":"a"},{"o":8,"sku":"b"},{"o":7,"sku":"c"}]})";
  CHECK(eval(R"(os@$o.is@$i[$i.o = $o.id].{"order": $o.id, "sku": $i.sku})", tables) ==
        R"([{"order":7,"sku":"a"},{"order":7,"sku":"c"},{"order":8,"sku":"b"}])");
}

TEST_CASE("jsonata: lambdas, closures, partial application and chaining") {
  CHECK(eval("($add := function($x, $y){$x + $y}; $inc := $add(?, 1); $inc(41))") == "42");
  CHECK(eval("($twice := function($f){function($x){$f($f($x))}}; $twice(function($n){$n*3})(2))") == "18");
  CHECK(eval("($f := $uppercase ~> $substring(?, 0, 2); $f('hello'))") == "\"HE\"");
  CHECK(eval("[1,2,3] ~> $map(function($v, $i){$v * $i})") == "[0,2,6]");
  CHECK(eval("$reduce([1,2,3,4], function($a, $b){$a + $b}, 10)") == "20");
  CHECK(eval("function($x)<n:n>{$x}('a')") == "ERROR T0410");
}

TEST_CASE("jsonata: conditionals, blocks, transform and regex") {
  CHECK(eval("($x := 2; $y := $x * 10; $x < 3 ? $y : 'big')") == "20");
  CHECK(eval(R"($ ~> |a|{"z": 1}, ["y"]|)", R"({"a":{"y":0,"w":2}})") == R"({"a":{"w":2,"z":1}})");
  CHECK(eval("$replace('abcabc', /b(c)/, '[$1]')") == "\"a[c]a[c]\"");
  CHECK(eval("$match('a1b22', /[0-9]+/).match") == R"(["1","22"])");
  CHECK(eval("$split('a, b,c', /,\\s*/)") == R"(["a","b","c"])");
  CHECK(eval("'Hello' ~> $contains(/l+/)") == "true");
}

TEST_CASE("jsonata: numbers print as JavaScript prints them") {
  CHECK(jsonata::format_number(22.0 / 7) == "3.14285714285714");
  CHECK(jsonata::format_number(1e21) == "1e+21");
  CHECK(jsonata::format_number(1e20) == "100000000000000000000");
  CHECK(jsonata::format_number(0.000001) == "0.000001");
  CHECK(jsonata::format_number(1e-7) == "1e-7");
  CHECK(jsonata::format_number(-1.5) == "-1.5");
  CHECK(eval("$string(1/3) & '|' & 100") == "\"0.333333333333333|100\"");
  CHECK(eval("$formatNumber(12345.6, '#,###.00')") == "\"12,345.60\"");
  CHECK(eval("$formatInteger(1984, 'I')") == "\"MCMLXXXIV\"");
  CHECK(eval("1/0") == "ERROR D1001");
}

TEST_CASE("jsonata: $now and $millis read the injected clock once per evaluation") {
  jsonata::EvalOptions options;
  options.now_millis = 1521801216617;
  CHECK(eval("$now()", "", {}, options) == "\"2018-03-23T10:33:36.617Z\"");
  CHECK(eval("$millis() = $millis()", "", {}, options) == "true");
  CHECK(eval("$fromMillis($millis(), '[FNn], [D1o] [MNn] [Y]')", "", {}, options) == "\"Friday, 23rd March 2018\"");
  CHECK(eval("$toMillis('2018-03-23T10:33:36.617Z')") == "1521801216617");
}

TEST_CASE("jsonata: $random and $shuffle draw from the injected random source") {
  struct Counter : states::RandomSource {
    std::uint64_t n = 0;
    std::uint64_t next_u64() override { return (n++) << 62; }  // 0, 0.25, 0.5, 0.75 as unit doubles
  } counter;
  jsonata::EvalOptions options;
  options.random = &counter;
  CHECK(eval("[$random(), $random(), $random()]", "", {}, options) == "[0,0.25,0.5]");
  CHECK(eval("$sort($shuffle([3,1,2]))", "", {}, options) == "[1,2,3]");
  CHECK(eval("$random()") == "ERROR D3137");
}

TEST_CASE("jsonata: tail calls run in constant stack; runaway recursion stops with U1001") {
  CHECK(eval("($count := function($n, $acc){$n = 0 ? $acc : $count($n - 1, $acc + 1)}; $count(100000, 0))") ==
        "100000");
  // Non-tail recursion: the built-in safety depth stops it before the C++ stack overflows.
  CHECK(eval("($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(100000))") == "ERROR U1001");
  jsonata::EvalOptions depth;
  depth.max_depth = 50;
  CHECK(eval("($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(10))", "", {}, depth) == "10");
  CHECK(eval("($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(100))", "", {}, depth) == "ERROR U1001");
  // A fake clock that advances 1 ms per reading: the infinite tail loop is stopped by the
  // time limit, deterministically and without waiting.
  std::int64_t fake_now = 0;
  jsonata::EvalOptions time;
  time.time_limit = std::chrono::milliseconds(20);
  time.clock = [&fake_now] { return fake_now++; };
  CHECK(eval("($loop := function($n){$loop($n + 1)}; $loop(0))", "", {}, time) == "ERROR U1001");
}

TEST_CASE("jsonata: one compiled expression evaluated from several threads") {
  auto e = compile_ok("$sum($.n) & '-' & $uppercase(name)");
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        json::value in = doc(R"({"n":[1,2,3],"name":"x"})");
        auto out = e.evaluate(&in);
        results[static_cast<std::size_t>(t)] = out && *out ? to_json(**out) : "bad";
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) CHECK(r == "\"6-X\"");
}
