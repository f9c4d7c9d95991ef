#include "states/intrinsics.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "states/digest.h"
#include "states/intrinsic_functions.h"

using namespace stepwise;
using namespace stepwise::states;

namespace {

// Deterministic RandomSource: returns the given words in turn.
class FixedRandom : public RandomSource {
 public:
  explicit FixedRandom(std::vector<std::uint64_t> words) : words_(std::move(words)) {}
  std::uint64_t next_u64() override { return words_[next_++ % words_.size()]; }

 private:
  std::vector<std::uint64_t> words_;
  std::size_t next_ = 0;
};

json::value j(std::string_view text) {
  return *parse_json(text);
}

// Parses and evaluates `expr` against input/context; fails the test if parsing fails.
Result<json::value> eval(std::string_view expr, const json::value& input = json::object(),
                         const json::value& context = json::object(),
                         RandomSource* random = nullptr) {
  std::string error;
  auto call = Intrinsic::parse(expr, &error);
  INFO("expression: ", expr, " error: ", error);
  REQUIRE(call.has_value());
  Scope scope{input, context, random};
  return call->evaluate(scope, "FunctionResult.$");
}

json::value ok(std::string_view expr, const json::value& input = json::object(),
               const json::value& context = json::object()) {
  auto r = eval(expr, input, context);
  INFO("expression: ", expr, " failure: ", r.ok() ? "" : r.failure().cause);
  REQUIRE(r.ok());
  return *r;
}

Failure failed(std::string_view expr, const json::value& input = json::object()) {
  auto r = eval(expr, input);
  INFO("expression: ", expr);
  REQUIRE_FALSE(r.ok());
  return r.failure();
}

bool parses(std::string_view expr) {
  return Intrinsic::parse(expr).has_value();
}

}  // namespace

TEST_CASE("intrinsic parser accepts AWS's argument forms") {
  CHECK(parses("States.Array()"));
  CHECK(parses("States.Array( )"));
  CHECK(parses("States.Array(1, -2, 3.5, -0.25, true, false, null, 'x')"));
  CHECK(parses("States.Array($, $$, $.a, $$.Execution.Input)"));
  CHECK(parses("States.Format('a\\'b\\{\\}\\\\', 'x')"));
  CHECK(
      parses("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
             "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), "
             "-1))"));
  CHECK(parses("States.UUID()"));
  CHECK(parses("States.MathRandom(1, 2)"));
  CHECK(parses("States.MathRandom(1, 2, 3)"));
}

TEST_CASE("intrinsic parser rejects malformed calls") {
  std::string error;
  CHECK_FALSE(Intrinsic::parse("States.Nope(1)", &error));
  CHECK(error.find("unknown intrinsic function 'States.Nope'") != std::string::npos);
  CHECK_FALSE(parses("States.Array(1"));
  CHECK_FALSE(parses("States.Array(1,)"));
  CHECK_FALSE(parses("States.Array(1) x"));
  CHECK_FALSE(parses("States.Array('abc)"));
  CHECK_FALSE(parses("States.Array(nul)"));
  CHECK_FALSE(parses("States.Array(truex)"));
  CHECK_FALSE(parses("States.Array(1.)"));
  CHECK_FALSE(parses("Array(1)"));
  CHECK_FALSE(parses("States.array(1)"));
  // Argument counts are fixed for most functions.
  CHECK_FALSE(parses("States.UUID(1)"));
  CHECK_FALSE(parses("States.ArrayLength()"));
  CHECK_FALSE(parses("States.ArrayLength($, $)"));
  CHECK_FALSE(parses("States.MathRandom(1)"));
  CHECK_FALSE(parses("States.MathRandom(1, 2, 3, 4)"));
  CHECK_FALSE(parses("States.JsonMerge($.a, $.b)"));
  CHECK_FALSE(parses("States.Format()"));
  CHECK_FALSE(Intrinsic::parse("States.ArrayRange(1, 2)", &error));
  CHECK(error.find("States.ArrayRange does not take 2 arguments") != std::string::npos);
}

TEST_CASE("intrinsic string literals allow only AWS's four escapes") {
  // From the ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION validation cases: \" is rejected.
  CHECK_FALSE(parses(R"(States.StringToJson('{"text":"An \"escaped double quote\" here"}'))"));
  CHECK_FALSE(parses(R"(States.Format('He said, \"Hello, {}!\"', 'Test \"Name\" Here'))"));
  CHECK_FALSE(parses(R"(States.Array('\n'))"));
  CHECK(ok(R"(States.Array('it\'s', '\{\}', 'back\\slash'))") ==
        j(R"(["it's", "{}", "back\\slash"])"));
  // Unescaped braces and double quotes are ordinary characters.
  CHECK(ok(R"(States.StringToJson('{"constant_in_literal": "false"}'))") ==
        j(R"({"constant_in_literal": "false"})"));
}

TEST_CASE("looks_like_call tells intrinsics from paths") {
  CHECK(Intrinsic::looks_like_call("States.Format('x')"));
  CHECK_FALSE(Intrinsic::looks_like_call("$.States"));
  CHECK_FALSE(Intrinsic::looks_like_call("$$.Execution"));
  CHECK_FALSE(Intrinsic::looks_like_call("Format('x')"));
}

TEST_CASE("intrinsic literal numbers keep integer and decimal kinds") {
  auto v = ok("States.Array(1, -9, 1.5, -0.5, 12345678901234)");
  auto& a = v.get_array();
  CHECK(a[0].is_int64());
  CHECK(a[0].get_int64() == 1);
  CHECK(a[1].get_int64() == -9);
  CHECK(a[2].is_double());
  CHECK(a[2].get_double() == 1.5);
  CHECK(a[3].get_double() == -0.5);
  CHECK(a[4].get_int64() == 12345678901234);
}

TEST_CASE("States.Format renders arguments like AWS") {
  auto in = j(R"({"s":"HelloWorld","n":1,"d":1.1,"z":null,"o":{"Arg1":1,"Arg2":[]},
                  "str":"{\"Arg1\": 1, \"Arg2\": []}","b":true,"one":1.0,
                  "nested":{"a":[1,"x",{"k":"v"}],"b":null}})");
  CHECK(ok("States.Format('Formatting argument {}.', $.s)", in) ==
        "Formatting argument HelloWorld.");
  CHECK(ok("States.Format('Formatting argument {}.', $.z)", in) == "Formatting argument null.");
  CHECK(ok("States.Format('Formatting argument {}.', $.n)", in) == "Formatting argument 1.");
  CHECK(ok("States.Format('Formatting argument {}.', $.d)", in) == "Formatting argument 1.1.");
  CHECK(ok("States.Format('Formatting argument {}.', $.one)", in) == "Formatting argument 1.0.");
  CHECK(ok("States.Format('{}', $.b)", in) == "true");
  CHECK(ok("States.Format('Formatting argument {}.', $.str)", in) ==
        "Formatting argument {\"Arg1\": 1, \"Arg2\": []}.");
  CHECK(ok("States.Format('fst={} and snd={}.', $.o, $.o)", in) ==
        "fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}.");
  CHECK(ok("States.Format('{}', $.nested)", in) == "{a=[1, x, {k=v}], b=null}");
  CHECK(ok("States.Format('no placeholders')", in) == "no placeholders");
  CHECK(ok("States.Format('{}{}', 'a', 'b')", in) == "ab");
  CHECK(ok("States.Format('a { b } c {}', 1)", in) == "a { b } c 1");
}

TEST_CASE("States.Format treats escaped braces as text") {
  CHECK(ok(R"(States.Format('\{\} {} \{}', 'x'))") == "{} x {}");
  CHECK(ok(R"(States.Format('{\}'))") == "{}");
  CHECK(failed(R"(States.Format('{\}', 'x'))").error == "States.IntrinsicFailure");
}

TEST_CASE("States.Format takes its template from a path") {
  auto in = j(R"({"AnswerTemplate":"It's {}!"})");
  CHECK(ok("States.Format($.AnswerTemplate, 'Pikachu')", in) == "It's Pikachu!");
}

TEST_CASE("States.Format fails when arguments and placeholders differ") {
  auto f = failed("States.Format('{} {}', 1)");
  CHECK(f.error == "States.IntrinsicFailure");
  CHECK(f.in_state);
  CHECK(failed("States.Format('{}', 1, 2)").error == "States.IntrinsicFailure");
  CHECK(failed("States.Format($.t, 1)", j(R"({"t":5})")).error == "States.IntrinsicFailure");
}

TEST_CASE("States.StringToJson and States.JsonToString") {
  auto s2j = [](std::string_view s) {
    json::object in;
    in["s"] = json::string(s);
    return ok("States.StringToJson($.s)", in);
  };
  CHECK(s2j("").is_null());
  CHECK(s2j(" ").is_null());
  CHECK(s2j("null").is_null());
  CHECK(s2j("-0") == json::value(0));
  CHECK(s2j("1") == json::value(1));
  CHECK(s2j("1.1") == json::value(1.1));
  CHECK(s2j("true") == json::value(true));
  CHECK(s2j("\"HelloWorld\"") == json::value("HelloWorld"));
  CHECK(s2j("[1, 2, \"HelloWorld\"]") == j(R"([1,2,"HelloWorld"])"));
  CHECK(s2j("{\"Arg1\": 1, \"Arg2\": []}") == j(R"({"Arg1":1,"Arg2":[]})"));
  auto bad = failed("States.StringToJson('{')");
  CHECK(bad.error == "States.IntrinsicFailure");
  CHECK(failed("States.StringToJson(1)").error == "States.IntrinsicFailure");

  auto j2s = [](std::string_view json_text) {
    json::object in;
    in["v"] = j(json_text);
    return ok("States.JsonToString($.v)", in);
  };
  CHECK(j2s("null") == "null");
  CHECK(j2s("0") == "0");
  CHECK(j2s("1.1") == "1.1");
  CHECK(j2s("1.0") == "1.0");
  CHECK(j2s("true") == "true");
  CHECK(j2s("\"HelloWorld\"") == "\"HelloWorld\"");
  CHECK(j2s(R"([1, 2, "HelloWorld"])") == R"([1,2,"HelloWorld"])");
  CHECK(j2s(R"({"Arg1": 1, "Arg2": []})") == R"({"Arg1":1,"Arg2":[]})");
}

TEST_CASE("States.Array collects its arguments") {
  CHECK(ok("States.Array()") == json::array());
  auto in = j(R"({"fst":{"Arg1":1,"Arg2":[]},"snd":null})");
  CHECK(ok("States.Array($.fst, $.snd, 'x', 2)", in) == j(R"([{"Arg1":1,"Arg2":[]},null,"x",2])"));
  CHECK(ok("States.Array(States.Array(1), States.Array())") == j("[[1],[]]"));
}

TEST_CASE("States.ArrayPartition splits into chunks") {
  CHECK(ok("States.ArrayPartition(States.Array(), 1)") == j("[]"));
  CHECK(ok("States.ArrayPartition(States.Array(0, 1, 2, 3), 1)") == j("[[0],[1],[2],[3]]"));
  CHECK(ok("States.ArrayPartition(States.Array(0, 1, 2, 3), 3)") == j("[[0,1,2],[3]]"));
  CHECK(ok("States.ArrayPartition(States.Array(0, 1, 2, 3), 5)") == j("[[0,1,2,3]]"));
  CHECK(ok("States.ArrayPartition(States.Array(0, 1), 2)") == j("[[0,1]]"));
  CHECK(failed("States.ArrayPartition(States.Array(0, 1), 0)").error == "States.IntrinsicFailure");
  CHECK(failed("States.ArrayPartition(States.Array(0, 1), -1)").error == "States.IntrinsicFailure");
  CHECK(failed("States.ArrayPartition('x', 1)").error == "States.IntrinsicFailure");
}

TEST_CASE("States.ArrayContains compares values deeply") {
  auto contains = [](std::string_view arr, std::string_view v) {
    json::object in;
    in["a"] = j(arr);
    in["v"] = j(v);
    return ok("States.ArrayContains($.a, $.v)", in).as_bool();
  };
  CHECK_FALSE(contains("[]", "null"));
  CHECK_FALSE(contains("[]", "[]"));
  CHECK_FALSE(contains("[[1,2,3],2]", "null"));
  CHECK(contains("[[1,2,3],2]", "[1,2,3]"));
  CHECK_FALSE(contains(R"([{"1":2,"2":[]}])", "[]"));
  CHECK(contains(R"([{"1":2,"2":[]}])", R"({"1":2,"2":[]})"));
  CHECK(contains("[true,false]", "false"));
  CHECK(contains("[1,2,3]", "2"));
}

TEST_CASE("States.ArrayRange counts inclusively") {
  CHECK(ok("States.ArrayRange(0, 9, 3)") == j("[0,3,6,9]"));
  CHECK(ok("States.ArrayRange(0, 10, 3)") == j("[0,3,6,9]"));
  CHECK(ok("States.ArrayRange(1, 9, 9)") == j("[1]"));
  CHECK(ok("States.ArrayRange(1, 9, 2)") == j("[1,3,5,7,9]"));
  CHECK(ok("States.ArrayRange(5, 1, -2)") == j("[5,3,1]"));
  CHECK(ok("States.ArrayRange(5, 1, 2)") == j("[]"));
  CHECK(ok("States.ArrayRange(1, 1000, 1)").get_array().size() == 1000);
  CHECK(failed("States.ArrayRange(0, 1000, 1)").error == "States.IntrinsicFailure");
  CHECK(failed("States.ArrayRange(1, 5, 0)").error == "States.IntrinsicFailure");
  CHECK(failed("States.ArrayRange(1, 5, 1.5)").error == "States.IntrinsicFailure");
}

TEST_CASE("States.ArrayGetItem, ArrayLength and ArrayUnique") {
  auto in = j(R"({"a":[1,2,3,4,5,6,7,8,9],"i":5})");
  CHECK(ok("States.ArrayGetItem($.a, $.i)", in) == json::value(6));
  CHECK(ok("States.ArrayGetItem($.a, 0)", in) == json::value(1));
  CHECK(failed("States.ArrayGetItem($.a, 9)", in).error == "States.IntrinsicFailure");
  CHECK(failed("States.ArrayGetItem($.a, -1)", in).error == "States.IntrinsicFailure");
  CHECK(ok("States.ArrayLength($.a)", in) == json::value(9));
  CHECK(failed("States.ArrayLength($.i)", in).error == "States.IntrinsicFailure");
  auto dup = j(R"({"a":[null,null,true,true,false,false,1,1,1.1,0,0,"HelloWorld","HelloWorld",
                  [],[],[null],[null],{"a":1,"b":2},{"a":1,"b":2},{"a":1,"b":1}]})");
  CHECK(ok("States.ArrayLength($.a)", dup) == json::value(20));
  CHECK(ok("States.ArrayUnique($.a)", dup) ==
        j(R"([null,true,false,1,1.1,0,"HelloWorld",[],[null],{"a":1,"b":2},{"a":1,"b":1}])"));
}

TEST_CASE("States.Base64Encode and Base64Decode") {
  CHECK(ok("States.Base64Encode('')") == "");
  CHECK(ok("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU=");
  CHECK(ok("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode");
  CHECK(ok("States.Base64Decode('')") == "");
  CHECK(ok("States.Base64Encode('a')") == "YQ==");
  CHECK(ok("States.Base64Encode('ab')") == "YWI=");
  CHECK(ok("States.Base64Decode('YQ')") == "a");
  CHECK(failed("States.Base64Decode('Y')").error == "States.IntrinsicFailure");
  CHECK(failed("States.Base64Decode('@@@@')").error == "States.IntrinsicFailure");
  CHECK(failed("States.Base64Decode('YQ==YQ==')").error == "States.IntrinsicFailure");
  json::object big;
  big["s"] = json::string(std::string(10001, 'a'));
  CHECK(failed("States.Base64Encode($.s)", big).error == "States.IntrinsicFailure");
}

TEST_CASE("digests match published test vectors") {
  CHECK(hex_digest(DigestAlgorithm::kMd5, "") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(hex_digest(DigestAlgorithm::kSha1, "abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex_digest(DigestAlgorithm::kSha256, "abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex_digest(DigestAlgorithm::kSha256, "") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex_digest(DigestAlgorithm::kSha512, "abc") ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  CHECK(hex_digest(DigestAlgorithm::kSha384, "abc") ==
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
        "8086072ba1e7cc2358baeca134c825a7");
  // Multi-block message (two 64-byte blocks for MD5/SHA-1/SHA-256).
  std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(hex_digest(DigestAlgorithm::kSha256, two_blocks) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hex_digest(DigestAlgorithm::kSha1, two_blocks) ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(hex_digest(DigestAlgorithm::kMd5, "The quick brown fox jumps over the lazy dog") ==
        "9e107d9d372bb6826bd81d3542a419d6");
}

TEST_CASE("States.Hash matches AWS for every algorithm") {
  auto hash = [](std::string_view algorithm) {
    json::object in;
    in["fst"] = "input data";
    in["snd"] = json::string(algorithm);
    return ok("States.Hash($.fst, $.snd)", in);
  };
  CHECK(hash("MD5") == "812f45842bc6d66ee14572ce20db8e86");
  CHECK(hash("SHA-1") == "aaff4a450a104cd177d28d18d74485e8cae074b7");
  CHECK(hash("SHA-256") == "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3");
  CHECK(
      hash("SHA-384") ==
      "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a1"
      "5562");
  CHECK(
      hash("SHA-512") ==
      "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283"
      "731a533d30d425402d4f91316d871303aac4");
  CHECK(failed("States.Hash('x', 'SHA-3')").error == "States.IntrinsicFailure");
  CHECK(failed("States.Hash('x', 'sha-256')").error == "States.IntrinsicFailure");
}

TEST_CASE("States.JsonMerge is shallow and needs false") {
  auto in =
      j(R"({"fst":{"a":{"a1":1,"a2":2},"b":2,"d":3},"snd":{"a":{"a3":1,"a4":2},"c":3,"d":4}})");
  auto merged = ok("States.JsonMerge($.fst, $.snd, false)", in);
  CHECK(merged == j(R"({"a":{"a3":1,"a4":2},"b":2,"c":3,"d":4})"));
  CHECK(to_json(merged) == R"({"a":{"a3":1,"a4":2},"b":2,"d":4,"c":3})");
  CHECK(failed("States.JsonMerge($.fst, $.snd, true)", in).error == "States.IntrinsicFailure");
  CHECK(failed("States.JsonMerge($.fst, 1, false)", in).error == "States.IntrinsicFailure");
}

TEST_CASE("States.MathAdd rounds decimals half up like AWS") {
  struct Case {
    const char* a;
    const char* b;
    std::int64_t sum;
  };
  // Every "rounding" case of the conformance corpus.
  for (auto c :
       {Case{"-9", "3", -6}, Case{"1.49", "1.5", 3}, Case{"-1.5", "0", -1}, Case{"-1.51", "0", -2},
        Case{"0.5", "0", 1}, Case{"2.5", "0", 3}, Case{"3.5", "0", 4}, Case{"-0.5", "0.5", 1},
        Case{"-0.5", "0", 0}, Case{"-2.5", "0", -2}, Case{"1.5", "1.51", 4}, Case{"-3.5", "0", -3},
        Case{"-1.49", "-1.5", -2}, Case{"-1.5", "-1.51", -3}, Case{"1.49", "0", 1},
        Case{"1.49", "-1.49", 0}, Case{"1.5", "0", 2}, Case{"1.51", "0", 2},
        Case{"-1.49", "0", -1}}) {
    auto in = j(std::string(R"({"fst":)") + c.a + R"(,"snd":)" + c.b + "}");
    auto v = ok("States.MathAdd($.fst, $.snd)", in);
    INFO(c.a, " + ", c.b);
    CHECK(v.is_int64());
    CHECK(v == json::value(c.sum));
  }
  CHECK(ok("States.MathAdd(1, -1)") == json::value(0));
  CHECK(failed("States.MathAdd('1', 1)").error == "States.IntrinsicFailure");
}

TEST_CASE("States.MathRandom stays in range and is reproducible with a seed") {
  FixedRandom random({0, 1, 41, 99, 12345678901ULL});
  json::value input = json::object();
  json::value context = json::object();
  for (int i = 0; i < 5; ++i) {
    auto r = eval("States.MathRandom(10, 20)", input, context, &random);
    REQUIRE(r.ok());
    REQUIRE(r->is_int64());
    CHECK(r->get_int64() >= 10);
    CHECK(r->get_int64() < 20);
  }
  auto negative = eval("States.MathRandom(-99999, -9999)", input, context, &random);
  REQUIRE(negative.ok());
  CHECK(negative->get_int64() >= -99999);
  CHECK(negative->get_int64() < -9999);
  auto decimals = eval("States.MathRandom(12.5, 44.51)", input, context, &random);
  REQUIRE(decimals.ok());
  CHECK(decimals->get_int64() >= 13);
  CHECK(decimals->get_int64() < 45);

  auto a = eval("States.MathRandom(0, 999, 3)", input, context, nullptr);
  auto b = eval("States.MathRandom(0, 999, 3)", input, context, &random);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
  CHECK(a->get_int64() >= 0);
  CHECK(a->get_int64() < 999);
  CHECK(failed("States.MathRandom(5, 5)").error == "States.IntrinsicFailure");
}

TEST_CASE("JavaRandom reproduces java.util.Random") {
  // new java.util.Random(0).nextInt() is -1155484576; nextInt(2^30) keeps its top 30 bits.
  intrinsics::JavaRandom r(0);
  CHECK(r.next_int(1 << 30) == 784870680);
  intrinsics::JavaRandom s(3);
  intrinsics::JavaRandom t(3);
  CHECK(s.next_int(999) == t.next_int(999));
}

TEST_CASE("java_round rounds half up") {
  CHECK(intrinsics::java_round(0.5) == 1);
  CHECK(intrinsics::java_round(-0.5) == 0);
  CHECK(intrinsics::java_round(-1.5) == -1);
  CHECK(intrinsics::java_round(-1.51) == -2);
  CHECK(intrinsics::java_round(0.49999999999999994) == 0);
}

TEST_CASE("States.StringSplit splits on any delimiter character and drops empties") {
  auto split = [](std::string_view s, std::string_view d) {
    json::object in;
    in["fst"] = json::string(s);
    in["snd"] = json::string(d);
    return ok("States.StringSplit($.fst, $.snd)", in);
  };
  CHECK(split(" ", ",") == j(R"([" "])"));
  CHECK(split(" , ", ",") == j(R"([" "," "])"));
  CHECK(split(", , ,", ",") == j(R"([" "," "])"));
  CHECK(split(",,,,", ",") == j("[]"));
  CHECK(split("1,2,3,4,5", ",") == j(R"(["1","2","3","4","5"])"));
  CHECK(split("This.is+a,test=string", ".+,=") == j(R"(["This","is","a","test","string"])"));
  CHECK(split("split on T and \nnew line", "T\n") == j(R"(["split on "," and ","new line"])"));
  CHECK(split("a\xc3\xa9"
              "b",
              "\xc3\xa9") == j(R"(["a","b"])"));
  CHECK(split("abc", "") == j(R"(["abc"])"));
  CHECK(ok("States.StringSplit('Hello\nWorld', '\n')") == j(R"(["Hello","World"])"));
}

TEST_CASE("States.UUID is a version 4 UUID from the random source") {
  FixedRandom random({0x0123456789abcdefULL, 0xfedcba9876543210ULL});
  json::value input = json::object();
  auto r = eval("States.UUID()", input, input, &random);
  REQUIRE(r.ok());
  CHECK(*r == "01234567-89ab-4def-bedc-ba9876543210");
  auto no_source = eval("States.UUID()", input, input, nullptr);
  CHECK_FALSE(no_source.ok());
}

TEST_CASE("nested intrinsic calls over context paths") {
  json::value input = nullptr;
  auto context = j(
      R"({"StateMachine":{"Id":"arn:aws:states:us-east-1:111111111111:stateMachine:statemachine_59290be0",
                        "Name":"statemachine_59290be0"},"Execution":{"Name":"c4977a5a","Input":{"x":"a,b"}}})");
  CHECK(ok("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)", input,
           context) == "statemachine_59290be0");
  CHECK(ok("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
           "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
           input, context) == "statemachine_59290be0");
  CHECK(ok("States.Format('fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)", input,
           context) ==
        "fst=c4977a5a and "
        "snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:statemachine_59290be0, "
        "Name=statemachine_59290be0}.");
  CHECK(ok("States.StringSplit($$.Execution.Input.x, ',')", input, context) == j(R"(["a","b"])"));
}

TEST_CASE("intrinsic path argument that selects nothing fails like AWS") {
  auto in = j(R"({"a":1})");
  auto f = failed("States.Array($.missing)", in);
  CHECK(f.error == "States.Runtime");
  CHECK(f.in_state);
  CHECK(f.cause ==
        "The JSONPath '$.missing' specified for the field 'FunctionResult.$' could not be found in "
        "the input '{\"a\":1}'");
}

TEST_CASE("intrinsic failures name the function") {
  auto f = failed("States.ArrayLength('x')");
  CHECK(f.error == "States.IntrinsicFailure");
  CHECK(f.cause.find("States.ArrayLength") != std::string::npos);
}
