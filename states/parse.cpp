// parse_definition: the top level, machines, states' common fields,
// transitions and reachability. The state types live in parse_states.cpp,
// the building blocks in parse_common.cpp.
#include <algorithm>
#include <string>
#include <unordered_set>

#include "states/definition.h"
#include "states/parse_internal.h"

namespace stepwise::states {

const char* state_type_name(StateType t) {
  switch (t) {
    case StateType::Task:
      return "Task";
    case StateType::Pass:
      return "Pass";
    case StateType::Choice:
      return "Choice";
    case StateType::Wait:
      return "Wait";
    case StateType::Succeed:
      return "Succeed";
    case StateType::Fail:
      return "Fail";
    case StateType::Parallel:
      return "Parallel";
    case StateType::Map:
      return "Map";
    case StateType::Compensate:
      return "Compensate";
  }
  return "Unknown";
}

namespace parse_detail {
namespace {

// ASL: "State names MUST have length of less than or equal to 80 Unicode characters."
constexpr std::size_t kMaxStateNameLength = 80;

std::optional<StateType> state_type_from(std::string_view name) {
  static constexpr StateType kTypes[] = {StateType::Task,     StateType::Pass,    StateType::Choice,
                                         StateType::Wait,     StateType::Succeed, StateType::Fail,
                                         StateType::Parallel, StateType::Map,     StateType::Compensate};
  for (StateType t : kTypes)
    if (name == state_type_name(t)) return t;
  return std::nullopt;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

bool machine_allows(MachineKind kind, std::string_view key) {
  if (key == "StartAt" || key == "States" || key == "Comment") return true;
  switch (kind) {
    case MachineKind::Top:
      return key == "Version" || key == "TimeoutSeconds" || key == "QueryLanguage";
    // AWS also accepts ProcessorConfig in the legacy Iterator.
    case MachineKind::ItemProcessor:
    case MachineKind::Iterator:
      return key == "ProcessorConfig";
    case MachineKind::Branch:
      return false;
  }
  return false;
}

const char* machine_kind_name(MachineKind kind) {
  switch (kind) {
    case MachineKind::Top:
      return "at the top level of a state machine";
    case MachineKind::Branch:
      return "in a Parallel branch";
    case MachineKind::ItemProcessor:
      return "in an ItemProcessor";
    case MachineKind::Iterator:
      return "in an Iterator";
  }
  return "";
}

bool has_transition(StateType t) {
  return t == StateType::Task || t == StateType::Pass || t == StateType::Wait ||
         t == StateType::Parallel || t == StateType::Map || t == StateType::Compensate;
}

}  // namespace

void Parser::parse_root(const json::object& root) {
  Language lang = Language::JsonPath;
  if (const json::string* ql = string_field(root, "QueryLanguage", "")) {
    if (*ql == "JSONata") {
      lang = Language::Jsonata;
      def_.query_language = "JSONata";
    } else if (*ql != "JSONPath") {
      error("/QueryLanguage",
            "The value of the field 'QueryLanguage' must be one of [JSONPath, JSONata]");
    }
  }
  def_.version = optional_string(root, "Version", "");
  if (const json::value* t = root.if_contains("TimeoutSeconds")) {
    def_.timeout_seconds = number(*t, "", "TimeoutSeconds", NumberRule::PositiveInteger);
  }
  parse_machine(root, "", lang, MachineKind::Top);
  def_.comment = def_.machines[0]->comment;
  check_variable_scopes(root, diags_);
}

MachineId Parser::parse_machine(const json::object& obj, const std::string& pointer, Language lang,
                                MachineKind kind) {
  auto id = static_cast<MachineId>(def_.machines.size());
  def_.machines.push_back(std::make_unique<Machine>());
  Machine& m = *def_.machines.back();
  m.id = id;
  m.pointer = pointer;
  std::size_t diags_before = diags_.size();

  for (const auto& kv : obj) {
    if (!machine_allows(kind, kv.key())) {
      error(child(pointer, kv.key()), "The field '" + std::string(kv.key()) +
                                          "' is not supported " + machine_kind_name(kind));
    }
  }
  const json::value* states = obj.if_contains("States");
  const json::value* start_at = obj.if_contains("StartAt");
  if (!states || !start_at) {
    required(pointer, !states && !start_at ? "States, StartAt" : !states ? "States" : "StartAt");
  }
  m.comment = optional_string(obj, "Comment", pointer);

  // Reachability is only meaningful when every transition could be read.
  const int outer_unknown = unknown_transitions_;
  unknown_transitions_ = 0;
  std::vector<Target> targets;
  if (states) {
    std::string states_ptr = pointer + "/States";
    if (!states->is_object()) {
      type_error(pointer, "States", "an object", *states);
    } else if (states->get_object().empty()) {
      error(states_ptr, "The field 'States' must contain at least one state");
    } else {
      parse_states(m, states->get_object(), states_ptr, lang, targets);
    }
  }

  bool start_known = false;
  if (start_at) {
    if (!start_at->is_string()) {
      type_error(pointer, "StartAt", "a string", *start_at);
    } else {
      m.start_at = std::string(start_at->get_string());
      if (auto it = m.by_name.find(m.start_at); it != m.by_name.end()) {
        m.start = it->second;
        start_known = true;
      } else if (states && states->is_object() && !states->get_object().empty()) {
        error(child(pointer, "StartAt"), "Missing 'StartAt' target: " + m.start_at, kMissingTarget);
      }
    }
  }

  resolve_targets(m, targets);
  if (start_known && unknown_transitions_ == 0) check_reachable(m, targets);
  unknown_transitions_ = outer_unknown;

  bool terminal = std::any_of(m.states.begin(), m.states.end(), [](const State& s) {
    return s.end || s.type == StateType::Succeed || s.type == StateType::Fail;
  });
  if (!terminal && !m.states.empty() && diags_.size() == diags_before) {
    error(pointer + "/States", "The state machine has no terminal state", kMissingEnd);
  }
  return id;
}

void Parser::parse_states(Machine& m, const json::object& states, const std::string& states_ptr,
                          Language lang, std::vector<Target>& targets) {
  // Names first, so that transitions can name any state of the machine.
  m.states.resize(states.size());
  m.by_name.reserve(states.size());
  StateIndex i = 0;
  for (const auto& kv : states) {
    State& s = m.states[i];
    s.name = std::string(kv.key());
    s.index = i;
    m.by_name.emplace(s.name, i);
    if (!all_names_.insert(kv.key()).second) {
      error(child(states_ptr, kv.key()), "Duplicate State name: " + s.name, kDuplicateName);
    }
    if (s.name.empty() || utf8_length(s.name) > kMaxStateNameLength) {
      error(child(states_ptr, kv.key()),
            "State names must be between 1 and 80 characters long: " + s.name, kInvalidName);
    }
    ++i;
  }
  i = 0;
  for (const auto& kv : states) {
    parse_state(m, i, kv.value(), child(states_ptr, kv.key()), lang, targets);
    ++i;
  }
}

void Parser::parse_state(Machine& m, StateIndex i, const json::value& v, const std::string& ptr,
                         Language machine_lang, std::vector<Target>& targets) {
  State& s = m.states[i];
  if (!v.is_object()) {
    error(ptr, std::string("A state must be an object, not ") + json_type_name(v));
    ++unknown_transitions_;
    return;
  }
  const json::object& obj = v.get_object();
  const json::value* type = obj.if_contains("Type");
  if (!type) {
    required(ptr, "Type");
    ++unknown_transitions_;
    return;
  }
  std::optional<StateType> t =
      type->is_string() ? state_type_from(type->get_string()) : std::nullopt;
  if (!t) {
    error(child(ptr, "Type"),
          "The value of the field 'Type' must be one of [Task, Pass, Choice, Wait, Succeed, Fail, "
          "Parallel, Map]");
    ++unknown_transitions_;
    return;
  }
  s.type = *t;

  Language lang = machine_lang;
  if (const json::string* ql = string_field(obj, "QueryLanguage", ptr)) {
    if (*ql == "JSONata") {
      lang = Language::Jsonata;
    } else if (*ql == "JSONPath") {
      if (machine_lang == Language::Jsonata) {
        error(ptr,
              "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine");
      }
    } else {
      error(child(ptr, "QueryLanguage"),
            "The value of the field 'QueryLanguage' must be one of [JSONPath, JSONata]");
    }
  }

  check_state_fields(s, obj, ptr, lang);
  s.comment = optional_string(obj, "Comment", ptr);
  s.jsonata = lang == Language::Jsonata;
  parse_data_flow(s, obj, ptr, lang, targets);
  if (const json::value* a = obj.if_contains("Assign"); a && state_allows(s.type, lang, "Assign"))
    s.assign = parse_assign(*a, ptr, lang);
  if (lang == Language::Jsonata) {
    if (const json::value* o = obj.if_contains("Output"); o && state_allows(s.type, lang, "Output"))
      s.output = query(*o, ptr, "Output");
    if (const json::value* a = obj.if_contains("Arguments"); a && state_allows(s.type, lang, "Arguments"))
      s.arguments = query(*a, ptr, "Arguments");
  }
  switch (s.type) {
    case StateType::Task:
      parse_task(s, obj, ptr, lang);
      break;
    case StateType::Pass:
      parse_pass(s, obj, ptr, lang);
      break;
    case StateType::Choice:
      parse_choice(s, obj, ptr, lang, targets);
      break;
    case StateType::Wait:
      parse_wait(s, obj, ptr, lang);
      break;
    case StateType::Succeed:
      s.spec = SucceedSpec{};
      break;
    case StateType::Fail:
      parse_fail(s, obj, ptr, lang);
      break;
    case StateType::Parallel:
      parse_parallel(s, obj, ptr, lang);
      break;
    case StateType::Map:
      parse_map(s, obj, ptr, lang);
      break;
    case StateType::Compensate:
      parse_compensate_state(s, obj);
      break;
  }
  if (const json::value* c = obj.if_contains("Compensate"); c && state_allows(s.type, lang, "Compensate"))
    parse_compensation(s, *c, ptr);
  if (has_transition(s.type)) parse_transition(s, obj, ptr, targets);
}

void Parser::check_state_fields(const State& s, const json::object& obj, const std::string& ptr,
                                Language lang) {
  for (const auto& kv : obj) {
    std::string_view key = kv.key();
    if (key == "Type" || key == "Comment" || key == "QueryLanguage") continue;
    if (state_allows(s.type, lang, key)) continue;
    // A field of the other query language gets a message that says so.
    const bool other = state_allows(s.type, lang == Language::Jsonata ? Language::JsonPath : Language::Jsonata, key);
    error(child(ptr, key), "The field '" + std::string(key) + "' is not supported in a " +
                               state_type_name(s.type) + " state" +
                               (lang == Language::Jsonata ? " using JSONata" : other ? " using JSONPath" : ""));
  }
}

void Parser::parse_transition(State& s, const json::object& obj, const std::string& ptr,
                              std::vector<Target>& targets) {
  const json::value* next = obj.if_contains("Next");
  const json::value* end = obj.if_contains("End");
  bool has_next = false;
  if (next) {
    if (next->is_string()) {
      has_next = true;
      s.next_name = std::string(next->get_string());
      targets.push_back(Target{s.index, &s.next, next->get_string(), child(ptr, "Next"), "Next"});
    } else {
      type_error(ptr, "Next", "a string", *next);
      ++unknown_transitions_;
    }
  }
  if (end) {
    if (end->is_bool()) {
      s.end = end->get_bool();
    } else {
      type_error(ptr, "End", "a boolean", *end);
    }
  }
  if (has_next && s.end) {
    error(ptr, "Only one of the fields 'Next' and 'End' may be set");
  } else if (!next && !(end && end->is_bool() && s.end)) {
    error(ptr, "Either 'Next' or 'End': true is required in a " +
                   std::string(state_type_name(s.type)) + " state");
  }
}

void Parser::resolve_targets(Machine& m, std::vector<Target>& targets) {
  for (Target& t : targets) {
    auto it = m.by_name.find(std::string(t.name));
    if (it == m.by_name.end()) {
      error(t.pointer, std::string("Missing '") + t.field + "' target: " + std::string(t.name),
            kMissingTarget);
      continue;
    }
    t.resolved = it->second;
    if (t.slot) *t.slot = it->second;
  }
}

void Parser::check_reachable(const Machine& m, const std::vector<Target>& targets) {
  // Edges as a compressed adjacency list: one pass to count, one to fill.
  const std::size_t n = m.states.size();
  std::vector<std::uint32_t> first(n + 1, 0);
  std::vector<StateIndex> to;
  to.reserve(targets.size());
  for (const Target& t : targets) ++first[t.from + 1];
  for (std::size_t i = 0; i < n; ++i) first[i + 1] += first[i];
  to.resize(targets.size(), kNoState);
  std::vector<std::uint32_t> fill(first.begin(), first.end() - 1);
  for (const Target& t : targets) to[fill[t.from]++] = t.resolved;

  std::vector<char> seen(n, 0);
  std::vector<StateIndex> stack{m.start};
  seen[m.start] = 1;
  while (!stack.empty()) {
    StateIndex s = stack.back();
    stack.pop_back();
    for (std::uint32_t e = first[s]; e < first[s + 1]; ++e) {
      StateIndex next = to[e];
      if (next != kNoState && !seen[next]) {
        seen[next] = 1;
        stack.push_back(next);
      }
    }
  }
  std::string states_ptr = m.pointer + "/States";
  for (std::size_t i = 0; i < n; ++i) {
    if (!seen[i]) {
      error(child(states_ptr, m.states[i].name),
            "State \"" + m.states[i].name + "\" is not reachable", kMissingTarget);
    }
  }
}

namespace {

// Keeps the first of identical diagnostics (two checks can meet the same problem).
void remove_duplicates(Diagnostics& diags) {
  std::unordered_set<std::string> seen;
  Diagnostics unique;
  unique.reserve(diags.size());
  for (Diagnostic& d : diags) {
    if (seen.insert(d.pointer + '\n' + d.message).second) unique.push_back(std::move(d));
  }
  diags = std::move(unique);
}

ParseResult parse_owned(json::value source, const ParseOptions& options) {
  ParseResult result;
  if (!source.is_object()) {
    result.diagnostics.push_back(Diagnostic{"", "Definition must be a valid JSON object", kSchema});
    return result;
  }
  auto def = std::make_shared<Definition>();
  def->source = std::move(source);
  Parser parser(*def, options, result.diagnostics);
  parser.parse_root(def->source.get_object());
  if (result.diagnostics.empty()) {
    result.definition = std::move(def);
  } else {
    remove_duplicates(result.diagnostics);
  }
  return result;
}

}  // namespace
}  // namespace parse_detail

ParseResult parse_definition(const json::value& definition, const ParseOptions& options) {
  return parse_detail::parse_owned(definition, options);
}

ParseResult parse_definition_text(std::string_view text, const ParseOptions& options) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    ParseResult result;
    result.diagnostics.push_back(
        Diagnostic{"", "Definition must be a valid JSON object", parse_detail::kSchema});
    return result;
  }
  JsonParseError err;
  std::optional<json::value> v = parse_json(text, &err);
  if (!v) {
    ParseResult result;
    result.diagnostics.push_back(
        Diagnostic{"", "invalid JSON at " + err.describe(), parse_detail::kInvalidJson});
    return result;
  }
  return parse_detail::parse_owned(std::move(*v), options);
}

}  // namespace stepwise::states
