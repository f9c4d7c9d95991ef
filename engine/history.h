// Execution history, shaped as AWS's GetExecutionHistory events.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/clock.h"
#include "states/json.h"

namespace stepwise {

struct HistoryEvent {
  std::int64_t id = 0;
  std::int64_t previous_event_id = 0;
  Nanos timestamp = 0;
  std::string type;      // "PassStateEntered", "TaskScheduled", ...
  json::object details;  // e.g. {"stateEnteredEventDetails": {"name": ..., "input": ...}}

  // {"id":..,"previousEventId":..,"timestamp":"...","type":..,<details>}
  json::value to_json() const;
};

// Receives every event as it is appended. Called on the engine's thread.
using EventSink = std::function<void(const HistoryEvent&)>;

}  // namespace stepwise
