#include "engine/event_codec.h"

namespace stepwise {

storage::EventRecord to_event_record(const HistoryEvent& e) {
  storage::EventRecord r;
  r.id = e.id;
  r.previous_id = e.previous_event_id;
  r.timestamp = e.timestamp;
  r.type = e.type;
  r.details = to_json(e.details);
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
  e.details = std::move(details->get_object());
  return e;
}

}  // namespace stepwise
