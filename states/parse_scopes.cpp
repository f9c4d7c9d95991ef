// The variable-scope rule of workflow variables: a Parallel branch or an
// inline Map iteration runs in a scope nested in its state's, reads the
// variables of every enclosing scope, and may not assign a variable of the
// same name as one an enclosing scope assigns (no shadowing). The rule is
// checked on the definition as written: every Assign key of a state, of a
// Choice rule and of a Catcher declares a variable in the scope of its
// (sub)machine, wherever in that machine it stands. A distributed Map's item
// processor starts afresh: its child executions see no outer variables, so
// there is nothing there to shadow.
#include <map>
#include <string>

#include "states/parse_internal.h"

namespace stepwise::states::parse_detail {
namespace {

// Variable name -> JSON pointer of the Assign key that first declares it.
using Declarations = std::map<std::string, std::string, std::less<>>;

std::string_view variable_name(std::string_view key) {
  if (key.size() > 2 && key.ends_with(".$")) key.remove_suffix(2);  // a JSONPath "name.$" key
  return key;
}

void declare_assign(const json::value* assign, const std::string& owner_ptr, Declarations& out) {
  if (!assign || !assign->is_object()) return;
  for (const auto& kv : assign->get_object())
    out.emplace(std::string(variable_name(kv.key())), child(child(owner_ptr, "Assign"), kv.key()));
}

// Assign blocks listed in an array member (Choices, Catch) of a state.
void declare_listed(const json::object& state, std::string_view member, const std::string& state_ptr,
                    Declarations& out) {
  const json::value* list = state.if_contains(member);
  if (!list || !list->is_array()) return;
  const std::string list_ptr = child(state_ptr, member);
  for (std::size_t i = 0; i < list->get_array().size(); ++i) {
    const json::value& entry = list->get_array()[i];
    if (entry.is_object()) declare_assign(entry.get_object().if_contains("Assign"), child(list_ptr, i), out);
  }
}

// The variables one machine (its own states, not nested machines) declares.
Declarations machine_declarations(const json::object& machine, const std::string& ptr) {
  Declarations out;
  const json::value* states = machine.if_contains("States");
  if (!states || !states->is_object()) return out;
  for (const auto& kv : states->get_object()) {
    if (!kv.value().is_object()) continue;
    const json::object& state = kv.value().get_object();
    const std::string state_ptr = child(child(ptr, "States"), kv.key());
    declare_assign(state.if_contains("Assign"), state_ptr, out);
    declare_listed(state, "Choices", state_ptr, out);
    declare_listed(state, "Catch", state_ptr, out);
  }
  return out;
}

bool distributed_processor(const json::object& processor) {
  const json::value* config = processor.if_contains("ProcessorConfig");
  if (!config || !config->is_object()) return false;
  const json::value* mode = config->get_object().if_contains("Mode");
  return mode && mode->is_string() && mode->get_string() == "DISTRIBUTED";
}

void check_machine(const json::object& machine, const std::string& ptr, const Declarations& outer,
                   Diagnostics& diags) {
  Declarations scope = machine_declarations(machine, ptr);
  for (const auto& [name, where] : scope) {
    auto it = outer.find(name);
    if (it == outer.end()) continue;
    diags.push_back(Diagnostic{where,
                               "The variable '" + name + "' is already assigned in an enclosing scope (at " +
                                   it->second +
                                   "); a Parallel branch or Map iteration cannot assign a variable of the same name "
                                   "as an outer one",
                               kSchema});
  }
  // What nested machines see: the outer declarations and this machine's.
  for (const auto& kv : outer) scope.insert(kv);

  const json::value* states = machine.if_contains("States");
  if (!states || !states->is_object()) return;
  for (const auto& kv : states->get_object()) {
    if (!kv.value().is_object()) continue;
    const json::object& state = kv.value().get_object();
    const std::string state_ptr = child(child(ptr, "States"), kv.key());
    if (const json::value* branches = state.if_contains("Branches"); branches && branches->is_array()) {
      for (std::size_t i = 0; i < branches->get_array().size(); ++i) {
        const json::value& b = branches->get_array()[i];
        if (b.is_object()) check_machine(b.get_object(), child(child(state_ptr, "Branches"), i), scope, diags);
      }
    }
    for (std::string_view member : {"ItemProcessor", "Iterator"}) {
      const json::value* p = state.if_contains(member);
      if (!p || !p->is_object()) continue;
      const json::object& processor = p->get_object();
      check_machine(processor, child(state_ptr, member), distributed_processor(processor) ? Declarations{} : scope,
                    diags);
    }
  }
}

}  // namespace

void check_variable_scopes(const json::object& root, Diagnostics& diags) {
  check_machine(root, "", Declarations{}, diags);
}

}  // namespace stepwise::states::parse_detail
