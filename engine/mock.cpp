#include "engine/mock.h"

#include <charconv>

namespace stepwise {
namespace {


bool parse_index(std::string_view s, std::size_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::optional<MockResponse> parse_response(const json::value& v, const std::string& ptr, Diagnostics& errors) {
  const auto* o = v.if_object();
  if (!o) {
    errors.push_back({ptr, "a mocked response must be an object with \"Return\" or \"Throw\""});
    return std::nullopt;
  }
  MockResponse r;
  if (const auto* ret = o->if_contains("Return")) {
    r.value = *ret;
    return r;
  }
  if (const auto* thr = o->if_contains("Throw")) {
    const auto* t = thr->if_object();
    const json::value* e = t ? t->if_contains("Error") : nullptr;
    const json::value* c = t ? t->if_contains("Cause") : nullptr;
    if (!t || (e && !e->is_string()) || (c && !c->is_string())) {
      errors.push_back({ptr + "/Throw", "\"Throw\" must be an object with string \"Error\" and \"Cause\""});
      return std::nullopt;
    }
    r.is_throw = true;
    r.has_error = e != nullptr;
    r.has_cause = c != nullptr;
    if (e) r.error = std::string(e->get_string());
    if (c) r.cause = std::string(c->get_string());
    return r;
  }
  errors.push_back({ptr, "a mocked response must have \"Return\" or \"Throw\""});
  return std::nullopt;
}

}  // namespace

std::optional<MockTable> load_mock_config(const json::value& config, const std::string& state_machine,
                                          const std::string& test_case, Diagnostics& errors) {
  const std::size_t before = errors.size();
  const auto* root = config.if_object();
  if (!root) {
    errors.push_back({"", "the mock config must be a JSON object"});
    return std::nullopt;
  }
  const auto* machines = root->if_contains("StateMachines");
  if (!machines || !machines->is_object()) {
    errors.push_back({"/StateMachines", "missing or not an object"});
    return std::nullopt;
  }
  const auto* sm = machines->get_object().if_contains(state_machine);
  if (!sm || !sm->is_object()) {
    errors.push_back({child_pointer("/StateMachines", state_machine),
                      "no state machine named '" + state_machine + "' in the mock config"});
    return std::nullopt;
  }
  const std::string sm_ptr = child_pointer("/StateMachines", state_machine);
  const auto* cases = sm->get_object().if_contains("TestCases");
  const json::value* tc = cases && cases->is_object() ? cases->get_object().if_contains(test_case) : nullptr;
  if (!tc || !tc->is_object()) {
    errors.push_back({child_pointer(sm_ptr + "/TestCases", test_case),
                      "no test case named '" + test_case + "' for state machine '" + state_machine + "'"});
    return std::nullopt;
  }
  const auto* responses = root->if_contains("MockedResponses");
  if (!responses || !responses->is_object()) {
    errors.push_back({"/MockedResponses", "missing or not an object"});
    return std::nullopt;
  }
  MockTable table;
  const std::string tc_ptr = child_pointer(sm_ptr + "/TestCases", test_case);
  for (const auto& [state, rname] : tc->get_object()) {
    const std::string sptr = child_pointer(tc_ptr, state);
    if (!rname.is_string()) {
      errors.push_back({sptr, "must name a mocked response (a string)"});
      continue;
    }
    const auto* resp = responses->get_object().if_contains(rname.get_string());
    const std::string rptr = child_pointer("/MockedResponses", rname.get_string());
    if (!resp || !resp->is_object()) {
      errors.push_back({sptr, "names the mocked response '" + std::string(rname.get_string()) +
                                  "', which /MockedResponses does not define"});
      continue;
    }
    std::vector<std::optional<MockResponse>> slots;
    for (const auto& [key, value] : resp->get_object()) {
      const std::string kptr = child_pointer(rptr, key);
      std::string_view k = key;
      std::size_t lo = 0, hi = 0;
      auto dash = k.find('-');
      bool ok = dash == std::string_view::npos ? parse_index(k, lo) && parse_index(k, hi)
                                               : parse_index(k.substr(0, dash), lo) &&
                                                     parse_index(k.substr(dash + 1), hi);
      if (!ok || hi < lo || hi > 100000) {
        errors.push_back({kptr, "a response key must be a call index \"N\" or a range \"N-M\""});
        continue;
      }
      auto r = parse_response(value, kptr, errors);
      if (!r) continue;
      if (slots.size() <= hi) slots.resize(hi + 1);
      for (std::size_t i = lo; i <= hi; ++i) slots[i] = *r;
    }
    std::vector<MockResponse> list;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i]) {
        errors.push_back({rptr, "no response for call " + std::to_string(i) + " (keys must cover 0.." +
                                    std::to_string(slots.size() - 1) + " without gaps)"});
        break;
      }
      list.push_back(*slots[i]);
    }
    table[state] = std::move(list);
  }
  if (errors.size() != before) return std::nullopt;
  return table;
}

MockInvoker::MockInvoker(MockTable table, std::shared_ptr<Invoker> fallback)
    : table_(std::move(table)), fallback_(std::move(fallback)) {}

TaskDispatch MockInvoker::dispatch(const std::string& resource, const std::string& state_name) {
  if (table_.count(state_name) != 0) return {};
  if (fallback_) return fallback_->dispatch(resource, state_name);
  if (is_activity_resource(resource)) return {"The activity " + resource + " does not exist.", false};
  return {};
}

bool MockInvoker::answers_itself(const std::string& state_name) const {
  return table_.count(state_name) != 0 || (fallback_ && fallback_->answers_itself(state_name));
}

void MockInvoker::invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) {
  auto it = table_.find(request.state_name);
  if (it == table_.end()) {
    if (fallback_) {
      fallback_->invoke(request, std::move(done), std::move(heartbeat));
    } else {
      done(TaskOutcome::fail("States.Runtime", "no mocked response for the state '" + request.state_name + "'"));
    }
    return;
  }
  // The engine numbers the calls of each state in the execution's durable
  // state, so a restarted process answers the N-th call as the first would.
  const std::size_t n = request.call_index;
  const auto& list = it->second;
  if (n >= list.size()) {
    done(TaskOutcome::fail("States.Runtime", "the mock for the state '" + request.state_name + "' has " +
                                                 std::to_string(list.size()) + " response(s), but call " +
                                                 std::to_string(n) + " was made"));
    return;
  }
  const auto& r = list[n];
  if (r.is_throw) {
    TaskOutcome o = TaskOutcome::fail(r.error, r.cause);
    o.failure.has_error = r.has_error;
    o.failure.has_cause = r.has_cause;
    done(std::move(o));
  } else {
    done(TaskOutcome::success(r.value));
  }
}

}  // namespace stepwise
