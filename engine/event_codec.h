// Between the engine and the store: history events, statuses.
// History events: the store keeps each
// event's "...EventDetails" member(s) as JSON text (storage::EventRecord);
// the engine and the commands work with HistoryEvent.
#pragma once

#include "engine/execution_state.h"
#include "engine/history.h"
#include "states/failure.h"
#include "storage/records.h"

namespace stepwise {

// The event as the store keeps it: details become their JSON text
// ({"stateEnteredEventDetails":{...}}, or "{}").
storage::EventRecord to_event_record(const HistoryEvent& e);
storage::EventRecord to_event_record(HistoryEvent&& e);  // takes its strings

// Back from the store. Fails (error "Stepwise.CorruptEvent", the cause naming
// the event id) when the details are not a JSON object.
Result<HistoryEvent> from_event_record(const storage::EventRecord& r);

// An execution's status in the engine's and the store's terms.
storage::ExecutionStatus to_store_status(ExecutionStatus s);
ExecutionStatus from_store_status(storage::ExecutionStatus s);

}  // namespace stepwise
