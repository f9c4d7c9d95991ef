// Mocked task responses, in AWS Step Functions Local's MockConfigFile format:
//   {"StateMachines": {"SM": {"TestCases": {"Case": {"StateName": "ResponseName"}}}},
//    "MockedResponses": {"ResponseName": {"0": {"Return": ...}, "1-2": {"Throw": {"Error","Cause"}}}}}
// The N-th call (0-based, retries and Map iterations included) of a mocked
// state within one execution gets the response whose key covers N; N is
// TaskRequest::call_index, kept in the execution's state, so it survives a
// crash and resume. States
// the test case does not name are passed to the fallback invoker.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/invoker.h"
#include "states/failure.h"

namespace stepwise {

struct MockResponse {
  bool is_throw = false;
  json::value value;  // Return value
  std::string error, cause;
  bool has_error = true, has_cause = true;
};

// state name -> responses by call index
using MockTable = std::map<std::string, std::vector<MockResponse>>;

// Reads the test case `test_case` of state machine `state_machine` from a
// parsed MockConfigFile. Problems are reported with JSON pointers into the file.
std::optional<MockTable> load_mock_config(const json::value& config, const std::string& state_machine,
                                          const std::string& test_case, Diagnostics& errors);

class MockInvoker final : public Invoker {
 public:
  MockInvoker(MockTable table, std::shared_ptr<Invoker> fallback);
  void invoke(const TaskRequest& request, TaskCompletion done, TaskHeartbeat heartbeat) override;
  // A state without a mocked response goes to the fallback; with no
  // fallback, no activity exists (a task on one fails as on a deleted activity).
  TaskDispatch dispatch(const std::string& resource, const std::string& state_name) override;
  bool answers_itself(const std::string& state_name) const override;

 private:
  MockTable table_;
  std::shared_ptr<Invoker> fallback_;
};

}  // namespace stepwise
