#include "engine/event_codec.h"

namespace stepwise {

storage::EventRecord to_event_record(const HistoryEvent& e) {
  storage::EventRecord r;
  r.id = e.id;
  r.previous_id = e.previous_event_id;
  r.timestamp = e.timestamp;
  r.type = e.type;
  r.details = e.details;
  return r;
}

storage::EventRecord to_event_record(HistoryEvent&& e) {
  storage::EventRecord r;
  r.id = e.id;
  r.previous_id = e.previous_event_id;
  r.timestamp = e.timestamp;
  r.type = std::move(e.type);
  r.details = std::move(e.details);
  return r;
}

Result<HistoryEvent> from_event_record(const storage::EventRecord& r) {
  HistoryEvent e;
  e.id = r.id;
  e.previous_event_id = r.previous_id;
  e.timestamp = r.timestamp;
  e.type = r.type;
  auto details = parse_json(r.details);
  if (!details || !details->is_object()) {
    return Failure{"Stepwise.CorruptEvent",
                   "History event " + std::to_string(r.id) + " (" + r.type + ") has details that are not a JSON object",
                   false};
  }
  e.details = r.details;
  return e;
}

storage::ExecutionStatus to_store_status(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::Running: return storage::ExecutionStatus::kRunning;
    case ExecutionStatus::Succeeded: return storage::ExecutionStatus::kSucceeded;
    case ExecutionStatus::Failed: return storage::ExecutionStatus::kFailed;
    case ExecutionStatus::TimedOut: return storage::ExecutionStatus::kTimedOut;
    case ExecutionStatus::Aborted: return storage::ExecutionStatus::kAborted;
  }
  return storage::ExecutionStatus::kFailed;
}

ExecutionStatus from_store_status(storage::ExecutionStatus s) {
  switch (s) {
    case storage::ExecutionStatus::kRunning: return ExecutionStatus::Running;
    case storage::ExecutionStatus::kSucceeded: return ExecutionStatus::Succeeded;
    case storage::ExecutionStatus::kFailed: return ExecutionStatus::Failed;
    case storage::ExecutionStatus::kTimedOut: return ExecutionStatus::TimedOut;
    case storage::ExecutionStatus::kAborted: return ExecutionStatus::Aborted;
  }
  return ExecutionStatus::Failed;
}

}  // namespace stepwise
