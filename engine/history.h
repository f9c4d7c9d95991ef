// Execution history, shaped as AWS's GetExecutionHistory events.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/clock.h"
#include "states/json.h"

namespace stepwise {

struct HistoryEvent {
  std::int64_t id = 0;
  std::int64_t previous_event_id = 0;
  Nanos timestamp = 0;
  std::string type;  // "PassStateEntered", "TaskScheduled", ...
  // The JSON text of an object holding the event's details member, e.g.
  // {"stateEnteredEventDetails":{"name":..,"input":..}}, or "{}": kept as
  // text, as the store keeps it, so recording an event serializes nothing.
  std::string details = "{}";

  // The details parsed (an empty object if the text is not an object).
  json::object details_object() const;

  // One event as `aws stepfunctions get-execution-history` prints it:
  // {"timestamp":"2025-01-01T00:00:00.000+00:00","type":..,"id":..,
  //  "previousEventId":..,"<camelCaseType>EventDetails":{..}} (no details
  // member for the types AWS gives none, e.g. ParallelStateStarted).
  json::value to_json() const;
};

// An event's time as the CLI prints it: ISO 8601, UTC, milliseconds and an
// explicit offset ("2025-01-01T00:00:00.000+00:00").
std::string format_event_time(Nanos t);

// Receives every event as it is appended (the sink may keep it: it is the
// sink's own). Called on the engine's thread. A callable taking
// `const HistoryEvent&` fits too.
using EventSink = std::function<void(HistoryEvent&&)>;

// Receives events as text, with no HistoryEvent built: for a store that
// keeps them as text (the worker writes them straight into
// storage::EncodedEvents). For each event, begin_event is called, the
// event's details (the JSON text of an object, "{}" when it has none) are
// appended to the string it returns, then end_event is called. Called on the
// engine's thread.
class EventWriter {
 public:
  virtual ~EventWriter() = default;
  virtual std::string& begin_event(std::int64_t id, std::int64_t previous_event_id, Nanos timestamp,
                                   std::string_view type) = 0;
  virtual void end_event() = 0;
};

}  // namespace stepwise
