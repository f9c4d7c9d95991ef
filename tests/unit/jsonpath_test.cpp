#include "states/jsonpath.h"

#include <doctest/doctest.h>

#include <string>

#include "states/json.h"

using namespace stepwise;
using stepwise::states::JsonPath;

namespace {

JsonPath compile(std::string_view text) {
  std::string error;
  auto path = JsonPath::parse(text, &error);
  INFO("path: ", text, " error: ", error);
  REQUIRE(path.has_value());
  return *path;
}

json::value doc(std::string_view text) {
  auto v = parse_json(text);
  REQUIRE(v.has_value());
  return *v;
}

// The selection as compact JSON, or "MISS: <message>".
std::string select(std::string_view path, std::string_view input) {
  std::string miss;
  auto v = compile(path).select(doc(input), &miss);
  return v ? to_json(*v) : "MISS: " + miss;
}

std::string parse_error(std::string_view text) {
  std::string error;
  auto path = JsonPath::parse(text, &error);
  return path ? "OK" : error;
}

const char* kStore = R"({
  "store": {
    "book": [
      {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
      {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
      {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick",
       "isbn": "0-553-21311-3", "price": 8.99},
      {"category": "fiction", "author": "J. R. R. Tolkien", "title": "The Lord",
       "isbn": "0-395-19395-8", "price": 22.99}
    ],
    "bicycle": {"color": "red", "price": 19.95}
  },
  "expensive": 10
})";

}  // namespace

TEST_CASE("jsonpath: root and context root") {
  auto root = compile("$");
  CHECK(root.is_root());
  CHECK_FALSE(root.is_context());
  CHECK(root.is_definite());
  CHECK(root.is_reference());
  CHECK(root.canonical() == "$");
  CHECK(select("$", R"({"a":1})") == R"({"a":1})");
  CHECK(select("$", "\"text\"") == "\"text\"");

  auto ctx = compile("$$");
  CHECK(ctx.is_root());
  CHECK(ctx.is_context());
  auto ctx_path = compile("$$.Map.Item.Value");
  CHECK(ctx_path.is_context());
  CHECK_FALSE(ctx_path.is_root());
  CHECK(ctx_path.is_reference());
  CHECK(ctx_path.text() == "$$.Map.Item.Value");
  CHECK(ctx_path.canonical() == "$['Map']['Item']['Value']");
  CHECK(select("$$.Map.Item.Value", R"({"Map":{"Item":{"Value":7}}})") == "7");
}

TEST_CASE("jsonpath: names by dot and by bracket") {
  const char* input = R"({"a":{"b":{"c":[10,20,30]}},"my-key":1,"x:y":2,"héllo":3,
    "with space":4,"dot.ted":5,"q'uote":6,"1":7})";
  CHECK(select("$.a.b", input) == R"({"c":[10,20,30]})");
  CHECK(select("$.a.b.c[1]", input) == "20");
  CHECK(select("$['a']['b']", input) == R"({"c":[10,20,30]})");
  CHECK(select("$[\"a\"][\"b\"].c[0]", input) == "10");
  CHECK(select("$.my-key", input) == "1");
  CHECK(select("$.x:y", input) == "2");
  CHECK(select("$.héllo", input) == "3");
  CHECK(select("$['with space']", input) == "4");
  CHECK(select("$['dot.ted']", input) == "5");
  CHECK(select("$[\"q'uote\"]", input) == "6");
  CHECK(select("$.1", input) == "7");
  CHECK(select("$.['a'].b.c[2]", input) == "30");
  CHECK(select("$[ 'a' ][ 'b' ]", input) == R"({"c":[10,20,30]})");
}

TEST_CASE("jsonpath: bracket names keep backslashes verbatim (AWS escape case)") {
  // tests/conformance/cases/scenarios/..._ESCAPE_SEQUENCES_JSONPATH.json
  std::string path = R"($['Test\""Name"'])";
  json::object input;
  input[R"(Test\""Name")"] = R"(Value"\)";
  std::string miss;
  auto v = compile(path).select(input, &miss);
  REQUIRE(v.has_value());
  CHECK(to_json(*v) == R"("Value\"\\")");
  // A backslash stops a quote from closing the name.
  CHECK(select(R"($['it\'s'])", R"({"it\\'s":1})") == "1");
}

TEST_CASE("jsonpath: array indices, negative indices") {
  const char* input = R"({"items":[{"item_key":0},{"item_key":1},{"item_key":2}]})";
  CHECK(select("$.items[0]", input) == R"({"item_key":0})");
  CHECK(select("$.items[2].item_key", input) == "2");
  CHECK(select("$.items[-1]", input) == R"({"item_key":2})");
  CHECK(select("$.items[-3].item_key", input) == "0");
  CHECK(select("$[0]", "[5,6,7]") == "5");
  CHECK(select("$[2]", "[5,6,7]") == "7");
  CHECK(compile("$.items[-1]").is_definite());
  CHECK_FALSE(compile("$.items[-1]").is_reference());
  CHECK(compile("$.items[0].a").is_reference());
}

TEST_CASE("jsonpath: array access cases recorded from AWS") {
  // base/test_json_path_array_access_.items_{0,10}
  std::string items = R"({"items":[)";
  for (int i = 0; i <= 10; ++i) {
    if (i) items += ",";
    items += R"({"item_key":)" + std::to_string(i) + "}";
  }
  items += "]}";
  CHECK(select("$.items[0]", items) == R"({"item_key":0})");
  CHECK(select("$.items[10]", items) == R"({"item_key":10})");
}

TEST_CASE("jsonpath: wildcards and slices over missing input yield [] (AWS)") {
  // base/test_json_path_array_wildcard_or_slice_with_no_input*
  for (const char* path :
       {"$[*]", "$.items[*]", "$.items[*].itemValue", "$.items[1:]", "$.items[:1]",
        "$.items[1:].itemValue", "$.items[:1].itemValue", "$.item.items[*]", "$.item.items[1:]",
        "$.item.items[:1]", "$.item.items[1:5]", "$.item.items[1:5].itemValue"}) {
    INFO(path);
    CHECK_FALSE(compile(path).is_definite());
    CHECK(select(path, "{}") == "[]");
  }
}

TEST_CASE("jsonpath: wildcards") {
  CHECK(select("$[*]", R"({"a":1,"b":[2],"c":{"d":3}})") == R"([1,[2],{"d":3}])");
  CHECK(select("$.*", R"({"a":1,"b":2})") == "[1,2]");
  CHECK(select("$.a[*]", R"({"a":[1,2,3]})") == "[1,2,3]");
  CHECK(select("$.a[*].v", R"({"a":[{"v":1},{"w":2},{"v":3},5]})") == "[1,3]");
  CHECK(select("$.a.*.v", R"({"a":{"x":{"v":1},"y":{"v":2}}})") == "[1,2]");
  CHECK(select("$[*]", "7") == "[]");
  CHECK(select("$.store.book[*].author", kStore) ==
        R"(["Nigel Rees","Evelyn Waugh","Herman Melville","J. R. R. Tolkien"])");
}

TEST_CASE("jsonpath: slices") {
  const char* input = R"({"v":[0,1,2,3,4,5]})";
  CHECK(select("$.v[1:3]", input) == "[1,2]");
  CHECK(select("$.v[1:]", input) == "[1,2,3,4,5]");
  CHECK(select("$.v[:2]", input) == "[0,1]");
  CHECK(select("$.v[-2:]", input) == "[4,5]");
  CHECK(select("$.v[:-4]", input) == "[0,1]");
  CHECK(select("$.v[1:100]", input) == "[1,2,3,4,5]");
  CHECK(select("$.v[4:2]", input) == "[]");
  CHECK(select("$.v[-100:1]", input) == "[0]");
  CHECK(select("$.v[10:]", input) == "[]");
  // ASL spec example: "last3.$": "$.vals[3:]".
  CHECK(select("$.vals[3:]", R"({"vals":[0,10,20,30,40,50]})") == "[30,40,50]");
  CHECK(compile("$.v[1:3]").canonical() == "$['v'][1:3]");
  CHECK(compile("$.v[:3]").canonical() == "$['v'][:3]");
  CHECK(compile("$.v[-2:]").canonical() == "$['v'][-2:]");
}

TEST_CASE("jsonpath: unions") {
  CHECK(select("$.v[0,2]", R"({"v":[0,1,2,3]})") == "[0,2]");
  CHECK(select("$.v[2,0,9]", R"({"v":[0,1,2,3]})") == "[2,0]");
  CHECK(select("$.v[-1, 0]", R"({"v":[0,1,2,3]})") == "[3,0]");
  CHECK(compile("$.v[0,2]").canonical() == "$['v'][0,2]");
  CHECK_FALSE(compile("$.v[0,2]").is_definite());
  // A trailing name union merges the members into one object (Jayway).
  CHECK(select("$['a','b']", R"({"a":1,"b":2,"c":3})") == R"({"a":1,"b":2})");
  CHECK(select("$.x['a','zz']", R"({"x":{"a":1,"b":2}})") == R"({"a":1})");
  CHECK(
      select("$.store.book[*]['author','price']", kStore) ==
      R"([{"author":"Nigel Rees","price":8.95},{"author":"Evelyn Waugh","price":12.99},)"
      R"({"author":"Herman Melville","price":8.99},{"author":"J. R. R. Tolkien","price":22.99}])");
  CHECK(compile("$['a', \"b\"]").canonical() == "$['a','b']");
  // A name union followed by more steps is an ordinary union.
  CHECK(select("$['a','b'].v", R"({"a":{"v":1},"b":{"v":2}})") == "[1,2]");
  CHECK(select("$.x['a','b']", R"({"y":1})") == "MISS: Missing property in path $['x']");
}

TEST_CASE("jsonpath: deep scan") {
  CHECK(select("$..author", kStore) ==
        R"(["Nigel Rees","Evelyn Waugh","Herman Melville","J. R. R. Tolkien"])");
  CHECK(select("$.store..price", kStore) == "[8.95,12.99,8.99,22.99,19.95]");
  CHECK(select("$..book[2].title", kStore) == R"(["Moby Dick"])");
  CHECK(select("$..book[-1].price", kStore) == "[22.99]");
  // The node's own match comes before matches in its descendants.
  CHECK(select("$..name", R"({"a":{"name":1,"x":{"name":2}},"name":3})") == "[3,1,2]");
  CHECK(select("$..*", R"({"a":{"b":1},"c":[2,3]})") == R"([{"b":1},[2,3],1,2,3])");
  CHECK(select("$..[0]", R"({"a":[1,[2,3]],"b":[4]})") == "[1,2,4]");
  CHECK(select("$..missing", kStore) == "[]");
  CHECK(compile("$..author").canonical() == "$..['author']");
  CHECK(compile("$..*").canonical() == "$..[*]");
  CHECK_FALSE(compile("$..a").is_definite());
  CHECK_FALSE(compile("$..a").is_reference());
}

TEST_CASE("jsonpath: filters (AWS regex_json_path_base case)") {
  // base/test_state_pass_regex_json_path_base
  CHECK(select("$.users[?(@.status == 0)]",
               R"({"users":[{"year":1997,"status":0},{"year":1998,"status":1}]})") ==
        R"([{"year":1997,"status":0}])");
}

TEST_CASE("jsonpath: filter comparisons") {
  CHECK(select("$.store.book[?(@.price < 10)].title", kStore) == R"(["Sayings","Moby Dick"])");
  CHECK(select("$.store.book[?(@.price <= 8.99)].title", kStore) == R"(["Sayings","Moby Dick"])");
  CHECK(select("$.store.book[?(@.price > 20)].title", kStore) == R"(["The Lord"])");
  CHECK(select("$.store.book[?(@.price >= 22.99)].title", kStore) == R"(["The Lord"])");
  CHECK(select("$.store.book[?(@.isbn)].title", kStore) == R"(["Moby Dick","The Lord"])");
  CHECK(select("$.store.book[?(!@.isbn)].title", kStore) == R"(["Sayings","Sword"])");
  CHECK(select("$.store.book[?(@.category == 'reference')].author", kStore) == R"(["Nigel Rees"])");
  CHECK(select("$.store.book[?(@.category == \"reference\")].author", kStore) ==
        R"(["Nigel Rees"])");
  CHECK(select("$.store.book[?(@.category != 'fiction')].title", kStore) == R"(["Sayings"])");
  CHECK(select("$.store.book[?(@.price < $.expensive)].price", kStore) == "[8.95,8.99]");
  CHECK(select("$.store.book[?(@.category == 'fiction' && @.price < 20)].title", kStore) ==
        R"(["Sword","Moby Dick"])");
  CHECK(select("$.store.book[?(@.price < 9 || @.price > 20)].title", kStore) ==
        R"(["Sayings","Moby Dick","The Lord"])");
  CHECK(select("$.store.book[?((@.price < 9 || @.price > 20) && @.isbn)].title", kStore) ==
        R"(["Moby Dick","The Lord"])");
  CHECK(select("$..book[?(@.author =='Herman Melville')].price", kStore) == "[8.99]");
  CHECK(select("$..[?(@.color)].price", kStore) == "[19.95]");
  CHECK(compile("$.a[?(@.b == 1)]").canonical() == "$['a'][?]");
}

TEST_CASE("jsonpath: filter literal types and missing operands") {
  const char* input = R"({"v":[{"a":true},{"a":false},{"a":null},{"a":1},{"a":1.0},{"a":"1"},{}]})";
  CHECK(select("$.v[?(@.a == true)]", input) == R"([{"a":true}])");
  CHECK(select("$.v[?(@.a == false)]", input) == R"([{"a":false}])");
  CHECK(select("$.v[?(@.a == null)]", input) == R"([{"a":null}])");
  CHECK(select("$.v[?(@.a == 1)]", input) == R"([{"a":1},{"a":1.0}])");
  CHECK(select("$.v[?(@.a == '1')]", input) == R"([{"a":"1"}])");
  // Existence holds even for null and false values.
  CHECK(select("$.v[?(@.a)]", input) ==
        R"([{"a":true},{"a":false},{"a":null},{"a":1},{"a":1.0},{"a":"1"}])");
  // A missing operand equals nothing, so != holds for it and < never does.
  CHECK(select("$.v[?(@.a != 1)]", input) == R"([{"a":true},{"a":false},{"a":null},{"a":"1"},{}])");
  CHECK(select("$.v[?(@.a < 5)]", input) == R"([{"a":1},{"a":1.0}])");
  CHECK(select("$.n[?(@ > 2)]", R"({"n":[1,2,3,4,-7]})") == "[3,4]");
  CHECK(select("$.n[?(@ >= -7.5e0)]", R"({"n":[1,-8]})") == "[1]");
  CHECK(select("$.s[?(@ < 'b')]", R"({"s":["a","b","ab","c"]})") == R"(["a","ab"])");
  CHECK(select("$.v[?(@[0] == 1)]", R"({"v":[[1,2],[2,1],[]]})") == "[[1,2]]");
  CHECK(select("$.v[?(@['k k'] == 1)]", R"({"v":[{"k k":1},{"k k":2}]})") == R"([{"k k":1}])");
  CHECK(select("$.v[?(@.x.y == 2)]", R"({"v":[{"x":{"y":2}},{"x":3}]})") == R"([{"x":{"y":2}}])");
  // Large integers compare exactly.
  CHECK(select("$.v[?(@ == 9007199254740993)]", R"({"v":[9007199254740992,9007199254740993]})") ==
        "[9007199254740993]");
  CHECK(select("$.v[?(@ > -1)]", R"({"v":[18446744073709551615]})") == "[18446744073709551615]");
  // On an object, a filter tests the object itself.
  CHECK(select("$.o[?(@.a == 1)]", R"({"o":{"a":1}})") == R"([{"a":1}])");
  CHECK(select("$.o[?(@.a == 2)]", R"({"o":{"a":1}})") == "[]");
}

TEST_CASE("jsonpath: definite misses carry Jayway's messages (AWS cases)") {
  // scenarios/test_invalid_jsonpath_ST.INVALID_JSONPATH_IN_INPUTPATH / OUTPUTPATH /
  // TIMEOUTSECONDSPATH
  CHECK(select("$.NoSuchInputPath", R"({"int-literal":0})") ==
        "MISS: No results for path: $['NoSuchInputPath']");
  CHECK(select("$.NoSuchOutputPath", R"({"int-literal":0})") ==
        "MISS: No results for path: $['NoSuchOutputPath']");
  CHECK(select("$.NoSuchTimeoutSecondsPath", R"({"int-literal":0})") ==
        "MISS: No results for path: $['NoSuchTimeoutSecondsPath']");
  // error_handling/test_catch_states_runtime
  CHECK(select("$.no.such.result.path", "{}") == "MISS: Missing property in path $['no']");
}

TEST_CASE("jsonpath: definite miss messages in other situations") {
  CHECK(select("$.a.b.c", R"({"a":{}})") == "MISS: Missing property in path $['a']['b']");
  CHECK(select("$.a.b.c", R"({"a":{"b":{}}})") == "MISS: No results for path: $['a']['b']['c']");
  CHECK(select("$.a[5]", R"({"a":[1]})") == "MISS: No results for path: $['a'][5]");
  CHECK(select("$.a[-2]", R"({"a":[1]})") == "MISS: No results for path: $['a'][-2]");
  CHECK(select("$.a[5].b.c", R"({"a":[1]})") == "MISS: No results for path: $['a'][5]['b']['c']");
  CHECK(select("$.a[0]", R"({"a":null})") == "MISS: The path $['a'] is null");
  CHECK(select("$.a[0]", R"({"a":{"k":1}})") ==
        R"(MISS: Filter: [0] can only be applied to arrays. Current context is: {"k":1})");
  CHECK(select("$.a[0].b[1]", R"({"a":"text"})") ==
        "MISS: Filter: [0]['b'][1] can only be applied to arrays. Current context is: text");
  CHECK(select("$.a.b", R"({"a":"text"})") ==
        "MISS: Expected to find an object with property ['b'] in path $['a'] but found "
        "'java.lang.String'. This is not a json object according to the JsonProvider: "
        "'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'.");
  CHECK(select("$.a.b", R"({"a":null})") ==
        "MISS: Expected to find an object with property ['b'] in path $['a'] but found "
        "'null'. This is not a json object according to the JsonProvider: "
        "'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'.");
  CHECK(select("$.x", "[1]").find("['x'] in path $ but found 'net.minidev.json.JSONArray'") !=
        std::string::npos);
  // No message is requested: still nullopt.
  CHECK_FALSE(compile("$.x").select(doc("{}")).has_value());
}

TEST_CASE("jsonpath: find is a pointer into the document") {
  auto input = doc(R"({"a":{"b":[1,{"c":"x"}]}})");
  const json::value* v = compile("$.a.b[1].c").find(input);
  REQUIRE(v != nullptr);
  CHECK(v == &input.at("a").at("b").at(1).at("c"));
  CHECK(compile("$").find(input) == &input);
  CHECK(compile("$.a.zz").find(input) == nullptr);
  CHECK(compile("$.a.b[9]").find(input) == nullptr);
  CHECK(compile("$.a.b[-1].c").find(input) == v);
  // Indefinite paths never resolve to a single pointer.
  CHECK(compile("$.a.b[*]").find(input) == nullptr);
}

TEST_CASE("jsonpath: reference and definite classification") {
  for (const char* p : {"$", "$.a", "$['a b']", "$.a[0]", "$.a[0].b['c']", "$$.Execution.Input"}) {
    INFO(p);
    CHECK(compile(p).is_reference());
    CHECK(compile(p).is_definite());
  }
  for (const char* p :
       {"$.a[*]", "$.*", "$..a", "$.a[1:2]", "$.a[0,1]", "$['a','b']", "$.a[?(@.b)]", "$.a[-1]"}) {
    INFO(p);
    CHECK_FALSE(compile(p).is_reference());
  }
  CHECK(compile("$.a[-1]").is_definite());
  CHECK_FALSE(compile("$['a','b']").is_definite());
}

TEST_CASE("jsonpath: canonical form") {
  CHECK(compile("$.a.b[0]").canonical() == "$['a']['b'][0]");
  CHECK(compile("$['a'].b[-1]").canonical() == "$['a']['b'][-1]");
  CHECK(compile("$.a[*].b").canonical() == "$['a'][*]['b']");
  CHECK(compile("$.*").canonical() == "$[*]");
  CHECK(compile("$[\"x y\"]").canonical() == "$['x y']");
}

TEST_CASE("jsonpath: parse errors name the problem and index") {
  CHECK(parse_error("$.[") == "unclosed '[' at index 2");
  CHECK(parse_error("") == "a path must start with '$' at index 0");
  CHECK(parse_error("a.b") == "a path must start with '$' at index 0");
  CHECK(parse_error("$.") == "path must not end with '.' at index 2");
  CHECK(parse_error("$.a.") == "path must not end with '.' at index 4");
  CHECK(parse_error("$..") == "path must not end with '..' at index 3");
  CHECK(parse_error("$...a") == "unexpected '.' at index 3");
  CHECK(parse_error("$-") == "unexpected character '-' at index 1");
  CHECK(parse_error("$.a b") == "blank in a name (use bracket notation ['a b']) at index 3");
  CHECK(parse_error("$.a.length()") == "path functions are not supported at index 10");
  CHECK(parse_error("$[]") == "empty brackets at index 2");
  CHECK(parse_error("$['a'") == "unclosed '[' at index 1");
  CHECK(parse_error("$['a]") == "unterminated quoted name at index 2");
  CHECK(parse_error("$['a' 'b']") == "expected ']' at index 6");
  CHECK(parse_error("$[a]") ==
        "expected a quoted name, an index, a slice, '*' or '?' after '[' at index 2");
  CHECK(parse_error("$[1:2:3]") == "slice steps are not supported at index 5");
  CHECK(parse_error("$[-]") == "expected an integer at index 3");
  CHECK(parse_error("$[99999999999999999999]") == "integer out of range at index 2");
  CHECK(parse_error("$[?(@.a = 1)]") ==
        "expected '==' (a single '=' is not an operator) at index 8");
  CHECK(parse_error("$[?(@.a =~ /x/)]") == "regular expressions (=~) are not supported at index 8");
  CHECK(parse_error("$[?(@.a == 1]") == "expected ')' in filter at index 12");
  CHECK(parse_error("$[?(@.a == ]") ==
        "expected a path (@ or $) or a literal in filter at index 11");
  CHECK(parse_error("$[?(@.a in ['x'])]") == "filter operator 'in' is not supported at index 8");
  CHECK(parse_error("$[?(@..a)]") ==
        "only names and indices are supported in filter paths at index 6");
  CHECK(parse_error("$[?(1)]") == "a literal alone is not a filter condition at index 4");
  CHECK(parse_error("$[?@.a]") == "expected '(' after '?' at index 3");
  // Valid shapes.
  CHECK(parse_error("$[ 0 , 1 ]") == "OK");
  CHECK(parse_error("$[?( @.a==1 )]") == "OK");
  CHECK(parse_error("$.a]") == "OK");  // ']' is an ordinary name character after '.'
}

TEST_CASE("jsonpath: assign (ResultPath)") {
  auto input = doc(R"({"comment":"c","strings":{"s":1}})");
  SUBCASE("$ replaces the root") {
    CHECK(compile("$").assign(input, json::value("r")));
    CHECK(to_json(input) == "\"r\"");
  }
  SUBCASE("new member at the end") {
    CHECK(compile("$.taskresult").assign(input, json::value("Hello")));
    CHECK(to_json(input) == R"({"comment":"c","strings":{"s":1},"taskresult":"Hello"})");
  }
  SUBCASE("existing member keeps its place") {
    CHECK(compile("$.comment").assign(input, json::value(2)));
    CHECK(to_json(input) == R"({"comment":2,"strings":{"s":1}})");
  }
  SUBCASE("into a child object") {
    CHECK(compile("$.strings.lambdaresult").assign(input, json::value(true)));
    CHECK(to_json(input) == R"({"comment":"c","strings":{"s":1,"lambdaresult":true}})");
  }
  SUBCASE("missing objects are created") {
    CHECK(compile("$.x.y['z z']").assign(input, json::value(nullptr)));
    CHECK(to_json(input) == R"({"comment":"c","strings":{"s":1},"x":{"y":{"z z":null}}})");
  }
  SUBCASE("array element") {
    auto arr = doc(R"({"a":[1,{"b":2}]})");
    CHECK(compile("$.a[0]").assign(arr, json::value("x")));
    CHECK(compile("$.a[1].c").assign(arr, json::value(3)));
    CHECK(to_json(arr) == R"({"a":["x",{"b":2,"c":3}]})");
  }
}

TEST_CASE("jsonpath: assign conflicts leave the input unchanged") {
  std::string error;
  auto text = doc("\"input1\"");
  CHECK_FALSE(compile("$.someTaskResult").assign(text, json::value(1), &error));
  CHECK(error == R"(Unable to apply ReferencePath $.someTaskResult to input "input1")");
  CHECK(to_json(text) == "\"input1\"");

  auto input = doc(R"({"a":"x","n":5,"arr":[1]})");
  const std::string before = to_json(input);
  CHECK_FALSE(compile("$.a.b").assign(input, json::value(1), &error));
  CHECK(error == R"(Unable to apply ReferencePath $.a.b to input {"a":"x","n":5,"arr":[1]})");
  CHECK_FALSE(compile("$.n[0]").assign(input, json::value(1), &error));
  CHECK_FALSE(compile("$.arr[1]").assign(input, json::value(1), &error));
  CHECK_FALSE(compile("$.arr.b").assign(input, json::value(1), &error));
  // An index below a member that does not exist cannot be created.
  CHECK_FALSE(compile("$.new.list[0]").assign(input, json::value(1), &error));
  CHECK_FALSE(compile("$.arr[*]").assign(input, json::value(1), &error));
  CHECK(error == R"(Unable to apply ReferencePath $.arr[*] to input {"a":"x","n":5,"arr":[1]})");
  CHECK(to_json(input) == before);
  auto array_root = doc("[1,2]");
  CHECK_FALSE(compile("$.a").assign(array_root, json::value(1)));
  CHECK(to_json(array_root) == "[1,2]");
}

TEST_CASE("jsonpath: copies share the compiled form") {
  auto a = compile("$.a[0]");
  JsonPath b = a;
  JsonPath c = std::move(a);
  CHECK(b.text() == "$.a[0]");
  CHECK(c.canonical() == "$['a'][0]");
  b = c;
  CHECK(select("$.a[0]", R"({"a":[4]})") == "4");
  CHECK(to_json(*b.select(doc(R"({"a":[4]})"))) == "4");
}

TEST_CASE("jsonpath: workflow variable paths") {
  // assign/..._BASE_REFERENCE_IN_INPUTPATH: "InputPath": "$theAnswer" reads the variable.
  auto var = compile("$theAnswer");
  CHECK(var.is_variable());
  CHECK(var.variable() == "theAnswer");
  CHECK_FALSE(var.is_context());
  CHECK(var.is_root());
  CHECK(var.canonical() == "$theAnswer");
  CHECK(to_json(*var.select(json::value(42))) == "42");

  auto nested = compile("$constant_obj.in_obj_constant_lst[1]");
  CHECK(nested.variable() == "constant_obj");
  CHECK(nested.canonical() == "$constant_obj['in_obj_constant_lst'][1]");
  CHECK(to_json(*nested.select(doc(R"({"in_obj_constant_lst":[1,2]})"))) == "2");
  std::string miss;
  CHECK_FALSE(nested.select(doc("{}"), &miss).has_value());
  CHECK(miss == "Missing property in path $constant_obj['in_obj_constant_lst']");
  CHECK(select("$x[*].a", R"([{"a":1},{"a":2}])") == "[1,2]");

  CHECK_FALSE(compile("$").is_variable());
  CHECK_FALSE(compile("$$.a").is_variable());
  CHECK(compile("$_v2").variable() == "_v2");
  CHECK(parse_error("$a-b") == "invalid character '-' in a variable name at index 2");
  CHECK(parse_error("$1") == "unexpected character '1' at index 1");
}

TEST_CASE("jsonpath: large objects (hashed member lookup)") {
  json::object big;
  for (int i = 0; i < 40; ++i) big["k" + std::to_string(i)] = i;
  json::value root = big;
  CHECK(compile("$.k0").find(root) == &root.at("k0"));
  CHECK(compile("$.k39").find(root) == &root.at("k39"));
  CHECK(compile("$.k40").find(root) == nullptr);
  CHECK(to_json(*compile("$['k7','k38']").select(root)) == R"({"k7":7,"k38":38})");
  CHECK(compile("$.k20").assign(root, json::value("x")));
  CHECK(compile("$.new.deep").assign(root, json::value(true)));
  CHECK(to_json(root.at("k20")) == "\"x\"");
  CHECK(to_json(root.at("new")) == R"({"deep":true})");
  CHECK(root.as_object().size() == 41);
}
