#include "engine/history.h"

#include "states/timestamp.h"

namespace stepwise {

std::string format_event_time(Nanos t) {
  // format_timestamp gives "YYYY-MM-DDTHH:MM:SS.mmmZ"; the CLI prints the
  // same instant with an explicit UTC offset.
  std::string text = states::format_timestamp(t);
  if (!text.empty() && text.back() == 'Z') {
    text.pop_back();
    text += "+00:00";
  }
  return text;
}

json::value HistoryEvent::to_json() const {
  json::object o;
  o.reserve(5);
  o["timestamp"] = format_event_time(timestamp);
  o["type"] = type;
  o["id"] = id;
  o["previousEventId"] = previous_event_id;
  for (auto& kv : details_object()) o[kv.key()] = std::move(kv.value());
  return o;
}

json::object HistoryEvent::details_object() const {
  auto parsed = parse_json(details);
  if (!parsed || !parsed->is_object()) return {};
  return std::move(parsed->get_object());
}

}  // namespace stepwise
