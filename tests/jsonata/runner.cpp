// Runs the official JSONata 2.0.6 test suite (tests/jsonata/suite, see its README
// for the case format) against stepwise's native engine and prints a report per
// group. Fails when a case fails that known_failures.txt does not list, or when a
// listed case passes (so the list stays true).
//
//   stepwise_jsonata_suite <suite/test-suite> <known_failures.txt> [--verbose] [--group G]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "states/json.h"
#include "states/jsonata/jsonata.h"

namespace fs = std::filesystem;
using namespace stepwise;

#ifdef STEPWISE_SLOW_BUILD
constexpr long kTimeLimitScale = 10;
// The suite's few cases with a time limit of 5 s or more (ranges of ten
// million numbers, a flatten of 200,000 strings, the deepest tail recursion)
// measure speed more than behaviour; under the sanitizers they take over a
// minute, so a sanitizer build leaves them to the release build's run.
constexpr double kSkipTimeLimitMs = 5000;
#else
constexpr long kTimeLimitScale = 1;
constexpr double kSkipTimeLimitMs = 0;  // none skipped
#endif

namespace {

// $random and $shuffle draw from this (the suite only checks order-independent properties).
class SplitMix : public states::RandomSource {
 public:
  std::uint64_t next_u64() override {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_ = 42;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double as_double(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// Numbers are compared at 15 significant digits: the suite's expectations were
// written that way (function-sum/case001.json expects 90.57 where IEEE addition
// in any engine, jsonata-js included, gives 90.57000000000001).
bool same_number(double x, double y) {
  if (x == y) return true;
  char a[40], b[40];
  std::snprintf(a, sizeof a, "%.14e", x);
  std::snprintf(b, sizeof b, "%.14e", y);
  return std::string(a) == b;
}

bool same(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return same_number(as_double(a), as_double(b));
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!same(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      auto it = y.find(kv.key());
      if (it == y.end() || !same(kv.value(), it->value())) return false;
    }
    return true;
  }
  return a == b;
}

struct Case {
  std::string id;
  std::string group;
  json::object spec;
  fs::path dir;
};

// Runs one case; returns an empty string when it passes, else what went wrong.
std::string run_case(const Case& c, const fs::path& suite) {
  const auto& spec = c.spec;
  if (spec.contains("unreadable")) return "case file is not valid UTF-8 JSON for Boost.JSON (lone surrogate)";
  std::string expr;
  if (auto* e = spec.if_contains("expr")) {
    expr = std::string(e->as_string());
  } else if (auto* f = spec.if_contains("expr-file")) {
    expr = read_file(c.dir / std::string(f->as_string()));
  }
  auto compiled = jsonata::compile(expr);
  if (!compiled) {
    const auto& err = compiled.error();
    if (auto* code = spec.if_contains("code")) {
      if (code->as_string() != err.code)
        return "compile error " + err.describe() + ", expected " + std::string(code->as_string());
      if (auto* tok = spec.if_contains("token")) {
        if (!err.token || *err.token != tok->as_string()) return "compile error token mismatch: " + err.describe();
      }
      return "";
    }
    return "unexpected compile error " + err.describe();
  }
  std::optional<json::value> input;
  if (auto* d = spec.if_contains("data")) {
    input = *d;
  } else if (auto* ds = spec.if_contains("dataset"); ds && !ds->is_null()) {
    auto parsed = parse_json(read_file(suite / "datasets" / (std::string(ds->as_string()) + ".json")));
    if (!parsed) return "bad dataset";
    input = *parsed;
  }
  json::object bindings;
  if (auto* b = spec.if_contains("bindings"); b && b->is_object()) bindings = b->as_object();
  jsonata::EvalOptions options;
  // The suite runs on the real clocks: $now() is compared with today's date, and the
  // runaway cases have wall-clock time limits.
  options.now_millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  options.clock = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  SplitMix random;
  options.random = &random;
  if (auto* t = spec.if_contains("timelimit")) {
    // A case's time limit guards against runaway evaluation; a sanitizer
    // build runs about ten times slower, so its guard is ten times longer.
    options.time_limit = std::chrono::milliseconds(static_cast<long>(as_double(*t)) * kTimeLimitScale);
  }
  if (auto* d = spec.if_contains("depth")) options.max_depth = static_cast<int>(as_double(*d));
  auto out = compiled->evaluate(input ? &*input : nullptr, bindings, options);
  if (!out) {
    const auto& err = out.error();
    if (auto* code = spec.if_contains("code")) {
      return code->as_string() == err.code ? ""
                                           : "error " + err.describe() + ", expected " + std::string(code->as_string());
    }
    if (auto* expected = spec.if_contains("error")) {
      const auto& want = expected->as_object();
      for (const auto& kv : want) {
        if (kv.key() == "code" && kv.value().as_string() != err.code)
          return "error " + err.describe() + ", expected " + json::serialize(want);
        if (kv.key() == "message" && kv.value().as_string() != err.message)
          return "message '" + err.message + "', expected " + json::serialize(kv.value());
        if (kv.key() == "token" && (!err.token || *err.token != kv.value().as_string()))
          return "token mismatch: " + err.describe();
        if (kv.key() == "value" && (!err.value || !same(*err.value, kv.value())))
          return "value mismatch: " + err.describe();
      }
      return "";
    }
    return "unexpected error " + err.describe();
  }
  const auto& result = *out;
  if (spec.contains("code") || spec.contains("error")) {
    return "expected an error, got " + (result ? json::serialize(*result) : std::string("undefined"));
  }
  if (spec.contains("undefinedResult")) {
    return result ? "expected undefined, got " + json::serialize(*result) : "";
  }
  if (auto* want = spec.if_contains("result")) {
    if (!result) return "got undefined, expected " + json::serialize(*want);
    if (!same(*result, *want)) return "got " + json::serialize(*result) + ", expected " + json::serialize(*want);
    return "";
  }
  return "case has no expectation";
}

std::map<std::string, std::string> read_known(const fs::path& p) {
  std::map<std::string, std::string> known;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find_first_of(" \t");
    std::string id = line.substr(0, space);
    std::string reason = space == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", space));
    known[id] = reason;
  }
  return known;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--eval") {
    // Debugging aid: stepwise_jsonata_suite --eval EXPR [INPUT-JSON]
    auto compiled = jsonata::compile(argv[2]);
    if (!compiled) {
      std::cout << "compile error " << compiled.error().describe() << "\n";
      return 1;
    }
    std::optional<json::value> input;
    if (argc >= 4) input = parse_json(argv[3]);
    auto out = compiled->evaluate(input ? &*input : nullptr);
    if (!out) {
      std::cout << "error " << out.error().describe() << "\n";
      return 1;
    }
    std::cout << (*out ? json::serialize(**out) : std::string("undefined")) << "\n";
    return 0;
  }
  if (argc < 3) {
    std::cerr << "usage: stepwise_jsonata_suite <test-suite dir> <known_failures.txt> [--verbose] [--group G]\n";
    return 2;
  }
  fs::path suite = argv[1];
  auto known = read_known(argv[2]);
  bool verbose = false;
  std::string only;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--verbose") verbose = true;
    if (a == "--group" && i + 1 < argc) only = argv[++i];
  }
  std::vector<Case> cases;
  std::vector<fs::path> groups;
  for (const auto& entry : fs::directory_iterator(suite / "groups")) groups.push_back(entry.path());
  std::sort(groups.begin(), groups.end());
  for (const auto& g : groups) {
    std::string group = g.filename().string();
    if (!only.empty() && group != only) continue;
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(g)) {
      if (f.path().extension() == ".json") files.push_back(f.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto parsed = parse_json(read_file(f));
      std::string base = group + "/" + f.filename().string();
      if (!parsed) {
        // Boost.JSON rejects lone UTF-16 surrogates (2 cases); such a case fails as unreadable.
        json::object unreadable;
        unreadable["unreadable"] = true;
        cases.push_back(Case{base, group, unreadable, g});
        continue;
      }
      if (parsed->is_array()) {
        const auto& arr = parsed->as_array();
        for (std::size_t i = 0; i < arr.size(); ++i) {
          cases.push_back(Case{base + "[" + std::to_string(i) + "]", group, arr[i].as_object(), g});
        }
      } else {
        cases.push_back(Case{base, group, parsed->as_object(), g});
      }
    }
  }
  struct Tally {
    int passed = 0, failed = 0, known = 0, fixed = 0;
  };
  std::map<std::string, Tally> tally;
  Tally total;
  std::vector<std::string> problems;
  int skipped = 0;
  for (const auto& c : cases) {
    if (const auto* t = c.spec.if_contains("timelimit"); kSkipTimeLimitMs > 0 && t && as_double(*t) >= kSkipTimeLimitMs) {
      ++skipped;
      continue;
    }
    std::string outcome = run_case(c, suite);
    bool listed = known.count(c.id) > 0;
    auto& t = tally[c.group];
    if (outcome.empty()) {
      if (listed) {
        ++t.fixed;
        ++total.fixed;
        problems.push_back("PASSES BUT LISTED " + c.id);
      } else {
        ++t.passed;
        ++total.passed;
      }
    } else if (listed) {
      ++t.known;
      ++total.known;
      if (verbose) std::cout << "known  " << c.id << ": " << outcome << "\n";
    } else {
      ++t.failed;
      ++total.failed;
      problems.push_back("FAIL " + c.id + ": " + outcome);
    }
  }
  std::cout << "group                              passed  failed  known\n";
  for (const auto& [group, t] : tally) {
    char line[160];
    std::snprintf(line, sizeof line, "%-34s %6d  %6d  %5d%s\n", group.c_str(), t.passed, t.failed, t.known,
                  t.fixed ? "  (listed cases now pass)" : "");
    std::cout << line;
  }
  std::cout << "TOTAL " << cases.size() << " cases: passed " << total.passed << ", failed " << total.failed
            << ", known failures " << total.known << ", listed but passing " << total.fixed;
  if (skipped) std::cout << ", skipped in this sanitizer build " << skipped << " (time limit of 5 s or more)";
  std::cout << "\n";
  for (const auto& p : problems) std::cout << p << "\n";
  return (total.failed == 0 && total.fixed == 0) ? 0 : 1;
}
