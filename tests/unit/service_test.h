// Helpers for tests of the Service and of the commands over a database: a
// temporary directory, and a stand-in worker that runs a stored execution in
// this process and commits every transition as a worker would.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/event_codec.h"
#include "engine/service.h"
#include "storage/store.h"

namespace stepwise::testing {

// A fresh directory under /tmp, removed with everything in it at scope exit.
class ServiceTempDir {
 public:
  ServiceTempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "stepwise-service-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ServiceTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ServiceTempDir(const ServiceTempDir&) = delete;
  ServiceTempDir& operator=(const ServiceTempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Resumes the stored execution `arn` in `engine`, committing each checkpoint
// (the events written since the previous one, the snapshot, the outcome at
// the end) to `store`; then lets `drive` move the engine (e.g. poll(0) or
// run_pending()). A stand-in for `stepwise worker`.
inline void run_stored(storage::Store& store, Service& service, Engine& engine, const std::string& arn,
                       const std::function<void(Engine&)>& drive) {
  auto rec = store.describe_execution(arn);
  REQUIRE(rec.ok());
  ServiceError error;
  auto def = service.definition(rec->state_machine_arn, rec->state_machine_version, &error);
  REQUIRE_MESSAGE(def, error.message);
  auto pending = std::make_shared<std::vector<storage::EventRecord>>();
  auto version = std::make_shared<std::int64_t>(rec->version);
  RunOptions run;
  run.on_event = [pending](const HistoryEvent& e) { pending->push_back(to_event_record(e)); };
  run.on_transition = [&store, arn, pending, version](const Checkpoint& c) {
    storage::Transition t;
    t.execution_arn = arn;
    t.expected_version = *version;
    t.state = to_json(c.to_json());
    t.events = std::move(*pending);
    pending->clear();
    if (c.state.status != ExecutionStatus::Running) {
      storage::ExecutionOutcome o;
      o.status = to_store_status(c.state.status);
      if (c.state.status == ExecutionStatus::Succeeded) o.output = to_json(c.state.output);
      if (c.state.has_error) o.error = c.state.error;
      if (c.state.has_cause) o.cause = c.state.cause;
      o.stop_date = t.events.empty() ? c.state.start_time : t.events.back().timestamp;
      t.outcome = o;
    }
    auto committed = store.commit_transition(t);
    REQUIRE_MESSAGE(committed.ok(), committed.status().to_string());
    *version = *committed;
  };
  auto snapshot = parse_json(rec->state);
  REQUIRE(snapshot);
  auto resumed = engine.resume(def, *snapshot, std::move(run), nullptr);
  REQUIRE_MESSAGE(resumed, (resumed ? "" : resumed.failure().cause));
  drive(engine);
}

}  // namespace stepwise::testing
