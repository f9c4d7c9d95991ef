// Runs the conformance corpus recorded from real AWS Step Functions (see
// README.md beside this file) through the engine and reports pass/fail per
// category. Cases listed in known_failures.txt (each with its reason) are
// expected to fail; one that passes is reported so the list stays true.
//
//   stepwise_conformance CASES_DIR KNOWN_FAILURES [--verbose] [--filter SUBSTRING] [--history]
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "engine/mock.h"

namespace fs = std::filesystem;
using namespace stepwise;

namespace {

struct Counts {
  int passed = 0, failed = 0, known = 0, fixed = 0;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// known_failures.txt: "<category>/<file>.json  <reason>" per line; '#' starts a comment line.
std::map<std::string, std::string> load_known(const fs::path& p) {
  std::map<std::string, std::string> known;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find_first_of(" \t");
    std::string key = line.substr(0, sp);
    std::string reason = sp == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", sp));
    known[key] = reason;
  }
  return known;
}

// Expected strings may hold placeholders for values the recorder masked
// ("<uuid:1>", "<json-input:1>", "<request_id>"): each matches any text.
bool string_matches(const std::string& expected, const std::string& actual) {
  if (expected == actual) return true;
  if (expected.find('<') == std::string::npos) return false;
  static const std::regex placeholder("<[A-Za-z_][A-Za-z0-9_:\\-]*>");
  std::string pattern;
  std::size_t last = 0;
  for (auto it = std::sregex_iterator(expected.begin(), expected.end(), placeholder); it != std::sregex_iterator();
       ++it) {
    std::string lit = expected.substr(last, static_cast<std::size_t>(it->position()) - last);
    pattern += std::regex_replace(lit, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
    pattern += "[\\s\\S]*";
    last = static_cast<std::size_t>(it->position() + it->length());
  }
  if (last == 0) return false;
  pattern += std::regex_replace(expected.substr(last), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
  return std::regex_match(actual, std::regex(pattern));
}

bool same_number(const json::value& a, const json::value& b) {
  const bool ad = a.is_double(), bd = b.is_double();
  if (ad != bd) return false;  // the recorder keeps 1.0 and 1 apart
  if (ad) return a.get_double() == b.get_double();
  if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
  if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
  if (a.is_int64()) return a.get_int64() >= 0 && static_cast<std::uint64_t>(a.get_int64()) == b.get_uint64();
  return b.get_int64() >= 0 && static_cast<std::uint64_t>(b.get_int64()) == a.get_uint64();
}

// Structural equality, ignoring object member order. `wild` holds JSONPaths
// ("$.a.b", "$.a[0]") under the compared root whose value may be anything.
bool equal(const json::value& exp, const json::value& act, const std::string& path, const std::set<std::string>& wild,
           std::string* where) {
  if (wild.count(path)) return true;
  auto fail = [&] {
    if (where && where->empty()) *where = path + ": expected " + to_json(exp) + ", got " + to_json(act);
    return false;
  };
  if (exp.is_number() || act.is_number()) {
    if (!exp.is_number() || !act.is_number() || !same_number(exp, act)) return fail();
    return true;
  }
  if (exp.kind() != act.kind()) return fail();
  switch (exp.kind()) {
    case json::kind::string:
      if (!string_matches(std::string(exp.get_string()), std::string(act.get_string()))) return fail();
      return true;
    case json::kind::array: {
      const auto& ea = exp.get_array();
      const auto& aa = act.get_array();
      if (ea.size() != aa.size()) return fail();
      for (std::size_t i = 0; i < ea.size(); ++i)
        if (!equal(ea[i], aa[i], path + "[" + std::to_string(i) + "]", wild, where)) return false;
      return true;
    }
    case json::kind::object: {
      const auto& eo = exp.get_object();
      const auto& ao = act.get_object();
      if (eo.size() != ao.size()) return fail();
      for (const auto& kv : eo) {
        const auto* av = ao.if_contains(kv.key());
        if (!av) return fail();
        if (!equal(kv.value(), *av, path + "." + std::string(kv.key()), wild, where)) return false;
      }
      return true;
    }
    default: return exp == act ? true : fail();
  }
}

std::set<std::string> wildcards(const json::object& c, const std::string& prefix) {
  std::set<std::string> out;
  if (const auto* nd = c.if_contains("nondeterministic"); nd && nd->is_array()) {
    for (const auto& p : nd->get_array()) {
      std::string s(p.get_string());
      if (s.rfind(prefix, 0) == 0) out.insert("$" + s.substr(prefix.size()));
    }
  }
  return out;
}

MockTable mocks_of(const json::object& c) {
  MockTable t;
  const auto* m = c.if_contains("mocks");
  if (!m || !m->is_object()) return t;
  for (const auto& [state, list] : m->get_object()) {
    std::vector<MockResponse> rs;
    for (const auto& r : list.get_array()) {
      const auto& o = r.get_object();
      MockResponse mr;
      if (const auto* ret = o.if_contains("Return")) {
        mr.value = *ret;
      } else {
        const auto& th = o.at("Throw").get_object();
        mr.is_throw = true;
        const auto* e = th.if_contains("Error");
        const auto* ca = th.if_contains("Cause");
        mr.has_error = e && e->is_string();
        mr.has_cause = ca && ca->is_string();
        if (mr.has_error) mr.error = std::string(e->get_string());
        if (mr.has_cause) mr.cause = std::string(ca->get_string());
      }
      rs.push_back(std::move(mr));
    }
    t[state] = std::move(rs);
  }
  return t;
}

std::string str_field(const json::object& o, const char* k, const std::string& def = "") {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : def;
}

// Returns "" on pass, else what differed.
std::string run_case(const json::object& c, bool check_history, std::string* history_note) {
  const auto& expected = c.at("expected").get_object();
  const std::string status = str_field(expected, "status");
  json::value defv = c.contains("definition") ? c.at("definition") : json::value();
  json::object ctx;
  if (const auto* cv = c.if_contains("context"); cv && cv->is_object()) ctx = cv->get_object();
  states::ParseOptions popts;
  popts.express = str_field(ctx, "state_machine_type") == "EXPRESS";
  states::ParseResult parsed;
  if (c.contains("definition_text")) {
    parsed = states::parse_definition_text(str_field(c, "definition_text"), popts);
  } else {
    parsed = states::parse_definition(defv, popts);
  }
  if (status == "INVALID_DEFINITION") {
    if (parsed.diagnostics.empty()) return "definition accepted, AWS rejects it";
    return "";
  }
  if (!parsed.diagnostics.empty()) {
    return "definition rejected: " + parsed.diagnostics[0].pointer + ": " + parsed.diagnostics[0].message;
  }
  EngineOptions eo;
  eo.clock = std::make_shared<ManualClock>();
  eo.virtual_time = true;
  eo.region = str_field(ctx, "region", eo.region);
  eo.account = str_field(ctx, "account_id", eo.account);
  Engine engine(eo);
  RunOptions ro;
  ro.state_machine_name = str_field(ctx, "state_machine_name", "StateMachine");
  ro.execution_name = str_field(ctx, "execution_name");
  ro.role_arn = str_field(ctx, "role_arn");
  if (popts.express)
    ro.type = str_field(ctx, "start") == "StartSyncExecution" ? RunOptions::Type::ExpressSync : RunOptions::Type::Express;
  ro.execution_arn = str_field(ctx, "execution_arn");
  ro.invoker = std::make_shared<MockInvoker>(mocks_of(c), nullptr);
  ro.record_history = check_history;
  json::value input = c.contains("input") ? c.at("input") : json::value(json::object());
  auto r = engine.run(parsed.definition, input, ro);

  if (check_history && history_note) {
    if (const auto* ev = c.if_contains("expected_event_types"); ev && ev->is_array()) {
      std::vector<std::string> exp, act;
      for (const auto& e : ev->get_array()) exp.emplace_back(e.get_string());
      for (const auto& e : r.history) act.push_back(e.type);
      bool strict = true;
      if (const auto* s = c.if_contains("event_order_strict"); s && s->is_bool()) strict = s->get_bool();
      if (!strict) {
        std::sort(exp.begin(), exp.end());
        std::sort(act.begin(), act.end());
      }
      if (exp != act) {
        std::string e1, a1;
        for (auto& x : exp) e1 += x + " ";
        for (auto& x : act) a1 += x + " ";
        *history_note = "history differs:\n      expected " + e1 + "\n      got      " + a1;
      }
    }
  }

  const std::string got = status_name(r.status);
  if (got != status) {
    std::string detail = r.status == ExecutionStatus::Succeeded ? "output " + to_json(r.output)
                                                                : "error " + r.error + ": " + r.cause;
    return "status " + got + ", expected " + status + " (" + detail + ")";
  }
  if (status == "SUCCEEDED") {
    std::string where;
    if (!equal(expected.at("output"), r.output, "$", wildcards(c, "$.expected.output"), &where))
      return "output differs at " + where;
    return "";
  }
  auto nd = wildcards(c, "$.expected");
  if (const auto* e = expected.if_contains("error"); e && e->is_string() && !nd.count("$.error")) {
    if (!string_matches(std::string(e->get_string()), r.error))
      return "error '" + r.error + "', expected '" + std::string(e->get_string()) + "'";
  }
  if (const auto* e = expected.if_contains("cause"); e && e->is_string() && !nd.count("$.cause")) {
    if (!string_matches(std::string(e->get_string()), r.cause))
      return "cause '" + r.cause + "'\n      expected '" + std::string(e->get_string()) + "'";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: stepwise_conformance CASES_DIR KNOWN_FAILURES [--verbose] [--filter S] [--history]\n";
    return 2;
  }
  fs::path dir = argv[1];
  auto known = load_known(argv[2]);
  bool verbose = false, history = false;
  std::string filter;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--verbose") verbose = true;
    else if (a == "--history") history = true;
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());

  std::map<std::string, Counts> by_cat;
  Counts total;
  int history_mismatch = 0, history_checked = 0;
  for (const auto& f : files) {
    std::string key = f.parent_path().filename().string() + "/" + f.filename().string();
    if (!filter.empty() && key.find(filter) == std::string::npos) continue;
    JsonParseError perr;
    auto doc = parse_json(read_text(f), &perr);
    std::string outcome;
    std::string hnote;
    std::string cat = f.parent_path().filename().string();
    if (!doc || !doc->is_object()) {
      outcome = "case file is not valid JSON: " + perr.describe();
    } else {
      outcome = run_case(doc->get_object(), history, &hnote);
      if (history && doc->get_object().contains("expected_event_types")) {
        ++history_checked;
        if (!hnote.empty()) ++history_mismatch;
      }
    }
    auto& cc = by_cat[cat];
    auto k = known.find(key);
    if (outcome.empty()) {
      if (k != known.end()) {
        ++cc.fixed;
        ++total.fixed;
        std::cout << "FIXED  " << key << " (listed as a known failure: remove it from the list)\n";
      } else {
        ++cc.passed;
        ++total.passed;
      }
    } else if (k != known.end()) {
      ++cc.known;
      ++total.known;
      if (verbose) std::cout << "KNOWN  " << key << "\n      " << outcome << "\n";
    } else {
      ++cc.failed;
      ++total.failed;
      std::cout << "FAIL   " << key << "\n      " << outcome << "\n";
    }
    if (verbose && !hnote.empty()) std::cout << "HIST   " << key << "\n      " << hnote << "\n";
  }
  std::cout << "\n" << std::left;
  std::printf("%-22s %7s %7s %7s %7s\n", "category", "passed", "failed", "known", "fixed");
  for (const auto& [cat, c] : by_cat) std::printf("%-22s %7d %7d %7d %7d\n", cat.c_str(), c.passed, c.failed, c.known, c.fixed);
  std::printf("%-22s %7d %7d %7d %7d\n", "total", total.passed, total.failed, total.known, total.fixed);
  if (history) std::printf("history: %d of %d recorded event sequences differ\n", history_mismatch, history_checked);
  std::fflush(stdout);
  std::cout << "conformance: " << total.passed << " passed, " << total.failed + total.fixed << " failed, " << total.known
            << " known failures\n";
  return total.failed == 0 && total.fixed == 0 ? 0 : 1;
}
