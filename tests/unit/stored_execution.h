// Helpers for tests that keep executions in a Store: unwrap StatusOr, record
// a started execution as start-execution does, read a whole history back.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/event_codec.h"
#include "engine/snapshot.h"
#include "engine_test_util.h"
#include "storage/store.h"

namespace stepwise::testing {

template <class T>
T must(storage::StatusOr<T> v) {
  if (!v.ok()) FAIL(v.status().to_string());
  return std::move(v.value());
}

inline void must_ok(const storage::Status& s) {
  if (!s.ok()) FAIL(s.to_string());
}

// Records state machine `machine` (version 1 of `definition`, once) and a new
// execution of it named `name`, with its start events and first snapshot, as
// start-execution does. Returns the execution's ARN.
inline std::string record_started(storage::Store& store, Engine& engine, const std::string& machine,
                                  const std::string& definition, const std::string& name, const std::string& input) {
  const std::string machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:" + machine;
  if (!store.describe_state_machine(machine_arn).ok()) {
    storage::NewStateMachine m;
    m.arn = machine_arn;
    m.name = machine;
    m.role_arn = "arn:aws:iam::123456789012:role/R";
    m.definition = definition;
    must(store.create_state_machine(m));
  }
  RunOptions ro;
  ro.state_machine_name = machine;
  ro.execution_name = name;
  auto prepared = engine.prepare(parse_or_fail(definition), *parse_json(input), ro);
  storage::NewExecution e;
  e.arn = prepared.snapshot.state.arn;
  e.name = name;
  e.state_machine_arn = machine_arn;
  e.state_machine_version = 1;
  e.input = input;
  e.start_date = prepared.snapshot.state.start_time;
  e.state = to_json(snapshot_to_json(prepared.snapshot));
  for (const auto& ev : prepared.events) e.events.push_back(to_event_record(ev));
  return must(store.create_execution(e)).execution.arn;
}

// Every stored event of an execution, oldest first.
inline std::vector<storage::EventRecord> stored_history(storage::Store& store, const std::string& arn) {
  std::vector<storage::EventRecord> all;
  storage::HistoryRequest req;
  req.page.max_results = 1000;
  for (;;) {
    auto page = must(store.get_history(arn, req));
    all.insert(all.end(), page.items.begin(), page.items.end());
    if (page.next_token.empty()) break;
    req.page.next_token = page.next_token;
  }
  return all;
}

}  // namespace stepwise::testing
